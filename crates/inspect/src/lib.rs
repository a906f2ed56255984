//! Watching Spool work: the live inspector (`spool serve --runtime spool --inspect ADDR`) and the
//! lab as a web page (`spool lab --serve ADDR`).
//!
//! Both are small HTTP/1.1 servers run by Spool itself (hyper on `spool::hyper`'s glue, as
//! `crates/server` does), each on its own listener — never the service's port — and off unless
//! asked for. The runtime stays free of HTTP: everything here reads what `spool` already offers
//! ([`spool::Handle::metrics`], [`spool::Handle::tasks`], the span switch and rings, the
//! detector's recent hits).
//!
//! - [`inspector`]: `GET /` (one self-contained page: HTML, CSS and JS embedded in the binary),
//!   `GET /snapshot.json` (schema in `docs/inspector.md`), `GET /events` (server-sent events,
//!   bounded per viewer).
//! - [`lab`]: `GET /` (the experiments with the book's claims), `POST /run`, `GET /status`.
//!
//! Both pages show source paths and task internals, so a non-loopback address is refused unless
//! the caller allows it ([`check_addr`]).

pub mod inspector;
pub mod lab;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};

/// The response body of both servers: whole bodies and the event stream alike.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// Refuses a non-loopback `addr` unless `allow_remote`; the error is one line naming the flag.
///
/// ```
/// use inspect::check_addr;
/// assert!(check_addr("127.0.0.1:4000".parse().unwrap(), false, "--inspect-allow-remote").is_ok());
/// assert!(check_addr("[::1]:4000".parse().unwrap(), false, "--inspect-allow-remote").is_ok());
/// let refused = check_addr("0.0.0.0:4000".parse().unwrap(), false, "--inspect-allow-remote");
/// assert!(refused.unwrap_err().contains("--inspect-allow-remote"));
/// assert!(check_addr("0.0.0.0:4000".parse().unwrap(), true, "--inspect-allow-remote").is_ok());
/// ```
pub fn check_addr(addr: SocketAddr, allow_remote: bool, flag: &str) -> Result<(), String> {
    if addr.ip().is_loopback() || allow_remote {
        return Ok(());
    }
    Err(format!(
        "refusing to serve the inspector on {addr}: it is not a loopback address, and the page \
         shows source paths and task internals; pass {flag} to allow it"
    ))
}

pub(crate) fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

pub(crate) fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

pub(crate) fn not_found() -> Response<Body> {
    respond(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "not found\n",
    )
}

/// Binds `addr` on `handle`'s reactor and spawns the accept loop there; each connection is a
/// task serving HTTP/1.1 with `service`. Returns the bound address.
pub(crate) fn serve<S, F>(
    handle: &spool::Handle,
    addr: SocketAddr,
    service: S,
) -> io::Result<SocketAddr>
where
    S: Fn(http::Request<hyper::body::Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = {
        let _context = handle.enter();
        spool::net::TcpListener::bind(addr)?
    };
    let local = listener.local_addr()?;
    handle
        .spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _peer)) => stream,
                    Err(error) => {
                        tracing::debug!(%error, "inspector: accept failed");
                        spool::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = service.clone();
                spool::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let response = service(request);
                        async move { Ok::<_, Infallible>(response.await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(spool::hyper::SpoolTimer::new())
                        .serve_connection(stream, service)
                        .await;
                })
                .detach();
            }
        })
        .detach();
    Ok(local)
}
