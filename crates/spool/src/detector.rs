//! The blocking detector: the chapter's warning ("don't block the worker") as a runtime feature.
//!
//! A task that calls `std::thread::sleep`, does heavy CPU work or blocking I/O inside `poll`
//! holds its worker: every other task queued there waits, and timers may fire late. The chapter
//! shows it by hand (one tokio worker, `thread::sleep` in an `async fn`, everything serialised).
//! Spool measures it on every poll: the worker times each poll with the raw monotonic clock
//! (`stats::now`, the TSC-based poll clock of `poll_clock.rs`; one read per poll, shared with the task statistics: a poll starts
//! where the previous one ended, `scheduler/worker.rs`; with the detector, the statistics and
//! span recording all off the clock is not read at all), and a
//! poll longer than the threshold (default 50 ms) is reported:
//!
//! - a `tracing::warn!` naming the task's spawn site, the worker and the poll's duration, with the
//!   advice to move the work to [`spawn_blocking`](crate::spawn_blocking);
//! - the runtime's `detector_hits` metric;
//! - the [`Builder::on_blocking`](crate::runtime::Builder::on_blocking) callback, if set, with a
//!   [`BlockingReport`] (for tests and the lab, which need no tracing subscriber).
//!
//! It reports after the fact: the poll has already blocked (and the task's result may reach its
//! awaiter a moment before the report is made). Catching a poll *while* it blocks
//! would need a watchdog thread; this is the cheap half. Costs: `docs/design.md`, "Detector".

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::task::TaskId;

/// The callback type of [`Builder::on_blocking`](crate::runtime::Builder::on_blocking).
pub(crate) type OnBlocking = Arc<dyn Fn(&BlockingReport) + Send + Sync>;

/// The default threshold: a poll longer than this is reported.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_millis(50);

/// One poll that held its worker longer than the detector's threshold.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let reports = Arc::new(Mutex::new(Vec::new()));
/// let sink = reports.clone();
/// let rt = spool::Runtime::builder()
///     .worker_threads(1)
///     .detector_threshold(Some(Duration::from_millis(20)))
///     .on_blocking(move |report: &spool::BlockingReport| sink.lock().unwrap().push(report.clone()))
///     .build()?;
/// rt.block_on(rt.spawn(async { std::thread::sleep(Duration::from_millis(50)) })).unwrap();
/// // The report is made just after the poll, possibly after the result arrived; on one worker
/// // the next task runs only once it is made.
/// rt.block_on(rt.spawn(async {})).unwrap();
/// let reports = reports.lock().unwrap();
/// assert_eq!(reports.len(), 1);
/// assert_eq!(reports[0].location.file(), file!());
/// assert!(reports[0].duration >= Duration::from_millis(50));
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BlockingReport {
    /// The task's spawn site.
    pub location: &'static Location<'static>,
    /// The task's id.
    pub task_id: TaskId,
    /// The index of the worker it blocked.
    pub worker: usize,
    /// How long the poll took.
    pub duration: Duration,
}

/// One runtime's detector: its settings and its count of reports.
pub(crate) struct Detector {
    threshold: Option<Duration>,
    /// The threshold in nanoseconds (`u64::MAX` when off), compared on every poll.
    threshold_nanos: u64,
    on_blocking: Option<OnBlocking>,
    /// Polls reported so far (the `detector_hits` metric).
    hits: AtomicU64,
    /// The last [`RECENT`] reports, for the inspector.
    recent: Mutex<VecDeque<BlockingReport>>,
}

/// Reports kept for [`Detector::recent`].
const RECENT: usize = 64;

impl Detector {
    /// `threshold: None` turns the detector off.
    pub(crate) fn new(threshold: Option<Duration>, on_blocking: Option<OnBlocking>) -> Self {
        Detector {
            threshold,
            threshold_nanos: threshold
                .map_or(u64::MAX, |t| t.as_nanos().min(u64::MAX as u128) as u64),
            on_blocking,
            hits: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether polls must be timed for it.
    pub(crate) fn is_on(&self) -> bool {
        self.threshold.is_some()
    }

    /// The threshold (`None`: off).
    pub(crate) fn threshold(&self) -> Option<Duration> {
        self.threshold
    }

    /// The most recent reports, oldest first.
    pub(crate) fn recent(&self) -> Vec<BlockingReport> {
        crate::loom::std_lock(&self.recent)
            .iter()
            .cloned()
            .collect()
    }

    /// Polls reported so far.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Relaxed)
    }

    /// Reports a poll of `nanos` nanoseconds if it held its worker for the threshold or longer.
    #[inline]
    pub(crate) fn check(
        &self,
        nanos: u64,
        task_id: TaskId,
        location: &'static Location<'static>,
        worker: usize,
    ) {
        if nanos >= self.threshold_nanos {
            self.report(task_id, location, worker, Duration::from_nanos(nanos));
        }
    }

    fn report(
        &self,
        task_id: TaskId,
        location: &'static Location<'static>,
        worker: usize,
        duration: Duration,
    ) {
        self.hits.fetch_add(1, Relaxed);
        tracing::warn!(
            task.id = task_id.as_u64(),
            task.spawned_at = %location,
            worker,
            poll_ms = duration.as_secs_f64() * 1e3,
            "spool: a poll of the task spawned at {location} blocked worker {worker} for {duration:?}; \
             move blocking or CPU-heavy work to spool::spawn_blocking",
        );
        let report = BlockingReport {
            location,
            task_id,
            worker,
            duration,
        };
        {
            let mut recent = crate::loom::std_lock(&self.recent);
            if recent.len() >= RECENT {
                recent.pop_front();
            }
            recent.push_back(report.clone());
        }
        if let Some(callback) = &self.on_blocking {
            callback(&report);
        }
    }
}
