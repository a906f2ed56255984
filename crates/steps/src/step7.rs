//! Step 7: parking with the searching-worker rule — wake a worker only when one is needed.
//!
//! Steps 4 to 6 wake *every* idle worker for every runnable that reaches a queue: they all
//! wake, all look, one (at most) finds it, and the rest go back to sleep. A wake-up across
//! cores is the dearest thing a scheduler does, and this pays it N − 1 times over for nothing.
//! Here idle workers are in one of two states, kept under one mutex (`Idle`):
//!
//! - **searching**: awake, looking through the injection queue and the others' queues;
//! - **sleeping**: parked (`thread::park`), on the `sleepers` list.
//!
//! The rule: a push wakes one sleeper **only if no worker is searching** — a searcher will
//! find the work, and waking a second one would only make them race for it. The woken worker is
//! counted as searching at once, so the next push does not wake another. A searcher that finds
//! work stops searching, and if it was the *last* searcher it wakes one sleeper to take its
//! place: with work about, someone keeps looking, and workers join one at a time as long as
//! there is work for them. A searcher that finds nothing goes on the sleepers list, looks once
//! more (a push that saw it searching may have come just before), and parks.
//!
//! Everything else — queues, stealing, the LIFO slot — is step 6's.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::catch_unwind;
use std::sync::{LazyLock, Mutex};
use std::thread::{self, Thread};

use async_task::{Runnable, Task};

use crate::common::lock;
pub use crate::common::{block_on, workers, yield_now};
pub use crate::step2::{sleep, Sleep};

/// The workers' names: `step7-0`, `step7-1`, …
pub const THREAD: &str = "step7";

thread_local! {
    /// Which worker this thread is, if it is one of this step's workers.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
    /// This worker's LIFO slot: the runnable woken last on it.
    static LIFO: Cell<Option<Runnable>> = const { Cell::new(None) };
}

/// How many times in a row a worker may run its LIFO slot before its queue gets a turn.
pub const MAX_LIFO_RUNS: u32 = 3;

/// How many workers are searching, and who is parked.
#[derive(Debug, Default)]
struct Idle {
    searching: usize,
    sleepers: Vec<Thread>,
}

/// The queues and the idle workers' state.
struct Shared {
    injector: Mutex<VecDeque<Runnable>>,
    locals: Vec<Mutex<VecDeque<Runnable>>>,
    idle: Mutex<Idle>,
}

static SHARED: LazyLock<&'static Shared> = LazyLock::new(|| {
    let shared: &'static Shared = Box::leak(Box::new(Shared {
        injector: Mutex::new(VecDeque::new()),
        locals: (0..workers())
            .map(|_| Mutex::new(VecDeque::new()))
            .collect(),
        idle: Mutex::default(),
    }));
    for i in 0..shared.locals.len() {
        thread::Builder::new()
            .name(format!("{THREAD}-{i}"))
            .spawn(move || shared.run_worker(i))
            .expect("the OS refused to start a worker thread");
    }
    shared
});

/// The schedule function: on a worker, the LIFO slot (the slot's previous runnable moves to
/// the queue); elsewhere the injection queue. What reaches a queue may wake one sleeper.
fn schedule(runnable: Runnable) {
    let shared = *SHARED;
    match WORKER.get() {
        Some(i) => match LIFO.replace(Some(runnable)) {
            Some(older) => lock(&shared.locals[i]).push_back(older),
            None => return,
        },
        None => lock(&shared.injector).push_back(runnable),
    }
    shared.notify();
}

impl Shared {
    fn run_worker(&self, i: usize) {
        WORKER.set(Some(i));
        let (mut lifo_runs, mut searching) = (0, false);
        loop {
            if let Some(runnable) = self.next(i, &mut lifo_runs) {
                let _ = catch_unwind(|| runnable.run());
                continue;
            }
            if !searching {
                lock(&self.idle).searching += 1;
                searching = true;
            }
            match self.find_elsewhere(i) {
                Some(runnable) => {
                    searching = false;
                    self.stop_searching();
                    let _ = catch_unwind(|| runnable.run());
                }
                None => self.park(),
            }
        }
    }

    /// The rule: wake one sleeper, counted as searching, only when nobody is searching.
    fn notify(&self) {
        let mut idle = lock(&self.idle);
        if idle.searching == 0 {
            if let Some(sleeper) = idle.sleepers.pop() {
                idle.searching += 1;
                sleeper.unpark();
            }
        }
    }

    /// Found work: one searcher fewer; the last one hands the search on to a sleeper.
    fn stop_searching(&self) {
        lock(&self.idle).searching -= 1;
        self.notify();
    }

    /// Stops searching and parks until notified; it comes back counted as searching again (by
    /// the notifier, or by itself when its last look finds work).
    fn park(&self) {
        let me = thread::current();
        {
            let mut idle = lock(&self.idle);
            idle.searching -= 1;
            idle.sleepers.push(me.clone());
        }
        let mut looked = false;
        loop {
            {
                let mut idle = lock(&self.idle);
                let Some(at) = idle.sleepers.iter().position(|t| t.id() == me.id()) else {
                    return; // a notifier took us off the list and counted us
                };
                if !looked && self.has_work() {
                    idle.sleepers.swap_remove(at);
                    idle.searching += 1;
                    return;
                }
            }
            looked = true;
            thread::park();
        }
    }

    /// Whether any queue holds a runnable (the last look before parking).
    fn has_work(&self) -> bool {
        !lock(&self.injector).is_empty() || self.locals.iter().any(|q| !lock(q).is_empty())
    }

    /// The LIFO slot (at most [`MAX_LIFO_RUNS`] times in a row), then the own queue.
    fn next(&self, i: usize, lifo_runs: &mut u32) -> Option<Runnable> {
        if let Some(runnable) = LIFO.take() {
            if *lifo_runs < MAX_LIFO_RUNS {
                *lifo_runs += 1;
                return Some(runnable);
            }
            lock(&self.locals[i]).push_back(runnable);
        }
        *lifo_runs = 0;
        lock(&self.locals[i]).pop_front()
    }

    /// The injection queue, then steal: what a searching worker does.
    fn find_elsewhere(&self, i: usize) -> Option<Runnable> {
        let injected = lock(&self.injector).pop_front();
        injected.or_else(|| self.steal(i))
    }

    /// Takes half of the first non-empty queue after `i`'s: runs one, keeps the rest.
    fn steal(&self, i: usize) -> Option<Runnable> {
        let n = self.locals.len();
        (1..n).find_map(|k| {
            let mut stolen: VecDeque<Runnable> = {
                let mut victim = lock(&self.locals[(i + k) % n]);
                let half = victim.len().div_ceil(2);
                victim.drain(..half).collect()
            };
            let first = stolen.pop_front()?;
            lock(&self.locals[i]).extend(stolen);
            Some(first)
        })
    }
}

/// Spawns `future` and returns its handle: onto this worker's queue when called from a task.
pub fn spawn<F, T>(future: F) -> Task<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (runnable, task) = async_task::spawn(future, schedule);
    runnable.schedule();
    task
}
