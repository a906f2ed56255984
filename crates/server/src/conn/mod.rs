//! One connection: the TLS handshake when TLS is on, then HTTP/1.1 or HTTP/2 served with
//! [`HttpService`], under the connection's timeouts ([`timeouts`]).
//!
//! Cleartext connections say which protocol they speak by their first bytes (hyper-util's auto
//! builder sniffs the HTTP/2 preface); TLS connections agreed on it by ALPN during the handshake,
//! and are served exactly that protocol ([`Protocol`]).
//!
//! # Timeouts
//!
//! hyper bounds only the reading of HTTP/1 request headers, and only once it knows the
//! connection is HTTP/1: hyper-util's auto builder has **no timeout while it sniffs** the first
//! bytes (hyper#3962), so a client that connects and sends nothing would hold its socket
//! forever. And hyper's own header-read timeout arms a timer for every request (and drops it
//! when the headers are in): about 1 300 instructions a request, a sixth of a whole bare-hyper
//! request. So hyper's is off, and each connection gets one guard ([`timeouts::Timeouts`])
//! that watches its [`Activity`], on the host's timer, with one timer for all its rules:
//!
//! - until the first request's headers have arrived, `--header-read-timeout` counts from the
//!   accept (TLS handshake and sniff included): past it the connection is dropped;
//! - on HTTP/1, once a response is out, the client has `--header-read-timeout` again for the
//!   next request's headers: counted from the last response's last progress (or the last
//!   request's end), it is dropped past it, whether it sent nothing (an idle keep-alive
//!   connection) or part of the headers (slowloris on a later request). This is what hyper's
//!   timeout did (closed, no `408`), without a timer per request: the guard's timer is armed
//!   a header-read period ahead while requests run, and only looks again when it fires;
//! - with no request in flight and no response being sent for `--idle-timeout`, the
//!   connection is shut down gracefully (HTTP/2: GOAWAY). HTTP/1 connections mostly meet the
//!   header-read rule first;
//! - owing the client a response and sending no byte of it for `--send-timeout` (the client
//!   does not read, or never opens its HTTP/2 window: [`progress`] says how that is seen), the
//!   connection is closed, HTTP/2 with a GOAWAY first if the socket still takes it. Neither
//!   hyper nor h2 bound this: without it such a client holds the response's memory until
//!   `--max-connections` is reached.
//!
//! This is the part every host shares. It is generic over the byte stream (any stream with
//! tokio's [`AsyncRead`] + [`AsyncWrite`]: tokio's `TcpStream`, Spool's with its `tokio-io`
//! feature), the executor hyper spawns HTTP/2 streams on, and the timer hyper uses for its
//! timeouts, so the tokio host and the Spool host configure and serve connections with exactly
//! the same code. TLS (tokio-rustls) goes over that stream, and hyper-util's [`TokioIo`] turns
//! the TLS stream into hyper's I/O traits. A cleartext stream goes to hyper the way its host
//! says ([`accept`]'s `plain`): through [`TokioIo`] on tokio, as it is on Spool, whose stream
//! implements hyper's traits itself.

mod info;
mod progress;
mod timeouts;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::rt::{Read, Timer, Write};
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto::{self, HttpServerConnExec};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{
    Config, H2_MAX_LOCAL_ERROR_RESET_STREAMS, H2_MAX_PENDING_ACCEPT_RESET_STREAMS,
};
use crate::metrics::Metrics;
use crate::routes::Routes;
use crate::rt::{race, First, Runtime};
use crate::service::{HttpService, ServiceFuture};
use crate::shutdown::{ConnWatch, Watched};
use crate::tls::{alpn_protocol, TlsAcceptor};

pub(crate) use info::ConnInfo;
use progress::Progress;
pub(crate) use progress::SentBody;
pub(crate) use timeouts::Activity;
use timeouts::Timeouts;

/// Which HTTP a connection is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// Either, told apart by the first bytes: cleartext connections.
    Sniff,
    /// HTTP/1.1 only: TLS connections that agreed on `http/1.1` by ALPN, or on nothing.
    Http1,
    /// HTTP/2 only: TLS connections that agreed on `h2` by ALPN.
    Http2,
}

impl Protocol {
    /// The protocol for a TLS connection, from the ALPN result (`None`: the client offered no
    /// ALPN, so it expects HTTP/1.1, as HTTP/2 over TLS requires ALPN, RFC 9113 §3.2).
    fn from_alpn(alpn: Option<&[u8]>) -> Protocol {
        match alpn {
            Some(b"h2") => Protocol::Http2,
            _ => Protocol::Http1,
        }
    }
}

/// The three ways to serve a connection ([`Protocol`]), all made from the one [`builder`]
/// configuration, once per server.
#[derive(Debug, Clone)]
struct Builders<E> {
    sniff: auto::Builder<E>,
    http1: auto::Builder<E>,
    http2: auto::Builder<E>,
}

impl<E: Clone> Builders<E> {
    /// [`builder`]'s settings, and its HTTP/1-only and HTTP/2-only variants.
    fn new<T>(executor: E, timer: T, config: &Config) -> Self
    where
        T: Timer + Clone + Send + Sync + 'static,
    {
        let sniff = builder(executor, timer, config);
        Builders {
            http1: sniff.clone().http1_only(),
            http2: sniff.clone().http2_only(),
            sniff,
        }
    }

    /// The builder that serves `protocol`.
    fn get(&self, protocol: Protocol) -> &auto::Builder<E> {
        match protocol {
            Protocol::Sniff => &self.sniff,
            Protocol::Http1 => &self.http1,
            Protocol::Http2 => &self.http2,
        }
    }
}

/// What every connection's task shares: built once by the host loop, behind an `Arc`.
#[derive(Debug)]
pub(crate) struct Shared<E> {
    /// How HTTP is served.
    builders: Builders<E>,
    routes: Arc<Routes>,
    /// Where the timeouts count their hits.
    metrics: Arc<Metrics>,
    /// `Some` when the server speaks TLS.
    tls: Option<TlsAcceptor>,
    /// For the handshake's timeout and the connection's timer.
    runtime: Arc<dyn Runtime>,
    /// How long a new connection may take to shake hands (TLS) and send its first request's
    /// headers, both bounded by `--header-read-timeout`; `None`: no limit.
    header_read_timeout: Option<Duration>,
    /// How long a connection may have no request in flight; `None`: no limit.
    idle_timeout: Option<Duration>,
    /// How long a connection may owe a response without sending a byte; `None`: no limit.
    send_timeout: Option<Duration>,
}

impl<E: Clone> Shared<E> {
    /// What connections of a server with `config` share.
    pub(crate) fn new<T>(
        executor: E,
        timer: T,
        routes: Arc<Routes>,
        metrics: Arc<Metrics>,
        tls: Option<TlsAcceptor>,
        config: &Config,
    ) -> Self
    where
        T: Timer + Clone + Send + Sync + 'static,
    {
        Shared {
            builders: Builders::new(executor, timer, config),
            runtime: Arc::clone(routes.runtime()),
            routes,
            metrics,
            tls,
            header_read_timeout: non_zero(config.header_read_timeout),
            idle_timeout: non_zero(config.idle_timeout),
            send_timeout: non_zero(config.send_timeout),
        }
    }
}

/// Serves one accepted connection, start to end: the TLS handshake if TLS is on, then HTTP.
/// Without TLS, hyper reads `plain(io)` (the host's choice of hyper I/O for its stream: see
/// `host::Listener::plain`).
///
/// This runs in the connection's own task, never in the accept loop, so a client that is slow to
/// shake hands (or never does) costs its own task only. The handshake is bounded by the
/// header-read timeout, and abandoned when the server starts shutting down.
pub(crate) async fn accept<I, P, E>(
    shared: &Shared<E>,
    io: I,
    plain: fn(I) -> P,
    peer: SocketAddr,
    mut watch: ConnWatch,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    P: Read + Write + Unpin + Send + 'static,
    E: HttpServerConnExec<ServiceFuture, SentBody>,
{
    // Created before the handshake, so that the header-read timeout counts from the accept.
    let activity = Arc::new(Activity::new());
    let Some(acceptor) = &shared.tls else {
        let service = HttpService::new(
            Arc::clone(&shared.routes),
            ConnInfo::plain(peer),
            Arc::clone(&activity),
            watch.draining(),
        );
        return serve(shared, Protocol::Sniff, plain(io), service, activity, watch).await;
    };
    let handshake = acceptor.accept(io);
    let bounded = async {
        match shared.header_read_timeout {
            Some(limit) => match race(shared.runtime.sleep(limit), handshake).await {
                First::Left(()) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no TLS handshake within {limit:?}"),
                )),
                First::Right(result) => result,
            },
            None => handshake.await,
        }
    };
    let stream = match watch.before_serving(bounded).await {
        Some(Ok(stream)) => stream,
        Some(Err(error)) => {
            // Scanners, plain HTTP sent to the HTTPS port, clients that give up: routine.
            tracing::debug!(%peer, %error, "TLS handshake failed");
            return;
        }
        None => {
            tracing::debug!(%peer, "TLS handshake abandoned: shutting down");
            return;
        }
    };
    let info = ConnInfo::tls(peer, alpn_protocol(&stream));
    let protocol = Protocol::from_alpn(alpn_protocol(&stream));
    tracing::trace!(%peer, alpn = ?info.alpn, "TLS handshake done");
    let service = HttpService::new(
        Arc::clone(&shared.routes),
        info,
        Arc::clone(&activity),
        watch.draining(),
    );
    serve(
        shared,
        protocol,
        TokioIo::new(stream),
        service,
        activity,
        watch,
    )
    .await;
}

/// The connection settings every host uses: HTTP/1.1 and HTTP/2 with prior knowledge on one
/// port (hyper-util's auto builder reads the first bytes and picks the protocol). [`Builders`]
/// derives the one-protocol variants that TLS connections use from it.
///
/// The timer is set on both protocols, so that no hyper feature that needs one is silently
/// off (HTTP/2's keep-alive pings); HTTP/1's header-read timeout is the guard's, not hyper's.
fn builder<E, T>(executor: E, timer: T, config: &Config) -> auto::Builder<E>
where
    T: Timer + Clone + Send + Sync + 'static,
{
    let mut builder = auto::Builder::new(executor);
    builder
        .http1()
        .timer(timer.clone())
        // Off: the connection's guard enforces `--header-read-timeout` (see the module docs).
        // `None` is needed, as with a timer set hyper would apply a 30 s one of its own.
        .header_read_timeout(None)
        // The most hyper buffers while parsing a request head: a larger one is answered
        // `431 Request Header Fields Too Large` and the connection closed.
        .max_buf_size(config.max_header_bytes)
        // Each response's head and body copied into one buffer and sent with one `send`,
        // not queued and sent with `writev`: the responses are small (a 13-byte
        // `Hello, World!`), and the queue's bookkeeping was ~470 instructions a request, the
        // kernel's `writev` of two pieces ~100 ns more than one `send` of their sum. A large
        // body costs a copy into the buffer (at most a `CHUNK` at a time). HTTP/2 (h2) keeps
        // its own choice.
        .writev(false);
    let max_header_list = u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX);
    builder
        .http2()
        .timer(timer)
        .max_concurrent_streams(config.h2_max_concurrent_streams)
        // Advertised in SETTINGS; a larger header block resets the stream. It also caps the
        // CONTINUATION frames h2 will buffer for one header block.
        .max_header_list_size(max_header_list)
        // The flood defences, explicit so no upstream default change can switch them off.
        .max_pending_accept_reset_streams(H2_MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(H2_MAX_LOCAL_ERROR_RESET_STREAMS);
    builder
}

/// `0` means "no timeout" on the command line; hyper wants `None` for that.
fn non_zero(timeout: Duration) -> Option<Duration> {
    (!timeout.is_zero()).then_some(timeout)
}

/// Serves HTTP as `protocol` on `io` until the client closes it, it fails, its timeouts close
/// it (see the module docs), or the drain closes it.
///
/// Errors end only this connection, so they are logged at debug level: a client that
/// disconnects mid-request or sends garbage is normal on a public server, not an incident.
async fn serve<I, E>(
    shared: &Shared<E>,
    protocol: Protocol,
    io: I,
    service: HttpService,
    activity: Arc<Activity>,
    watch: ConnWatch,
) where
    I: Read + Write + Unpin + Send + 'static,
    E: HttpServerConnExec<ServiceFuture, SentBody>,
{
    let peer = service.peer();
    let io = Progress::new(io, Arc::clone(&activity));
    let conn = shared.builders.get(protocol).serve_connection(io, service);
    let mut timeouts = Timeouts::new(
        activity,
        shared.header_read_timeout,
        shared.idle_timeout,
        shared.send_timeout,
        Arc::clone(&shared.runtime),
        Arc::clone(&shared.metrics),
    );
    match watch.watch(conn, |cx| timeouts.poll(cx)).await {
        Watched::Finished(Ok(())) => tracing::trace!(%peer, "connection closed"),
        Watched::Finished(Err(error)) => tracing::debug!(%peer, %error, "connection error"),
        Watched::ForcedClose => {
            tracing::debug!(%peer, "connection closed at the shutdown deadline");
        }
        Watched::Stalled => tracing::debug!(
            %peer,
            timeout = ?shared.send_timeout,
            "connection closed: the client took no byte of its response within the send timeout"
        ),
        Watched::TimedOut => tracing::debug!(
            %peer,
            timeout = ?shared.header_read_timeout,
            "connection closed: no request headers within the header-read timeout"
        ),
    }
}
