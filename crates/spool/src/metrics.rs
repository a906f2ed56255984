//! What the runtime counts, and the snapshot [`Runtime::metrics`](crate::Runtime::metrics) returns.
//!
//! Counters are relaxed atomics, one cache-padded block per worker, each written only by its
//! worker (a load and a store, not a locked read-modify-write): counting a poll costs a couple of
//! nanoseconds and no contention. Readers get a snapshot that may be slightly stale, which is all
//! a metric needs. Queue depths are read from the queues themselves.

use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

use crate::loom::std_lock;
use crate::task::TaskId;

/// Spans kept per worker before recording stops (about 64 MiB across 4 workers).
const MAX_SPANS_PER_WORKER: usize = 1 << 20;

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

impl WorkerMetrics {
    pub(crate) fn from_counters(counters: &WorkerCounters, local_queue_depth: usize) -> Self {
        WorkerMetrics {
            polls: counters.polls.load(Relaxed),
            steals: counters.steals.load(Relaxed),
            parks: counters.parks.load(Relaxed),
            local_queue_depth,
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

/// The poll spans of one runtime, when recording is on: one buffer per worker (each written by
/// its worker only, so the lock is uncontended but for [`take`](Self::take)).
pub(crate) struct SpanRecorder {
    on: bool,
    buffers: Box<[Mutex<Vec<PollSpan>>]>,
}

impl SpanRecorder {
    pub(crate) fn new(on: bool, workers: usize) -> Self {
        SpanRecorder {
            on,
            buffers: (0..workers).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Whether polls must be timed for it.
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Keeps `span` (in its worker's buffer), unless recording is off or the buffer is full.
    pub(crate) fn record(&self, span: PollSpan) {
        if !self.on {
            return;
        }
        if let Some(buffer) = self.buffers.get(span.worker) {
            let mut spans = std_lock(buffer);
            if spans.len() < MAX_SPANS_PER_WORKER {
                spans.push(span);
            }
        }
    }

    /// Takes the spans recorded since the last call, ordered by start time.
    pub(crate) fn take(&self) -> Vec<PollSpan> {
        let mut spans: Vec<PollSpan> = self
            .buffers
            .iter()
            .flat_map(|buffer| std::mem::take(&mut *std_lock(buffer)))
            .collect();
        spans.sort_by_key(|span| span.start);
        spans
    }
}
