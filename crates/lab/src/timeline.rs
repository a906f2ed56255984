//! A cheap recorder of "who ran what, when, on which thread".
//!
//! The chapter explains async with pictures of jobs laid out on threads over time (its Figures
//! 3.1 and 3.2). The lab draws the same pictures from real runs: experiment code (or, later, a
//! runtime's own poll recorder) reports *spans* — a thread label, a task label, a start and an
//! end — and [`crate::svg`] turns them into an SVG.
//!
//! A [`Timeline`] is either **off** (the default: every call is a branch on `None` and returns,
//! no clock read, no allocation) or **recording** (spans go into a `Mutex<Vec<_>>`). The labels
//! are plain strings so that anything can feed it: a `std::thread`, a tokio worker, or a Spool
//! worker handing over its poll spans with [`Timeline::extend`].

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One bar in the picture: `task` ran on `thread` from `start` to `end`.
///
/// Times are offsets from the timeline's origin (the moment it was created), so a span can be
/// printed, serialised and drawn without knowing about `Instant`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Which thread ran it: "main", "tokio-rt-worker", "chapter-queue", "worker-0"…
    pub thread: String,
    /// What ran: "do_something(1)", "sleeping(2)", a task's spawn site…
    pub task: String,
    /// When it started, since the timeline's origin.
    pub start: Duration,
    /// When it ended, since the timeline's origin (never before `start`).
    pub end: Duration,
}

/// A shared, cloneable span recorder; off unless made with [`Timeline::recording`].
///
/// Cloning is cheap (an `Arc`), so clones can move into threads and `'static` tasks; every clone
/// records into the same list.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    inner: Option<Arc<Recording>>,
}

#[derive(Debug)]
struct Recording {
    origin: Instant,
    spans: Mutex<Vec<Span>>,
}

impl Timeline {
    /// A timeline that records nothing; every method is a no-op.
    pub fn off() -> Self {
        Self { inner: None }
    }

    /// A timeline that records, with its origin (time zero) now.
    pub fn recording() -> Self {
        Self {
            inner: Some(Arc::new(Recording {
                origin: Instant::now(),
                spans: Mutex::new(Vec::new()),
            })),
        }
    }

    /// Whether spans are being kept.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Time zero of the picture, when recording.
    pub fn origin(&self) -> Option<Instant> {
        self.inner.as_ref().map(|r| r.origin)
    }

    /// Records that `task` ran on `thread` from `start` to `end`.
    ///
    /// Instants before the origin are clamped to it, and an `end` before `start` to `start`, so
    /// a caller can never make a bar with negative width.
    pub fn record(&self, thread: &str, task: &str, start: Instant, end: Instant) {
        if let Some(rec) = &self.inner {
            let span = rec.span(thread.to_owned(), task.to_owned(), start, end);
            rec.lock().push(span);
        }
    }

    /// Starts a span now and records it when the returned guard is dropped.
    ///
    /// ```
    /// let timeline = lab::Timeline::recording();
    /// {
    ///     let _span = timeline.span("main", "work");
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert_eq!(timeline.spans()[0].task, "work");
    /// ```
    pub fn span(&self, thread: &str, task: &str) -> SpanGuard {
        SpanGuard {
            open: self.inner.as_ref().map(|rec| OpenSpan {
                recording: Arc::clone(rec),
                thread: thread.to_owned(),
                task: task.to_owned(),
                start: Instant::now(),
            }),
        }
    }

    /// Adds many spans at once — the way a runtime hands over the poll spans it recorded.
    ///
    /// Each item is `(thread, task, start, end)`; one lock is taken for the whole batch.
    /// Nothing is read from `spans` when the timeline is off.
    pub fn extend<I, T, K>(&self, spans: I)
    where
        I: IntoIterator<Item = (T, K, Instant, Instant)>,
        T: Into<String>,
        K: Into<String>,
    {
        if let Some(rec) = &self.inner {
            let batch: Vec<Span> = spans
                .into_iter()
                .map(|(thread, task, start, end)| rec.span(thread.into(), task.into(), start, end))
                .collect();
            rec.lock().extend(batch);
        }
    }

    /// A copy of every span recorded so far, in the order they were recorded.
    pub fn spans(&self) -> Vec<Span> {
        self.inner
            .as_ref()
            .map(|r| r.lock().clone())
            .unwrap_or_default()
    }
}

impl Recording {
    fn span(&self, thread: String, task: String, start: Instant, end: Instant) -> Span {
        let start = start.saturating_duration_since(self.origin);
        let end = end.saturating_duration_since(self.origin).max(start);
        Span {
            thread,
            task,
            start,
            end,
        }
    }

    /// A panic while holding the lock leaves the list intact (pushes are atomic), so a
    /// poisoned lock is still good to use.
    fn lock(&self) -> MutexGuard<'_, Vec<Span>> {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Records its span when dropped; returned by [`Timeline::span`].
#[derive(Debug)]
#[must_use = "the span ends when the guard is dropped"]
pub struct SpanGuard {
    open: Option<OpenSpan>,
}

#[derive(Debug)]
struct OpenSpan {
    recording: Arc<Recording>,
    thread: String,
    task: String,
    start: Instant,
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if let Some(open) = self.open.take() {
            let span = open
                .recording
                .span(open.thread, open.task, open.start, Instant::now());
            open.recording.lock().push(span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_records_nothing() {
        let t = Timeline::off();
        t.record("main", "x", Instant::now(), Instant::now());
        drop(t.span("main", "y"));
        assert!(t.spans().is_empty());
    }

    #[test]
    fn clamps_backwards_spans() {
        let t = Timeline::recording();
        let later = Instant::now() + Duration::from_millis(5);
        t.record("main", "x", later, Instant::now());
        let s = &t.spans()[0];
        assert_eq!(s.start, s.end);
    }

    #[test]
    fn extend_takes_a_batch() {
        let t = Timeline::recording();
        let now = Instant::now();
        t.extend((0..3).map(|i| (format!("worker-{i}"), "task", now, now)));
        assert_eq!(t.spans().len(), 3);
        assert_eq!(t.spans()[2].thread, "worker-2");
    }
}
