//! The Spool host: the server on Spool's own runtime. Of the seams [`super`] names, Spool
//! supplies:
//!
//! | seam | tokio host | Spool host |
//! |---|---|---|
//! | listener / stream | `tokio::net` | [`spool::net`] (tokio's I/O traits, Spool's `tokio-io` feature) |
//! | shutdown signals | tokio's, on a side thread ([`crate::shutdown_signal`]) | [`spool::signal`], on the serving runtime's reactor |
//! | hyper executor, timer | `TokioExecutor`, `TokioTimer` | [`SpoolExecutor`], [`SpoolTimer`] |
//! | the routes' sleep, blocking pool | `tokio::time`, `spawn_blocking` | [`spool::time::sleep`], [`spool::spawn_blocking`] |
//!
//! [`serve_on_spool`] is the entry point.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use spool::hyper::{SpoolExecutor, SpoolTimer};
use spool::net::{TcpListener, TcpSocket, TcpStream};

use super::{Host, Listener};
use crate::config::Config;
use crate::rt::{BlockingJob, BoxFuture, Runtime};
use crate::Error;

/// Serves on `runtime`, a Spool runtime the caller built (with its worker count, and the
/// detector and span options it wants): binds `config.addr` on its reactor, calls `listening`
/// with the bound address (the real port when `addr`'s is 0), runs the accept loop as a task on
/// a worker until `shutdown` completes, drains and returns. The caller owns the runtime, and
/// shuts it down (or reads its spans) afterwards; `config.workers` is the caller's to apply
/// when it builds the runtime ([`Config::worker_threads`]).
///
/// The accept loop is a task (not `block_on` on this thread) so that each accepted connection's
/// task starts on a worker's own queue.
pub fn serve_on_spool<S>(
    runtime: &spool::Runtime,
    config: Config,
    shutdown: S,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), Error>
where
    S: Future + Send + 'static,
{
    if config.per_core {
        return Err(Error::Usage(
            "Config::per_core is set: serve it with serve_per_core_on_spool, which takes one \
             current-thread runtime per core"
                .to_owned(),
        ));
    }
    let listener = {
        let _context = runtime.handle().enter(); // the socket belongs to this runtime's reactor
        let std = super::bind(&config)?;
        TcpListener::from_std(std).map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?
    };
    listening(listener.local_addr().map_err(Error::LocalAddr)?);
    let host = Host {
        executor: SpoolExecutor::new(),
        timer: SpoolTimer::new(),
        runtime: Arc::new(SpoolRuntime::default()),
    };
    let serving =
        runtime.spawn(async move { super::serve(listener, host, &config, shutdown).await });
    runtime.block_on(serving).map_err(Error::Task)?
}

/// Per-core mode ([`Config::per_core`]) on Spool: serves on `runtimes`, one accept loop and
/// one `SO_REUSEPORT` listener each (see `host::per_core`), until `shutdown` completes; drains
/// every core, shuts the runtimes down and returns. `listening` gets the bound address (the
/// real port when `addr`'s is 0).
///
/// Each runtime should be a current-thread one ([`spool::Builder::new_current_thread`]); the
/// caller builds them (with the detector and span options it wants) and usually one per core,
/// [`Config::worker_threads`] of them (`config.workers` is not read here). The first runs on
/// the calling thread, which also awaits `shutdown` (made in the first runtime's context,
/// [`crate::shutdown_signal`] listens on its reactor); the others on threads of their own.
///
/// # Errors
///
/// As [`serve_on_spool`]'s, and [`Error::Usage`] when `runtimes` is empty or
/// `config.max_connections` is fewer than the runtimes.
pub fn serve_per_core_on_spool<S: Future>(
    runtimes: Vec<spool::Runtime>,
    config: Config,
    shutdown: S,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), Error> {
    let cores = runtimes
        .into_iter()
        .map(|runtime| SpoolCore { runtime })
        .collect();
    super::per_core::run(cores, &config, shutdown, listening)
}

/// How long a core's runtime waits, once its server has returned, for blocking jobs still
/// running (`/work?mode=blocking`), as the binary waits for the multi-thread one.
const CORE_SHUTDOWN_TIMEOUT: Duration = Duration::from_millis(100);

/// One core of a per-core server on Spool.
struct SpoolCore {
    runtime: spool::Runtime,
}

impl super::per_core::Core for SpoolCore {
    type Listener = TcpListener;
    type Executor = SpoolExecutor;
    type Timer = SpoolTimer;

    fn listen(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let _context = self.runtime.handle().enter(); // this core's reactor
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        socket.listen(super::BACKLOG.unsigned_abs())
    }

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(SpoolRuntime {
            handle: Some(self.runtime.handle().clone()),
        })
    }

    fn executor_and_timer(&self) -> (SpoolExecutor, SpoolTimer) {
        (SpoolExecutor::new(), SpoolTimer::new())
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn shut_down(self) {
        self.runtime.shutdown_timeout(CORE_SHUTDOWN_TIMEOUT);
    }
}

impl Listener for TcpListener {
    type Io = TcpStream;
    /// Spool's stream as it is: it implements hyper's traits itself (`spool::hyper`), as bare
    /// hyper on Spool reads it. Through tokio's traits and `TokioIo` it cost ~110 instructions
    /// more a request (two adapters' buffer conversions on every read and write).
    type Plain = TcpStream;

    fn plain(io: TcpStream) -> TcpStream {
        io
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // As in the tokio host: responses are written whole, Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

/// [`Runtime`] for Spool: its timers and its blocking pool, those of the runtime the route runs
/// on (the routes run in the connection's task, on a Spool worker).
#[derive(Debug, Clone, Default)]
pub(crate) struct SpoolRuntime {
    /// Whose figures `metrics_text` shows: this runtime's (per-core mode reads every core's
    /// from any core), or with `None` the current one's.
    handle: Option<spool::Handle>,
}

impl Runtime for SpoolRuntime {
    fn name(&self) -> &'static str {
        "spool"
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        Box::pin(spool::time::sleep(duration))
    }

    /// All of [`spool::RuntimeMetrics`], summed over workers where it is per worker. Without
    /// a handle it is called on a Spool worker (the `/metrics` handler runs in its
    /// connection's task), so the current runtime is the hosting one.
    fn metrics_text(&self) -> String {
        use crate::metrics::{write_counter, write_gauge};
        let current;
        let handle = match &self.handle {
            Some(handle) => handle,
            None => match spool::Handle::try_current() {
                Ok(handle) => {
                    current = handle;
                    &current
                }
                Err(_) => return String::new(),
            },
        };
        let m = handle.metrics();
        let sum = |f: fn(&spool::WorkerMetrics) -> u64| m.workers.iter().map(f).sum::<u64>();
        let mut out = String::new();
        let gauges: [(&str, &str, usize); 10] = [
            (
                "workers",
                "Worker threads of the hosting runtime (Spool).",
                m.workers.len(),
            ),
            (
                "tasks_alive",
                "Tasks spawned and not finished.",
                m.tasks_alive,
            ),
            (
                "injection_queue_depth",
                "Tasks in the shared injection queue.",
                m.injection_queue_depth,
            ),
            (
                "local_queue_depth",
                "Tasks in the workers' local queues, summed.",
                m.workers.iter().map(|w| w.local_queue_depth).sum(),
            ),
            (
                "workers_searching",
                "Workers looking for work now.",
                m.workers_searching,
            ),
            (
                "blocking_threads",
                "Threads in the blocking pool.",
                m.blocking_threads,
            ),
            (
                "blocking_busy",
                "Blocking threads running a job.",
                m.blocking_busy,
            ),
            (
                "blocking_queue_depth",
                "Jobs waiting for a blocking thread.",
                m.blocking_queue_depth,
            ),
            ("timers", "Timers registered in the driver.", m.timers),
            (
                "io_sources",
                "Sockets registered with the reactor.",
                m.io_sources,
            ),
        ];
        for (name, help, value) in gauges {
            write_gauge(&mut out, &format!("spool_runtime_{name}"), help, value);
        }
        let counters: [(&str, &str, u64); 5] = [
            (
                "tasks_spawned_total",
                "Tasks spawned since the start.",
                m.tasks_spawned,
            ),
            ("polls_total", "Task polls, all workers.", sum(|w| w.polls)),
            (
                "steals_total",
                "Successful steals, all workers.",
                sum(|w| w.steals),
            ),
            (
                "parks_total",
                "Times a worker went to sleep.",
                sum(|w| w.parks),
            ),
            (
                "detector_hits_total",
                "Polls the blocking detector reported.",
                m.detector_hits,
            ),
        ];
        for (name, help, value) in counters {
            write_counter(&mut out, &format!("spool_runtime_{name}"), help, value);
        }
        out
    }

    fn spawn_blocking(&self, job: BlockingJob) -> BoxFuture<std::thread::Result<()>> {
        let task = spool::spawn_blocking(job);
        Box::pin(async move {
            task.await.map_err(|error| match error {
                spool::JoinError::Panicked(message) => Box::new(message) as Box<_>,
                _ => Box::new("blocking job cancelled") as Box<_>,
            })
        })
    }
}
