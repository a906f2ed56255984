//! Step 5: work stealing — an idle worker takes half of a busy worker's queue.
//!
//! Step 4's queues are private: work that lands on a busy worker waits there while the other
//! workers sleep. Here a worker that finds its own queue and the injection queue empty visits
//! the others in turn (starting after itself, so that thieves spread out) and, from the first
//! with work, takes **half** (rounded up) from the front: the oldest runnables, those its owner
//! would reach last. One it runs at once; the rest go onto its own queue, where others may
//! steal them again. Half, not one: a thief that took one would be back at once, and one that
//! took all would just move the problem to itself.
//!
//! Stealing needs one more change in `schedule`: a push onto a worker's own queue now wakes
//! the idle workers too — otherwise they would sleep through work they could now take. Step 4
//! never woke anyone for a local push; this step wakes *everyone* for every push. That is the
//! thundering herd step 7 tames.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::catch_unwind;
use std::sync::{LazyLock, Mutex};
use std::thread;

use async_task::{Runnable, Task};

use crate::common::lock;
pub use crate::common::{block_on, workers, yield_now};
pub use crate::step2::{sleep, Sleep};
use crate::step4::Idle;

/// The workers' names: `step5-0`, `step5-1`, …
pub const THREAD: &str = "step5";

thread_local! {
    /// Which worker this thread is, if it is one of this step's workers.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The queues and the idle workers' condvar (step 4's).
struct Shared {
    injector: Mutex<VecDeque<Runnable>>,
    locals: Vec<Mutex<VecDeque<Runnable>>>,
    idle: Idle,
}

static SHARED: LazyLock<&'static Shared> = LazyLock::new(|| {
    let shared: &'static Shared = Box::leak(Box::new(Shared {
        injector: Mutex::new(VecDeque::new()),
        locals: (0..workers())
            .map(|_| Mutex::new(VecDeque::new()))
            .collect(),
        idle: Idle::default(),
    }));
    for i in 0..shared.locals.len() {
        thread::Builder::new()
            .name(format!("{THREAD}-{i}"))
            .spawn(move || shared.run_worker(i))
            .expect("the OS refused to start a worker thread");
    }
    shared
});

/// The schedule function: the current worker's queue, else the injection queue; either way,
/// the idle workers are woken, since now they can take it.
fn schedule(runnable: Runnable) {
    let shared = *SHARED;
    match WORKER.get() {
        Some(i) => lock(&shared.locals[i]).push_back(runnable),
        None => lock(&shared.injector).push_back(runnable),
    }
    shared.idle.notify_all();
}

impl Shared {
    fn run_worker(&self, i: usize) {
        WORKER.set(Some(i));
        loop {
            let seen = self.idle.generation();
            match self.find(i) {
                Some(runnable) => {
                    let _ = catch_unwind(|| runnable.run());
                }
                None => self.idle.wait(seen),
            }
        }
    }

    /// Own queue, the injection queue, then steal.
    fn find(&self, i: usize) -> Option<Runnable> {
        let local = lock(&self.locals[i]).pop_front();
        local
            .or_else(|| lock(&self.injector).pop_front())
            .or_else(|| self.steal(i))
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
