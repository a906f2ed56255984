//! The work-stealing scheduler: where a woken task goes, and how idle workers find it.
//!
//! # From the chapter's queue to this one
//!
//! The chapter's `spawn_task` had one queue (a flume channel) and one thread; its schedule
//! function was `|runnable| QUEUE.send(runnable)`. Spool's schedule function (`Shared::schedule`,
//! in this file) makes one decision instead, reading the worker's identity from the thread's
//! runtime context (`runtime/context.rs`):
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
    shutdown: AtomicBool,
    /// Workers still running, for `shutdown_timeout`.
    workers_alive: Mutex<usize>,
    workers_exited: Condvar,
}

impl Shared {
    pub(crate) fn new(
        stealers: Vec<Stealer<Runnable>>,
        driver: Driver,
        blocking: BlockingPool,
        detector: Detector,
        record_spans: bool,
        task_stats: bool,
        global_queue_interval: u32,
    ) -> Self {
        let workers = stealers.len();
        Shared {
            injector: Injector::new(),
            remotes: stealers
                .into_iter()
                .map(|stealer| Remote {
                    stealer,
                    parker: Parker::new(),
                    counters: CachePadded::new(WorkerCounters::default()),
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
            shutdown: AtomicBool::new(false),
            workers_alive: Mutex::new(workers),
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
        let meta = TaskMeta::new(location, self.task_stats);
        let id = meta.id.as_u64();
        let shared = self.clone();
        let schedule = move |runnable: Runnable, info: async_task::ScheduleInfo| {
            shared.schedule(runnable, info.woken_while_running);
        };
        let ((runnable, task), entry) = self.registry.register(id, |guard| {
            let (runnable, task) = async_task::Builder::new().metadata(meta).spawn(
                move |_| TaskFuture::new(future, Some(guard)),
                async_task::WithInfo(schedule),
            );
            let waker = runnable.waker();
            let meta = registry::MetaRef::new(runnable.metadata());
            ((runnable, task), waker, meta)
        });
        (runnable, Task::new(task, Some(entry)))
    }

    /// The schedule function of every task of this runtime: where a woken (or new) task goes.
    /// `yielded`: the task woke itself while it was running.
    ///
    /// One thread-local access (the context's worker) per call.
    pub(crate) fn schedule(self: &Arc<Self>, runnable: Runnable, yielded: bool) {
        if self.is_shutdown() {
            // Dropping a Runnable cancels its task and drops its future, here and now.
            drop(runnable);
            return;
        }
        let local = context::worker();
        if self.task_stats {
            // One store (stats.rs, rule 3); the worker's last clock read unless it is parked.
            let fresh_clock = local.as_ref().map_or(true, |l| l.in_park.get());
            crate::stats::note_wake(&runnable.metadata().stats, yielded, fresh_clock);
        }
        if let Some(local) = local {
            if Arc::ptr_eq(&local.shared, self) {
                if yielded {
                    // It yielded to let others run: deferred until nothing else is ready (not
                    // even in the injection queue). No wake-up: this worker comes back to it
                    // before it could park.
                    local.deferred.borrow_mut().push(runnable);
                    return;
                }
                // The LIFO slot: runs next, cache-warm. Its previous occupant went to the
                // stealable deque: somebody idle may take it.
                let stealable = local.queue.push_lifo(runnable, &self.injector);
                if stealable && !local.in_park.get() {
                    self.notify_parked();
                }
                return;
            }
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
