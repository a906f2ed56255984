//! [`Runtime`]: a set of worker threads (or, current-thread, the `block_on` caller), their
//! driver and their blocking pool.
//!
//! Build one with [`Runtime::new`] or [`Runtime::builder`], or use none at all: the free
//! functions ([`spool::spawn`](crate::spawn), [`spool::time::sleep`](crate::time::sleep), …) run
//! on the runtime the caller is in, else on a default runtime started on first use
//! (`runtime/default.rs`).
//!
//! Dropping a runtime shuts it down: new work is refused, the workers finish the poll they are
//! in and exit, every task still queued or waiting has its future dropped (its handle reports
//! [`JoinError::Cancelled`](crate::JoinError::Cancelled)), and the threads are joined. Blocking
//! closures already running are waited for; use [`Runtime::shutdown_timeout`] to bound that, or
//! [`Runtime::shutdown_background`] not to wait at all. Dropping a runtime inside one of its own
//! tasks would wait for itself: it panics instead, saying so (after a background shutdown).

mod builder;
pub(crate) mod context;
pub(crate) mod default;
mod handle;

use std::future::Future;
use std::io;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

pub use builder::Builder;
pub use context::EnterGuard;
pub use handle::{Handle, TryCurrentError};

use crate::metrics::{PollSpan, RuntimeMetrics};
use crate::scheduler::worker::Core;
use crate::stats::TaskSnapshot;
use crate::task::Task;

/// A runtime: multi-thread and work-stealing ([`Runtime::new`], [`Builder::new_multi_thread`]),
/// or current-thread ([`Builder::new_current_thread`]: tasks run inside [`Runtime::block_on`]).
///
/// ```
/// let rt = spool::Runtime::builder().worker_threads(2).build()?;
/// let total = rt.block_on(async {
///     let tasks: Vec<_> = (0..10u64).map(|i| spool::spawn(async move { i * i })).collect();
///     let mut total = 0;
///     for task in tasks {
///         total += task.await.unwrap();
///     }
///     total
/// });
/// assert_eq!(total, 285);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
    threads: Vec<JoinHandle<()>>,
    /// Current-thread: the only worker's state, taken by the thread in `block_on`.
    core: Option<Mutex<Option<Core>>>,
    /// Shut down already (by `shutdown_timeout`).
    shut_down: bool,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Core")
    }
}

impl Runtime {
    pub(crate) fn new_multi_thread(handle: Handle, threads: Vec<JoinHandle<()>>) -> Self {
        Runtime {
            handle,
            threads,
            core: None,
            shut_down: false,
        }
    }

    pub(crate) fn new_current_thread(handle: Handle, core: Core) -> Self {
        Runtime {
            handle,
            threads: Vec::new(),
            core: Some(Mutex::new(Some(core))),
            shut_down: false,
        }
    }

    /// A runtime with the default settings (one worker per core).
    ///
    /// # Errors
    ///
    /// If the OS refuses the poller or a thread.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new() -> io::Result<Self> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    ///
    /// ```
    /// let rt = spool::Runtime::builder().worker_threads(1).build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Spawns a task on this runtime.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(async { 2 + 2 });
    /// assert_eq!(rt.block_on(task), Ok(4));
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on this runtime's blocking pool.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn_blocking(|| (1..=10u64).product::<u64>());
    /// assert_eq!(rt.block_on(task), Ok(3_628_800));
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, T>(&self, f: F) -> Task<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// Runs `future` on the calling thread until it completes, inside this runtime's context:
    /// [`spool::spawn`](crate::spawn) and timers used in it belong to this runtime. The future
    /// itself is polled here, not on a worker (as with `#[tokio::main]`).
    ///
    /// On a current-thread runtime this thread also runs the runtime's tasks, timers and I/O
    /// meanwhile (if two threads call it at once, the second only waits for its own future).
    ///
    /// # Panics
    ///
    /// When called on a worker thread of any Spool runtime, or inside a current-thread
    /// runtime's `block_on` (it would block that worker).
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let v = rt.block_on(async {
    ///     spool::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     spool::spawn(async { 7 }).await
    /// });
    /// assert_eq!(v, Ok(7));
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if let Some(slot) = &self.core {
            if context::is_worker() {
                panic!(
                    "spool: Runtime::block_on called inside a runtime's task or block_on; \
                     `.await` the future instead, or run it in spool::spawn_blocking"
                );
            }
            return crate::scheduler::worker::block_on(&self.handle.shared, slot, future);
        }
        let _context = self.handle.enter();
        crate::block_on::block_on(future)
    }

    /// A handle to this runtime, to spawn from other threads.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let handle: spool::Handle = rt.handle().clone();
    /// # drop(handle);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// A snapshot of the runtime's counters.
    ///
    /// ```
    /// let rt = spool::Runtime::builder().worker_threads(2).build()?;
    /// let m = rt.metrics();
    /// println!("{} tasks alive, {} queued globally", m.tasks_alive, m.injection_queue_depth);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// A snapshot of every live task's statistics (`spool::stats`), ordered by task id.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// let tasks = rt.tasks();
    /// assert_eq!(tasks.len(), 1);
    /// assert_eq!(tasks[0].id, task.id());
    /// assert_eq!(tasks[0].location.line(), line!() - 4);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn tasks(&self) -> Vec<TaskSnapshot> {
        self.handle.tasks()
    }

    /// Takes the poll spans recorded since the last call, ordered by start time (empty unless
    /// [`Builder::record_spans`] is on).
    ///
    /// ```
    /// let rt = spool::Runtime::builder().record_spans(true).build()?;
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// // (a span is pushed just after its poll: the last one may not be in yet)
    /// for span in rt.take_spans() {
    ///     println!("task {} on worker {}: {:?}", span.task_id, span.worker, span.end - span.start);
    /// }
    /// # std::io::Result::Ok(())
    /// ```
    pub fn take_spans(&self) -> Vec<PollSpan> {
        self.handle.shared.take_spans()
    }

    /// Shuts the runtime down, waiting at most `timeout` for its threads (workers stuck in a
    /// poll, blocking closures still running); those still running afterwards are left to
    /// finish on their own, detached. Returns whether everything stopped in time.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = spool::Runtime::new()?;
    /// let (started, running) = std::sync::mpsc::channel();
    /// rt.spawn_blocking(move || {
    ///     started.send(()).unwrap();
    ///     std::thread::sleep(Duration::from_millis(500));
    /// })
    /// .detach();
    /// running.recv().unwrap();
    /// let clean = rt.shutdown_timeout(Duration::from_millis(10));
    /// assert!(!clean); // the blocking closure was still running
    /// # std::io::Result::Ok(())
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> bool {
        self.shut_down = true;
        let clean = self.handle.shared.shutdown(Some(timeout));
        self.drain_core();
        let threads = std::mem::take(&mut self.threads);
        for thread in threads {
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        clean
    }

    /// Shuts the runtime down without waiting for anything: new work is refused, queued and
    /// waiting tasks are dropped, and threads still busy (a worker inside a poll, a blocking
    /// closure) finish on their own, detached. The same as `shutdown_timeout(Duration::ZERO)`;
    /// unlike dropping the runtime, it may be called from inside one of its own tasks.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// rt.shutdown_background();
    /// assert!(spool::block_on(task).unwrap_err().is_cancelled());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn shutdown_background(self) {
        self.shutdown_timeout(Duration::ZERO);
    }

    /// Whether the calling thread is one of this runtime's workers (then `drop` would wait for
    /// itself).
    fn on_own_worker(&self) -> bool {
        context::is_worker_of(&self.handle.shared)
    }

    /// Current-thread: drops the tasks still queued on the core (after `shutdown`).
    fn drain_core(&mut self) {
        if let Some(slot) = &self.core {
            let core = crate::loom::std_lock(slot).take();
            if let Some(core) = core {
                core.drain();
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.shut_down {
            return; // already shut down by shutdown_timeout
        }
        if self.on_own_worker() {
            // Joining the workers would wait for this one, forever. Stop what can be stopped,
            // then say why (unless already unwinding: a second panic would abort).
            self.shut_down = true;
            self.handle.shared.shutdown(Some(Duration::ZERO));
            if !std::thread::panicking() {
                panic!(
                    "spool: a Runtime was dropped inside one of its own tasks; dropping waits \
                     for its worker threads to stop, and this one would wait for itself \
                     forever. Drop it outside the runtime, or call Runtime::shutdown_background"
                );
            }
            return;
        }
        self.handle.shared.shutdown(None);
        self.drain_core();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
