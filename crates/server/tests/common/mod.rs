//! Test support: start the server in-process on 127.0.0.1:0 on a chosen host, and talk to it.
//!
//! The server runs on its own thread with its own runtime, as it would in production, and the
//! test's clients run on the test's tokio runtime. So the same tests can drive any host: a new
//! host is one more [`RuntimeKind`] variant and one more arm in [`start_with`].
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part of this module

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode, Version};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use server::Config;
pub use server::RuntimeKind;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub mod frames;

/// Generates, for each host, a module with one `#[test]` per listed function (each takes the
/// [`RuntimeKind`]), so a whole suite runs against every host without a copy. Use with
/// `#[macro_use] mod common;`.
#[allow(unused_macros)]
macro_rules! host_tests {
    ($($test:ident),* $(,)?) => {
        host_tests!(@host tokio_host, RuntimeKind::Tokio; $($test),*);
        host_tests!(@host spool_host, RuntimeKind::Spool; $($test),*);
    };
    (@host $module:ident, $host:expr; $($test:ident),*) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($host).await
                }
            )*
        }
    };
}

/// Every host, for tests that loop over them.
pub const HOSTS: [RuntimeKind; 2] = [RuntimeKind::Tokio, RuntimeKind::Spool];

/// The protocols every test runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.1.
    H1,
    /// HTTP/2 with prior knowledge (no Upgrade, no TLS), as `curl --http2-prior-knowledge`.
    H2,
}

impl Proto {
    pub const ALL: [Proto; 2] = [Proto::H1, Proto::H2];

    pub fn version(self) -> Version {
        match self {
            Proto::H1 => Version::HTTP_11,
            Proto::H2 => Version::HTTP_2,
        }
    }

    /// How `/echo` reports it.
    pub fn echo_name(self) -> &'static str {
        match self {
            Proto::H1 => "HTTP/1.1",
            Proto::H2 => "HTTP/2.0",
        }
    }

    /// How `curl -w '%{http_version}'` reports it.
    pub fn curl_name(self) -> &'static str {
        match self {
            Proto::H1 => "1.1",
            Proto::H2 => "2",
        }
    }

    pub fn curl_flag(self) -> &'static str {
        match self {
            Proto::H1 => "--http1.1",
            Proto::H2 => "--http2-prior-knowledge",
        }
    }
}

/// A server running in the background; dropping it asks it to shut down.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<Result<(), server::Error>>>,
}

/// Starts a server with the default config (short timeouts so failing tests end quickly).
pub fn start(host: RuntimeKind) -> TestServer {
    let config = Config {
        shutdown_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    start_with(host, config)
}

/// Starts a server with `config` on 127.0.0.1:0 (`config.addr` and `config.workers` are
/// ignored: two workers).
pub fn start_with(host: RuntimeKind, config: Config) -> TestServer {
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        workers: Some(2),
        ..config
    };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (stopped_tx, stopped_rx) = oneshot::channel();
    let shutdown = async {
        // A dropped sender (the test ended) means "stop" too.
        let _ = stop_rx.await;
    };
    let listening = move |addr| addr_tx.send(addr).unwrap();
    std::thread::spawn(move || {
        let result = match host {
            RuntimeKind::Tokio => server::serve_on_tokio(config, shutdown, listening),
            RuntimeKind::Spool => {
                let runtime = spool::Runtime::builder()
                    .worker_threads(2)
                    .thread_name("spool-test-server")
                    // The detector measures wall time: on a loaded 2-core machine running
                    // debug builds, a preempted poll can pass the 50 ms default and log a
                    // warning that is noise here. A poll blocking for a second is still caught.
                    .detector_threshold(Some(Duration::from_secs(1)))
                    .build()
                    .expect("spool runtime");
                let result = server::serve_on_spool(&runtime, config, shutdown, listening);
                runtime.shutdown_timeout(Duration::from_secs(1));
                result
            }
        };
        let _ = stopped_tx.send(result);
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server did not start within 10 s");
    TestServer {
        addr,
        stop: Some(stop_tx),
        stopped: Some(stopped_rx),
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Completes the server's shutdown future: it stops accepting and drains.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits (at most `limit`) for the server to return, and returns its result.
    pub async fn stopped(&mut self, limit: Duration) -> Result<(), server::Error> {
        let stopped = self.stopped.take().expect("stopped() called twice");
        tokio::time::timeout(limit, stopped)
            .await
            .expect("the server did not return in time")
            .expect("the server thread panicked")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

/// A response, reduced to what tests check.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// hyper-util's pooled client, speaking `proto` (HTTP/2 with prior knowledge when `H2`).
pub fn client(proto: Proto) -> Client<HttpConnector, Full<Bytes>> {
    let mut builder = Client::builder(TokioExecutor::new());
    builder.http2_only(proto == Proto::H2);
    builder.build_http()
}

/// Sends one request through a fresh [`client`] (so each call is a new connection).
pub async fn send(proto: Proto, request: Request<Full<Bytes>>) -> Reply {
    let response = tokio::time::timeout(Duration::from_secs(20), client(proto).request(request))
        .await
        .expect("request timed out")
        .expect("request failed");
    let status = response.status();
    let version = response.version();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        version,
        body,
    }
}

/// `GET url` over `proto`.
pub async fn get(proto: Proto, url: &str) -> Reply {
    let request = Request::get(url).body(Full::default()).unwrap();
    send(proto, request).await
}

/// An HTTP/2 connection opened with hyper's low-level API: exactly one TCP connection, whose
/// `SendRequest` can be cloned to multiplex streams. Returns the sender and the connection's
/// task (it ends when the connection closes).
pub async fn h2_connection(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<hyper::Result<()>>,
) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 handshake");
    (sender, tokio::spawn(conn))
}

/// An HTTP/1.1 connection opened with hyper's low-level API.
pub async fn h1_connection(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<hyper::Result<()>>,
) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1 handshake");
    (sender, tokio::spawn(conn))
}

/// A fresh, empty directory under the system's temporary one, its name `{prefix}-{pid}-{n}`.
pub fn fresh_dir(prefix: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `true` when the `curl` binary can be run; otherwise says the test is skipped.
pub fn have_curl(test: &str) -> bool {
    let found = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        eprintln!("{test}: skipped: curl not installed");
    }
    found
}

/// Collects every log line in memory, so a test can check what the server logged.
#[derive(Clone, Default)]
pub struct Logs(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    /// Installs the process's log subscriber (once per test binary), writing here, without
    /// colours; `max_level`: the most verbose level kept (`None`: tracing-subscriber's default).
    pub fn capture(max_level: Option<tracing::Level>) -> Logs {
        let logs = Logs::default();
        let writer = logs.clone();
        let builder = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false);
        match max_level {
            Some(level) => builder.with_max_level(level).init(),
            None => builder.init(),
        }
        logs
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the `curl` binary with `args` (silent, errors shown, 15 s limit); returns stdout.
/// Panics if curl fails: callers check [`have_curl`] first.
pub async fn curl(args: &[&str]) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "15"])
            .args(args)
            .output(),
    )
    .await
    .expect("curl timed out")
    .expect("curl runs");
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Reads until the server closes the connection (a reset counts), at most `limit`; returns
/// what was read, or `None` if the connection was still open at the limit.
pub async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_elapsed) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(reply),
            Ok(Ok(n)) => reply.extend_from_slice(&buf[..n]),
        }
    }
}

/// The value of one sample line of `/metrics` (`name{labels} value`), `None` if absent.
pub fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The `/metrics` page, fetched on a connection of its own that the client closes as soon as
/// the answer is in (a pooled client would keep it open and skew the connection gauge).
pub async fn metrics(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("no /metrics answer");
    let reply = String::from_utf8(reply).expect("UTF-8 metrics");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// Waits (at most 5 s) until `/metrics` shows `series` at `value`; returns the last page.
pub async fn wait_for_sample(addr: SocketAddr, series: &str, value: f64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let page = metrics(addr).await;
        if sample(&page, series) == Some(value) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{series} never reached {value}:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
