//! What the runtime counts, and the snapshot [`Runtime::metrics`](crate::Runtime::metrics) returns.
//!
//! Counters are relaxed atomics, one cache-padded block per worker, each written only by its
//! worker (a load and a store, not a locked read-modify-write): counting a poll costs a couple of
//! nanoseconds and no contention. Readers get a snapshot that may be slightly stale, which is all
//! a metric needs. Queue depths are read from the queues themselves.

use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use crate::scheduler::Shared;
use crate::task::TaskId;

/// Per-worker counters (written by the worker only).
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    pub(crate) polls: AtomicU64,
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
}

/// A snapshot of one worker's counters.
///
/// ```
/// let rt = spool::Runtime::builder().worker_threads(2).build()?;
/// rt.block_on(rt.spawn(async {})).unwrap();
/// let polls: u64 = rt.metrics().workers.iter().map(|w| w.polls).sum();
/// assert!(polls >= 1);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Polls this worker started (counted before each poll).
    pub polls: u64,
    /// Successful steals (each moves up to half of the victim's queue).
    pub steals: u64,
    /// Times the worker went to sleep (in the driver or on its condvar).
    pub parks: u64,
    /// Tasks in the worker's stealable queue now (its LIFO slot not included).
    pub local_queue_depth: usize,
}

/// A snapshot of a runtime's counters, from [`Runtime::metrics`](crate::Runtime::metrics).
///
/// ```
/// let rt = spool::Runtime::builder().worker_threads(2).build()?;
/// let m = rt.metrics();
/// assert_eq!(m.workers.len(), 2);
/// assert_eq!(m.tasks_alive, 0);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One entry per worker.
    pub workers: Vec<WorkerMetrics>,
    /// Tasks in the shared injection queue now.
    pub injection_queue_depth: usize,
    /// Tasks spawned on the workers since the start (blocking tasks not included).
    pub tasks_spawned: u64,
    /// Spawned tasks whose future has not been dropped yet.
    pub tasks_alive: usize,
    /// Workers searching for work right now.
    pub workers_searching: usize,
    /// Threads in the blocking pool.
    pub blocking_threads: usize,
    /// Blocking threads running a closure now.
    pub blocking_busy: usize,
    /// Blocking threads waiting for a closure.
    pub blocking_idle: usize,
    /// Closures waiting for a blocking thread.
    pub blocking_queue_depth: usize,
    /// Timers registered in the driver now.
    pub timers: usize,
    /// I/O sources (sockets) registered with the reactor now.
    pub io_sources: usize,
    /// Polls the blocking detector reported.
    pub detector_hits: u64,
}

impl RuntimeMetrics {
    pub(crate) fn collect(shared: &Shared) -> Self {
        let (tasks_spawned, tasks_alive) = shared.registry.counts();
        let blocking = shared.blocking.counts();
        RuntimeMetrics {
            workers: shared
                .remotes
                .iter()
                .map(|remote| WorkerMetrics {
                    polls: remote.counters.polls.load(Relaxed),
                    steals: remote.counters.steals.load(Relaxed),
                    parks: remote.counters.parks.load(Relaxed),
                    local_queue_depth: remote.stealer.len(),
                })
                .collect(),
            injection_queue_depth: shared.injector.len(),
            tasks_spawned,
            tasks_alive,
            workers_searching: shared.idle.snapshot().0,
            blocking_threads: blocking.threads,
            blocking_busy: blocking.threads.saturating_sub(blocking.idle),
            blocking_idle: blocking.idle,
            blocking_queue_depth: blocking.queued,
            timers: shared.driver.timers().len(),
            io_sources: shared.driver.sources().len(),
            detector_hits: shared.detector_hits.load(Relaxed),
        }
    }
}

/// One poll of one task, recorded when [`Builder::record_spans`](crate::runtime::Builder::record_spans)
/// is on: which task ran when, on which worker. The lab draws timelines from these.
///
/// ```
/// let rt = spool::Runtime::builder().worker_threads(1).record_spans(true).build()?;
/// rt.block_on(rt.spawn(async {})).unwrap();
/// // A span is recorded just *after* its poll, which may be after the task's result arrived;
/// // on one worker, the next task runs only once the previous span is in.
/// rt.block_on(rt.spawn(async {})).unwrap();
/// let spans = rt.take_spans();
/// assert!(!spans.is_empty() && spans.iter().all(|s| s.end >= s.start));
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PollSpan {
    /// The task polled.
    pub task_id: TaskId,
    /// Its spawn site.
    pub location: &'static Location<'static>,
    /// The worker that polled it.
    pub worker: usize,
    /// When the poll began.
    pub start: Instant,
    /// When it returned.
    pub end: Instant,
}
