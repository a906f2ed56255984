//! Spool: the "Async Rust" chapter's task queue, grown into a work-stealing runtime.
//!
//! ```
//! use std::time::Duration;
//!
//! async fn sleeping(label: u64) -> u64 {
//!     spool::time::sleep(Duration::from_millis(label * 10)).await; // no thread is blocked
//!     label
//! }
//!
//! let one = spool::spawn(sleeping(1)); // on the default runtime, started on first use
//! let two = spool::spawn(sleeping(2));
//! let blocking = spool::spawn_blocking(|| (1..=20u64).sum::<u64>()); // a thread of its own
//! assert_eq!(spool::block_on(one), Ok(1));
//! assert_eq!(spool::block_on(two), Ok(2));
//! assert_eq!(spool::block_on(blocking), Ok(210));
//! ```
//!
//! # Where it starts: the chapter's queue
//!
//! The chapter built this:
//!
//! ```text
//! fn spawn_task<F, T>(future: F) -> Task<T> {
//!     static QUEUE: Lazy<flume::Sender<Runnable>> = Lazy::new(|| {
//!         let (tx, rx) = flume::unbounded::<Runnable>();
//!         thread::spawn(move || while let Ok(runnable) = rx.recv() {
//!             let _ = catch_unwind(|| runnable.run());
//!         });
//!         tx
//!     });
//!     let schedule = |runnable| QUEUE.send(runnable).unwrap();
//!     let (runnable, task) = async_task::spawn(future, schedule);
//!     runnable.schedule();
//!     task
//! }
//! ```
//!
//! and an `AsyncSleep` that woke itself on every poll. Every piece is still here, each grown by
//! one step that made it fast:
//!
//! | the chapter | Spool | why |
//! |---|---|---|
//! | `async_task::spawn(future, schedule)` | the same, plus metadata (spawn site) and a `catch_unwind` around each poll ([`task`]) | a panic becomes [`JoinError::Panicked`] for whoever awaits; the spawn site names slow tasks |
//! | one flume channel | a queue per worker + a LIFO slot, a shared injection queue (`src/scheduler/`) | no lock between a task and the task it wakes; the woken task runs next, cache-warm |
//! | one thread | N workers that steal half of each other's queues | all cores busy, no central bottleneck |
//! | `rx.recv()` blocks when empty | park: in `epoll_wait` until the next timer, or on a condvar; woken only when needed | idle costs nothing; a wake-up across cores is the dearest thing a scheduler does, so only "searching" logic decides to pay it |
//! | `static QUEUE: Lazy<…>` | the default runtime, started on first [`spawn`] | the same convenience |
//! | `AsyncSleep` (self-waking) | [`time::sleep`]: a deadline + waker in the driver; the old one kept as [`time::BusySleep`] | 5 s of sleep cost 5 s of CPU; now ~0 |
//! | `futures_lite::future::block_on` | [`block_on`], [`Runtime::block_on`] | the same, plus entering a runtime's context |
//! | — | [`spawn_blocking`], the blocking detector, [`Runtime::metrics`] | what tokio adds, and the chapter's warning made a runtime feature |
//!
//! The rows from "one flume channel" to the reactor can be walked one at a time: `crates/steps`
//! builds them as eight small runtimes, each the previous one plus one idea, and
//! `spool lab steps` measures every step beside Spool and tokio — the walk, each step's diff
//! and the measured table are in [docs/steps.md](../../../docs/steps.md) (in the repository).
//!
//! # Choosing a runtime
//!
//! The free functions ([`spawn`], [`spawn_blocking`], [`time::sleep`]) use the runtime the calling
//! thread is in (a worker, a blocking thread, inside [`Runtime::block_on`] or [`Handle::enter`]),
//! else the default runtime. Build your own with [`Runtime::builder`] to choose the number of
//! workers, the blocking pool's size, the detector's threshold, and to drop everything at a known
//! point (dropping a [`Runtime`] cancels its tasks and joins its threads).
//! [`Builder::new_current_thread`] builds the chapter's one-thread queue for real: no worker
//! threads, everything runs on the thread in [`Runtime::block_on`]; only there can the clock be
//! paused for tests ([`time::pause`]). `!Send` futures run with [`spawn_local`]. The
//! [`main`] and [`test`] attributes build a runtime around an `async fn`, as tokio's do.
//!
//! # What is written by hand
//!
//! The task cell is async-task's, the deques are crossbeam's, the poller is mio's. Written
//! here, because they are the point of the project: the scheduling decisions
//! (`src/scheduler/`), the searching/parked bookkeeping and the parker, the timer hand-off with the
//! driver, the blocking pool and the detector. The hand-written concurrent parts are modelled
//! with loom (`src/tests/loom_*.rs`, on the library's own code: `src/loom/`).
//!
//! # I/O
//!
//! [`net`]'s sockets (TCP, UDP, Unix) wait on the same poller as the timers ([`io`]): a socket
//! is registered once, edge-triggered, and a readiness event wakes its task onto the queue of
//! the worker that received it. Signals come through the same poller ([`signal`]); host names
//! ([`net::lookup_host`]) and files ([`fs`]) go to the blocking pool, never block a worker.
//! With the `hyper` feature, the `spool::hyper` module supplies hyper's executor, timer and I/O
//! traits, so a hyper server runs on Spool alone; with `tokio-io`, Spool's streams implement
//! tokio's `AsyncRead`/`AsyncWrite` (no tokio runtime needed), for tokio-rustls, tokio-util
//! and hyper-util's `TokioIo`.
//!
//! # `unsafe`
//!
//! Denied crate-wide, allowed in five places, each with its `// SAFETY:` argument: with the
//! `hyper` feature, reading into hyper's uninitialised buffer without zeroing it; with
//! `tokio-io`, the same for tokio's `ReadBuf`; installing a signal handler
//! (`signal/registry.rs`), whose action must be async-signal-safe; and the two reads of a
//! task's statistics through a pointer to its header — by the poll that writes its end
//! (`stats.rs`) and by the registry's snapshot (`scheduler/registry.rs`), both while the task
//! is provably alive. (Registering a socket
//! with the poller is safe with mio; `io/registration.rs` still guarantees by construction that
//! a socket leaves the poller before it is closed.)
#![warn(
    missing_docs,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]
#![deny(unsafe_code)]

mod block_on;
mod blocking;
mod detector;
mod driver;
pub mod fs;
#[cfg(feature = "hyper")]
#[allow(unsafe_code)] // one block: the zero-copy read into hyper's buffer (see its SAFETY note)
pub mod hyper;
pub mod io;
mod loom;
mod metrics;
pub mod net;
#[allow(unsafe_code)] // two blocks: `clock_gettime` and `rdtsc` (SAFETY notes)
mod poll_clock;
pub mod runtime;
mod scheduler;
pub mod signal;
#[allow(unsafe_code)] // one block: the end-of-poll write through the header pointer (SAFETY note)
pub mod stats;
pub mod task;
pub mod time;
mod yield_now;

#[cfg(all(test, loom))]
mod tests;

use std::future::Future;
use std::panic::Location;

pub use block_on::block_on;
pub use blocking::{DEFAULT_KEEP_ALIVE, DEFAULT_MAX_BLOCKING_THREADS};
pub use detector::{BlockingReport, DEFAULT_THRESHOLD};
pub use metrics::{MarkKind, PollSpan, RuntimeMetrics, WorkerMark, WorkerMetrics};
pub use runtime::{Builder, EnterGuard, Handle, Runtime, TryCurrentError};
pub use spool_macros::{main, test};
pub use task::{AbortHandle, JoinError, Task, TaskId};
pub use yield_now::{yield_now, YieldNow};

/// Spawns a task on the current runtime, or on the default runtime outside any.
///
/// The returned [`Task`] is a future of the task's result; dropping it cancels the task, and
/// [`Task::detach`] lets it run on its own. The spawn site (this call's file:line:col) is kept
/// with the task for the blocking detector.
///
/// ```
/// let task = spool::spawn(async {
///     let inner = spool::spawn(async { 20 }); // same runtime as the outer task
///     inner.await.unwrap() + 1
/// });
/// assert_eq!(spool::block_on(task), Ok(21));
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let location = Location::caller();
    let (runnable, task) =
        runtime::context::with_handle(|handle| handle.shared.create_task(future, location));
    scheduler::Shared::schedule_new(runnable);
    task
}

/// Spawns a `!Send` task on the calling thread's runtime; it runs on this thread only.
///
/// Allowed on a current-thread runtime (inside [`Runtime::block_on`] or its tasks) and on any
/// worker of a multi-thread runtime (inside a task): the task then belongs to that worker, is
/// never stolen by another, and a wake-up from any other thread sends it back to its worker.
/// Its [`Task`] handle is `Send` only if the output is.
///
/// # Panics
///
/// Anywhere else: outside any runtime, on a blocking-pool thread, or in `block_on` of a
/// multi-thread runtime (that thread runs no tasks, so nothing could ever poll this one).
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let rt = spool::Builder::new_current_thread().build()?;
/// let total = rt.block_on(async {
///     let shared = Rc::new(RefCell::new(0)); // !Send: cannot go to spool::spawn
///     let tasks: Vec<_> = (1..=10)
///         .map(|i| {
///             let shared = shared.clone();
///             spool::spawn_local(async move { *shared.borrow_mut() += i })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     let total = *shared.borrow();
///     total
/// });
/// assert_eq!(total, 55);
/// # std::io::Result::Ok(())
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match scheduler::Shared::spawn_local(future, Location::caller()) {
        Some(task) => task,
        None => panic!(
            "spool::spawn_local called outside a thread that runs tasks: a !Send task must stay \
             on the thread that spawned it, so it can only be spawned inside a current-thread \
             runtime's block_on or a multi-thread runtime's task (a multi-thread runtime's \
             block_on thread runs no tasks); use spool::spawn for Send futures"
        ),
    }
}

/// Runs a blocking or CPU-heavy closure on the current runtime's blocking pool (else the default
/// runtime's), so that it does not hold a worker. Panics are reported like tasks'.
///
/// ```
/// let rt = spool::Runtime::new()?;
/// let digest = rt.block_on(async {
///     spool::spawn_blocking(|| (0..1_000_000u64).fold(0u64, |h, x| h.wrapping_mul(31) ^ x)).await
/// });
/// assert!(digest.is_ok());
/// # std::io::Result::Ok(())
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let location = Location::caller();
    let (runnable, task) =
        runtime::context::with_handle(|handle| blocking::create_task(handle, f, location));
    runnable.schedule();
    task
}
