//! The work-stealing scheduler: where a woken task goes, and how idle workers find it.
//!
//! # From the chapter's queue to this one
//!
//! The chapter's `spawn_task` had one queue (a flume channel) and one thread; its schedule
//! function was `|runnable| QUEUE.send(runnable)`. Spool's schedule function (`Shared::schedule`,
//! in this file; `Shared::schedule_task` for `Send` tasks, which finds the runtime in the task's
//! metadata and so captures nothing, sparing a reference count per wake) makes one decision
//! instead, reading the worker's identity from the thread's runtime context
//! (`runtime/context.rs`):
//!
//! - **Called on one of this runtime's workers** (a task woke another, a task spawned one, a timer
//!   fired in the driver): the task goes to *that worker's* local queue (`queue.rs`), into its LIFO slot —
//!   no lock, no other core involved, and the task runs next while its data is still in the cache.
//!   A task that woke *itself* while running (`yield_now`) is *deferred* instead: set aside until
//!   nothing else is ready, the injection queue included (`worker.rs` tells why that matters).
//! - **Called anywhere else** (the main thread, a blocking-pool thread, another runtime): the task
//!   goes to the shared injection queue (crossbeam's `Injector`) and *one* parked worker is woken,
//!   but only if no worker is already searching (`idle.rs`).
//!
//! Each worker (`worker.rs`) then runs: the LIFO slot, its own queue, the injection queue (first,
//! a batch every `global_queue_interval` ticks, so that injected tasks are not starved by local
//! ones), then its deferred (yielded) tasks, and when all are empty it steals half of a random
//! other worker's queue. With nothing anywhere it parks (`park.rs`): in the driver, waiting for
//! I/O and timers, if nobody else is; on a condvar otherwise.
//!
//! **A current-thread runtime** (`Builder::new_current_thread`) is this scheduler with one worker
//! and no thread of its own: the worker is whichever thread calls `Runtime::block_on`, and its
//! state (`worker::Core`) waits in the runtime between calls. The same `schedule` serves it, with
//! one difference: a task woken on that thread goes to the *back* of its queue, not the LIFO slot
//! (tokio's current-thread rule too). With one thread the slot buys no locality that the queue
//! lacks, and it reorders: a connection task woken by each of its HTTP/2 streams in turn would run
//! after every one of them and write one answer per system call, instead of running once after
//! all of them and writing them together. One woken elsewhere goes to the injection queue,
//! whose notification unparks the `block_on` thread (in the driver, where it waits for I/O and
//! timers). `block_on`'s own future is not a task: its waker sets `Remote::main_woken` and
//! unparks the same worker, which polls it before its next task.
//!
//! **Local tasks** (`spool::spawn_local`, `!Send` futures) have an *owner*, the worker they were
//! spawned on, and never leave it: woken on the owner, they go to its `pinned` queue (never
//! stealable, never in the LIFO slot or the deque); woken anywhere else, to the owner's `inbox`
//! (`Remote`), and the owner is unparked. A yielding local task goes to the back of `pinned`.
//! At shutdown a local task is dropped only on its owner's thread; one woken elsewhere then
//! (its owner already gone) is leaked rather than dropped on the wrong thread.
//!
//! Fairness inside a task: the cooperative budget (`task/coop.rs`; the worker sets it before each
//! poll) makes Spool's own futures return `Pending` after 128 ready operations, and the forced
//! yield is a self-wake, so it lands in the deferred list above. A task that never awaits any of
//! them still keeps its worker: the LIFO cap, the injection interval and the deferred list
//! (flushed every maintenance tick) are then the only fairness mechanisms, and the blocking
//! detector reports such tasks.
//!
//! The history of these choices and what they measured: `docs/design.md`, "Scheduler".

pub(crate) mod idle;
pub(crate) mod park;
pub(crate) mod queue;
#[allow(unsafe_code)] // one block and one impl: the snapshot reads headers (SAFETY notes)
pub(crate) mod registry;
pub(crate) mod worker;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;

use crate::blocking::BlockingPool;
use crate::detector::Detector;
use crate::driver::Driver;
use crate::metrics::{RuntimeMetrics, SpanRecorder, WorkerCounters, WorkerMetrics};
use crate::runtime::context;
use crate::stats::StatsRef;
use crate::task::{Runnable, Task, TaskFuture, TaskMeta};
use idle::Idle;
use park::Parker;
use queue::LocalQueue;
use registry::Registry;

/// Every how many ticks a worker takes from the injection queue first, by default (tokio's
/// starting value; `Builder::global_queue_interval`).
pub(crate) const DEFAULT_GLOBAL_QUEUE_INTERVAL: u32 = 61;

/// What other threads may touch of one worker.
pub(crate) struct Remote {
    stealer: Stealer<Runnable>,
    parker: Parker,
    counters: CachePadded<WorkerCounters>,
    /// Local tasks of this worker woken on other threads (only this worker runs them).
    inbox: Injector<Runnable>,
    /// On a current-thread runtime: `block_on`'s future was woken and must be polled.
    main_woken: AtomicBool,
}

/// Drops a task that will not run again (shutdown), unless it is a local task of another
/// thread: async-task allows its future to be dropped only there, so it is leaked instead (its
/// owner is gone, or is about to drop what it still holds itself).
pub(crate) fn discard(runnable: Runnable) {
    match runnable.metadata().owner_thread {
        Some(thread) if thread != std::thread::current().id() => std::mem::forget(runnable),
        // Dropping a Runnable cancels its task and drops its future, here and now.
        _ => drop(runnable),
    }
}

/// The part of a worker that lives on its thread and that the schedule function reaches through
/// the thread's runtime context (`runtime/context.rs`): being able to reach it is what "called
/// on a worker of this runtime" means.
pub(crate) struct Local {
    shared: Arc<Shared>,
    queue: LocalQueue,
    /// The worker is inside `park` or a maintenance turn (firing timers, dispatching I/O in the
    /// driver): tasks it schedules now are its own to run right after, so they wake nobody.
    in_park: Cell<bool>,
    /// Tasks that woke themselves while running (`yield_now`), in yield order: they run again
    /// once nothing else is ready here or in the injection queue, or at the next maintenance
    /// tick. Not stealable: nobody else is short of work while this worker still has some.
    deferred: RefCell<Vec<Runnable>>,
    /// This worker's index.
    index: usize,
    /// Local (`!Send`) tasks owned by this worker, ready to run: never stolen.
    pinned: RefCell<VecDeque<Runnable>>,
}

impl Local {
    pub(crate) fn new(
        shared: Arc<Shared>,
        index: usize,
        deque: crossbeam_deque::Worker<Runnable>,
    ) -> Self {
        let alone = shared.remotes.len() == 1;
        Local {
            shared,
            queue: LocalQueue::new(deque, alone),
            in_park: Cell::new(false),
            deferred: RefCell::new(Vec::new()),
            index,
            pinned: RefCell::new(VecDeque::new()),
        }
    }

    /// Whether this worker has anything to run: its queue, its local tasks (inbox included),
    /// or (current-thread) `block_on`'s future.
    pub(crate) fn has_tasks(&self) -> bool {
        self.has_runnable_tasks()
            || self.shared.remotes[self.index]
                .main_woken
                .load(Ordering::SeqCst)
    }

    /// Whether this is a worker of `shared`.
    pub(crate) fn is_worker_of(&self, shared: &Arc<Shared>) -> bool {
        Arc::ptr_eq(&self.shared, shared)
    }

    /// Whether this worker's queue or local tasks (inbox included) have a task.
    pub(crate) fn has_runnable_tasks(&self) -> bool {
        self.queue.has_tasks()
            || !self.pinned.borrow().is_empty()
            || !self.shared.remotes[self.index].inbox.is_empty()
    }
}

/// Everything a runtime's threads share.
pub(crate) struct Shared {
    injector: Injector<Runnable>,
    remotes: Box<[Remote]>,
    idle: Idle,
    driver: Arc<Driver>,
    registry: Arc<Registry>,
    blocking: BlockingPool,
    detector: Detector,
    spans: SpanRecorder,
    /// Whether task statistics are kept (`stats.rs`; `Builder::task_stats`).
    pub(crate) task_stats: bool,
    global_queue_interval: u32,
    /// A current-thread runtime: one worker, run by `block_on`'s caller.
    current_thread: bool,
    shutdown: AtomicBool,
    /// Workers still running, for `shutdown_timeout`.
    workers_alive: Mutex<usize>,
    workers_exited: Condvar,
}

/// The builder's settings that [`Shared::new`] keeps.
pub(crate) struct Options {
    /// Record poll spans (`Builder::record_spans`).
    pub(crate) record_spans: bool,
    /// Keep task statistics (`Builder::task_stats`).
    pub(crate) task_stats: bool,
    /// `Builder::global_queue_interval`.
    pub(crate) global_queue_interval: u32,
    /// A current-thread runtime (`Builder::new_current_thread`).
    pub(crate) current_thread: bool,
}

impl Shared {
    pub(crate) fn new(
        stealers: Vec<Stealer<Runnable>>,
        driver: Driver,
        blocking: BlockingPool,
        detector: Detector,
        options: Options,
    ) -> Self {
        let Options {
            record_spans,
            task_stats,
            global_queue_interval,
            current_thread,
        } = options;
        let workers = stealers.len();
        Shared {
            injector: Injector::new(),
            remotes: stealers
                .into_iter()
                .map(|stealer| Remote {
                    stealer,
                    parker: Parker::new(),
                    counters: CachePadded::new(WorkerCounters::default()),
                    inbox: Injector::new(),
                    main_woken: AtomicBool::new(false),
                })
                .collect(),
            idle: Idle::new(workers),
            driver: Arc::new(driver),
            registry: Arc::new(Registry::new(workers)),
            blocking,
            detector,
            spans: SpanRecorder::new(record_spans, workers),
            task_stats,
            global_queue_interval,
            current_thread,
            shutdown: AtomicBool::new(false),
            // A current-thread runtime has no thread of its own to wait for.
            workers_alive: Mutex::new(if current_thread { 0 } else { workers }),
            workers_exited: Condvar::new(),
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// The runtime's driver (timers and I/O). Reached from outside the scheduler only through
    /// `runtime::context::driver`.
    pub(crate) fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    /// The runtime's blocking pool.
    pub(crate) fn blocking(&self) -> &BlockingPool {
        &self.blocking
    }

    /// The number of workers.
    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    /// Whether this is a current-thread runtime.
    pub(crate) fn is_current_thread(&self) -> bool {
        self.current_thread
    }

    /// `block_on`'s future (current-thread) was woken: mark it and unpark its thread.
    pub(crate) fn wake_main(&self) {
        self.remotes[0].main_woken.store(true, Ordering::SeqCst);
        self.unpark_worker(0);
    }

    /// Whether `block_on`'s future was woken (a hint; [`take_main_woken`](Self::take_main_woken)
    /// consumes it).
    pub(crate) fn main_woken(&self) -> bool {
        self.remotes[0].main_woken.load(Ordering::Relaxed)
    }

    /// Consumes `block_on`'s wake-up, if there is one.
    pub(crate) fn take_main_woken(&self) -> bool {
        self.remotes[0].main_woken.swap(false, Ordering::SeqCst)
    }

    /// Auto-advance (`time/clock.rs`): on a current-thread runtime whose clock is paused, with
    /// nothing to run, the deadline to move the clock to: the next timer's. `Err(())` while the
    /// blocking pool works (its result may come before any timer: wait for it, in real time).
    pub(crate) fn auto_advance_target(&self) -> Result<Option<Instant>, ()> {
        if !self.current_thread || !self.driver.timers().clock().is_paused() {
            return Ok(None);
        }
        let blocking = self.blocking.counts();
        if blocking.queued > 0 || blocking.threads > blocking.idle {
            return Err(());
        }
        Ok(self.driver.timers().next_deadline())
    }

    /// Creates a task on this runtime without scheduling it. The caller schedules the returned
    /// `Runnable` (outside any borrow of thread-local state: scheduling may drop it).
    pub(crate) fn create_task<F>(
        self: &Arc<Self>,
        future: F,
        location: &'static Location<'static>,
    ) -> (Runnable, Task<F::Output>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let stats = self.task_stats;
        let meta = TaskMeta {
            runtime: Some(self.clone()),
            ..TaskMeta::new(location, stats)
        };
        let id = meta.id.as_u64();
        // Captures nothing: see `schedule_task`.
        let schedule = |runnable: Runnable, info: async_task::ScheduleInfo| {
            Shared::schedule_task(runnable, info.woken_while_running);
        };
        let ((runnable, task), entry) = self.registry.register(id, |guard| {
            let (runnable, task) = async_task::Builder::new().metadata(meta).spawn(
                move |meta: &TaskMeta| {
                    let stats = stats.then(|| StatsRef::new(&meta.poll));
                    TaskFuture::new(future, Some(guard)).with_stats(stats)
                },
                async_task::WithInfo(schedule),
            );
            let (runnable, task_ref) = registry::TaskRef::of(runnable);
            ((runnable, task), task_ref)
        });
        (runnable, Task::new(task, Some(entry)))
    }

    /// Creates a local (`!Send`) task owned by worker `local` (the calling thread's), without
    /// scheduling it. async-task checks that its future is only polled and dropped on this
    /// thread; `schedule` (with `Some(owner)`) makes sure it is.
    pub(crate) fn create_local_task<F>(
        self: &Arc<Self>,
        local: &Local,
        future: F,
        location: &'static Location<'static>,
    ) -> (Runnable, Task<F::Output>)
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let stats = self.task_stats;
        let meta = TaskMeta::new_local(location, stats);
        let id = meta.id.as_u64();
        let shared = self.clone();
        let owner = local.index;
        let schedule = move |runnable: Runnable, info: async_task::ScheduleInfo| {
            shared.schedule(runnable, info.woken_while_running, Some(owner));
        };
        // With its registry entry, like any task: abort reaches it the same way.
        let ((runnable, task), entry) = self.registry.register(id, |guard| {
            let (runnable, task) = async_task::Builder::new().metadata(meta).spawn_local(
                move |meta: &TaskMeta| {
                    let stats = stats.then(|| StatsRef::new(&meta.poll));
                    TaskFuture::new(future, Some(guard)).with_stats(stats)
                },
                async_task::WithInfo(schedule),
            );
            let (runnable, task_ref) = registry::TaskRef::of(runnable);
            ((runnable, task), task_ref)
        });
        (runnable, Task::new(task, Some(entry)))
    }

    /// Spawns a local (`!Send`) task owned by the calling thread's worker; `None` when the
    /// thread is not a worker (nor a current-thread runtime's `block_on` thread).
    pub(crate) fn spawn_local<F>(
        future: F,
        location: &'static Location<'static>,
    ) -> Option<Task<F::Output>>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let local = context::worker()?;
        let (runnable, task) = local.shared.create_local_task(&local, future, location);
        let (shared, owner) = (local.shared.clone(), local.index);
        drop(local);
        // Not `runnable.schedule()`: the first schedule is no wake (see `schedule_new`).
        shared.schedule_as::<false>(runnable, false, Some(owner));
        Some(task)
    }

    /// The schedule function of every `Send` task: [`schedule`](Self::schedule) for the runtime
    /// in the task's metadata (`TaskMeta::runtime`).
    ///
    /// It captures nothing, because async-task guards a schedule function that captures
    /// something with a temporary waker (a reference count taken and given back: two locked
    /// instructions per schedule) lest the task, and what the function captured, be freed while
    /// it runs. Here nothing of the task is used once it is queued: on a worker of its runtime
    /// the worker's own `Shared` stands in for the task's; anywhere else the task's is cloned
    /// first.
    pub(crate) fn schedule_task(runnable: Runnable, yielded: bool) {
        Self::schedule_send::<true>(runnable, yielded);
    }

    /// The first schedule of a `Send` task just made by [`create_task`](Self::create_task),
    /// in place of `Runnable::schedule` (which calls [`schedule_task`](Self::schedule_task)
    /// through async-task's vtable): the same, less the wake's statistics, which `TaskMeta::new`
    /// wrote already (`stats.rs`, rule 3).
    pub(crate) fn schedule_new(runnable: Runnable) {
        Self::schedule_send::<false>(runnable, false);
    }

    /// [`schedule_task`](Self::schedule_task); `NOTE`: record the wake in the task's
    /// statistics (if the runtime keeps them). Generic rather than a flag, so that each caller
    /// gets its own copy, inlined as if it were the only one.
    #[inline(always)]
    fn schedule_send<const NOTE: bool>(runnable: Runnable, yielded: bool) {
        let Some(shared) = runnable.metadata().runtime.as_ref() else {
            unreachable!("spool: a Send task carries its runtime");
        };
        if shared.is_shutdown() {
            discard(runnable);
            return;
        }
        let stats = NOTE && shared.task_stats;
        let runnable = context::with_worker(|local| {
            let mine = local.filter(|local| {
                let runtime = runnable.metadata().runtime.as_ref();
                runtime.is_some_and(|shared| Arc::ptr_eq(&local.shared, shared))
            });
            Self::schedule_here(local, mine, stats, runnable, yielded, None)
        });
        if let Some(runnable) = runnable {
            let Some(shared) = runnable.metadata().runtime.clone() else {
                unreachable!("spool: a Send task carries its runtime");
            };
            shared.schedule_remote(runnable, None);
        }
    }

    /// The schedule function of the local tasks of this runtime (and, through
    /// [`schedule_task`](Self::schedule_task), of the others): where a woken (or new) task
    /// goes. `yielded`: the task woke itself while it was running. `owner`: the worker a local
    /// (`!Send`) task belongs to, `None` for the others.
    ///
    /// One thread-local access (the context's worker) per call.
    pub(crate) fn schedule(
        self: &Arc<Self>,
        runnable: Runnable,
        yielded: bool,
        owner: Option<usize>,
    ) {
        self.schedule_as::<true>(runnable, yielded, owner);
    }

    /// [`schedule`](Self::schedule); `NOTE`: record the wake in the task's statistics (if the
    /// runtime keeps them): not for a task's first schedule (see
    /// [`schedule_new`](Self::schedule_new)).
    #[inline(always)]
    fn schedule_as<const NOTE: bool>(
        self: &Arc<Self>,
        runnable: Runnable,
        yielded: bool,
        owner: Option<usize>,
    ) {
        if self.is_shutdown() {
            discard(runnable);
            return;
        }
        let stats = NOTE && self.task_stats;
        let runnable = context::with_worker(|local| {
            let mine = local.filter(|local| Arc::ptr_eq(&local.shared, self));
            Self::schedule_here(local, mine, stats, runnable, yielded, owner)
        });
        if let Some(runnable) = runnable {
            self.schedule_remote(runnable, owner);
        }
    }

    /// The part of [`schedule`](Self::schedule) on the thread's worker `local` (of any
    /// runtime): a task of the runtime of `mine` (`local`, if it is this task's runtime's)
    /// goes to its own queues; else the task comes back. `stats`: the runtime keeps task
    /// statistics.
    #[inline(always)]
    fn schedule_here(
        local: Option<&Local>,
        mine: Option<&Local>,
        stats: bool,
        runnable: Runnable,
        yielded: bool,
        owner: Option<usize>,
    ) -> Option<Runnable> {
        if stats {
            // A self-wake is one store, another a store and a count (stats.rs, rule 3), dated
            // by where the wake is made.
            let site = || match local {
                None => crate::stats::WakeSite::Outside,
                Some(l) if l.in_park.get() => crate::stats::WakeSite::Driver,
                Some(_) => crate::stats::WakeSite::Worker,
            };
            let meta = runnable.metadata();
            crate::stats::note_wake(&meta.poll, &meta.stats, yielded, site);
        }
        let Some(local) = mine else {
            return Some(runnable);
        };
        if let Some(owner) = owner {
            if local.index != owner {
                return Some(runnable);
            }
            // A local task on its owner: the owner's own list, never stolen.
            local.pinned.borrow_mut().push_back(runnable);
            return None;
        }
        if yielded {
            // It yielded to let others run: deferred until nothing else is ready (not even in
            // the injection queue). No wake-up: this worker comes back to it before it could
            // park.
            local.deferred.borrow_mut().push(runnable);
            return None;
        }
        let shared = &local.shared;
        if shared.current_thread {
            // No LIFO slot on a current-thread runtime: the back of the queue, so that a task
            // woken by the one running (an HTTP/2 stream's answer waking its connection) waits
            // for the others already woken, and the connection then writes all their answers
            // at once. Nobody could steal it anyway.
            local.queue.push_back(runnable, &shared.injector);
            return None;
        }
        // The LIFO slot: runs next, cache-warm. Its previous occupant went to the stealable
        // deque: somebody idle may take it.
        let stealable = local.queue.push_lifo(runnable, &shared.injector);
        // With one worker nobody else could take it.
        if stealable && !local.in_park.get() && shared.remotes.len() > 1 {
            shared.notify_parked();
        }
        None
    }

    /// The part of [`schedule`](Self::schedule) anywhere but on a worker of this runtime.
    fn schedule_remote(&self, runnable: Runnable, owner: Option<usize>) {
        if let Some(owner) = owner {
            // A local task anywhere but on its owner: the owner's inbox, and the owner woken.
            self.remotes[owner].inbox.push(runnable);
            self.unpark_worker(owner);
            // The owner drains its inbox when it exits at shutdown: a task pushed after that
            // must not linger (see `discard`).
            if self.is_shutdown() {
                self.drain_inbox(owner);
            }
            return;
        }
        // Not on a worker of this runtime: the injection queue, and one worker woken if needed.
        self.injector.push(runnable);
        self.notify_parked();
        // A shutdown may have drained the injector between our check and our push: make sure
        // this task does not linger there (it would keep the runtime alive through its waker).
        if self.is_shutdown() {
            self.drain_injector();
        }
    }

    /// Wakes one parked worker, if one is needed (see [`idle`]).
    pub(super) fn notify_parked(&self) {
        let remotes = &self.remotes;
        if let Some(index) = self
            .idle
            .worker_to_notify(|w| !remotes[w].parker.is_in_driver())
        {
            self.unpark_worker(index);
        }
    }

    fn unpark_worker(&self, index: usize) {
        self.remotes[index].parker.unpark(|| self.driver.unpark());
    }

    /// Whether the injection queue or any worker's stealable deque has a task (the last
    /// searcher to park re-checks this).
    fn has_shared_work(&self) -> bool {
        !self.injector.is_empty() || self.remotes.iter().any(|r| !r.stealer.is_empty())
    }

    /// Discards the local tasks waiting in worker `index`'s inbox (shutdown).
    pub(crate) fn drain_inbox(&self, index: usize) {
        loop {
            match self.remotes[index].inbox.steal() {
                crossbeam_deque::Steal::Success(runnable) => discard(runnable),
                crossbeam_deque::Steal::Retry => continue,
                crossbeam_deque::Steal::Empty => break,
            }
        }
    }

    fn drain_injector(&self) {
        loop {
            match self.injector.steal() {
                crossbeam_deque::Steal::Success(runnable) => drop(runnable),
                crossbeam_deque::Steal::Retry => continue,
                crossbeam_deque::Steal::Empty => break,
            }
        }
    }

    /// A worker thread is exiting.
    pub(crate) fn worker_exited(&self) {
        let mut alive = crate::loom::std_lock(&self.workers_alive);
        *alive = alive.saturating_sub(1);
        self.workers_exited.notify_all();
    }

    /// Stops the runtime: refuses new work, stops the workers (waiting up to `timeout` for them),
    /// drops every queued and waiting task, and shuts the blocking pool down. Returns whether
    /// every worker exited in time.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        self.shutdown.store(true, Ordering::SeqCst);
        for index in 0..self.remotes.len() {
            self.unpark_worker(index);
        }
        let all_exited = {
            let mut alive = crate::loom::std_lock(&self.workers_alive);
            loop {
                if *alive == 0 {
                    break true;
                }
                match deadline {
                    None => {
                        alive = self
                            .workers_exited
                            .wait(alive)
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                    }
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            break false;
                        }
                        alive = self
                            .workers_exited
                            .wait_timeout(alive, deadline - now)
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .0;
                    }
                }
            }
        };
        // Queued tasks: dropping their Runnables drops their futures.
        self.drain_injector();
        // Waiting tasks: a timer's waker may be the last reference to its task; dropping it makes
        // async-task schedule the task one last time, and `schedule` drops it.
        self.driver.timers().clear();
        // Waiting sockets: fail their operations (whoever still holds them outside a task must
        // not wait forever for a reactor nobody turns), and refuse new registrations.
        self.driver.shutdown_io();
        // Every task still alive: wake it, `schedule` drops it.
        for waker in self.registry.drain() {
            waker.wake();
        }
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        self.blocking.shutdown(remaining) && all_exited
    }

    /// A snapshot of the runtime's counters.
    pub(crate) fn metrics(&self) -> RuntimeMetrics {
        let (tasks_spawned, tasks_alive) = self.registry.counts();
        let blocking = self.blocking.counts();
        RuntimeMetrics {
            workers: self
                .remotes
                .iter()
                .map(|remote| WorkerMetrics::from_counters(&remote.counters, remote.stealer.len()))
                .collect(),
            injection_queue_depth: self.injector.len(),
            tasks_spawned,
            tasks_alive,
            workers_searching: self.idle.snapshot().0,
            blocking_threads: blocking.threads,
            blocking_busy: blocking.threads.saturating_sub(blocking.idle),
            blocking_idle: blocking.idle,
            blocking_queue_depth: blocking.queued,
            timers: self.driver.timers().len(),
            io_sources: self.driver.sources().len(),
            detector_hits: self.detector.hits(),
        }
    }

    /// A snapshot of every live task's statistics.
    pub(crate) fn tasks(&self) -> Vec<crate::stats::TaskSnapshot> {
        self.registry.snapshot()
    }

    /// The poll spans recorded since the last call (see `SpanRecorder`).
    pub(crate) fn take_spans(&self) -> Vec<crate::metrics::PollSpan> {
        self.spans.take()
    }

    /// The span recorder (its switch, its marks).
    pub(crate) fn spans(&self) -> &SpanRecorder {
        &self.spans
    }

    /// The detector (its recent hits).
    pub(crate) fn detector(&self) -> &Detector {
        &self.detector
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.remotes.len())
            .field("shutdown", &self.is_shutdown())
            .finish_non_exhaustive()
    }
}
