//! A worker thread: the loop that finds the next task, runs it, and parks when there is none.
//!
//! ```text
//! loop {
//!     every 61st tick: a batch from the injection queue first     (fairness for remote work)
//!     every 61st tick: deferred tasks → back of own queue         (fairness for yielders)
//!                      + turn the driver with a zero timeout      (busy workers fire timers)
//!     LIFO slot (at most 3 in a row) → own queue → injection queue (a batch)
//!     → deferred: the tasks that yielded, now that nothing else is ready
//!     → search: steal half of a random worker's queue → injection queue again
//!     → park: in the driver if free (epoll_wait until the next timer), else on the condvar
//! }
//! ```
//!
//! The chapter's worker was `while let Ok(runnable) = rx.recv() { catch_unwind(|| runnable.run()) }`:
//! one queue, block on it when empty. Every line above replaces "block on the one queue" with a
//! cheaper place to look first; `catch_unwind` stays (panics inside futures are already caught by
//! [`TaskFuture`](crate::task::TaskFuture); this one catches panics from a future's destructor).
//!
//! The worker's [`LocalQueue`] is reachable from the schedule function through a thread-local
//! ([`schedule_local`]), which is how "scheduled from a worker of this runtime" is detected.
//!
//! # Yielding: defer, do not requeue (the step that made remote spawns fair)
//!
//! A task that wakes itself while it runs ([`yield_now`](crate::yield_now)) used to go to the
//! back of its worker's queue. That looks fair, and is not: a worker running a few tasks that loop
//! `yield_now` + some work *always* has a local task, so it looked at the injection queue only on
//! the every-61st-tick path — and took *one* task there. Each task spawned from outside the
//! runtime waited 61 polls of the yielders: tokio's `spawn_many_remote_busy1` benchmark (10 000
//! remote spawns beside 2 × workers yielders spinning 10 µs) ran 400–500× slower than on tokio,
//! with the time exactly proportional to the interval and the scheduler under 0.5 % of the
//! profile. The policy was wrong, not the code's speed.
//!
//! The fix is tokio's, in two parts:
//!
//! - **Yielded tasks are deferred**: they go to a per-worker list (`Local::deferred`, a plain
//!   `Vec`, not stealable) and move back to the queue only when the LIFO slot, the local queue
//!   *and the injection queue* are empty. "Let every other ready task run first" now includes
//!   the tasks waiting in the injection queue, so a worker of yielders admits remote work every
//!   round instead of every 61st tick. It never parks with deferred tasks (they are flushed before
//!   it searches or parks), and at shutdown they are dropped like queued tasks.
//! - **The interval tick takes a batch** from the injection queue (`len / workers + 1`, at most
//!   128 and at most the queue's free room), not one task.
//!
//! And the other way round: a worker that never runs dry (a flood of local spawns, I/O, the
//! injection queue) would never reach the "nothing else is ready" point, so the deferred list is
//! also moved to the back of the queue on every maintenance tick (tokio wakes its deferred tasks
//! after each zero-timeout park, which is the same tick). A yielder then waits at most one
//! maintenance interval plus the queue ahead of it (~180 polls per yield beside 32 tasks that
//! keep respawning themselves, on one worker).
//!
//! Measured: beside 2 × workers yielders, a remote task went from 61.0 worker polls to 1.0–1.2
//! (1, 2 and 4 workers; `tests/rt_fairness.rs` asserts < 20), and `spawn_many_remote_busy1`
//! from ~400–600× tokio's time to ~1× (`docs/benchmarks.md`).

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_deque::{Steal, Worker};

use super::queue::{LocalQueue, LOCAL_QUEUE_CAPACITY, MAX_LIFO_POLLS};
use super::Shared;
use crate::detector;
use crate::metrics::PollSpan;
use crate::runtime::{context, Handle};
use crate::task::Runnable;

/// Ticks between two maintenance turns of the driver (zero-timeout: fires due timers).
const MAINTENANCE_INTERVAL: u32 = 61;
/// Most tasks taken from the injection queue (or stolen) in one batch (tokio: 128).
const MAX_BATCH: usize = 128;
/// Spans kept per worker before recording stops (about 64 MiB across 4 workers).
const MAX_SPANS_PER_WORKER: usize = 1 << 20;

/// The part of a worker the schedule function reaches through the thread-local.
struct Local {
    shared: Arc<Shared>,
    queue: LocalQueue,
    /// The worker is inside `park` (firing timers in the driver): tasks it schedules now are
    /// its own to run right after, so they do not wake anybody.
    in_park: Cell<bool>,
    /// Tasks that woke themselves while running (`yield_now`), in yield order: they run again
    /// once nothing else is ready here or in the injection queue, or at the next maintenance
    /// tick. Not stealable: nobody else is short of work while this worker still has some.
    deferred: RefCell<Vec<Runnable>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Local>>> = const { RefCell::new(None) };
}

/// Whether the calling thread is a worker of some Spool runtime.
pub(crate) fn is_worker_thread() -> bool {
    CURRENT
        .try_with(|current| current.borrow().is_some())
        .unwrap_or(false)
}

/// Schedules `runnable` on the calling thread's worker if it is a worker of `shared`'s runtime;
/// otherwise hands it back for the injection queue.
pub(crate) fn schedule_local(
    shared: &Arc<Shared>,
    runnable: Runnable,
    yielded: bool,
) -> Option<Runnable> {
    let local = CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten();
    let local = match local {
        Some(local) if Arc::ptr_eq(&local.shared, shared) => local,
        _ => return Some(runnable),
    };
    if yielded {
        // It yielded to let others run: deferred until nothing else is ready (not even in the
        // injection queue). No wake-up: this worker comes back to it before it could park.
        local.deferred.borrow_mut().push(runnable);
        return None;
    }
    let stealable = local.queue.push_lifo(runnable, &shared.injector);
    if stealable && !local.in_park.get() {
        shared.notify_parked();
    }
    None
}

/// Adds one to a counter only this worker writes: a load and a store, no locked instruction.
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

/// Runs worker `index` of `shared` on the calling thread until shutdown.
pub(crate) fn run(shared: Arc<Shared>, index: usize, deque: Worker<Runnable>) {
    let local = Rc::new(Local {
        shared: shared.clone(),
        queue: LocalQueue::new(deque),
        in_park: Cell::new(false),
        deferred: RefCell::new(Vec::new()),
    });
    CURRENT.with(|current| *current.borrow_mut() = Some(local.clone()));
    let _context = context::enter(Handle::from_shared(shared.clone()));

    let mut worker = WorkerLoop {
        shared,
        local,
        index,
        tick: 0,
        searching: false,
        lifo_polls: 0,
        rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
    };
    worker.run();
    worker.drain();
    CURRENT.with(|current| *current.borrow_mut() = None);
    worker.shared.worker_exited();
}

struct WorkerLoop {
    shared: Arc<Shared>,
    local: Rc<Local>,
    index: usize,
    tick: u32,
    searching: bool,
    lifo_polls: u32,
    rng: u64,
}

impl WorkerLoop {
    fn run(&mut self) {
        while !self.shared.is_shutdown() {
            self.tick = self.tick.wrapping_add(1);
            if self.tick % MAINTENANCE_INTERVAL == 0 {
                self.maintenance();
            }
            match self.next_task().or_else(|| self.search()) {
                Some(task) => self.run_task(task),
                None => self.park(),
            }
        }
    }

    /// Drops whatever is left in the local queue and the deferred list at shutdown (dropping a
    /// task may schedule another onto this queue: `schedule` drops those directly once the flag
    /// is set, but loop anyway).
    fn drain(&mut self) {
        while let Some(task) = self
            .local
            .queue
            .take_lifo()
            .or_else(|| self.local.queue.pop())
            .or_else(|| self.local.deferred.borrow_mut().pop())
        {
            let _ = catch_unwind(AssertUnwindSafe(|| drop(task)));
        }
    }

    fn next_task(&mut self) -> Option<Runnable> {
        let queue = &self.local.queue;
        if self.tick % self.shared.config.global_queue_interval == 0 {
            // A batch, not one task: the rest waits at the back of the local queue.
            if let Some(task) = self.take_from_injector() {
                return Some(task);
            }
        }
        if self.lifo_polls < MAX_LIFO_POLLS {
            if let Some(task) = queue.take_lifo() {
                self.lifo_polls += 1;
                return Some(task);
            }
        } else if let Some(task) = queue.take_lifo() {
            // Two tasks ping-ponging through the slot would starve the queue: demote.
            queue.push_back(task, &self.shared.injector);
        }
        self.lifo_polls = 0;
        if let Some(task) = queue.pop().or_else(|| self.take_from_injector()) {
            return Some(task);
        }
        // Nothing else is ready: the yielders' turn.
        if self.flush_deferred() {
            let task = self.local.queue.pop();
            if self.local.queue.has_stealable() {
                self.shared.notify_parked();
            }
            return task;
        }
        None
    }

    /// Moves the deferred (yielded) tasks to the back of the local queue, in yield order.
    /// Returns whether there were any.
    fn flush_deferred(&self) -> bool {
        let mut deferred = self.local.deferred.borrow_mut();
        if deferred.is_empty() {
            return false;
        }
        for task in deferred.drain(..) {
            self.local.queue.push_back(task, &self.shared.injector);
        }
        true
    }

    /// A batch from the injection queue: a fair share (`len / workers + 1`) so that one worker
    /// does not hoard work that idle ones could run, and no more than the local queue has room
    /// for.
    fn take_from_injector(&self) -> Option<Runnable> {
        let injector = &self.shared.injector;
        if injector.is_empty() {
            return None;
        }
        let free = LOCAL_QUEUE_CAPACITY.saturating_sub(self.local.queue.deque().len());
        let limit = (injector.len() / self.shared.remotes.len() + 1)
            .min(MAX_BATCH)
            .min(free.max(1));
        loop {
            match injector.steal_batch_with_limit_and_pop(self.local.queue.deque(), limit) {
                Steal::Success(task) => return Some(task),
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    /// Steals from other workers, then retries the injection queue. Only as a searcher, and at
    /// most half the workers search at once.
    fn search(&mut self) -> Option<Runnable> {
        if !self.searching {
            if !self.shared.idle.transition_worker_to_searching() {
                return None;
            }
            self.searching = true;
        }
        let remotes = &self.shared.remotes;
        let n = remotes.len();
        // xorshift: a random first victim, so thieves spread out.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let start = (self.rng % n as u64) as usize;
        for _ in 0..4 {
            let mut retry = false;
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == self.index {
                    continue;
                }
                // Half of the victim's queue (crossbeam rounds up), at most MAX_BATCH.
                match remotes[victim]
                    .stealer
                    .steal_batch_with_limit_and_pop(self.local.queue.deque(), MAX_BATCH)
                {
                    Steal::Success(task) => {
                        bump(&remotes[self.index].counters.steals);
                        return Some(task);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                break;
            }
        }
        self.take_from_injector()
    }

    fn run_task(&mut self, task: Runnable) {
        if self.searching {
            self.searching = false;
            // The last searcher found work: there may be more, and nobody else is looking.
            if self.shared.idle.transition_worker_from_searching() {
                self.shared.notify_parked();
            }
        }
        let config = &self.shared.config;
        let timed = config.detector_threshold.is_some() || config.record_spans;
        // Counted before the poll, so that a task's polls are visible once its result is.
        let remote = &self.shared.remotes[self.index];
        bump(&remote.counters.polls);
        if !timed {
            let _ = catch_unwind(AssertUnwindSafe(|| task.run()));
            return;
        }
        let id = task.metadata().id;
        let location = task.metadata().location;
        let start = Instant::now();
        let _ = catch_unwind(AssertUnwindSafe(|| task.run()));
        let end = Instant::now();
        let duration = end.saturating_duration_since(start);
        if let Some(threshold) = config.detector_threshold {
            if duration >= threshold {
                detector::report(&self.shared, id, location, self.index, duration);
            }
        }
        if config.record_spans {
            let mut spans = crate::loom::std_lock(&remote.spans);
            if spans.len() < MAX_SPANS_PER_WORKER {
                spans.push(PollSpan {
                    task_id: id,
                    location,
                    worker: self.index,
                    start,
                    end,
                });
            }
        }
    }

    /// Requeues the deferred tasks (a worker that never runs dry must still run its yielders),
    /// and fires due timers and polls I/O without blocking, if the driver is free.
    fn maintenance(&mut self) {
        let mut scheduled = self.flush_deferred();
        if let Some(mut driver) = self.shared.driver.try_lock() {
            self.local.in_park.set(true);
            driver.turn(Some(Duration::ZERO));
            self.local.in_park.set(false);
            scheduled = true;
        }
        if scheduled && self.local.queue.has_stealable() {
            self.shared.notify_parked();
        }
    }

    fn park(&mut self) {
        let shared = self.shared.clone();
        let remote = &shared.remotes[self.index];
        // Never sleep on deferred tasks (`next_task` flushes them before searching, so this is
        // a safety net): they would wait for a wake-up that nobody sends.
        if self.flush_deferred() || self.local.queue.has_tasks() {
            return;
        }
        if shared
            .idle
            .transition_worker_to_parked(self.index, self.searching)
        {
            // The last searcher gives up: a task pushed meanwhile was not announced to anybody.
            shared.notify_if_work_pending();
        }
        self.searching = false;
        self.local.in_park.set(true);
        while !shared.is_shutdown() {
            bump(&remote.counters.parks);
            if !remote.parker.try_consume_notification() {
                match shared.driver.try_lock() {
                    Some(mut driver) => remote.parker.park_driver(|| {
                        driver.turn(None);
                    }),
                    None => remote.parker.park_condvar(),
                }
            }
            if self.local.queue.has_tasks() {
                // Timers fired in the driver woke tasks onto this queue: run them. If a notifier
                // picked this worker meanwhile, it counted us as searching.
                self.searching = !shared.idle.unpark_worker_by_id(self.index);
                if self.local.queue.has_stealable() {
                    shared.notify_parked();
                }
                break;
            }
            if !shared.idle.is_parked(self.index) {
                // Picked by a notifier: new work somewhere; we start as a searcher.
                self.searching = true;
                break;
            }
            // Spurious (a timer fired for another runtime's thread, a stale notification).
        }
        self.local.in_park.set(false);
        self.lifo_polls = 0;
    }
}
