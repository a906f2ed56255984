//! loom model of the idle/searching/park hand-off (`scheduler/idle.rs` + the condvar path of
//! `scheduler/park.rs`): a task pushed from outside while the workers go to sleep is never
//! stranded.
//!
//! The workers run the real protocol, [`IdleWorker`] (the code `scheduler/worker.rs` runs:
//! search, find work, park with the last searcher's re-check, wake), on the real [`Idle`] and
//! [`Parker`]. What stands in for the rest of the runtime is the [`Site`]: the task queues are
//! one counter (the injection queue; workers have no local queue here), and a parked worker
//! sleeps on its condvar (the driver path is `loom_park.rs`'s). The worker loop around the
//! protocol is the one line of `WorkerLoop::run`: next task, else search, else park. If any
//! interleaving loses the wake-up, every worker parks forever and loom reports the deadlock.
//! (Deferred, i.e. yielded, tasks are not modelled: they live in a list only their worker
//! touches, and the worker moves them to its queue before it searches or parks, so to this model
//! they are just "the queue was not empty".)

use ::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use ::loom::sync::{Arc, Mutex};
use ::loom::thread;

use crate::scheduler::idle::{Idle, IdleWorker, Site};
use crate::scheduler::park::Parker;

struct Rt {
    idle: Idle,
    parkers: Vec<Parker>,
    /// The injection queue: a count of tasks.
    queue: Mutex<usize>,
    consumed: AtomicUsize,
    expected: usize,
    shutdown: AtomicBool,
}

impl Rt {
    fn new(workers: usize, expected: usize) -> Arc<Self> {
        Arc::new(Rt {
            idle: Idle::new(workers),
            parkers: (0..workers).map(|_| Parker::new()).collect(),
            queue: Mutex::new(0),
            consumed: AtomicUsize::new(0),
            expected,
            shutdown: AtomicBool::new(false),
        })
    }

    fn pop(&self) -> bool {
        let mut q = self.queue.lock().unwrap();
        if *q > 0 {
            *q -= 1;
            true
        } else {
            false
        }
    }

    fn is_empty(&self) -> bool {
        *self.queue.lock().unwrap() == 0
    }

    /// `Shared::schedule` from outside the runtime.
    fn push(&self) {
        *self.queue.lock().unwrap() += 1;
        self.notify_parked();
    }

    /// A task ran: the last one shuts the model down (as dropping the runtime would).
    fn run_task(&self) {
        if self.consumed.fetch_add(1, SeqCst) + 1 == self.expected {
            self.shutdown.store(true, SeqCst);
            for parker in &self.parkers {
                parker.unpark(|| {});
            }
        }
    }

    /// `WorkerLoop::run`: the next task, else search, else park.
    fn worker(&self, index: usize) {
        let mut worker = IdleWorker::new(index);
        let parker = &self.parkers[index];
        while !self.shutdown.load(SeqCst) {
            // next_task (the injection queue stands for every queue here), then search.
            if self.pop() || (worker.try_search(&self.idle) && self.pop()) {
                worker.found_work(&self.idle, || self.notify_parked());
                self.run_task();
            } else {
                worker.park(&self.idle, parker, self);
            }
        }
    }
}

impl Site for Rt {
    fn is_shutdown(&self) -> bool {
        self.shutdown.load(SeqCst)
    }

    /// `Shared::notify_parked`.
    fn notify_parked(&self) {
        if let Some(w) = self.idle.worker_to_notify(|_| true) {
            self.parkers[w].unpark(|| {});
        }
    }

    fn has_shared_work(&self) -> bool {
        !self.is_empty()
    }

    fn has_local_work(&self) -> bool {
        false
    }

    fn has_stealable_work(&self) -> bool {
        false
    }

    fn sleep(&self, parker: &Parker) {
        parker.park_condvar();
    }
}

fn run_model(workers: usize, pushers: usize) {
    ::loom::model(move || {
        let rt = Rt::new(workers, pushers);
        let mut threads = Vec::new();
        for index in 0..workers {
            let rt = rt.clone();
            threads.push(thread::spawn(move || rt.worker(index)));
        }
        for _ in 0..pushers {
            let rt = rt.clone();
            threads.push(thread::spawn(move || rt.push()));
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(rt.consumed.load(SeqCst), pushers);
    });
}

#[test]
fn one_worker_remote_push_is_never_lost() {
    run_model(1, 1);
}

#[test]
fn two_workers_remote_push_is_never_lost() {
    run_model(2, 1);
}

#[test]
fn one_worker_two_pushes() {
    run_model(1, 2);
}

#[test]
fn two_workers_two_pushes() {
    run_model(2, 2);
}
