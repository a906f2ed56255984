//! loom model of the idle/searching/park hand-off (`src/scheduler/idle.rs` + the condvar path
//! of `src/scheduler/park.rs`): a task pushed from outside while the workers go to sleep is never
//! stranded.
//!
//! The modules are compiled into this test from the library's own source files (`#[path]`), with
//! `src/loom.rs` swapping their mutexes, condvars and atomics for loom's. The worker loop below
//! is `src/scheduler/worker.rs`'s decisions reduced to their synchronisation: look in the queue,
//! search, park (the last searcher re-checks), and after waking, search again unless still
//! listed as parked. If any interleaving loses the wake-up, every worker parks forever and loom
//! reports the deadlock. (Deferred, i.e. yielded, tasks are not modelled: they live in a
//! thread-local list that only their worker touches, and the worker moves them to its queue
//! before it searches or parks, so to this model they are just "the queue was not empty".)
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p spool --release --test 'loom_*'
//! ```
#![cfg(loom)]

#[allow(dead_code)]
#[path = "../src/scheduler/idle.rs"]
mod idle;
#[allow(dead_code)]
#[path = "../src/loom.rs"]
mod loom;
#[allow(dead_code)]
#[path = "../src/scheduler/park.rs"]
mod park;

use ::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use ::loom::sync::{Arc, Mutex};
use ::loom::thread;

use idle::Idle;
use park::Parker;

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

    /// `Shared::notify_parked`.
    fn notify_parked(&self) {
        if let Some(w) = self.idle.worker_to_notify(|_| true) {
            self.parkers[w].unpark(|| {});
        }
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

    fn worker(&self, index: usize) {
        let mut searching = false;
        while !self.shutdown.load(SeqCst) {
            // next_task (the injection queue stands for every queue here)
            if self.pop() {
                self.run_task();
                continue;
            }
            // search
            if !searching && self.idle.transition_worker_to_searching() {
                searching = true;
            }
            if searching && self.pop() {
                searching = false;
                if self.idle.transition_worker_from_searching() {
                    self.notify_parked();
                }
                self.run_task();
                continue;
            }
            // park
            if self.idle.transition_worker_to_parked(index, searching) && !self.is_empty() {
                self.notify_parked();
            }
            searching = false;
            while !self.shutdown.load(SeqCst) {
                if !self.parkers[index].try_consume_notification() {
                    self.parkers[index].park_condvar();
                }
                if !self.idle.is_parked(index) {
                    searching = true;
                    break;
                }
            }
        }
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
