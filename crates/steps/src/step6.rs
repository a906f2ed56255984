//! Step 6: the LIFO slot — the task just woken runs next.
//!
//! When task A sends a message to task B and waits for the answer, B is woken on A's worker
//! and, in step 5, goes to the *back* of that worker's queue: behind everything queued before
//! it, while the message it needs cools in the cache. Here each worker has one extra place,
//! the **LIFO slot**, that only it reads and no thief can reach: a runnable woken on a worker
//! goes into the slot, and whatever was there before goes to the back of the queue (and the
//! idle workers are woken to steal it, as in step 5). The worker takes the slot before its
//! queue, so a request and its reply run back to back.
//!
//! A slot that always wins could starve the queue: two tasks that wake each other forever
//! would keep it to themselves. So a worker takes the slot at most [`MAX_LIFO_RUNS`] times in a
//! row; then the slot's runnable goes to the back of the queue and the queue gets a turn.
//! Nothing else changes; step 7 turns to how idle workers are woken.

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

/// The workers' names: `step6-0`, `step6-1`, …
pub const THREAD: &str = "step6";

thread_local! {
    /// Which worker this thread is, if it is one of this step's workers.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
    /// This worker's LIFO slot: the runnable woken last on it.
    static LIFO: Cell<Option<Runnable>> = const { Cell::new(None) };
}

/// How many times in a row a worker may run its LIFO slot before its queue gets a turn.
pub const MAX_LIFO_RUNS: u32 = 3;

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

/// The schedule function: on a worker, the LIFO slot (the slot's previous runnable moves to
/// the queue); elsewhere the injection queue. What reaches a queue wakes the idle workers.
fn schedule(runnable: Runnable) {
    let shared = *SHARED;
    match WORKER.get() {
        Some(i) => match LIFO.replace(Some(runnable)) {
            Some(older) => lock(&shared.locals[i]).push_back(older),
            None => return,
        },
        None => lock(&shared.injector).push_back(runnable),
    }
    shared.idle.notify_all();
}

impl Shared {
    fn run_worker(&self, i: usize) {
        WORKER.set(Some(i));
        let mut lifo_runs = 0;
        loop {
            let seen = self.idle.generation();
            match self.next(i, &mut lifo_runs) {
                Some(runnable) => {
                    let _ = catch_unwind(|| runnable.run());
                }
                None => self.idle.wait(seen),
            }
        }
    }

    /// The LIFO slot (at most [`MAX_LIFO_RUNS`] times in a row), then [`Shared::find`].
    fn next(&self, i: usize, lifo_runs: &mut u32) -> Option<Runnable> {
        if let Some(runnable) = LIFO.take() {
            if *lifo_runs < MAX_LIFO_RUNS {
                *lifo_runs += 1;
                return Some(runnable);
            }
            lock(&self.locals[i]).push_back(runnable);
        }
        *lifo_runs = 0;
        self.find(i)
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
