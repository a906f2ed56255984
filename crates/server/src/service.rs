//! The HTTP service: the chapter's `Hello, World!` handler, grown into a few routes.
//!
//! | route | answer |
//! |---|---|
//! | `/healthz` | `ok` |
//! | `GET` or `POST /echo` | the request as JSON: method, path, query, version, `tls` (bool), `alpn`, headers, body |
//! | `/sleep?ms=N` | waits N ms on the hosting runtime's timer, then `slept N ms` |
//! | `/work?ms=N&mode=inline\|blocking` | burns N ms of CPU on the async worker (`inline`, the default: the chapter's warning made visible) or on the blocking pool |
//! | `/metrics` | the server's counters in Prometheus' text format ([`crate::metrics`]) |
//! | `/panic` | only with the hidden `--debug-panic-route` flag: a handler that panics (answered 500) |
//! | anything else, any method | `Hello, World!` |
//!
//! `N` is at most [`MAX_MS`]; a missing, unparsable or larger `N`, or an unknown `mode`, is a
//! `400 Bad Request` with a one-line reason.
//!
//! This module knows nothing of the runtime that hosts it: it sleeps and offloads work through
//! [`Runtime`], and it sees a connection only as a [`ConnInfo`]: the peer's address, and
//! whether TLS is on and which protocol ALPN agreed.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};

use crate::config::{Config, MAX_MS};
use crate::metrics::{Limit, Metrics};
use crate::rt::{race, First, Runtime};

/// The body of every response: all of them are small and fully built before they are sent.
pub type ResponseBody = Full<Bytes>;

/// The future returned by [`HttpService`]; named (boxed) so hosts can write bounds on it.
pub type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send + 'static>>;

/// The error type request bodies are converted to, as hyper and http-body do.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The routes and what they share: the hosting runtime and the limits from [`Config`].
///
/// One `Routes` serves every connection; [`HttpService`] adds the per-connection part.
#[derive(Debug)]
pub struct Routes {
    runtime: Arc<dyn Runtime>,
    max_body: usize,
    /// `None`: handlers may run as long as they like.
    request_timeout: Option<Duration>,
    panic_route: bool,
    metrics: Arc<Metrics>,
}

impl Routes {
    /// Routes that sleep and offload work through `runtime`, with the limits of `config`.
    pub fn new(runtime: Arc<dyn Runtime>, config: &Config) -> Self {
        Routes {
            runtime,
            max_body: config.max_body,
            request_timeout: (!config.request_timeout.is_zero()).then_some(config.request_timeout),
            panic_route: config.debug_panic_route,
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// The counters `/metrics` shows; the host counts connections in them too.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Answers one request. Generic over the body so tests can call it without a connection.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        // The chapter printed every request's headers; here they go to the debug level.
        tracing::debug!(
            method = %req.method(),
            uri = %req.uri(),
            headers = ?req.headers(),
            "request headers"
        );
        match req.uri().path() {
            "/healthz" => text(StatusCode::OK, "ok"),
            "/echo" => self.echo(req).await,
            "/sleep" => self.sleep(req.uri().query()).await,
            "/work" => self.work(req.uri().query()).await,
            "/metrics" => {
                let page = self.metrics.render(&self.runtime.metrics_text());
                let mut response = text(StatusCode::OK, page);
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
            "/panic" if self.panic_route => panic!("/panic was asked for (--debug-panic-route)"),
            _ => self.hello(req).await,
        }
    }

    /// The chapter's handler. Any method, any path that is not another route.
    async fn hello<B>(&self, req: Request<B>) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        // The chapter also printed the body. Reading it costs time and memory, so only do it
        // when someone asked to see it.
        if tracing::enabled!(tracing::Level::DEBUG) {
            if let Ok(body) = read_body(req.into_body(), self.max_body).await {
                tracing::debug!(body = %String::from_utf8_lossy(&body), "request body");
            }
        }
        text(StatusCode::OK, "Hello, World!")
    }

    /// The request, reflected back as JSON, so a client can see what the server saw.
    async fn echo<B>(&self, req: Request<B>) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        if !matches!(*req.method(), Method::GET | Method::POST) {
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                "/echo answers GET and POST only\n",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            return response;
        }
        // Refuse a declared-too-large body before reading a byte of it.
        if content_length(req.headers()).is_some_and(|len| len > self.max_body as u64) {
            return self.too_large();
        }
        let (parts, body) = req.into_parts();
        // Absent when the routes are called without a connection (unit tests): plain text then.
        let info = parts
            .extensions
            .get::<ConnInfo>()
            .copied()
            .unwrap_or_default();
        let body = match read_body(body, self.max_body).await {
            Ok(body) => body,
            Err(ReadBodyError::TooLarge) => return self.too_large(),
            Err(ReadBodyError::Io(error)) => {
                let reason = format!("could not read the request body: {error}\n");
                return text(StatusCode::BAD_REQUEST, reason);
            }
        };
        tracing::debug!(body = %String::from_utf8_lossy(&body), "request body");

        let headers: Vec<[String; 2]> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                // Header values may be any bytes; JSON strings may not. Lossy is enough to show them.
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                [name.as_str().to_owned(), value]
            })
            .collect();
        let (body, body_base64) = match std::str::from_utf8(&body) {
            Ok(text) => (text.to_owned(), false),
            Err(_) => (
                base64::engine::general_purpose::STANDARD.encode(&body),
                true,
            ),
        };
        let echo = Echo {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            version: format!("{:?}", parts.version),
            tls: info.tls,
            alpn: info.alpn,
            headers,
            body,
            body_base64,
        };
        let json = serde_json::to_string(&echo).expect("strings and bools always serialize");
        let mut response = Response::new(Full::new(Bytes::from(json)));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }

    /// Waits on the hosting runtime's timer: the worker is free for others meanwhile.
    async fn sleep(&self, query: Option<&str>) -> Response<ResponseBody> {
        let duration = match parse_ms(query) {
            Ok(duration) => duration,
            Err(reason) => return bad_request(&reason),
        };
        self.runtime.sleep(duration).await;
        text(
            StatusCode::OK,
            format!("slept {} ms\n", duration.as_millis()),
        )
    }

    /// Burns CPU, on the worker itself or on the blocking pool.
    async fn work(&self, query: Option<&str>) -> Response<ResponseBody> {
        let duration = match parse_ms(query) {
            Ok(duration) => duration,
            Err(reason) => return bad_request(&reason),
        };
        let mode = query_param(query, "mode").unwrap_or("inline");
        match mode {
            // The chapter's warning: this holds the async worker, and every task queued on it
            // waits, for the whole duration.
            "inline" => burn_cpu(duration),
            "blocking" => {
                let job = Box::new(move || burn_cpu(duration));
                if self.runtime.spawn_blocking(job).await.is_err() {
                    return text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the blocking job did not finish\n",
                    );
                }
            }
            other => {
                let reason = format!(
                    "mode must be `inline` or `blocking`, got `{}`",
                    truncate(other)
                );
                return bad_request(&reason);
            }
        }
        text(
            StatusCode::OK,
            format!("worked {} ms ({mode})\n", duration.as_millis()),
        )
    }

    fn too_large(&self) -> Response<ResponseBody> {
        self.metrics.record_limit(Limit::MaxBody);
        let reason = format!("request body larger than {} bytes\n", self.max_body);
        text(StatusCode::PAYLOAD_TOO_LARGE, reason)
    }
}

/// What `/echo` answers, in this field order (a struct rather than `json!`, which sorts keys).
#[derive(serde::Serialize)]
struct Echo<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    version: String,
    /// Whether the request came over TLS.
    tls: bool,
    /// The protocol agreed by ALPN (`h2`, `http/1.1`), `None` without TLS or without ALPN.
    alpn: Option<&'static str>,
    /// `[name, value]` pairs in the order received; a repeated header appears once per value.
    headers: Vec<[String; 2]>,
    body: String,
    body_base64: bool,
}

/// What the service knows of the connection a request came on.
///
/// Each request carries it in its extensions (`req.extensions().get::<ConnInfo>()`), so a
/// route can ask without the routes' signatures naming connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The protocol agreed by ALPN during the TLS handshake: `h2` or `http/1.1`
    /// ([`crate::tls::ALPN_PROTOCOLS`]); `None` without TLS, or when the client offered none.
    pub alpn: Option<&'static str>,
}

impl ConnInfo {
    /// A cleartext connection from `peer`.
    pub fn plain(peer: SocketAddr) -> Self {
        ConnInfo {
            peer,
            tls: false,
            alpn: None,
        }
    }

    /// A TLS connection from `peer`, where ALPN agreed on `alpn` (as the raw protocol id).
    ///
    /// Only ids the server offers are kept; rustls never agrees on another.
    pub fn tls(peer: SocketAddr, alpn: Option<&[u8]>) -> Self {
        let alpn = alpn.and_then(|id| match id {
            b"h2" => Some("h2"),
            b"http/1.1" => Some("http/1.1"),
            _ => None,
        });
        ConnInfo {
            peer,
            tls: true,
            alpn,
        }
    }
}

impl Default for ConnInfo {
    /// A cleartext connection from `0.0.0.0:0`: what the routes assume when called directly.
    fn default() -> Self {
        ConnInfo::plain(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

/// The [`hyper::service::Service`] for one connection: [`Routes`] plus the connection's
/// [`ConnInfo`], and the one log line per request.
#[derive(Debug, Clone)]
pub struct HttpService {
    routes: Arc<Routes>,
    info: ConnInfo,
    activity: Arc<Activity>,
}

impl HttpService {
    /// The service for the connection described by `info`; it records its requests in
    /// `activity`, which the connection's timeouts read.
    pub fn new(routes: Arc<Routes>, info: ConnInfo, activity: Arc<Activity>) -> Self {
        HttpService {
            routes,
            info,
            activity,
        }
    }

    /// The address of the client this service answers.
    pub fn peer(&self) -> SocketAddr {
        self.info.peer
    }

    /// The connection this service answers.
    pub fn info(&self) -> ConnInfo {
        self.info
    }
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for HttpService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, mut req: Request<hyper::body::Incoming>) -> Self::Future {
        let routes = Arc::clone(&self.routes);
        let info = self.info;
        let peer = info.peer;
        req.extensions_mut().insert(info);
        // Counted from here, when hyper hands over the request headers, until the future is
        // dropped, finished or cancelled (an HTTP/2 client may reset the stream): the guard
        // keeps the in-flight count right on every path.
        let in_flight = self.activity.request_started();
        Box::pin(async move {
            let _in_flight = in_flight;
            let start = Instant::now();
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            let version = req.version();
            let metrics = Arc::clone(&routes.metrics);
            let timeout = routes.request_timeout;
            let runtime = Arc::clone(&routes.runtime);
            let response = if content_length(req.headers())
                .is_some_and(|len| len > routes.max_body as u64)
            {
                // Every route, not only the ones that read bodies: a declared-too-large body
                // is refused before a byte of it is read. hyper then closes an HTTP/1
                // connection rather than read the rest; HTTP/2 resets the stream.
                routes.too_large()
            } else {
                let handled: ServiceFuture = Box::pin(async move { Ok(routes.handle(req).await) });
                // A panicking handler answers 500 instead of taking the connection down with it.
                let guarded = CatchUnwind(handled);
                let outcome = match timeout {
                    None => Some(guarded.await),
                    // Dropping the handler's future is what cancels it: whatever it awaits
                    // (a sleep, a blocking job's result, a body read) is dropped with it.
                    // CPU burnt inline (`/work?mode=inline`) cannot be interrupted: it holds
                    // the worker and nothing else runs, the timer included, until it returns.
                    Some(limit) => match race(guarded, runtime.sleep(limit)).await {
                        First::Left(outcome) => Some(outcome),
                        First::Right(()) => None,
                    },
                };
                match outcome {
                    Some(Ok(Ok(response))) => response,
                    Some(Ok(Err(never))) => match never {},
                    Some(Err(_)) => {
                        tracing::error!(%peer, %method, %path, "handler panicked");
                        text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
                    }
                    None => {
                        metrics.record_limit(Limit::RequestTimeout);
                        tracing::warn!(%peer, %method, %path, ?timeout, "handler timed out");
                        text(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the request took too long and was cancelled\n",
                        )
                    }
                }
            };
            metrics.record_request(version, response.status(), start.elapsed());
            tracing::info!(
                %peer,
                %method,
                %path,
                protocol = ?version,
                tls = info.tls,
                status = response.status().as_u16(),
                bytes = response.body().size_hint().exact().unwrap_or(0),
                duration = ?start.elapsed(),
                "request"
            );
            Ok(response)
        })
    }
}

/// What a connection's requests have done, for its timeouts ([`crate::conn`]): whether one has
/// arrived yet, how many are in flight, and when the last one started or ended.
///
/// One per connection, shared between the connection's task and its service; all atomics, as
/// HTTP/2 requests run on tasks of their own.
#[derive(Debug)]
pub struct Activity {
    /// What `last` counts from.
    opened: Instant,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds from `opened` to the last request's start or end.
    last_ms: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

impl Activity {
    /// A connection opened now, with no request yet.
    pub fn new() -> Self {
        Activity {
            opened: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    /// Requests whose headers have arrived so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Acquire)
    }

    /// How long since the connection was accepted.
    pub fn age(&self) -> Duration {
        self.opened.elapsed()
    }

    /// Requests being handled now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// How long since a request last started or ended (since the connection opened if none).
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Acquire));
        self.opened.elapsed().saturating_sub(last)
    }

    fn touch(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(now, Ordering::AcqRel);
    }

    /// Records a request's start; the guard records its end when dropped.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::AcqRel);
        self.touch();
        InFlight(Arc::clone(self))
    }
}

/// One request in flight on a connection; see [`Activity::request_started`].
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // Touch first: a check that sees zero in flight must also see this end time.
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
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

enum ReadBodyError {
    TooLarge,
    Io(BoxError),
}

/// Reads a whole body, but never more than `limit` bytes of it.
async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, ReadBodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ReadBodyError::TooLarge),
        Err(error) => Err(ReadBodyError::Io(error)),
    }
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The value of `name` in a query string (`a=1&b=2`), undecoded: the routes only take numbers
/// and plain words, which never need percent-decoding.
fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// The `ms` parameter of `/sleep` and `/work`, checked against [`MAX_MS`].
fn parse_ms(query: Option<&str>) -> Result<Duration, String> {
    let raw = query_param(query, "ms")
        .ok_or_else(|| "missing query parameter `ms` (e.g. `?ms=100`)".to_owned())?;
    let ms: u64 = raw.parse().map_err(|_| {
        format!(
            "`ms` must be a whole number of milliseconds, got `{}`",
            truncate(raw)
        )
    })?;
    if ms > MAX_MS {
        return Err(format!("`ms` must be at most {MAX_MS}, got {ms}"));
    }
    Ok(Duration::from_millis(ms))
}

/// Keeps client-supplied text short before it is echoed in an error message.
fn truncate(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        s.chars().take(MAX).chain("...".chars()).collect()
    }
}

/// Keeps the current thread busy for `duration`: a stand-in for CPU-heavy work.
fn burn_cpu(duration: Duration) {
    let end = Instant::now() + duration;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn bad_request(reason: &str) -> Response<ResponseBody> {
    text(StatusCode::BAD_REQUEST, format!("bad request: {reason}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::{BlockingJob, BoxFuture};

    /// A runtime for unit tests: sleeps on tokio, runs blocking jobs on a fresh thread.
    struct TestRuntime;

    impl Runtime for TestRuntime {
        fn name(&self) -> &'static str {
            "test"
        }
        fn sleep(&self, duration: Duration) -> BoxFuture<()> {
            Box::pin(tokio::time::sleep(duration))
        }
        fn spawn_blocking(&self, job: BlockingJob) -> BoxFuture<std::thread::Result<()>> {
            let handle = std::thread::spawn(job);
            Box::pin(async move { handle.join() })
        }
    }

    fn routes() -> Routes {
        Routes::new(Arc::new(TestRuntime), &Config::default())
    }

    async fn call(method: &str, uri: &str, body: &'static [u8]) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(Bytes::from_static(body)))
            .unwrap();
        let response = routes().handle(req).await;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn routes_answer() {
        assert_eq!(
            call("GET", "/", b"").await,
            (StatusCode::OK, "Hello, World!".into())
        );
        assert_eq!(call("DELETE", "/a/b", b"x").await.1, "Hello, World!");
        assert_eq!(call("GET", "/healthz", b"").await.1, "ok");
        assert_eq!(call("GET", "/sleep?ms=5", b"").await.1, "slept 5 ms\n");
        assert_eq!(
            call("GET", "/work?ms=5", b"").await.1,
            "worked 5 ms (inline)\n"
        );
        let blocking = call("GET", "/work?mode=blocking&ms=5", b"").await;
        assert_eq!(blocking.1, "worked 5 ms (blocking)\n");
        assert_eq!(
            call("PUT", "/echo", b"").await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[tokio::test]
    async fn bad_parameters_get_a_one_line_400() {
        for uri in [
            "/sleep",
            "/sleep?ms=",
            "/sleep?ms=-1",
            "/sleep?ms=60001",
            "/sleep?ms=1.5",
            "/work?ms=abc",
            "/work?ms=99999999999999999999999",
            "/work?ms=1&mode=sideways",
        ] {
            let (status, body) = call("GET", uri, b"").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert!(body.starts_with("bad request: "), "{uri}: {body}");
            assert_eq!(body.lines().count(), 1, "{uri}: {body}");
        }
        assert_eq!(call("GET", "/sleep?ms=0", b"").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn echo_reflects_the_request() {
        let (status, body) = call("POST", "/echo?a=1&b=two", b"hi there").await;
        assert_eq!(status, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["method"], "POST");
        assert_eq!(json["path"], "/echo");
        assert_eq!(json["query"], "a=1&b=two");
        assert_eq!(json["version"], "HTTP/1.1");
        assert_eq!(json["body"], "hi there");
        assert_eq!(json["body_base64"], false);

        let (_, body) = call("POST", "/echo", &[0xff, 0x00, 0xfe]).await;
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["body"], "/wD+");
        assert_eq!(json["body_base64"], true);
        assert_eq!(json["query"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn echo_refuses_bodies_over_the_limit() {
        let config = Config {
            max_body: 4,
            ..Config::default()
        };
        let routes = Routes::new(Arc::new(TestRuntime), &config);
        let req = Request::post("/echo")
            .body(Full::new(Bytes::from_static(b"12345")))
            .unwrap();
        assert_eq!(
            routes.handle(req).await.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let req = Request::post("/echo")
            .header("content-length", "999999999")
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(
            routes.handle(req).await.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[tokio::test]
    async fn catch_unwind_turns_a_panic_into_an_error() {
        let panicking: Pin<Box<dyn Future<Output = ()> + Send>> =
            Box::pin(async { panic!("handler bug (expected in this test)") });
        assert!(CatchUnwind(panicking).await.is_err());
        assert_eq!(CatchUnwind(Box::pin(async { 7 })).await.unwrap(), 7);
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param(Some("ms=5&mode=x"), "mode"), Some("x"));
        assert_eq!(query_param(Some("ms"), "ms"), None);
        assert_eq!(query_param(None, "ms"), None);
        assert_eq!(truncate(&"x".repeat(100)).len(), 43);
    }
}
