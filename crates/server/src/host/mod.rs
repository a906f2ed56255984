//! Hosting: the accept loop and the shutdown sequence, and the runtimes that drive them.
//!
//! The loop in [`serve`] is written once, against three small seams a runtime provides:
//!
//! - a [`Listener`] whose accepted streams implement tokio's [`::tokio::io::AsyncRead`] +
//!   [`::tokio::io::AsyncWrite`] (no tokio runtime needed: Spool's streams implement them too);
//! - a [`Host`]: hyper's executor and timer for the runtime, plus a [`Runtime`] for the service;
//! - a shutdown future (usually SIGINT/SIGTERM, in tests a channel).
//!
//! [`tokio`] supplies them for tokio, [`spool`] for Spool's own runtime, each with the one
//! public function that starts its runtime, binds and serves ([`crate::serve_on_tokio`],
//! [`crate::serve_on_spool`]). A runtime plugs in by implementing [`Listener`] for its TCP
//! listener and [`Runtime`] for its timer and blocking pool, and by calling [`serve`] with its
//! hyper executor and timer; everything else (TLS, protocol choice, routes, logging, back-off,
//! draining) is shared.
//!
//! [`per_core`] runs the same loop once per core ([`serve_core`]), each on its own
//! single-threaded runtime with its own listener, the cores sharing what [`Common`] holds.

pub(crate) mod per_core;
pub(crate) mod spool;
pub(crate) mod tokio;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use hyper::rt::{Executor, Timer};
use hyper_util::server::conn::auto::HttpServerConnExec;

use crate::config::Config;
use crate::metrics::{Limit, Metrics};
use crate::routes::Routes;
use crate::rt::{race, BoxFuture, First, Runtime};
use crate::service::ServiceFuture;
use crate::shutdown::{Drain, DrainOutcome};
use crate::tls::TlsAcceptor;
use crate::{conn, Error};

/// How long the accept loop pauses when the process is out of file descriptors or memory.
///
/// Retrying at once would spin a core on a failing `accept` while nothing can improve; a short
/// pause lets running connections finish and free descriptors.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How many connections the kernel queues for `accept` (the listen backlog): tokio's and
/// std's choice.
pub(crate) const BACKLOG: i32 = 1024;

/// Binds the listening socket for `config.addr`, with `SO_REUSEPORT` when `config.reuse_port`,
/// non-blocking, for a host to wrap in its own listener type.
///
/// Written with socket2 rather than `TcpListener::bind` because std and tokio cannot set
/// `SO_REUSEPORT`. With it, several processes (an old one draining, a new one starting) can
/// listen on one address and the kernel spreads new connections among them; when one closes
/// its listener, connections still in *its* backlog are reset, unless Linux ≥ 5.14 runs with
/// `net.ipv4.tcp_migrate_req=1`, which moves them to another listener of the group. That is
/// why the drain closes the listener before anything else ([`serve`]).
pub(crate) fn bind(config: &Config) -> Result<std::net::TcpListener, Error> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = config.addr;
    let bound = (|| {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // As std and tokio do: a restarted server may bind while old connections sit in
        // TIME_WAIT.
        socket.set_reuse_address(true)?;
        if config.reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        socket.set_nonblocking(true)?;
        io::Result::Ok(std::net::TcpListener::from(socket))
    })();
    bound.map_err(|source| Error::Bind { addr, source })
}

/// A listening socket, as the accept loop needs it.
pub(crate) trait Listener: Send + 'static {
    /// An accepted connection, readable and writable by hyper.
    type Io: ::tokio::io::AsyncRead + ::tokio::io::AsyncWrite + Unpin + Send + 'static;

    /// An accepted connection as hyper reads and writes it when no TLS is in between.
    type Plain: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static;

    /// `io` for hyper, on a cleartext connection: through the runtime's own `hyper::rt`
    /// impls where its stream has them (Spool's), else through `TokioIo`. (TLS reads the
    /// stream through tokio's traits, and hyper reads TLS through `TokioIo`.)
    fn plain(io: Self::Io) -> Self::Plain;

    /// Waits for the next connection and returns it with the peer's address.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;

    /// The address the socket listens on (with the real port when bound to port 0).
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// What a runtime lends the server: hyper's executor and timer, and the service's [`Runtime`].
#[derive(Debug, Clone)]
pub(crate) struct Host<E, T> {
    /// Spawns each connection's task, and HTTP/2 streams' tasks inside hyper.
    pub(crate) executor: E,
    /// hyper's timer, for the header-read timeout and HTTP/2 keep-alive.
    pub(crate) timer: T,
    /// The timer and blocking pool the routes use.
    pub(crate) runtime: Arc<dyn Runtime>,
}

/// Serves HTTP/1.1 and HTTP/2 on `listener` until `shutdown` completes, then drains.
///
/// With TLS configured ([`Config::tls_cert`], [`Config::tls_self_signed`]) every connection is
/// HTTPS: its handshake runs in the connection's own task, bounded by the header-read timeout,
/// and ALPN picks the protocol. A TLS setting that cannot be used is an [`Error::Tls`], returned
/// before the first connection is accepted.
///
/// The shutdown sequence: stop accepting, take what is already queued, and close the listening
/// socket (so new connections are refused, or with `--reuse-port` go to another process on the
/// port, not left waiting in a backlog nobody accepts from); then drain ([`Drain`]): HTTP/1
/// answers say `Connection: close` for a moment, then open connections are asked to finish
/// their in-flight requests, and whatever is still open after `config.shutdown_timeout` is
/// closed.
///
/// The accept loop never ends on an `accept` error: see [`AcceptError`].
pub(crate) async fn serve<L, E, T, S>(
    listener: L,
    host: Host<E, T>,
    config: &Config,
    shutdown: S,
) -> Result<(), Error>
where
    L: Listener,
    E: Executor<BoxFuture<()>> + HttpServerConnExec<ServiceFuture, conn::SentBody>,
    E: Clone + Send + Sync + 'static,
    T: Timer + Clone + Send + Sync + 'static,
    S: Future,
{
    let common = Common {
        metrics: Arc::new(Metrics::new()),
        tls: TlsAcceptor::from_config(config)?,
        core: None,
        max_connections: config.max_connections,
    };
    serve_core(listener, host, config, shutdown, common).await
}

/// What one accept loop shares with the others of its server: one server's worth for
/// [`serve`]; in per-core mode ([`per_core`]) the counters and the TLS settings are the
/// whole server's, the connection limit a core's share.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    /// The counters `/metrics` shows.
    pub(crate) metrics: Arc<Metrics>,
    /// `Some` when the server speaks TLS: built once, so every core serves the same
    /// certificate (a self-signed one included).
    pub(crate) tls: Option<TlsAcceptor>,
    /// Per-core mode: this loop's core, counted in `spool_connections_accepted_total{core}`.
    pub(crate) core: Option<usize>,
    /// Connections this loop serves at once (`--max-connections`, or a core's share of it).
    pub(crate) max_connections: usize,
}

/// [`serve`], with what the loop shares with others given ([`Common`]).
pub(crate) async fn serve_core<L, E, T, S>(
    listener: L,
    host: Host<E, T>,
    config: &Config,
    shutdown: S,
    common: Common,
) -> Result<(), Error>
where
    L: Listener,
    E: Executor<BoxFuture<()>> + HttpServerConnExec<ServiceFuture, conn::SentBody>,
    E: Clone + Send + Sync + 'static,
    T: Timer + Clone + Send + Sync + 'static,
    S: Future,
{
    let Host {
        executor,
        timer,
        runtime,
    } = host;
    let Common {
        metrics,
        tls,
        core,
        max_connections,
    } = common;
    let mut listener = listener;
    let local_addr = listener.local_addr().map_err(Error::LocalAddr)?;
    let listening = match tls {
        None => format!("http://{local_addr} (HTTP/1.1 and HTTP/2 with prior knowledge)"),
        Some(_) => format!("https://{local_addr} (HTTP/2 and HTTP/1.1, by ALPN)"),
    };
    let routes = Arc::new(Routes::new(
        Arc::clone(&runtime),
        Arc::clone(&metrics),
        config,
    ));
    let shared = Arc::new(conn::Shared::new(
        executor.clone(),
        timer,
        routes,
        Arc::clone(&metrics),
        tls,
        config,
    ));
    let drain = Drain::new();
    let limit = Arc::new(ConnLimit::new(max_connections, Arc::clone(&metrics)));
    tracing::info!(runtime = runtime.name(), core, "listening on {listening}");

    // One accepted connection's task. The TLS handshake too runs in there, never in this loop.
    let spawn = |io: L::Io, peer: SocketAddr| {
        let permit = limit.admit();
        metrics.record_connection();
        if let Some(core) = core {
            metrics.record_core_accept(core);
        }
        let shared = Arc::clone(&shared);
        let watch = drain.watch();
        executor.execute(Box::pin(async move {
            conn::accept(&shared, io, L::plain, peer, watch).await;
            // Released only now that the socket is closed.
            drop(permit);
        }));
    };

    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the limit, stop calling accept: new connections wait in the kernel's backlog
        // (and, once it is full, the kernel stops answering SYNs) while the open ones are
        // served. Accepting and closing them instead would turn load into errors.
        if let First::Left(_) = race(shutdown.as_mut(), limit.room()).await {
            break;
        }
        let accepted = match race(shutdown.as_mut(), listener.accept()).await {
            First::Left(_) => break,
            First::Right(accepted) => accepted,
        };
        match accepted {
            Ok((io, peer)) => spawn(io, peer),
            Err(error) => match AcceptError::classify(&error) {
                AcceptError::PeerGone => {
                    tracing::debug!(%error, "accept: connection gone before it was accepted");
                }
                kind @ (AcceptError::OutOfResources | AcceptError::Unexpected) => {
                    tracing::warn!(
                        %error,
                        ?kind,
                        "accept failed; pausing {ACCEPT_BACKOFF:?} before accepting again"
                    );
                    if let First::Left(_) =
                        race(shutdown.as_mut(), runtime.sleep(ACCEPT_BACKOFF)).await
                    {
                        break;
                    }
                }
            },
        }
    }

    // Connections the kernel has already completed and queued would be reset when the socket
    // closes (unless `tcp_migrate_req` moves them to another SO_REUSEPORT listener): take
    // them, so the drain answers them (with `Connection: close`), then close.
    let queued = accept_queued(&mut listener, spawn).await;
    // Closing the socket first is what makes new connections fail fast instead of hanging,
    // and, with `--reuse-port`, go to the other listeners of the port.
    drop(listener);
    if queued > 0 {
        tracing::debug!(queued, "took the connections queued at shutdown");
    }
    tracing::info!(
        core,
        open_connections = drain.open_connections(),
        "shutting down: no longer accepting; waiting up to {:?} for in-flight requests",
        config.shutdown_timeout
    );
    match drain.drain(config.shutdown_timeout, &*runtime).await {
        DrainOutcome::Drained => tracing::info!(core, "shutdown complete"),
        DrainOutcome::ForcedClose(open) => tracing::warn!(
            core,
            "shutdown timeout ({:?}) reached; closed {open} connection(s) still open",
            config.shutdown_timeout
        ),
    }
    Ok(())
}

/// Accepts, without waiting, every connection already in `listener`'s queue, handing each to
/// `spawn`; returns how many. Stops at the first `accept` that would wait or fails.
async fn accept_queued<L: Listener>(
    listener: &mut L,
    mut spawn: impl FnMut(L::Io, SocketAddr),
) -> usize {
    let mut queued = 0;
    loop {
        let mut accept = std::pin::pin!(listener.accept());
        let ready = std::future::poll_fn(|cx| Poll::Ready(accept.as_mut().poll(cx))).await;
        match ready {
            Poll::Ready(Ok((io, peer))) => {
                spawn(io, peer);
                queued += 1;
            }
            Poll::Ready(Err(_)) | Poll::Pending => return queued,
        }
    }
}

/// `--max-connections`: a counting semaphore with a single waiter, the accept loop.
///
/// Written by hand because it is this small: an atomic count and the accept loop's waker (the
/// open-connections gauge of [`Metrics`] is kept beside the count: in per-core mode the gauge
/// is the whole server's, the count one core's). Every runtime can wake a `Waker`, so this
/// works on any of them, as tokio's `Semaphore` would not without tokio.
#[derive(Debug)]
pub(crate) struct ConnLimit {
    max: usize,
    /// Connections admitted and not yet closed.
    open: AtomicUsize,
    metrics: Arc<Metrics>,
    /// The accept loop, when it waits for a connection to end.
    waiter: Mutex<Option<Waker>>,
}

/// One connection's place under [`ConnLimit`]; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct ConnPermit(Arc<ConnLimit>);

impl ConnLimit {
    /// A limit of `max` connections at once, also counted in `metrics`' open-connections gauge.
    pub(crate) fn new(max: usize, metrics: Arc<Metrics>) -> Self {
        ConnLimit {
            max,
            open: AtomicUsize::new(0),
            metrics,
            waiter: Mutex::new(None),
        }
    }

    /// Waits until fewer than `max` connections are open.
    ///
    /// Only one task may call this and [`ConnLimit::admit`] (the accept loop): it alone adds to
    /// the count, so a count seen below `max` stays below until it admits a connection. The
    /// place is not taken before `accept` returns, so the open-connections gauge counts
    /// connections only.
    pub(crate) async fn room(&self) {
        let open = &self.open;
        let mut counted = false;
        std::future::poll_fn(|cx| {
            if open.load(Ordering::Acquire) < self.max {
                return Poll::Ready(());
            }
            // Register, then look again: a connection that ended between the first look and
            // the registration found no waker to wake, and must not be missed.
            *self.waiter.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
            if open.load(Ordering::Acquire) < self.max {
                cx.waker().wake_by_ref();
            } else if !counted {
                counted = true;
                self.metrics.record_limit(Limit::MaxConnections);
                tracing::debug!(max = self.max, "connection limit reached: accepting paused");
            }
            Poll::Pending
        })
        .await
    }
}

impl ConnLimit {
    /// Counts an accepted connection; dropping the permit uncounts it.
    pub(crate) fn admit(self: &Arc<Self>) -> ConnPermit {
        self.open.fetch_add(1, Ordering::AcqRel);
        self.metrics
            .open_connections
            .fetch_add(1, Ordering::Relaxed);
        ConnPermit(Arc::clone(self))
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let limit = &self.0;
        limit.open.fetch_sub(1, Ordering::AcqRel);
        limit
            .metrics
            .open_connections
            .fetch_sub(1, Ordering::Relaxed);
        let waiter = limit
            .waiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(waker) = waiter {
            waker.wake();
        }
    }
}

/// What an `accept` error means for the accept loop, which never stops on one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptError {
    /// The pending connection failed before we took it (reset, aborted, network error):
    /// only that client is affected; accept the next one at once.
    PeerGone,
    /// The process or system is out of file descriptors or memory (EMFILE, ENFILE, ENOBUFS,
    /// ENOMEM): warn, pause for [`ACCEPT_BACKOFF`], try again.
    OutOfResources,
    /// Anything else: warn and pause too, so an unforeseen persistent error cannot spin a core.
    Unexpected,
}

impl AcceptError {
    /// Classifies an error returned by `accept`.
    pub(crate) fn classify(error: &io::Error) -> AcceptError {
        match error.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                AcceptError::OutOfResources
            }
            // accept(2), "Error handling": on Linux these pending-connection errors are
            // reported by accept and should be treated like EAGAIN, i.e. retried.
            Some(
                libc::ECONNABORTED
                | libc::ECONNRESET
                | libc::EINTR
                | libc::EAGAIN
                | libc::EPROTO
                | libc::EPERM
                | libc::ENETDOWN
                | libc::ENOPROTOOPT
                | libc::EHOSTDOWN
                | libc::ENONET
                | libc::EHOSTUNREACH
                | libc::EOPNOTSUPP
                | libc::ENETUNREACH
                | libc::ETIMEDOUT,
            ) => AcceptError::PeerGone,
            _ => AcceptError::Unexpected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_classified() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(
            AcceptError::classify(&os(libc::EMFILE)),
            AcceptError::OutOfResources
        );
        assert_eq!(
            AcceptError::classify(&os(libc::ENFILE)),
            AcceptError::OutOfResources
        );
        assert_eq!(
            AcceptError::classify(&os(libc::ENOBUFS)),
            AcceptError::OutOfResources
        );
        assert_eq!(
            AcceptError::classify(&os(libc::ECONNABORTED)),
            AcceptError::PeerGone
        );
        assert_eq!(
            AcceptError::classify(&os(libc::EINTR)),
            AcceptError::PeerGone
        );
        assert_eq!(
            AcceptError::classify(&os(libc::EBADF)),
            AcceptError::Unexpected
        );
        let custom = io::Error::other("not an OS error");
        assert_eq!(AcceptError::classify(&custom), AcceptError::Unexpected);
    }
}
