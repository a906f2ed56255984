//! The runtimes `spool lab steps` compares, behind one trait: steps 1 to 8 of `crates/steps`,
//! Spool and tokio.
//!
//! A workload is written once, generic over [`Contender`], and monomorphised for each runtime:
//! no boxing, no dynamic dispatch between a task and the runtime it runs on.

use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// One runtime, as the workloads see it.
pub(crate) trait Contender: Sized + 'static {
    /// Its name in the report: "step1" … "step8", "spool", "tokio".
    const NAME: &'static str;
    /// Whether it has a reactor: the TCP and hyper workloads run on it.
    const HAS_IO: bool = false;
    /// A spawned task's handle, as a future of the task's output.
    type Join<T: Send + 'static>: Future<Output = T> + Send + Unpin + 'static;

    /// Starts the runtime (steps: nothing to do, theirs start on first use).
    fn start() -> Result<Self, String>;
    /// Runs `future` on the calling thread until done, inside the runtime's context.
    fn block_on<F: Future>(&self, future: F) -> F::Output;
    /// Spawns from inside a task (or `block_on`) of this runtime.
    fn spawn<F>(future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Spawns from a thread outside the runtime (the chapter's `main`).
    fn spawn_outside<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// The runtime's sleep.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static;
    /// The runtime's yield.
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Serves TCP echo on 127.0.0.1 and runs `round_trips` 64-byte round trips against it from
    /// a task; `None` without a reactor.
    fn tcp_echo(&self, _round_trips: usize) -> Option<Result<(), String>> {
        None
    }
    /// Starts a hyper `Hello, World!` server on 127.0.0.1 and runs `load` against its address
    /// on this thread; `None` without a reactor.
    fn with_hyper_server<T>(
        &self,
        _load: impl FnOnce(SocketAddr) -> T,
    ) -> Option<Result<T, String>> {
        None
    }
}

/// A join handle whose output is a `Result`, unwrapped: a lab task that fails is a bug in the
/// workload, reported as a panic (which the runner turns into a failed cell).
#[derive(Debug)]
pub(crate) struct Unwrap<J>(J);

impl<J, T, E> Future for Unwrap<J>
where
    J: Future<Output = Result<T, E>> + Unpin,
    E: Debug,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("a lab task failed"))
    }
}

macro_rules! step {
    ($ty:ident, $m:ident) => {
        step!($ty, $m, false);
    };
    ($ty:ident, $m:ident, $io:expr) => {
        #[doc = concat!("`crates/steps`' ", stringify!($m), ".")]
        #[derive(Debug)]
        pub(crate) struct $ty;

        impl Contender for $ty {
            const NAME: &'static str = stringify!($m);
            const HAS_IO: bool = $io;
            type Join<T: Send + 'static> = async_task::Task<T>;

            fn start() -> Result<Self, String> {
                Ok(Self)
            }
            fn block_on<F: Future>(&self, future: F) -> F::Output {
                steps::$m::block_on(future)
            }
            fn spawn<F>(future: F) -> Self::Join<F::Output>
            where
                F: Future + Send + 'static,
                F::Output: Send + 'static,
            {
                steps::$m::spawn(future)
            }
            fn spawn_outside<F>(&self, future: F) -> Self::Join<F::Output>
            where
                F: Future + Send + 'static,
                F::Output: Send + 'static,
            {
                steps::$m::spawn(future)
            }
            fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
                steps::$m::sleep(duration)
            }
            fn yield_now() -> impl Future<Output = ()> + Send {
                steps::$m::yield_now()
            }
            fn tcp_echo(&self, round_trips: usize) -> Option<Result<(), String>> {
                $io.then(|| super::io::step8_echo(round_trips))
            }
            fn with_hyper_server<T>(
                &self,
                load: impl FnOnce(SocketAddr) -> T,
            ) -> Option<Result<T, String>> {
                $io.then(|| super::io::step8_hyper(load))
            }
        }
    };
}

step!(Step1, step1);
step!(Step2, step2);
step!(Step3, step3);
step!(Step4, step4);
step!(Step5, step5);
step!(Step6, step6);
step!(Step7, step7);
step!(Step8, step8, true);

/// Spool, with as many workers as steps 3 to 8.
#[derive(Debug)]
pub(crate) struct Spool(pub(crate) spool::Runtime);

impl Contender for Spool {
    const NAME: &'static str = "spool";
    const HAS_IO: bool = true;
    type Join<T: Send + 'static> = Unwrap<spool::Task<T>>;

    fn start() -> Result<Self, String> {
        spool::Runtime::builder()
            .worker_threads(steps::workers())
            .build()
            .map(Self)
            .map_err(|e| format!("cannot start Spool: {e}"))
    }
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
    fn spawn<F>(future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(spool::spawn(future))
    }
    fn spawn_outside<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(self.0.spawn(future))
    }
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        spool::time::sleep(duration)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        spool::yield_now()
    }
    fn tcp_echo(&self, round_trips: usize) -> Option<Result<(), String>> {
        Some(super::io::spool_echo(self, round_trips))
    }
    fn with_hyper_server<T>(
        &self,
        load: impl FnOnce(SocketAddr) -> T,
    ) -> Option<Result<T, String>> {
        Some(super::io::spool_hyper(self, load))
    }
}

/// tokio's multi-threaded runtime, with as many workers as steps 3 to 8.
#[derive(Debug)]
pub(crate) struct Tokio(pub(crate) tokio::runtime::Runtime);

impl Contender for Tokio {
    const NAME: &'static str = "tokio";
    const HAS_IO: bool = true;
    type Join<T: Send + 'static> = Unwrap<tokio::task::JoinHandle<T>>;

    fn start() -> Result<Self, String> {
        // Numbered names, so that the timeline draws each worker on a lane of its own.
        let next = std::sync::atomic::AtomicUsize::new(0);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(steps::workers())
            .thread_name_fn(move || {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!("tokio-{n}")
            })
            .enable_all()
            .build()
            .map(Self)
            .map_err(|e| format!("cannot start tokio: {e}"))
    }
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
    fn spawn<F>(future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(tokio::spawn(future))
    }
    fn spawn_outside<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(self.0.spawn(future))
    }
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep(duration)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
    fn tcp_echo(&self, round_trips: usize) -> Option<Result<(), String>> {
        Some(super::io::tokio_echo(self, round_trips))
    }
    fn with_hyper_server<T>(
        &self,
        load: impl FnOnce(SocketAddr) -> T,
    ) -> Option<Result<T, String>> {
        Some(super::io::tokio_hyper(self, load))
    }
}
