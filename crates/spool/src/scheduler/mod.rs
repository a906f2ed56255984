//! The work-stealing scheduler: where a woken task goes, and how idle workers find it.
//!
//! # From the chapter's queue to this one
//!
//! The chapter's `spawn_task` had one queue (a flume channel) and one thread; its schedule
//! function was `|runnable| QUEUE.send(runnable)`. Spool's schedule function (`Shared::schedule`)
//! makes one decision instead:
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
//! There is no cooperative budget (tokio's 128 polls per task before a forced yield): a task that
//! never returns `Pending` keeps its worker, and the LIFO cap, the injection interval and the
//! deferred list (flushed every maintenance tick) are the only fairness mechanisms. The blocking
//! detector reports such tasks.

pub(crate) mod idle;
pub(crate) mod park;
pub(crate) mod queue;
pub(crate) mod registry;
pub(crate) mod worker;

use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;

use crate::blocking::BlockingPool;
use crate::detector::BlockingReport;
use crate::driver::Driver;
use crate::metrics::{PollSpan, WorkerCounters};
use crate::task::{Runnable, Task, TaskFuture, TaskMeta};
use idle::Idle;
use park::Parker;
use registry::Registry;

/// The callback type of [`Builder::on_blocking`](crate::runtime::Builder::on_blocking).
pub(crate) type OnBlocking = Arc<dyn Fn(&BlockingReport) + Send + Sync>;

/// Settings the workers read while running.
pub(crate) struct Config {
    pub(crate) detector_threshold: Option<Duration>,
    pub(crate) on_blocking: Option<OnBlocking>,
    pub(crate) record_spans: bool,
    pub(crate) global_queue_interval: u32,
}

/// What other threads may touch of one worker.
pub(crate) struct Remote {
    pub(crate) stealer: Stealer<Runnable>,
    pub(crate) parker: Parker,
    pub(crate) counters: CachePadded<WorkerCounters>,
    pub(crate) spans: Mutex<Vec<PollSpan>>,
}

/// Everything a runtime's threads share.
pub(crate) struct Shared {
    pub(crate) injector: Injector<Runnable>,
    pub(crate) remotes: Box<[Remote]>,
    pub(crate) idle: Idle,
    pub(crate) driver: Arc<Driver>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) blocking: BlockingPool,
    pub(crate) config: Config,
    shutdown: AtomicBool,
    /// Workers still running, for `shutdown_timeout`.
    workers_alive: Mutex<usize>,
    workers_exited: Condvar,
    /// Polls the blocking detector reported.
    pub(crate) detector_hits: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        stealers: Vec<Stealer<Runnable>>,
        driver: Driver,
        blocking: BlockingPool,
        config: Config,
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
                    spans: Mutex::new(Vec::new()),
                })
                .collect(),
            idle: Idle::new(workers),
            driver: Arc::new(driver),
            registry: Arc::new(Registry::new(workers)),
            blocking,
            config,
            shutdown: AtomicBool::new(false),
            workers_alive: Mutex::new(workers),
            workers_exited: Condvar::new(),
            detector_hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
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
        let meta = TaskMeta::new(location);
        let id = meta.id.as_u64();
        let shared = self.clone();
        let schedule = move |runnable: Runnable, info: async_task::ScheduleInfo| {
            shared.schedule(runnable, info.woken_while_running);
        };
        let (runnable, task) = self.registry.register(id, |guard| {
            let (runnable, task) = async_task::Builder::new().metadata(meta).spawn(
                move |_| TaskFuture::new(future, Some(guard)),
                async_task::WithInfo(schedule),
            );
            let waker = runnable.waker();
            ((runnable, task), waker)
        });
        (runnable, Task::new(task))
    }

    /// The schedule function of every task of this runtime. `yielded`: the task woke itself
    /// while it was running.
    pub(crate) fn schedule(self: &Arc<Self>, runnable: Runnable, yielded: bool) {
        if self.is_shutdown() {
            // Dropping a Runnable cancels its task and drops its future, here and now.
            drop(runnable);
            return;
        }
        let runnable = match worker::schedule_local(self, runnable, yielded) {
            None => return,
            Some(runnable) => runnable,
        };
        self.injector.push(runnable);
        self.notify_parked();
        // A shutdown may have drained the injector between our check and our push: make sure
        // this task does not linger there (it would keep the runtime alive through its waker).
        if self.is_shutdown() {
            self.drain_injector();
        }
    }

    /// Wakes one parked worker, if one is needed (see [`idle`]).
    pub(crate) fn notify_parked(&self) {
        let remotes = &self.remotes;
        if let Some(index) = self
            .idle
            .worker_to_notify(|w| !remotes[w].parker.is_in_driver())
        {
            self.unpark_worker(index);
        }
    }

    pub(crate) fn unpark_worker(&self, index: usize) {
        self.remotes[index].parker.unpark(|| self.driver.unpark());
    }

    /// After the last searcher parked: wake somebody if any queue has work.
    pub(crate) fn notify_if_work_pending(&self) {
        let pending =
            !self.injector.is_empty() || self.remotes.iter().any(|r| !r.stealer.is_empty());
        if pending {
            self.notify_parked();
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

    /// Runs `f` (a blocking closure) on the blocking pool.
    pub(crate) fn spawn_blocking<F, T>(
        self: &Arc<Self>,
        f: F,
        location: &'static Location<'static>,
    ) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = self.clone();
        let schedule = move |runnable: Runnable| shared.blocking.schedule(runnable, &shared);
        let (runnable, task) = async_task::Builder::new()
            .metadata(TaskMeta::new(location))
            .spawn(move |_| TaskFuture::new(async move { f() }, None), schedule);
        runnable.schedule();
        Task::new(task)
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
