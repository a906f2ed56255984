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
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use tokio::sync::watch;

use crate::conn::{Activity, ConnInfo, SentBody};
use crate::metrics::Limit;
use crate::routes::{text, ResponseBody, Routes};
use crate::rt::{BoxFuture, Runtime};

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

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let routes = Arc::clone(&self.routes);
        let info = self.info;
        // Counted from here, when hyper hands over the request headers, until the future is
        // dropped, finished or cancelled (an HTTP/2 client may reset the stream): the guard
        // keeps the in-flight count right on every path.
        let in_flight = self
            .activity
            .request_started(req.version() <= Version::HTTP_11);
        let activity = Arc::clone(&self.activity);
        let draining = self.draining.clone();
        Box::pin(async move {
            let _in_flight = in_flight;
            let start = Instant::now();
            let line = RequestLine {
                info,
                method: req.method().clone(),
                // A `Uri` clone shares its bytes: no copy of the path per request.
                uri: req.uri().clone(),
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
                guarded(&routes, req, &line, start).await
            };
            let elapsed = start.elapsed();
            routes
                .metrics()
                .record_request(line.version, response.status(), elapsed);
            access_log(&line, &response, elapsed);
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
    uri: Uri,
    version: Version,
}

/// Runs the route for `req` under the request timeout and the panic guard: a handler that
/// panics is answered 500, one that runs past `--request-timeout` (counted from `start`) is
/// cancelled and answered 503.
async fn guarded(
    routes: &Arc<Routes>,
    req: Request<hyper::body::Incoming>,
    line: &RequestLine,
    start: Instant,
) -> Response<ResponseBody> {
    // Pinned in this future, which the service's one box already holds: no box of its own.
    let handler = CatchUnwind(std::pin::pin!(routes.handle(req, line.info)));
    let timeout = routes.request_timeout();
    let outcome = match timeout {
        None => Some(handler.await),
        // Dropping the handler's future is what cancels it: whatever it awaits (a sleep, a
        // blocking job's result, a body read) is dropped with it. CPU burnt inline
        // (`/work?mode=inline`) cannot be interrupted: it holds the worker and nothing else
        // runs, the timer included, until it returns.
        Some(limit) => within(handler, start + limit, routes.runtime().as_ref()).await,
    };
    let peer = line.info.peer;
    let (method, path) = (&line.method, line.uri.path());
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

/// Runs `work` until it finishes (`Some`) or `deadline` passes (`None`, and `work` is dropped).
///
/// The timer is armed only once `work` has returned `Pending`: most requests are answered in
/// their first poll, and then no timer is registered and cancelled for them at all. The
/// deadline is still counted from the request's start, so a handler gets exactly its limit.
async fn within<F: Future + Unpin>(
    mut work: F,
    deadline: Instant,
    runtime: &dyn Runtime,
) -> Option<F::Output> {
    let mut timer: Option<BoxFuture<()>> = None;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = Pin::new(&mut work).poll(cx) {
            return Poll::Ready(Some(output));
        }
        let timer = timer.get_or_insert_with(|| {
            runtime.sleep(deadline.saturating_duration_since(Instant::now()))
        });
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// The one log line per request ([`crate::log::access`]).
fn access_log(line: &RequestLine, response: &Response<ResponseBody>, elapsed: Duration) {
    crate::log::access(&crate::log::AccessLine {
        peer: line.info.peer,
        method: line.method.as_str(),
        path: line.uri.path(),
        protocol: line.version,
        tls: line.info.tls,
        status: response.status().as_u16(),
        bytes: response.body().size_hint().exact().unwrap_or(0),
        duration: elapsed,
    });
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
    use crate::rt::BlockingJob;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Sleeps on tokio, counting the timers asked for.
    #[derive(Default)]
    struct CountingRuntime {
        sleeps: AtomicUsize,
    }

    impl Runtime for CountingRuntime {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn sleep(&self, duration: Duration) -> BoxFuture<()> {
            self.sleeps.fetch_add(1, Ordering::Relaxed);
            Box::pin(tokio::time::sleep(duration))
        }
        fn spawn_blocking(&self, _: BlockingJob) -> BoxFuture<std::thread::Result<()>> {
            unreachable!("not used here")
        }
    }

    #[tokio::test]
    async fn within_arms_no_timer_for_work_done_at_once() {
        let runtime = CountingRuntime::default();
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            within(Box::pin(async { 7 }), deadline, &runtime).await,
            Some(7)
        );
        assert_eq!(runtime.sleeps.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn within_cancels_work_past_the_deadline_counted_from_the_start() {
        let runtime = CountingRuntime::default();
        let start = Instant::now();
        let slow = Box::pin(tokio::time::sleep(Duration::from_secs(60)));
        assert_eq!(
            within(slow, start + Duration::from_millis(50), &runtime).await,
            None
        );
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(start.elapsed() < Duration::from_secs(30));
        assert_eq!(runtime.sleeps.load(Ordering::Relaxed), 1);
        // Work that waits, then finishes in time, is not cut.
        let waits = Box::pin(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            3
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(within(waits, deadline, &runtime).await, Some(3));
    }

    #[tokio::test]
    async fn catch_unwind_turns_a_panic_into_an_error() {
        let panicking: Pin<Box<dyn Future<Output = ()> + Send>> =
            Box::pin(async { panic!("handler bug (expected in this test)") });
        assert!(CatchUnwind(panicking).await.is_err());
        assert_eq!(CatchUnwind(Box::pin(async { 7 })).await.unwrap(), 7);
    }
}
