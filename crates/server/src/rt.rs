//! What the service needs from whichever runtime hosts it.
//!
//! The routes in [`crate::routes`] sleep (`/sleep`) and run CPU-bound work off the async
//! workers (`/work?mode=blocking`). Both are runtime services: tokio has `tokio::time::sleep`
//! and `tokio::task::spawn_blocking`, Spool has its own timer and blocking pool. Rather than let
//! the routes name either, they ask for this small trait, and each host in [`crate::host`]
//! implements it once.
//!
//! The trait is object safe (boxed futures, boxed closures) so the routes can hold an
//! `Arc<dyn Runtime>` and stay a single, non-generic type.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future, the currency of [`Runtime`]'s methods.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A job for the blocking pool.
pub(crate) type BlockingJob = Box<dyn FnOnce() + Send + 'static>;

/// The runtime services the HTTP service uses, independent of the runtime that provides them.
///
/// Implemented by [`crate::host::tokio::TokioRuntime`] and [`crate::host::spool::SpoolRuntime`].
pub(crate) trait Runtime: Send + Sync + 'static {
    /// A short name for logs, e.g. `"tokio"`.
    fn name(&self) -> &'static str;

    /// A future that completes after `duration`, driven by the runtime's timer
    /// (it must not keep a thread busy while it waits).
    fn sleep(&self, duration: Duration) -> BoxFuture<()>;

    /// Runs `job` on the runtime's blocking pool (never on an async worker) and returns a future
    /// that completes when the job has finished.
    ///
    /// The output is `Err` with the panic payload if the job panicked (or a string payload if
    /// the runtime cancelled it, e.g. while shutting down), as with [`std::thread::Result`].
    fn spawn_blocking(&self, job: BlockingJob) -> BoxFuture<std::thread::Result<()>>;

    /// The runtime's own figures (workers, live tasks, queue depths...) as Prometheus text
    /// lines, appended to `/metrics`. Each runtime shows what it measures; names start with
    /// `spool_runtime_`. The default shows nothing.
    fn metrics_text(&self) -> String {
        String::new()
    }
}

impl std::fmt::Debug for dyn Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.name())
            .finish()
    }
}

/// Which of the two futures given to [`race`] finished first.
pub(crate) enum First<A, B> {
    /// The first future finished (it is polled first, so it wins ties).
    Left(A),
    /// The second future finished.
    Right(B),
}

/// Waits for whichever of two futures finishes first and drops the other.
///
/// A runtime-neutral `select!` for two branches, so the accept loop and the shutdown drain work
/// the same on any runtime. `a` is polled first on every wake-up: callers put the shutdown
/// signal there so it wins over a steady stream of new connections.
pub(crate) async fn race<A: Future, B: Future>(a: A, b: B) -> First<A::Output, B::Output> {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(out) = a.as_mut().poll(cx) {
            return std::task::Poll::Ready(First::Left(out));
        }
        b.as_mut().poll(cx).map(First::Right)
    })
    .await
}
