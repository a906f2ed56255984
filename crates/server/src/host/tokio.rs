//! The tokio host: the server on tokio's runtime, with hyper-util's tokio glue.
//!
//! Must be called from inside a tokio runtime with I/O and time enabled (the binary builds a
//! multi-thread one with `--workers` worker threads).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

use super::{Host, Listener};
use crate::config::Config;
use crate::rt::{BlockingJob, BoxFuture, Runtime};
use crate::Error;

/// Binds a tokio listener on `addr`; the error names the address and the cause.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Serves HTTP/1.1 and HTTP/2 on `listener` on the current tokio runtime until `shutdown`
/// completes, then shuts down gracefully (see [`super::serve`]).
pub async fn run<F: Future>(
    listener: TcpListener,
    config: Config,
    shutdown: F,
) -> Result<(), Error> {
    let host = Host {
        executor: TokioExecutor::new(),
        timer: TokioTimer::new(),
        runtime: Arc::new(TokioRuntime::current()),
    };
    super::serve(listener, host, &config, shutdown).await
}

impl Listener for TcpListener {
    type Io = TokioIo<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Responses are written whole; don't let Nagle hold the last segment back.
        // Failing to set it only costs latency, so it is not worth dropping the connection.
        let _ = stream.set_nodelay(true);
        Ok((TokioIo::new(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

/// [`Runtime`] for tokio: `tokio::time::sleep` and tokio's blocking pool.
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// The runtime this is called from.
    ///
    /// # Panics
    /// Outside a tokio runtime, as [`tokio::runtime::Handle::current`] does.
    pub fn current() -> Self {
        TokioRuntime {
            handle: tokio::runtime::Handle::current(),
        }
    }
}

impl Runtime for TokioRuntime {
    fn name(&self) -> &'static str {
        "tokio"
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        // Entering the handle lets the sleep be created from any thread, not only a worker.
        let _guard = self.handle.enter();
        Box::pin(tokio::time::sleep(duration))
    }

    /// What tokio's stable `RuntimeMetrics` offers (the rest needs `--cfg tokio_unstable`).
    fn metrics_text(&self) -> String {
        use crate::metrics::write_gauge;
        let metrics = self.handle.metrics();
        let mut out = String::new();
        write_gauge(
            &mut out,
            "spool_runtime_workers",
            "Worker threads of the hosting runtime (tokio).",
            metrics.num_workers(),
        );
        write_gauge(
            &mut out,
            "spool_runtime_tasks_alive",
            "Tasks spawned and not finished.",
            metrics.num_alive_tasks(),
        );
        write_gauge(
            &mut out,
            "spool_runtime_injection_queue_depth",
            "Tasks waiting in the runtime's global queue.",
            metrics.global_queue_depth(),
        );
        out
    }

    fn spawn_blocking(&self, job: BlockingJob) -> BoxFuture<std::thread::Result<()>> {
        let task = self.handle.spawn_blocking(job);
        Box::pin(async move {
            task.await.map_err(|error| match error.try_into_panic() {
                Ok(payload) => payload,
                Err(_cancelled) => Box::new("blocking job cancelled") as Box<_>,
            })
        })
    }
}

/// A future that completes on the first SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first polled, so a
/// signal that arrives while the server is still starting is not lost.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, Error> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(Error::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(Error::Signals)?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        crate::shutdown::log_signal(name);
    })
}
