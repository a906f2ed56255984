//! [`Handle`]: a cheap, cloneable reference to a runtime, usable from any thread.

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use super::context::{self, EnterGuard};
use crate::metrics::RuntimeMetrics;
use crate::scheduler::Shared;
use crate::task::Task;

/// A reference to a runtime: spawn on it from any thread, read its metrics.
///
/// A `Handle` does not keep the runtime running: once the [`Runtime`](crate::Runtime) is
/// dropped, tasks spawned through a handle are cancelled at once (they report
/// [`JoinError::Cancelled`](crate::JoinError::Cancelled)).
///
/// ```
/// let rt = spool::Runtime::new()?;
/// let handle = rt.handle().clone();
/// let task = std::thread::spawn(move || handle.spawn(async { 1 + 1 })).join().unwrap();
/// assert_eq!(rt.block_on(task), Ok(2));
/// # std::io::Result::Ok(())
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

/// Returned by [`Handle::try_current`] outside any runtime.
///
/// ```
/// assert!(spool::Handle::try_current().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not inside a spool runtime (no worker, blocking thread or block_on context)")]
pub struct TryCurrentError(());

impl Handle {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        Handle { shared }
    }

    /// The handle of the runtime the calling thread is in.
    ///
    /// # Panics
    ///
    /// Outside a runtime (use [`try_current`](Self::try_current) to get an error instead).
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// rt.block_on(async {
    ///     let handle = spool::Handle::current();
    ///     handle.spawn(async {}).await.unwrap();
    /// });
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn current() -> Self {
        match Self::try_current() {
            Ok(handle) => handle,
            Err(err) => panic!("spool::Handle::current(): {err}"),
        }
    }

    /// The handle of the runtime the calling thread is in, or an error outside any runtime.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// assert!(spool::Handle::try_current().is_err());
    /// rt.block_on(async { assert!(spool::Handle::try_current().is_ok()) });
    /// # std::io::Result::Ok(())
    /// ```
    pub fn try_current() -> Result<Self, TryCurrentError> {
        context::current().ok_or(TryCurrentError(()))
    }

    /// Spawns a task on this runtime.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.handle().spawn(async { "hi" });
    /// assert_eq!(rt.block_on(task), Ok("hi"));
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (runnable, task) = self.shared.create_task(future, Location::caller());
        crate::scheduler::Shared::schedule_new(runnable);
        task
    }

    /// Runs a blocking closure on this runtime's blocking pool.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.handle().spawn_blocking(|| std::fs::read_to_string("/nonexistent").is_err());
    /// assert_eq!(rt.block_on(task), Ok(true));
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, T>(&self, f: F) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (runnable, task) = crate::blocking::create_task(self, f, Location::caller());
        runnable.schedule();
        task
    }

    /// Makes this the calling thread's current runtime until the guard is dropped, so that
    /// [`spool::spawn`](crate::spawn) and timers created meanwhile use it.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let _guard = rt.handle().enter();
    /// let task = spool::spawn(async { 5 }); // on `rt`, not the default runtime
    /// assert_eq!(rt.block_on(task), Ok(5));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn enter(&self) -> EnterGuard {
        context::enter(self.clone())
    }

    /// A snapshot of the runtime's counters.
    ///
    /// ```
    /// let rt = spool::Runtime::builder().worker_threads(3).build()?;
    /// assert_eq!(rt.handle().metrics().workers.len(), 3);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        self.shared.metrics()
    }

    /// A snapshot of every live task's statistics, as [`Runtime::tasks`](crate::Runtime::tasks).
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// assert!(rt.handle().tasks().is_empty());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn tasks(&self) -> Vec<crate::stats::TaskSnapshot> {
        self.shared.tasks()
    }

    /// Starts or stops recording poll spans and worker marks at run time (a viewer such as the
    /// inspector turns it on while it watches). Recorded items wait, in a bounded ring per
    /// worker, for [`take_spans`](Self::take_spans) and [`take_marks`](Self::take_marks).
    ///
    /// ```
    /// let rt = spool::Runtime::builder().worker_threads(1).build()?;
    /// rt.handle().set_record_spans(true);
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap(); // one worker: the first span is in by now
    /// assert!(!rt.handle().take_spans().is_empty());
    /// rt.handle().set_record_spans(false);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_record_spans(&self, on: bool) {
        self.shared.spans().set_on(on);
    }

    /// Takes the poll spans recorded since the last call, as
    /// [`Runtime::take_spans`](crate::Runtime::take_spans).
    pub fn take_spans(&self) -> Vec<crate::PollSpan> {
        self.shared.take_spans()
    }

    /// Takes the worker marks (steals, injector pulls, parks) recorded since the last call,
    /// ordered by time.
    pub fn take_marks(&self) -> Vec<crate::WorkerMark> {
        self.shared.spans().take_marks()
    }

    /// Spans and marks dropped so far because a worker's ring was full (nobody took them).
    pub fn spans_dropped(&self) -> u64 {
        self.shared.spans().dropped()
    }

    /// The most recent polls the blocking detector reported (at most 64, oldest first).
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// assert!(rt.handle().detector_hits().is_empty());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn detector_hits(&self) -> Vec<crate::BlockingReport> {
        self.shared.detector().recent()
    }

    /// The blocking detector's threshold (`None`: off).
    pub fn detector_threshold(&self) -> Option<std::time::Duration> {
        self.shared.detector().threshold()
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.num_workers())
            .finish_non_exhaustive()
    }
}
