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

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use crate::scheduler::registry::RegistryGuard;

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
    fn next() -> Self {
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskMeta {
    pub(crate) id: TaskId,
    /// Where `spawn` was called (`#[track_caller]`).
    pub(crate) location: &'static Location<'static>,
    /// A local (`!Send`) task: the thread that may poll and drop it.
    pub(crate) owner_thread: Option<std::thread::ThreadId>,
}

impl TaskMeta {
    pub(crate) fn new(location: &'static Location<'static>) -> Self {
        TaskMeta {
            id: TaskId::next(),
            location,
            owner_thread: None,
        }
    }

    /// The metadata of a local task, owned by the calling thread.
    pub(crate) fn new_local(location: &'static Location<'static>) -> Self {
        TaskMeta {
            owner_thread: Some(std::thread::current().id()),
            ..Self::new(location)
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
    /// The task was dropped before completing, because its runtime shut down.
    #[error("task cancelled: its runtime shut down")]
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

    /// Whether the task was cancelled by a shutdown.
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
/// `Err(JoinError::Cancelled)` if its runtime shut down first. Dropping it cancels the task
/// (its future is dropped at its next scheduling point); [`detach`](Task::detach) lets it run on.
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
    // Copied out of the metadata: `FallibleTask` does not expose it.
    id: TaskId,
    location: &'static Location<'static>,
}

impl<T> Task<T> {
    pub(crate) fn new(inner: async_task::Task<Result<T, JoinError>, TaskMeta>) -> Self {
        let TaskMeta { id, location, .. } = *inner.metadata();
        Task {
            inner: inner.fallible(),
            id,
            location,
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
        self.id
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

impl<T> Future for Task<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.inner).poll(cx) {
            Poll::Ready(Some(result)) => Poll::Ready(result),
            Poll::Ready(None) => Poll::Ready(Err(JoinError::Cancelled)),
            Poll::Pending => Poll::Pending,
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
    /// future is dropped (completed, cancelled, or dropped at shutdown).
    pub(crate) struct TaskFuture<F> {
        #[pin]
        future: F,
        panicked: bool,
        _guard: Option<RegistryGuard>,
    }
}

impl<F> TaskFuture<F> {
    pub(crate) fn new(future: F, guard: Option<RegistryGuard>) -> Self {
        TaskFuture {
            future,
            panicked: false,
            _guard: guard,
        }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.panicked {
            // Never poll a future again after it panicked (its state may be broken).
            return Poll::Ready(Err(JoinError::Panicked("polled after panic".into())));
        }
        let future = this.future;
        // AssertUnwindSafe: after a panic the future is never touched again, only dropped.
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
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
