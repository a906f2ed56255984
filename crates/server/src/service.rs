//! The [`hyper::service::Service`] for one connection: the [`Routes`], plus what is done around
//! every request, in order: answer what breaks the protocol's rules ([`crate::validate`]),
//! refuse a declared-too-large body, run the route under the request timeout and the panic
//! guard, count the request and log its one line; then hand the body over to be sent
//! ([`SentBody`], which the send timeout watches), saying `Connection: close` on HTTP/1 once
//! the drain has begun ([`crate::shutdown`]).

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body::Body as _;
use tokio::sync::watch;

use crate::conn::{Activity, ConnInfo, SentBody};
use crate::metrics::Limit;
use crate::routes::{text, ResponseBody, Routes};
use crate::rt::{race, First};

/// The future returned by [`HttpService`]; named (boxed) so hosts can write bounds on it.
pub(crate) type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<SentBody>, Infallible>> + Send + 'static>>;

/// [`Routes`] plus one connection's [`ConnInfo`] and [`Activity`].
#[derive(Debug, Clone)]
pub(crate) struct HttpService {
    routes: Arc<Routes>,
    info: ConnInfo,
    activity: Arc<Activity>,
    /// `true` once the server drains ([`crate::shutdown::ConnWatch::draining`]).
    draining: watch::Receiver<bool>,
}

impl HttpService {
    /// The service for the connection described by `info`; it records its requests in
    /// `activity`, which the connection's timeouts read, and reads in `draining` whether the
    /// server is shutting down.
    pub(crate) fn new(
        routes: Arc<Routes>,
        info: ConnInfo,
        activity: Arc<Activity>,
        draining: watch::Receiver<bool>,
    ) -> Self {
        HttpService {
            routes,
            info,
            activity,
            draining,
        }
    }

    /// The address of the client this service answers.
    pub(crate) fn peer(&self) -> std::net::SocketAddr {
        self.info.peer
    }
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for HttpService {
    type Response = Response<SentBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, mut req: Request<hyper::body::Incoming>) -> Self::Future {
        let routes = Arc::clone(&self.routes);
        let info = self.info;
        req.extensions_mut().insert(info);
        // Counted from here, when hyper hands over the request headers, until the future is
        // dropped, finished or cancelled (an HTTP/2 client may reset the stream): the guard
        // keeps the in-flight count right on every path.
        let in_flight = self.activity.request_started();
        let activity = Arc::clone(&self.activity);
        let draining = self.draining.clone();
        Box::pin(async move {
            let _in_flight = in_flight;
            let start = Instant::now();
            let line = RequestLine {
                info,
                method: req.method().clone(),
                path: req.uri().path().to_owned(),
                version: req.version(),
            };
            let response = if let Some(refusal) = crate::validate::check(&req) {
                refusal
            } else if routes.declares_too_large(&req) {
                // Every route, not only the ones that read bodies: a declared-too-large body
                // is refused before a byte of it is read. hyper then closes an HTTP/1
                // connection rather than read the rest; HTTP/2 resets the stream.
                routes.too_large()
            } else {
                guarded(&routes, req, &line).await
            };
            let elapsed = start.elapsed();
            routes
                .metrics()
                .record_request(line.version, response.status(), elapsed);
            access_log(&line, &response, start);
            let mut response = response;
            if line.version <= Version::HTTP_11 && *draining.borrow() {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            // Owed from now until the body is handed over whole (or the client goes).
            let sending = activity.response_started();
            Ok(response.map(|body| SentBody::new(body, sending)))
        })
    }
}

/// What the log lines say about a request.
struct RequestLine {
    info: ConnInfo,
    method: Method,
    path: String,
    version: Version,
}

/// Runs the route for `req` under the request timeout and the panic guard: a handler that
/// panics is answered 500, one that runs past `--request-timeout` is cancelled and answered 503.
async fn guarded(
    routes: &Arc<Routes>,
    req: Request<hyper::body::Incoming>,
    line: &RequestLine,
) -> Response<ResponseBody> {
    let handler = {
        let routes = Arc::clone(routes);
        Box::pin(async move { routes.handle(req).await })
    };
    let timeout = routes.request_timeout();
    let outcome = match timeout {
        None => Some(CatchUnwind(handler).await),
        // Dropping the handler's future is what cancels it: whatever it awaits (a sleep, a
        // blocking job's result, a body read) is dropped with it. CPU burnt inline
        // (`/work?mode=inline`) cannot be interrupted: it holds the worker and nothing else
        // runs, the timer included, until it returns.
        Some(limit) => match race(CatchUnwind(handler), routes.runtime().sleep(limit)).await {
            First::Left(outcome) => Some(outcome),
            First::Right(()) => None,
        },
    };
    let RequestLine {
        info, method, path, ..
    } = line;
    let peer = info.peer;
    match outcome {
        Some(Ok(response)) => response,
        Some(Err(_panic)) => {
            tracing::error!(%peer, %method, %path, "handler panicked");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
        }
        None => {
            routes.metrics().record_limit(Limit::RequestTimeout);
            tracing::warn!(%peer, %method, %path, ?timeout, "handler timed out");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request took too long and was cancelled\n",
            )
        }
    }
}

/// The one log line per request.
fn access_log(line: &RequestLine, response: &Response<ResponseBody>, start: Instant) {
    let RequestLine {
        info,
        method,
        path,
        version,
    } = line;
    tracing::info!(
        peer = %info.peer,
        %method,
        %path,
        protocol = ?version,
        tls = info.tls,
        status = response.status().as_u16(),
        bytes = response.body().size_hint().exact().unwrap_or(0),
        duration = ?start.elapsed(),
        "request"
    );
}

/// Polls a future inside `catch_unwind`, turning a panic into `Err(payload)`.
///
/// Written out because it is a few lines; `futures::FutureExt::catch_unwind` does the same.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // AssertUnwindSafe: after a panic the future is dropped, never polled again, so no
        // broken state it might hold can be observed.
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn catch_unwind_turns_a_panic_into_an_error() {
        let panicking: Pin<Box<dyn Future<Output = ()> + Send>> =
            Box::pin(async { panic!("handler bug (expected in this test)") });
        assert!(CatchUnwind(panicking).await.is_err());
        assert_eq!(CatchUnwind(Box::pin(async { 7 })).await.unwrap(), 7);
    }
}
