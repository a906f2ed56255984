//! Tasks: the spawned future's cell, its handle [`Task`], and what a task remembers of its birth.
//!
//! The chapter's `spawn_task` made a task with `async_task::spawn(future, schedule)`: the cell
//! that holds the future, a `Runnable` (the right to poll it once) that the schedule function
//! sends to a queue, and a `Task` handle that is itself a future of the output. Spool keeps all
//! of that and adds three things:
//!
//! - **Metadata.** The cell is built with `async_task::Builder::metadata(TaskMeta { id, location })`
//!   where `location` is the spawn site captured by `#[track_caller]`. The blocking detector and
//!   the poll-span recorder read it from the `Runnable` before running it, so a slow poll is
//!   reported as "the task spawned at `src/main.rs:12:5`".
//! - **Panics as values.** The chapter ran each `Runnable` inside `catch_unwind` so that a
//!   panicking task could not kill the queue's thread. Spool does the same one level down: the
//!   future is wrapped in `TaskFuture`, which polls it under `catch_unwind` and turns a panic
//!   into `Err(JoinError::Panicked(message))` — the task completes normally, its worker never
//!   unwinds, and whoever awaits the [`Task`] learns what happened (tokio's `JoinError`, rather
//!   than async-task's `propagate_panic`, which would re-raise the panic in the awaiting task
//!   and take *it* down too).
//! - **Cancellation at shutdown.** The handle wraps async-task's `FallibleTask`, which yields
//!   `None` when the task was cancelled (its `Runnable` dropped because the runtime shut down):
//!   Spool reports that as `Err(JoinError::Cancelled)` instead of hanging.
//!
//! Dropping a [`Task`] cancels it (async-task's rule, and the chapter's: its tasks had to be
//! awaited or they stopped); [`Task::detach`] lets it run to completion on its own.
//!
//! # Abort
//!
//! [`Task::abort`] and [`AbortHandle::abort`] stop a task that someone else still awaits (tokio's
//! `JoinHandle::abort`): its future is dropped at its next scheduling point (at once if it is
//! waiting: it is woken for that), and awaiting it gives `Err(JoinError::Cancelled)`. A task that
//! had already completed keeps its output. async-task can cancel only by consuming its handle,
//! so the request travels through the runtime's registry of live tasks instead, where each task
//! already has an entry and a waker: the mechanism, and why a spawn pays no allocation for it,
//! is told in `scheduler/registry.rs`. Blocking tasks ([`spawn_blocking`])
//! cannot be aborted (their closure runs to its end, as in tokio): abort does nothing to them.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use crate::scheduler::registry::{EntryRef, RegistryGuard, TaskEntry};
use crate::stats::{PollStats, StatsRef, TaskStats};

pub(crate) mod coop;
mod join_set;

pub use coop::{consume_budget, unconstrained, Unconstrained, BUDGET};
pub use join_set::JoinSet;

/// The `Runnable` Spool queues: async-task's, carrying [`TaskMeta`].
pub(crate) type Runnable = async_task::Runnable<TaskMeta>;

/// A task's unique id within the process (runtimes share the counter).
///
/// ```
/// let rt = spool::Runtime::new()?;
/// let a = rt.spawn(async {});
/// let b = rt.spawn(async {});
/// assert_ne!(a.id(), b.id());
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(u64);

impl TaskId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TaskId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// assert!(rt.spawn(async {}).id().as_u64() > 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What each task cell carries besides its future.
///
/// `repr(C)`, in this order: the runtime (read by every schedule), what every poll writes of
/// the statistics (`PollStats`, 32 bytes), the id and spawn site (read by every timed poll, for
/// the detector), then what only some polls, a local task's schedule or its drop touch.
/// async-task puts the metadata right after its vtable pointer (offset 8, measured: its header
/// is not `repr(C)`; its state word comes after the metadata), so the first 56 bytes here and
/// that pointer span 64 bytes: a poll writes its statistics into the cache lines it reads with
/// statistics off too (`stats.rs`, rule 5).
#[derive(Debug)]
#[repr(C)]
pub(crate) struct TaskMeta {
    /// The runtime of a `Send` task, read by its schedule function (`Shared::schedule_task`),
    /// which then captures nothing; `None` for blocking and local tasks, whose schedule
    /// functions capture their runtime.
    pub(crate) runtime: Option<std::sync::Arc<crate::scheduler::Shared>>,
    /// What each poll of the task writes (`stats.rs`).
    pub(crate) poll: PollStats,
    pub(crate) id: TaskId,
    /// Where `spawn` was called (`#[track_caller]`).
    pub(crate) location: &'static Location<'static>,
    /// What only some polls write (`stats.rs`).
    pub(crate) stats: TaskStats,
    /// A local (`!Send`) task: the thread that may poll and drop it.
    pub(crate) owner_thread: Option<std::thread::ThreadId>,
}

impl TaskMeta {
    /// `stats`: whether the runtime keeps task statistics (the spawn time is read then).
    pub(crate) fn new(location: &'static Location<'static>, stats: bool) -> Self {
        let (poll, stats) = crate::stats::new_stats(stats);
        TaskMeta {
            id: TaskId::next(),
            location,
            owner_thread: None,
            poll,
            stats,
            runtime: None,
        }
    }

    /// The metadata of a local task, owned by the calling thread.
    pub(crate) fn new_local(location: &'static Location<'static>, stats: bool) -> Self {
        TaskMeta {
            owner_thread: Some(std::thread::current().id()),
            ..Self::new(location, stats)
        }
    }
}

/// Why a [`Task`] produced no value.
///
/// ```
/// let rt = spool::Runtime::new()?;
/// let task = rt.spawn(async { panic!("boom") });
/// match rt.block_on(task) {
///     Err(spool::JoinError::Panicked(message)) => assert_eq!(message, "boom"),
///     other => panic!("unexpected {other:?}"),
/// }
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The task's future (or blocking closure) panicked; the panic's message.
    #[error("task panicked: {0}")]
    Panicked(String),
    /// The task was dropped before completing: it was aborted ([`Task::abort`],
    /// [`AbortHandle::abort`]), or its runtime shut down.
    #[error("task cancelled: aborted, or its runtime shut down")]
    Cancelled,
}

impl JoinError {
    /// Whether the task panicked.
    ///
    /// ```
    /// assert!(spool::JoinError::Panicked("x".into()).is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// Whether the task was cancelled (aborted, or dropped by a shutdown).
    ///
    /// ```
    /// assert!(spool::JoinError::Cancelled.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "<non-string panic payload>".to_owned()
        };
        JoinError::Panicked(message)
    }
}

/// A handle to a spawned task: a future of its result.
///
/// Awaiting it gives `Ok(output)`, `Err(JoinError::Panicked(_))` if the task panicked, or
/// `Err(JoinError::Cancelled)` if it was aborted or its runtime shut down first. Dropping it
/// cancels the task (its future is dropped at its next scheduling point); [`detach`](Task::detach)
/// lets it run on.
///
/// ```
/// let rt = spool::Runtime::new()?;
/// let task = rt.spawn(async { 6 * 7 });
/// assert_eq!(rt.block_on(task), Ok(42));
/// # std::io::Result::Ok(())
/// ```
#[must_use = "dropping a Task cancels it; call .detach() to let it run"]
pub struct Task<T> {
    inner: async_task::FallibleTask<Result<T, JoinError>, TaskMeta>,
    // Copied out of the metadata: `FallibleTask` does not expose it. (The id is the entry's.)
    location: &'static Location<'static>,
    entry: TaskEntry,
}

impl<T> Task<T> {
    /// `entry`: the task's entry in its runtime's registry (`None` for a blocking task).
    pub(crate) fn new(
        inner: async_task::Task<Result<T, JoinError>, TaskMeta>,
        entry: Option<TaskEntry>,
    ) -> Self {
        let TaskMeta { id, location, .. } = *inner.metadata();
        Task {
            inner: inner.fallible(),
            location,
            entry: entry.unwrap_or_else(|| TaskEntry::untracked(id.as_u64())),
        }
    }

    /// Asks the task to stop: its future is dropped at its next scheduling point (at once if it
    /// is waiting), and awaiting this handle then gives `Err(JoinError::Cancelled)`. A task that
    /// already completed keeps its output; a blocking task is not affected.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// task.abort();
    /// assert!(rt.block_on(task).unwrap_err().is_cancelled());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn abort(&self) {
        self.entry.abort();
    }

    /// A handle that can abort the task from anywhere without awaiting it (`Clone + Send`; it
    /// costs no allocation).
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// let handle = task.abort_handle();
    /// std::thread::spawn(move || handle.abort()).join().unwrap();
    /// assert!(rt.block_on(task).unwrap_err().is_cancelled());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            entry: self.entry.to_owned(),
        }
    }

    /// Lets the task run to completion without a handle; its output is dropped.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let rt = spool::Runtime::new()?;
    /// let done = Arc::new(AtomicBool::new(false));
    /// let flag = done.clone();
    /// rt.spawn(async move { flag.store(true, Ordering::SeqCst) }).detach();
    /// while !done.load(Ordering::SeqCst) {
    ///     std::thread::yield_now();
    /// }
    /// # std::io::Result::Ok(())
    /// ```
    pub fn detach(self) {
        self.inner.detach();
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// assert!(!task.is_finished());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The task's id.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// println!("spawned task {}", rt.spawn(async {}).id());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn id(&self) -> TaskId {
        TaskId(self.entry.id())
    }

    /// Where the task was spawned.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.location().file(), file!());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }
}

/// Aborts a task without owning it: [`Task::abort_handle`].
///
/// ```
/// let rt = spool::Runtime::new()?;
/// let task = rt.spawn(std::future::pending::<()>());
/// let handle = task.abort_handle();
/// assert!(!handle.is_finished());
/// handle.abort();
/// assert!(rt.block_on(task).unwrap_err().is_cancelled());
/// assert!(handle.is_finished());
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone)]
pub struct AbortHandle {
    entry: EntryRef,
}

impl AbortHandle {
    /// Asks the task to stop, as [`Task::abort`]; does nothing if it has finished.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(async { 1 });
    /// let handle = task.abort_handle();
    /// assert_eq!(rt.block_on(task), Ok(1));
    /// handle.abort(); // too late: nothing happens
    /// # std::io::Result::Ok(())
    /// ```
    pub fn abort(&self) {
        self.entry.abort();
    }

    /// Whether the task's future is gone: it completed, panicked, or was cancelled and dropped.
    /// (Always `false` for a blocking task, which is not tracked.)
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(async {});
    /// let handle = task.abort_handle();
    /// rt.block_on(task).unwrap();
    /// assert!(handle.is_finished());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.entry.is_finished()
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A join spends the cooperative budget (`task/coop.rs`).
        std::task::ready!(coop::poll_proceed(cx));
        match Pin::new(&mut self.inner).poll(cx) {
            Poll::Ready(Some(result)) => Poll::Ready(result),
            Poll::Ready(None) => Poll::Ready(Err(JoinError::Cancelled)),
            Poll::Pending => {
                coop::refund();
                Poll::Pending
            }
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("location", &format_args!("{}", self.location()))
            .field("finished", &self.is_finished())
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// The future inside every task cell: the user's future, polled under `catch_unwind`.
    ///
    /// It also holds the task's entry in the runtime's registry of live tasks, removed when the
    /// future is dropped (completed, cancelled, or dropped at shutdown), and, from the task's
    /// first `Pending` on, the task's own waker: the reference that keeps a waiting task alive
    /// until shutdown even when nothing else could wake it (`scheduler/registry.rs`, "Who keeps
    /// whom alive"). Declared after the guard, so dropped after the entry is gone.
    pub(crate) struct TaskFuture<F> {
        #[pin]
        future: F,
        panicked: bool,
        guard: Option<RegistryGuard>,
        // The task's statistics in its own header, where the runtime keeps them (`stats.rs`).
        stats: Option<StatsRef>,
        keep_alive: Option<Waker>,
    }
}

impl<F> TaskFuture<F> {
    pub(crate) fn new(future: F, guard: Option<RegistryGuard>) -> Self {
        TaskFuture {
            future,
            panicked: false,
            guard,
            stats: None,
            keep_alive: None,
        }
    }

    /// Writes the end of each poll into `stats` (made from the task's own metadata, which
    /// async-task hands to the closure that makes the future: `StatsRef`).
    pub(crate) fn with_stats(mut self, stats: Option<StatsRef>) -> Self {
        self.stats = stats;
        self
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(guard) = this.guard {
            if guard.abort_requested() {
                // Aborted (`scheduler/registry.rs`): async-task drops the user's future right
                // after this returns, unpolled.
                return Poll::Ready(Err(JoinError::Cancelled));
            }
        }
        if *this.panicked {
            // Never poll a future again after it panicked (its state may be broken).
            return Poll::Ready(Err(JoinError::Panicked("polled after panic".into())));
        }
        let future = this.future;
        // AssertUnwindSafe: after a panic the future is never touched again, only dropped.
        let result = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        // The end of the poll, for the task's statistics (their end-of-poll counters if it goes
        // on), while the task is still held.
        if let Some(stats) = *this.stats {
            crate::stats::poll_end(stats, !matches!(result, Ok(Poll::Pending)));
        }
        match result {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => {
                if this.keep_alive.is_none() && this.guard.is_some() {
                    // `cx` is async-task's, for this very task: one reference count, taken
                    // once, and only by tasks that ever wait (the registry's rule 1).
                    *this.keep_alive = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            Err(payload) => {
                *this.panicked = true;
                Poll::Ready(Err(JoinError::from_panic(payload)))
            }
        }
    }
}

/// tokio's name for [`Task`]: `spool::task::JoinHandle<T>` is the same type.
///
/// ```
/// let rt = spool::Runtime::new()?;
/// let handle: spool::task::JoinHandle<u8> = rt.spawn(async { 1 });
/// assert_eq!(rt.block_on(handle), Ok(1));
/// # std::io::Result::Ok(())
/// ```
pub type JoinHandle<T> = Task<T>;

// tokio's paths for the spawning functions: `spool::task::spawn` is `spool::spawn`, and so on.
pub use crate::{spawn, spawn_blocking, spawn_local, yield_now};
