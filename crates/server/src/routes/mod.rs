//! The routes: the chapter's `Hello, World!` handler, grown into a few, one file each, behind
//! the one dispatch in [`Routes::handle`].
//!
//! | route | file | answer |
//! |---|---|---|
//! | `/healthz` | `healthz.rs` | `ok` |
//! | `GET` or `POST /echo` | `echo.rs` | the request as JSON: method, path, query, version, `tls` (bool), `alpn`, headers, body |
//! | `/sleep?ms=N` | `sleep.rs` | waits N ms on the hosting runtime's timer, then `slept N ms` |
//! | `/work?ms=N&mode=inline\|blocking` | `work.rs` | burns N ms of CPU on the async worker (`inline`, the default: the chapter's warning made visible) or on the blocking pool |
//! | `/metrics` | `metrics.rs` | the server's counters in Prometheus' text format ([`crate::metrics`]) |
//! | `/panic` | `panic.rs` | only with the hidden `--debug-panic-route` flag: a handler that panics (answered 500) |
//! | anything else, any method | `hello.rs` | `Hello, World!` |
//!
//! `N` is at most [`MAX_MS`]; a missing, unparsable or larger `N`, or an unknown `mode`, is a
//! `400 Bad Request` with a one-line reason.
//!
//! The routes know nothing of the runtime that hosts them: they sleep and offload work through
//! [`Runtime`], and see a connection only as the [`ConnInfo`] handed to [`Routes::handle`]
//! (passed, not put in the request's extensions: that map costs three allocations a request).

mod echo;
mod healthz;
mod hello;
mod metrics;
mod panic;
mod sleep;
mod work;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;

use crate::config::{Config, MAX_MS};
use crate::conn::ConnInfo;
use crate::metrics::{Limit, Metrics};
use crate::rt::Runtime;

/// The body of every response: all of them are small and fully built before they are sent.
pub(crate) type ResponseBody = Full<Bytes>;

/// The error type request bodies are converted to, as hyper and http-body do.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The routes and what they share: the hosting runtime, the server's counters, and the limits
/// from [`Config`].
///
/// One `Routes` serves every connection; [`crate::service::HttpService`] adds the
/// per-connection part.
#[derive(Debug)]
pub(crate) struct Routes {
    runtime: Arc<dyn Runtime>,
    metrics: Arc<Metrics>,
    max_body: usize,
    /// `None`: handlers may run as long as they like.
    request_timeout: Option<Duration>,
    panic_route: bool,
}

impl Routes {
    /// Routes that sleep and offload work through `runtime`, count in `metrics`, with the
    /// limits of `config`.
    pub(crate) fn new(runtime: Arc<dyn Runtime>, metrics: Arc<Metrics>, config: &Config) -> Self {
        Routes {
            runtime,
            metrics,
            max_body: config.max_body,
            request_timeout: (!config.request_timeout.is_zero()).then_some(config.request_timeout),
            panic_route: config.debug_panic_route,
        }
    }

    /// The hosting runtime's timer and blocking pool.
    pub(crate) fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// The counters `/metrics` shows.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// How long a handler may run (`--request-timeout`); `None`: no limit.
    pub(crate) fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout
    }

    /// Whether a request declares (`content-length`) a body over `--max-body`.
    ///
    /// Read from the body's size hint, where hyper put the length it parsed from the header
    /// (HTTP/1.1 and HTTP/2 alike; a body without one hints no lower bound): a second lookup
    /// and parse of the header was ~150 instructions a request.
    pub(crate) fn declares_too_large<B: Body>(&self, req: &Request<B>) -> bool {
        req.body().size_hint().lower() > self.max_body as u64
    }

    /// The answer to `req` if its route answers without waiting (`Hello, World!` when the
    /// body is not logged, `/healthz`, `/metrics`); `None`: [`Routes::handle`] answers it. The
    /// request is borrowed, not moved: a `Request` is 264 bytes, copied at every move.
    /// The service calls this first for every request, so that most are answered with no
    /// future of their own ([`crate::service::ServiceFuture`]).
    ///
    /// `Hello, World!` takes the request's header map for its own ([`text_in`]): `req` is left
    /// with no headers when it is answered here, and untouched when it is not.
    pub(crate) fn answer_now<B>(&self, req: &mut Request<B>) -> Option<Response<ResponseBody>> {
        // The chapter printed every request's headers; here they go to the debug level, once
        // per request whichever way it is answered.
        tracing::debug!(
            method = %req.method(),
            uri = %req.uri(),
            headers = ?req.headers(),
            "request headers"
        );
        match req.uri().path() {
            "/healthz" => Some(healthz::answer()),
            "/metrics" => Some(metrics::answer(self)),
            "/echo" | "/sleep" | "/work" | "/panic" => None,
            _ if hello::answers_now() => Some(hello::now(std::mem::take(req.headers_mut()))),
            _ => None,
        }
    }

    /// Answers one request, the request's headers logged already ([`Routes::answer_now`]).
    /// Generic over the body so tests can call it without a connection.
    pub(crate) async fn handle<B>(&self, req: Request<B>, info: ConnInfo) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        match req.uri().path() {
            "/healthz" => healthz::answer(),
            "/echo" => echo::answer(self, req, info).await,
            "/sleep" => sleep::answer(self, req.uri().query()).await,
            "/work" => work::answer(self, req.uri().query()).await,
            "/metrics" => metrics::answer(self),
            "/panic" if self.panic_route => panic::answer(),
            _ => hello::answer(self, req).await,
        }
    }

    /// `413 Payload Too Large`, counted as a [`Limit::MaxBody`] hit.
    pub(crate) fn too_large(&self) -> Response<ResponseBody> {
        self.metrics.record_limit(Limit::MaxBody);
        let reason = format!("request body larger than {} bytes\n", self.max_body);
        text(StatusCode::PAYLOAD_TOO_LARGE, reason)
    }
}

/// A request's declared body length, if it declares a valid one.
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

/// A `text/plain` response.
pub(crate) fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    text_in(http::HeaderMap::new(), status, body)
}

/// [`text`], its headers kept in `headers`, emptied first: the request's own map, so that the
/// answer to the most common request allocates no map of its own.
///
/// A fresh map allocates its table and its entries at the first insert, and the request's
/// map frees the same two at the request's drop: ~400 instructions a request, a twentieth of
/// a whole bare-hyper request. Emptied, the request's map keeps its allocation (sized for the
/// request's headers, so never smaller than one header needs), and the response frees it
/// once hyper has written it.
pub(crate) fn text_in(
    mut headers: http::HeaderMap,
    status: StatusCode,
    body: impl Into<Bytes>,
) -> Response<ResponseBody> {
    headers.clear();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// `400 Bad Request` with a one-line reason.
fn bad_request(reason: &str) -> Response<ResponseBody> {
    text(StatusCode::BAD_REQUEST, format!("bad request: {reason}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::{BlockingJob, BoxFuture};
    use http_body_util::BodyExt as _;

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

    fn routes_with(config: &Config) -> Routes {
        Routes::new(Arc::new(TestRuntime), Arc::new(Metrics::new()), config)
    }

    async fn call(method: &str, uri: &str, body: &'static [u8]) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(Bytes::from_static(body)))
            .unwrap();
        let response = routes_with(&Config::default())
            .handle(req, ConnInfo::default())
            .await;
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
        let routes = routes_with(&config);
        let req = Request::post("/echo")
            .body(Full::new(Bytes::from_static(b"12345")))
            .unwrap();
        assert_eq!(
            routes.handle(req, ConnInfo::default()).await.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let req = Request::post("/echo")
            .header("content-length", "999999999")
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(
            routes.handle(req, ConnInfo::default()).await.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[test]
    fn an_answer_in_the_requests_header_map_carries_none_of_its_headers() {
        let routes = routes_with(&Config::default());
        let mut req = Request::get("/")
            .header(header::HOST, "example.com")
            .header(header::COOKIE, "session=secret")
            .header(header::AUTHORIZATION, "Bearer secret")
            .header("x-many", "1")
            .header("x-many", "2")
            .body(())
            .unwrap();
        let response = routes
            .answer_now(&mut req)
            .expect("Hello is answered at once");
        assert_eq!(response.status(), StatusCode::OK);
        let headers: Vec<_> = response.headers().iter().collect();
        assert_eq!(
            headers,
            [(
                &header::CONTENT_TYPE,
                &HeaderValue::from_static("text/plain; charset=utf-8")
            )]
        );
        assert!(req.headers().is_empty(), "the map went to the response");
        // A route that waits leaves the request whole.
        let mut req = Request::get("/sleep?ms=1")
            .header(header::HOST, "example.com")
            .body(())
            .unwrap();
        assert!(routes.answer_now(&mut req).is_none());
        assert_eq!(req.headers().len(), 1);
    }

    #[test]
    fn a_declared_length_is_read_from_the_body() {
        let config = Config {
            max_body: 4,
            ..Config::default()
        };
        let routes = routes_with(&config);
        let small = Request::post("/").body(Full::new(Bytes::from_static(b"1234")));
        assert!(!routes.declares_too_large(&small.unwrap()));
        let large = Request::post("/").body(Full::new(Bytes::from_static(b"12345")));
        assert!(routes.declares_too_large(&large.unwrap()));
        // No length known (a chunked body): not refused here, the route's read limit holds.
        struct Chunked;
        impl Body for Chunked {
            type Data = Bytes;
            type Error = std::convert::Infallible;
            fn poll_frame(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
                std::task::Poll::Ready(None)
            }
        }
        let unknown = Request::post("/").body(Chunked).unwrap();
        assert!(!routes.declares_too_large(&unknown));
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param(Some("ms=5&mode=x"), "mode"), Some("x"));
        assert_eq!(query_param(Some("ms"), "ms"), None);
        assert_eq!(query_param(None, "ms"), None);
        assert_eq!(truncate(&"x".repeat(100)).len(), 43);
    }
}
