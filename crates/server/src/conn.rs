//! One connection: HTTP/1.1 or HTTP/2, sniffed from its first bytes, served with [`HttpService`].
//!
//! This is the part every host shares. It is generic over the byte stream (any
//! [`hyper::rt::Read`] + [`hyper::rt::Write`]), the executor hyper spawns HTTP/2 streams on, and
//! the timer hyper uses for its timeouts, so the tokio host and the Spool host configure and serve
//! connections with exactly the same code.

use std::time::Duration;

use hyper::rt::{Read, Timer, Write};
use hyper_util::server::conn::auto::{self, HttpServerConnExec};

use crate::config::Config;
use crate::service::{HttpService, ResponseBody, ServiceFuture};
use crate::shutdown::ConnWatch;

/// The connection settings every host uses: HTTP/1.1 and HTTP/2 with prior knowledge on one
/// port (hyper-util's auto builder reads the first bytes and picks the protocol).
///
/// The timer is set on both protocols: without one hyper *silently* runs HTTP/1 without its
/// header-read timeout, and HTTP/2 cannot send keep-alive pings.
pub fn builder<E, T>(executor: E, timer: T, config: &Config) -> auto::Builder<E>
where
    T: Timer + Clone + Send + Sync + 'static,
{
    let mut builder = auto::Builder::new(executor);
    builder
        .http1()
        .timer(timer.clone())
        // A client gets this long to send its request headers (slowloris defence), and hyper
        // applies it to the idle time between keep-alive requests too.
        .header_read_timeout(non_zero(config.header_read_timeout));
    builder.http2().timer(timer);
    builder
}

/// `0` means "no timeout" on the command line; hyper wants `None` for that.
fn non_zero(timeout: Duration) -> Option<Duration> {
    (!timeout.is_zero()).then_some(timeout)
}

/// Serves one connection until the client closes it, it fails, or the drain closes it.
///
/// Errors end only this connection, so they are logged at debug level: a client that
/// disconnects mid-request or sends garbage is normal on a public server, not an incident.
pub async fn serve<I, E>(builder: &auto::Builder<E>, io: I, service: HttpService, watch: ConnWatch)
where
    I: Read + Write + Unpin + Send + 'static,
    E: HttpServerConnExec<ServiceFuture, ResponseBody>,
{
    let peer = service.peer();
    let conn = builder.serve_connection(io, service);
    match watch.watch(conn).await {
        Some(Ok(())) => tracing::trace!(%peer, "connection closed"),
        Some(Err(error)) => tracing::debug!(%peer, %error, "connection error"),
        None => tracing::debug!(%peer, "connection closed at the shutdown deadline"),
    }
}
