//! The tokio host: the server on a tokio runtime that [`serve_on_tokio`] starts, with
//! hyper-util's tokio glue for the seams [`super`] names.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

use super::{Host, Listener};
use crate::config::Config;
use crate::rt::{BlockingJob, BoxFuture, Runtime};
use crate::Error;

/// How long the runtime waits, once the server has returned, for blocking jobs still running
/// (`/work?mode=blocking`): the connections are drained or closed already, so these only hold
/// the exit.
pub(crate) const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(100);

/// Serves on a tokio multi-thread runtime of [`Config::worker_threads`] workers, started here:
/// binds `config.addr`, calls `listening` with the bound address (the real port when `addr`'s
/// is 0), serves until `shutdown` completes, drains, stops the runtime and returns.
///
/// The accept loop runs on the calling thread (`block_on`), the connections on the workers.
///
/// With [`Config::per_core`], it starts [`Config::worker_threads`] current-thread runtimes
/// instead, each with its own `SO_REUSEPORT` listener and accept loop (the first on the calling
/// thread, which also awaits `shutdown`; see `host::per_core`).
pub fn serve_on_tokio<S: Future>(
    config: Config,
    shutdown: S,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), Error> {
    let workers = config.worker_threads();
    if config.per_core {
        let cores = (0..workers)
            .map(|_| {
                tokio::runtime::Builder::new_current_thread()
                    .thread_name("spool-tokio-blocking")
                    .enable_all()
                    .build()
                    .map(|runtime| TokioCore { runtime })
                    .map_err(Error::Runtime)
            })
            .collect::<Result<Vec<_>, _>>()?;
        tracing::debug!(cores = workers, "tokio per-core runtimes started");
        return super::per_core::run(cores, &config, shutdown, listening);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("spool-tokio-worker")
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    tracing::debug!(workers, "tokio runtime started");
    let result = runtime.block_on(async {
        let listener =
            TcpListener::from_std(super::bind(&config)?).map_err(|source| Error::Bind {
                addr: config.addr,
                source,
            })?;
        listening(listener.local_addr().map_err(Error::LocalAddr)?);
        let host = Host {
            executor: TokioExecutor::new(),
            timer: TokioTimer::new(),
            runtime: Arc::new(TokioRuntime::current()),
        };
        super::serve(listener, host, &config, shutdown).await
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    result
}

/// One core of a per-core server on tokio: a current-thread runtime.
#[derive(Debug)]
struct TokioCore {
    runtime: tokio::runtime::Runtime,
}

impl super::per_core::Core for TokioCore {
    type Listener = TcpListener;
    type Executor = TokioExecutor;
    type Timer = TokioTimer;

    fn listen(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let _context = self.runtime.enter(); // the listener belongs to this core's reactor
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        socket.listen(super::BACKLOG.unsigned_abs())
    }

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(TokioRuntime {
            handle: self.runtime.handle().clone(),
        })
    }

    fn executor_and_timer(&self) -> (TokioExecutor, TokioTimer) {
        (TokioExecutor::new(), TokioTimer::new())
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn shut_down(self) {
        self.runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    }
}

impl Listener for TcpListener {
    type Io = TcpStream;
    type Plain = hyper_util::rt::TokioIo<TcpStream>;

    fn plain(io: TcpStream) -> Self::Plain {
        hyper_util::rt::TokioIo::new(io)
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Responses are written whole; don't let Nagle hold the last segment back.
        // Failing to set it only costs latency, so it is not worth dropping the connection.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

/// [`Runtime`] for tokio: `tokio::time::sleep` and tokio's blocking pool.
#[derive(Debug, Clone)]
pub(crate) struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// The runtime this is called from.
    ///
    /// # Panics
    /// Outside a tokio runtime, as [`tokio::runtime::Handle::current`] does.
    pub(crate) fn current() -> Self {
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
