//! A worker thread: the loop that finds the next task, runs it, and parks when there is none.
//!
//! ```text
//! loop {
//!     every global_queue_interval-th tick: a batch from the injection queue first
//!                                                                 (fairness for remote work)
//!     every MAINTENANCE_INTERVAL-th tick: deferred tasks → back of own queue
//!                                                                 (fairness for yielders)
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
//! The worker's `Local` (its queue, LIFO slot and deferred list) is reachable from the schedule
//! function (`Shared::schedule`, `scheduler/mod.rs`) through the thread's runtime context, which
//! is how "scheduled from a worker of this runtime" is detected; where a woken task goes is
//! decided there, where a worker looks next is decided here.
//!
//! # Yielding: defer, do not requeue
//!
//! A task that wakes itself while it runs ([`yield_now`](crate::yield_now)) is *deferred*: it
//! goes to a per-worker list (`Local::deferred`, a plain `Vec`, not stealable) and moves back to
//! the queue only when the LIFO slot, the local queue *and the injection queue* are empty, so a
//! worker of yielders admits remote work every round. The worker never parks with deferred tasks
//! (they are flushed before it searches or parks), and at shutdown they are dropped like queued
//! tasks. A worker that never runs dry would never reach that point, so the deferred list is also
//! moved to the back of the queue on every maintenance tick (tokio wakes its deferred tasks after
//! each zero-timeout park, which is the same tick). Either move takes the oldest tasks first and
//! only as many as the deque holds without growing its buffer (`queue::DEQUE_MIN_CAP`; the
//! maintenance tick at least half of them, so every yielder is back within a few ticks): the rest
//! stay deferred for the next turn, instead of the deque doubling and halving its buffer each
//! round. The interval tick takes a *batch* from the
//! injection queue (`len / workers + 1`, at most 128 and at most the queue's free room), not one
//! task. Why requeuing was wrong, and what this fixed: `docs/design.md`, "Scheduler".
//!
//! # Local tasks
//!
//! A worker's local (`!Send`) tasks wait in `Local::pinned` and, when woken from other threads,
//! in its `Remote::inbox`; it takes them after its own deque (before it on the interval tick),
//! before the injection queue. They are never stolen and never deferred.
//!
//! # The current-thread runtime
//!
//! [`block_on`] runs this same loop on the caller's thread, as worker 0 of a one-worker runtime,
//! and polls `block_on`'s future whenever its waker was called (checked before each task; the
//! park loop counts it as local work, so the thread wakes for it), with a fresh cooperative
//! budget before each poll like a task's (`task/coop.rs`; the caller's budget is put back when
//! `block_on` returns). Between calls the worker's state is a [`Core`] kept by the runtime; a
//! second thread calling `block_on` meanwhile does not get it and only waits for its own future
//! (tasks run on the thread that holds the core).
use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crossbeam_deque::{Steal, Worker};

use super::idle::{IdleWorker, Site};
use super::park::Parker;
use super::queue::{LOCAL_QUEUE_CAPACITY, MAX_LIFO_POLLS};
use super::{discard, Local, Shared};
use crate::metrics::{MarkKind, PollSpan, WorkerMark};
use crate::runtime::{context, Handle};
use crate::task::Runnable;

/// Ticks between two maintenance turns: the deferred tasks are requeued and the driver is
/// turned with a zero timeout (fires due timers, polls I/O). tokio's `event_interval`, at its value.
pub(crate) const MAINTENANCE_INTERVAL: u32 = 61;
/// Most tasks taken from the injection queue (or stolen) in one batch (tokio: 128).
const MAX_BATCH: usize = 128;

/// Adds one to a counter only this worker writes: a load and a store, no locked instruction.
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

/// Runs worker `index` of `shared` on the calling thread until shutdown.
pub(crate) fn run(shared: Arc<Shared>, index: usize, deque: Worker<Runnable>) {
    let mut worker = WorkerLoop::from_core(Core::new(shared.clone(), index, deque));
    let context = context::enter_worker(Handle::from_shared(shared), worker.local.clone());
    worker.run();
    worker.drain();
    drop(context);
    worker.shared.worker_exited();
}

/// A worker's state while no thread runs it: a current-thread runtime's only worker between
/// two `block_on` calls.
pub(crate) struct Core {
    local: Local,
    idle: IdleWorker,
    tick: Ticks,
    lifo_polls: u32,
    rng: u64,
}

impl Core {
    pub(crate) fn new(shared: Arc<Shared>, index: usize, deque: Worker<Runnable>) -> Self {
        Core {
            tick: Ticks {
                to_maintenance: MAINTENANCE_INTERVAL,
                to_injector: shared.global_queue_interval,
            },
            local: Local::new(shared, index, deque),
            idle: IdleWorker::new(index),
            lifo_polls: 0,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
        }
    }

    /// Drops every task still queued on this worker (shutdown of a current-thread runtime).
    pub(crate) fn drain(self) {
        WorkerLoop::from_core(self).drain();
    }
}

/// Turns left until the next maintenance tick and the next injection-queue-first tick: a
/// decrement and a compare per turn, where `tick % interval` was a division (the injection
/// interval is a runtime setting, so the compiler could not turn it into a multiplication).
#[derive(Clone, Copy)]
struct Ticks {
    to_maintenance: u32,
    to_injector: u32,
}

/// `block_on`'s waker on a current-thread runtime.
struct MainWaker(Arc<Shared>);

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.0.wake_main();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.wake_main();
    }
}

/// Puts the core back when `block_on` returns or unwinds.
struct CoreGuard<'a> {
    slot: &'a Mutex<Option<Core>>,
    worker: Option<WorkerLoop>,
    context: Option<context::WorkerGuard>,
}

impl Drop for CoreGuard<'_> {
    fn drop(&mut self) {
        // The context's reference to `Local` first: then ours is the only one.
        drop(self.context.take());
        // This thread is no worker any more: its last clock read must not date later wakes.
        crate::stats::forget_clock();
        if let Some(worker) = self.worker.take() {
            let core = worker.into_core();
            *crate::loom::std_lock(self.slot) = Some(core);
        }
    }
}

/// Runs `future` to completion on the calling thread as the only worker of the current-thread
/// runtime `shared`, whose core waits in `slot`: tasks, timers and I/O run here meanwhile.
/// Without the core (another thread is in `block_on`), only waits for `future`.
pub(crate) fn block_on<F: Future>(
    shared: &Arc<Shared>,
    slot: &Mutex<Option<Core>>,
    future: F,
) -> F::Output {
    let handle = Handle::from_shared(shared.clone());
    let Some(core) = crate::loom::std_lock(slot).take() else {
        let _context = context::enter(handle);
        return crate::block_on::block_on(future);
    };
    let worker = WorkerLoop::from_core(core);
    // The caller's budget (none, outside a task) comes back when this returns or unwinds.
    let budget = crate::task::coop::save_budget();
    let context = context::enter_worker(handle, worker.local.clone());
    let mut guard = CoreGuard {
        slot,
        worker: Some(worker),
        context: Some(context),
    };
    let worker = guard.worker.as_mut().expect("the worker is in the guard");
    let waker = Waker::from(Arc::new(MainWaker(shared.clone())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    shared.wake_main();
    // The future is polled when woken, once the tasks ready here have run (so that what woke
    // them, `time::advance` say, sees their effects), or after MAINTENANCE_INTERVAL tasks.
    let mut since_poll = 0;
    loop {
        if shared.main_woken()
            && (since_poll >= MAINTENANCE_INTERVAL || !worker.local.has_runnable_tasks())
            && shared.take_main_woken()
        {
            since_poll = 0;
            // A fresh cooperative budget, as for a task (`task/coop.rs`): the last task's
            // leftover (0 after a forced yield) would make every Spool future in it pend.
            crate::task::coop::set_task_budget();
            if shared.task_stats {
                // What the spawns and wakes made by the future are dated with (`stats.rs`,
                // rule 2): one clock read here, not one or two per spawn.
                crate::stats::set_clock(crate::stats::now());
            }
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            worker.poll_clock.set(0); // that poll was not a task's
        }
        since_poll += 1;
        if shared.is_shutdown() {
            // Cannot happen while `block_on` borrows the runtime; wait for the future alone.
            drop(guard);
            drop(budget);
            return crate::block_on::block_on(future);
        }
        worker.step();
    }
}

struct WorkerLoop {
    shared: Arc<Shared>,
    local: Rc<Local>,
    index: usize,
    tick: Ticks,
    /// This worker's side of the searching/parked protocol.
    idle: IdleWorker,
    lifo_polls: u32,
    rng: u64,
    /// When the last timed poll ended (raw clock, `stats::now`), if the worker has done
    /// nothing else since and the next task comes from this worker's own lists; 0 otherwise.
    poll_clock: Cell<u64>,
}

impl WorkerLoop {
    fn from_core(core: Core) -> Self {
        WorkerLoop {
            shared: core.local.shared.clone(),
            index: core.local.index,
            local: Rc::new(core.local),
            tick: core.tick,
            idle: core.idle,
            lifo_polls: core.lifo_polls,
            rng: core.rng,
            poll_clock: Cell::new(0),
        }
    }

    fn into_core(self) -> Core {
        let local = Rc::try_unwrap(self.local).unwrap_or_else(|_| {
            unreachable!("spool: a worker's Local outlived its thread's context")
        });
        Core {
            local,
            idle: self.idle,
            tick: self.tick,
            lifo_polls: self.lifo_polls,
            rng: self.rng,
        }
    }

    fn run(&mut self) {
        while !self.shared.is_shutdown() {
            self.step();
        }
    }

    /// One turn of the loop: run one task, or park.
    fn step(&mut self) {
        self.tick.to_maintenance -= 1;
        if self.tick.to_maintenance == 0 {
            self.tick.to_maintenance = MAINTENANCE_INTERVAL;
            self.maintenance();
        }
        match self.next_task().or_else(|| self.search()) {
            Some(task) => self.run_task(task),
            None => self.park(),
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
            .or_else(|| self.local.pinned.borrow_mut().pop_front())
        {
            let _ = catch_unwind(AssertUnwindSafe(|| discard(task)));
        }
        self.shared.drain_inbox(self.index);
    }

    /// The next local (`!Send`) task of this worker: its own list, then its inbox.
    fn take_pinned(&self) -> Option<Runnable> {
        if let Some(task) = self.local.pinned.borrow_mut().pop_front() {
            return Some(task);
        }
        let inbox = &self.shared.remotes[self.index].inbox;
        if inbox.is_empty() {
            return None;
        }
        // Woken on another thread, at a time this worker's last clock read may precede.
        self.poll_clock.set(0);
        loop {
            match inbox.steal() {
                Steal::Success(task) => return Some(task),
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    fn next_task(&mut self) -> Option<Runnable> {
        let queue = &self.local.queue;
        self.tick.to_injector -= 1;
        if self.tick.to_injector == 0 {
            self.tick.to_injector = self.shared.global_queue_interval;
            // A batch, not one task: the rest waits at the back of the local queue.
            if let Some(task) = self.take_from_injector().or_else(|| self.take_pinned()) {
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
        if let Some(task) = queue
            .pop()
            .or_else(|| self.take_pinned())
            .or_else(|| self.take_from_injector())
        {
            return Some(task);
        }
        // Nothing else is ready: the yielders' turn.
        if self.flush_deferred(self.local.queue.room_without_growing()) {
            let task = self.local.queue.pop();
            if self.local.queue.has_stealable() {
                self.shared.notify_parked();
            }
            return task;
        }
        None
    }

    /// Moves the oldest deferred (yielded) tasks, at most `limit` (at least one), to the back
    /// of the local queue, in yield order. Returns whether there were any.
    fn flush_deferred(&self, limit: usize) -> bool {
        let mut deferred = self.local.deferred.borrow_mut();
        if deferred.is_empty() {
            return false;
        }
        let n = limit.clamp(1, deferred.len());
        self.local
            .queue
            .append(&mut deferred, n, &self.shared.injector);
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
        // Spawned or woken on another thread, maybe after this worker's last clock read.
        self.poll_clock.set(0);
        let free = LOCAL_QUEUE_CAPACITY.saturating_sub(self.local.queue.deque().len());
        let limit = (injector.len() / self.shared.remotes.len() + 1)
            .min(MAX_BATCH)
            .min(free.max(1));
        loop {
            match injector.steal_batch_with_limit_and_pop(self.local.queue.deque(), limit) {
                Steal::Success(task) => {
                    self.mark(MarkKind::InjectorPull);
                    return Some(task);
                }
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    /// Steals from other workers, then retries the injection queue. Only as a searcher, and at
    /// most half the workers search at once.
    fn search(&mut self) -> Option<Runnable> {
        if !self.idle.try_search(&self.shared.idle) {
            return None;
        }
        // A search takes time that is no task's, and what it finds was queued elsewhere.
        self.poll_clock.set(0);
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
                        self.mark(MarkKind::Steal { victim });
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
        let shared = &*self.shared;
        self.idle
            .found_work(&shared.idle, || shared.notify_parked());
        let shared = &*self.shared;
        // Counted before the poll, so that a task's polls are visible once its result is.
        bump(&shared.remotes[self.index].counters.polls);
        // A fresh cooperative budget for this poll (`task/coop.rs`, step 1).
        crate::task::coop::set_task_budget();
        let stats = shared.task_stats;
        if !stats && !shared.detector.is_on() && !shared.spans.is_on() {
            // Nothing needs the clock: it is not read at all.
            let _ = catch_unwind(AssertUnwindSafe(|| task.run()));
            return;
        }
        let id = task.metadata().id;
        let location = task.metadata().location;
        // One clock read per poll: a poll starts where the previous one ended, unless the
        // worker did something else in between (parked, turned the driver, searched, polled
        // `block_on`'s future) or the task comes from another thread's queue (the injection
        // queue, the inbox), which resets `poll_clock` (`stats.rs`, rule 2).
        let start = match self.poll_clock.take() {
            0 => {
                let now = crate::stats::now();
                if stats {
                    crate::stats::set_clock(now);
                }
                now
            }
            t => t,
        };
        if stats {
            let meta = task.metadata();
            let tag = self.index as u32 + 1;
            crate::stats::poll_begin(&meta.poll, &meta.stats, id.as_u64(), start, tag);
        }
        let _ = catch_unwind(AssertUnwindSafe(|| task.run()));
        let end = if stats {
            // The poll read its end itself, for the task's stats: reused.
            crate::stats::poll_finish(start)
        } else {
            crate::stats::now()
        };
        self.poll_clock.set(end);
        // Raw nanoseconds: the detector's check is a subtraction and a compare against its
        // threshold (no `Instant` arithmetic), so it runs on every timed poll.
        shared
            .detector
            .check(end.saturating_sub(start), id, location, self.index);
        if shared.spans.is_on() {
            shared.spans.record(PollSpan {
                task_id: id,
                location,
                worker: self.index,
                start: crate::stats::to_instant(start),
                end: crate::stats::to_instant(end),
            });
        }
    }

    /// Records a mark on this worker's lane, if span recording is on (one relaxed load if not).
    fn mark(&self, kind: MarkKind) {
        if self.shared.spans.is_on() {
            self.shared.spans.mark(WorkerMark {
                worker: self.index,
                at: Instant::now(),
                kind,
            });
        }
    }

    /// Requeues the deferred tasks (a worker that never runs dry must still run its yielders),
    /// and fires due timers and polls I/O without blocking, if the driver is free.
    fn maintenance(&mut self) {
        // What fits in the deque's buffer, but at least half of them: every yielder is back in
        // the queue within a few turns even when the queue never runs dry.
        let half = self.local.deferred.borrow().len().div_ceil(2);
        let mut scheduled = self.flush_deferred(self.local.queue.room_without_growing().max(half));
        if let Some(mut driver) = self.shared.driver.try_lock() {
            self.local.in_park.set(true);
            driver.turn(Some(Duration::ZERO));
            self.local.in_park.set(false);
            self.poll_clock.set(0);
            scheduled = true;
        }
        if scheduled && self.local.queue.has_stealable() {
            self.shared.notify_parked();
        }
    }

    fn park(&mut self) {
        // Never sleep on deferred tasks (`next_task` flushes them before searching, so this is
        // a safety net): they would wait for a wake-up that nobody sends.
        if self.flush_deferred(usize::MAX) || self.local.has_tasks() {
            return;
        }
        let shared = &*self.shared;
        let site = ParkSite {
            shared,
            local: &self.local,
            index: self.index,
        };
        self.local.in_park.set(true);
        let recording = shared.spans.is_on().then(Instant::now);
        self.idle
            .park(&shared.idle, &shared.remotes[self.index].parker, &site);
        if let Some(at) = recording {
            let until = Instant::now();
            // Only real sleeps (a park that found work at once is no mark).
            if until.saturating_duration_since(at) > Duration::from_micros(50) {
                shared.spans.mark(WorkerMark {
                    worker: self.index,
                    at,
                    kind: MarkKind::Park { until },
                });
            }
        }
        self.local.in_park.set(false);
        self.lifo_polls = 0;
        self.poll_clock.set(0);
    }
}

/// A parking worker's surroundings, for the protocol of `idle.rs`.
struct ParkSite<'a> {
    shared: &'a Shared,
    local: &'a Local,
    index: usize,
}

impl Site for ParkSite<'_> {
    fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown()
    }

    fn notify_parked(&self) {
        self.shared.notify_parked();
    }

    fn has_shared_work(&self) -> bool {
        self.shared.has_shared_work()
    }

    fn has_local_work(&self) -> bool {
        self.local.has_tasks()
    }

    fn has_stealable_work(&self) -> bool {
        self.local.queue.has_stealable()
    }

    fn sleep(&self, parker: &Parker) {
        match self.shared.driver.try_lock() {
            Some(mut driver) => parker.park_driver(|| {
                match self.shared.auto_advance_target() {
                    Ok(None) => driver.turn(None),
                    // A paused clock and nothing to run: jump to the next timer and fire it.
                    Ok(Some(deadline)) => {
                        self.shared.driver.timers().clock().advance_to(deadline);
                        driver.turn(Some(Duration::ZERO))
                    }
                    // Paused, but the blocking pool works: look again in a millisecond.
                    Err(()) => driver.turn(Some(Duration::from_millis(1))),
                };
            }),
            None => parker.park_condvar(),
        }
    }

    fn count_park(&self) {
        bump(&self.shared.remotes[self.index].counters.parks);
    }
}
