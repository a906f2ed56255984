//! Step 4: a queue per worker, and an injection queue for the rest.
//!
//! In step 3 every wake crossed the one channel that all workers fight over. Here each worker
//! owns a queue (`locals[i]`, a `Mutex<VecDeque>` that only it ever locks, so the lock is never
//! contended), and `schedule` decides where a runnable goes:
//!
//! - woken **on a worker** (a task waking the task it sent a message to, or spawning one):
//!   onto that worker's own queue. No other thread is involved and nobody needs waking: this
//!   worker is running, and will get to it.
//! - woken **anywhere else** (`block_on` in `main`, the timer thread): onto the shared
//!   injection queue, and the idle workers are woken to look.
//!
//! A worker runs its own queue first, then the injection queue, and when both are empty it
//! waits on `Idle`: a generation counter under a mutex and a condvar. It reads the
//! generation *before* looking for work and sleeps only if it has not changed since, so a push
//! between "found nothing" and "sleep" cannot be missed.
//!
//! What this step gets wrong, on purpose: work that lands on a busy worker's queue stays there.
//! Eight blocking tasks spawned by one task all run on that task's worker, one after another,
//! while the others sleep. Step 5 lets idle workers steal.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::catch_unwind;
use std::sync::{Condvar, LazyLock, Mutex};
use std::thread;

use async_task::{Runnable, Task};

use crate::common::lock;
pub use crate::common::{block_on, workers, yield_now};
pub use crate::step2::{sleep, Sleep};

/// The workers' names: `step4-0`, `step4-1`, …
pub const THREAD: &str = "step4";

thread_local! {
    /// Which worker this thread is, if it is one of this step's workers.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Where idle workers wait: a generation counter bumped by every notification.
#[derive(Debug, Default)]
pub(crate) struct Idle {
    generation: Mutex<u64>,
    wake: Condvar,
}

impl Idle {
    /// The current generation; read it before looking for work.
    pub(crate) fn generation(&self) -> u64 {
        *lock(&self.generation)
    }

    /// Wakes every waiting worker: new work may be somewhere they can reach.
    pub(crate) fn notify_all(&self) {
        *lock(&self.generation) += 1;
        self.wake.notify_all();
    }

    /// Sleeps until the generation moves past `seen` (at once if it already has).
    pub(crate) fn wait(&self, seen: u64) {
        let mut generation = lock(&self.generation);
        while *generation == seen {
            generation = self
                .wake
                .wait(generation)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// The queues and the idle workers' condvar.
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

/// The schedule function: the current worker's queue, else the injection queue.
fn schedule(runnable: Runnable) {
    let shared = *SHARED;
    match WORKER.get() {
        Some(i) => lock(&shared.locals[i]).push_back(runnable),
        None => {
            lock(&shared.injector).push_back(runnable);
            shared.idle.notify_all();
        }
    }
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

    /// Own queue first, then the injection queue.
    fn find(&self, i: usize) -> Option<Runnable> {
        let local = lock(&self.locals[i]).pop_front();
        local.or_else(|| lock(&self.injector).pop_front())
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
