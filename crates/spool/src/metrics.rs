//! What the runtime counts, and the snapshot [`Runtime::metrics`](crate::Runtime::metrics) returns.
//!
//! Counters are relaxed atomics, one cache-padded block per worker, each written only by its
//! worker (a load and a store, not a locked read-modify-write): counting a poll costs a couple of
//! nanoseconds and no contention. Readers get a snapshot that may be slightly stale, which is all
//! a metric needs. Queue depths are read from the queues themselves.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

use crate::loom::std_lock;
use crate::task::TaskId;

/// Spans (and, apart, marks) kept per worker between takes; older ones are dropped (about
/// 64 MiB of spans across 4 workers).
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

/// What a worker did besides polling, recorded with the spans (for the inspector's lanes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MarkKind {
    /// It stole a batch from worker `victim`'s queue.
    Steal {
        /// The worker stolen from.
        victim: usize,
    },
    /// It took a batch from the shared injection queue.
    InjectorPull,
    /// It slept from `at` until `until`.
    Park {
        /// When it woke up.
        until: Instant,
    },
}

/// One mark on a worker's lane, recorded while span recording is on.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct WorkerMark {
    /// The worker.
    pub worker: usize,
    /// When it happened (a park's start).
    pub at: Instant,
    /// What happened.
    pub kind: MarkKind,
}

/// One worker's rings.
#[derive(Default)]
struct Rings {
    spans: VecDeque<PollSpan>,
    marks: VecDeque<WorkerMark>,
}

/// The poll spans of one runtime, when recording is on: one bounded ring per worker (each
/// written by its worker only, so the lock is uncontended but for [`take`](Self::take)). When a
/// ring is full its oldest entry is dropped and counted ([`dropped`](Self::dropped)).
///
/// Recording is switched on at build ([`Builder::record_spans`](crate::runtime::Builder::record_spans),
/// the lab) or at run time by a viewer ([`Handle::set_record_spans`](crate::Handle::set_record_spans),
/// the inspector); off, a poll pays one relaxed load for it.
pub(crate) struct SpanRecorder {
    on: AtomicBool,
    capacity: usize,
    rings: Box<[Mutex<Rings>]>,
    dropped: AtomicU64,
}

impl SpanRecorder {
    pub(crate) fn new(on: bool, workers: usize) -> Self {
        SpanRecorder {
            on: AtomicBool::new(on),
            capacity: MAX_SPANS_PER_WORKER,
            rings: (0..workers).map(|_| Mutex::new(Rings::default())).collect(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Whether polls must be timed for it.
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }

    /// Starts or stops recording (what is recorded stays until taken).
    pub(crate) fn set_on(&self, on: bool) {
        self.on.store(on, Relaxed);
    }

    /// Spans and marks dropped because a ring was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    fn push<T>(&self, ring: &mut VecDeque<T>, item: T) {
        if ring.len() >= self.capacity {
            ring.pop_front();
            self.dropped.fetch_add(1, Relaxed);
        }
        ring.push_back(item);
    }

    /// Keeps `span` (in its worker's ring), unless recording is off.
    pub(crate) fn record(&self, span: PollSpan) {
        if !self.is_on() {
            return;
        }
        if let Some(ring) = self.rings.get(span.worker) {
            let mut rings = std_lock(ring);
            self.push(&mut rings.spans, span);
        }
    }

    /// Keeps `mark` (in its worker's ring), unless recording is off.
    pub(crate) fn mark(&self, mark: WorkerMark) {
        if !self.is_on() {
            return;
        }
        if let Some(ring) = self.rings.get(mark.worker) {
            let mut rings = std_lock(ring);
            self.push(&mut rings.marks, mark);
        }
    }

    /// Takes the spans recorded since the last call, ordered by start time.
    pub(crate) fn take(&self) -> Vec<PollSpan> {
        let mut spans: Vec<PollSpan> = self
            .rings
            .iter()
            .flat_map(|ring| std::mem::take(&mut std_lock(ring).spans))
            .collect();
        spans.sort_by_key(|span| span.start);
        spans
    }

    /// Takes the marks recorded since the last call, ordered by time.
    pub(crate) fn take_marks(&self) -> Vec<WorkerMark> {
        let mut marks: Vec<WorkerMark> = self
            .rings
            .iter()
            .flat_map(|ring| std::mem::take(&mut std_lock(ring).marks))
            .collect();
        marks.sort_by_key(|mark| mark.at);
        marks
    }
}
