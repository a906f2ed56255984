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

use crate::conn::{Activity, ConnInfo, SentBody};
use crate::metrics::Limit;
use crate::routes::{text, ResponseBody, Routes};
use crate::rt::{BoxFuture, Runtime};
use crate::shutdown::Draining;
use crate::validate::HostMemo;

/// The future returned by [`HttpService`]: the response itself when the route answered at once
/// (`Routes::answer_now`: `Hello, World!`, `/healthz`, `/metrics`, the refusals), else the
/// boxed future of the route that waits.
///
/// Most requests are answered at once, so most cost no box, and no move of the request into
/// one: the boxed async future was ~950 instructions a request (allocation, the copy of its
/// state, its drop), a tenth of a whole bare-hyper request.
pub(crate) struct ServiceFuture(Answer);

/// What a [`ServiceFuture`] holds.
enum Answer {
    /// Answered; `None` once handed over.
    Ready(Option<Response<SentBody>>),
    /// The route waits (a sleep, a body read, a blocking job).
    Waiting(Pin<Box<dyn Future<Output = Response<SentBody>> + Send + 'static>>),
}

impl Future for ServiceFuture {
    type Output = Result<Response<SentBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            // hyper polls a service future until it is ready, and never again.
            Answer::Ready(response) => Poll::Ready(Ok(response
                .take()
                .expect("ServiceFuture polled after it completed"))),
            Answer::Waiting(future) => future.as_mut().poll(cx).map(Ok),
        }
    }
}

impl std::fmt::Debug for ServiceFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.0 {
            Answer::Ready(_) => "Ready",
            Answer::Waiting(_) => "Waiting",
        };
        f.debug_tuple("ServiceFuture").field(&state).finish()
    }
}

/// [`Routes`] plus one connection's [`ConnInfo`] and [`Activity`].
#[derive(Debug, Clone)]
pub(crate) struct HttpService {
    routes: Arc<Routes>,
    info: ConnInfo,
    activity: Arc<Activity>,
    /// Whether the server drains ([`crate::shutdown::ConnWatch::draining`]).
    draining: Draining,
    /// The connection's last valid `Host` ([`crate::validate`]).
    host_seen: HostMemo,
}

impl HttpService {
    /// The service for the connection described by `info`; it records its requests in
    /// `activity`, which the connection's timeouts read, and reads in `draining` whether the
    /// server is shutting down.
    pub(crate) fn new(
        routes: Arc<Routes>,
        info: ConnInfo,
        activity: Arc<Activity>,
        draining: Draining,
    ) -> Self {
        HttpService {
            routes,
            info,
            activity,
            draining,
            host_seen: HostMemo::default(),
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

    /// 1. Read the clock once: the request's start, for its duration and its request timeout.
    /// 2. The refusals ([`crate::validate`], a declared-too-large body) and the routes that
    ///    answer at once are answered here, under the panic guard; then [`finish`] counts, logs
    ///    and hands the response over, with one more clock read for the end.
    /// 3. Any other route runs in a boxed future, under the request timeout and the panic
    ///    guard, counted in flight until it ends, is dropped or cancelled (an HTTP/2 client may
    ///    reset the stream).
    fn call(&self, mut req: Request<hyper::body::Incoming>) -> Self::Future {
        let start = Instant::now();
        let version = req.version();
        let http1 = version <= Version::HTTP_11;
        let routes = &self.routes;
        let now = std::panic::catch_unwind(AssertUnwindSafe(|| {
            if let Some(refusal) = crate::validate::check(&req, &self.host_seen) {
                Some(refusal)
            } else if routes.declares_too_large(&req) {
                // Every route, not only the ones that read bodies: a declared-too-large body
                // is refused before a byte of it is read. hyper then closes an HTTP/1
                // connection rather than read the rest; HTTP/2 resets the stream.
                Some(routes.too_large())
            } else {
                routes.answer_now(&mut req)
            }
        }));
        // Answered here: the request line is read from the request itself, still alive.
        let line = RequestLine {
            info: self.info,
            method: req.method(),
            uri: req.uri(),
            version,
            start,
        };
        let answered = match now {
            Ok(answered) => answered,
            Err(_panic) => Some(panicked(&line)),
        };
        if let Some(response) = answered {
            let end = Instant::now();
            let end_ms = self.activity.request_answered(http1);
            let response = finish(
                &line,
                routes,
                &self.activity,
                &self.draining,
                response,
                end,
                end_ms,
            );
            return ServiceFuture(Answer::Ready(Some(response)));
        }
        // The route takes the request: its line is kept apart. A `Uri` clone shares its
        // bytes, no copy of the path.
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let info = self.info;
        let in_flight = self.activity.request_started(http1);
        let routes = Arc::clone(&self.routes);
        let activity = Arc::clone(&self.activity);
        let draining = self.draining.clone();
        ServiceFuture(Answer::Waiting(Box::pin(async move {
            let line = RequestLine {
                info,
                method: &method,
                uri: &uri,
                version,
                start,
            };
            let response = guarded(&routes, req, &line).await;
            let end = Instant::now();
            let end_ms = in_flight.end();
            finish(&line, &routes, &activity, &draining, response, end, end_ms)
        })))
    }
}

/// What is done once a request (`line`) has its response, whichever way it came: counts the
/// request and logs its line (its duration ending at `end`), says `Connection: close` on
/// HTTP/1 once the drain has begun, and hands the body over to be sent: owed from now until it
/// is handed over whole (or the client goes). `end_ms` is the end as the connection's
/// [`Activity`] counts it.
fn finish(
    line: &RequestLine<'_>,
    routes: &Routes,
    activity: &Arc<Activity>,
    draining: &Draining,
    mut response: Response<ResponseBody>,
    end: Instant,
    end_ms: u64,
) -> Response<SentBody> {
    let elapsed = end.saturating_duration_since(line.start);
    routes
        .metrics()
        .record_request(line.version, response.status(), elapsed);
    access_log(line, &response, elapsed);
    if line.version <= Version::HTTP_11 && draining.get() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let sending = activity.response_started(end_ms);
    response.map(|body| SentBody::new(body, sending))
}

/// What the log lines say about a request, borrowed: from the request while it is alive (a
/// request answered at once), else from the copies its future keeps.
struct RequestLine<'a> {
    info: ConnInfo,
    method: &'a Method,
    uri: &'a Uri,
    version: Version,
    /// When the service got the request: its duration's start, and its request timeout's.
    start: Instant,
}

/// Runs the route for `req` under the request timeout and the panic guard: a handler that
/// panics is answered 500, one that runs past `--request-timeout` (counted from `line.start`) is
/// cancelled and answered 503.
async fn guarded(
    routes: &Arc<Routes>,
    req: Request<hyper::body::Incoming>,
    line: &RequestLine<'_>,
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
        Some(limit) => within(handler, line.start + limit, routes.runtime().as_ref()).await,
    };
    let peer = line.info.peer;
    let (method, path) = (line.method, line.uri.path());
    match outcome {
        Some(Ok(response)) => response,
        Some(Err(_panic)) => panicked(line),
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

/// The answer to a request whose handler panicked: 500, and an error line.
fn panicked(line: &RequestLine<'_>) -> Response<ResponseBody> {
    let (peer, method, path) = (line.info.peer, line.method, line.uri.path());
    tracing::error!(%peer, %method, %path, "handler panicked");
    text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
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
fn access_log(line: &RequestLine<'_>, response: &Response<ResponseBody>, elapsed: Duration) {
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
