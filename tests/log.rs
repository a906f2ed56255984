//! The log through the binary, on both runtimes: a stderr nobody reads never stops service (lines
//! are dropped and counted in `/metrics`), a graceful shutdown writes every queued access line,
//! `--log-format json` writes one object per line, and the access lines' own target can be
//! silenced alone.
//!
//! The load is a few keep-alive connections (HTTP/1.1) or multiplexed streams (HTTP/2) from a
//! hyper client on a current-thread tokio runtime: thousands of requests, under a second each.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};

mod common;

use common::{spool, Running};

/// HTTP/1.1 or HTTP/2 (prior knowledge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    H1,
    H2,
}

/// Sends `n` `GET path` requests to `addr` over `conns` connections (HTTP/2: 16 streams at a
/// time on each), each answered 200; returns the last response's body. Panics on any failure,
/// and if the whole load takes over 30 s (a stalled server).
fn load(addr: SocketAddr, proto: Proto, path: &str, n: usize, conns: usize) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let uri: http::Uri = format!("http://{addr}{path}").parse().unwrap();
    runtime.block_on(async move {
        let work = async {
            let per_conn = n.div_ceil(conns);
            let mut left = n;
            let mut tasks = Vec::new();
            for _ in 0..conns {
                let count = per_conn.min(left);
                left -= count;
                let uri = uri.clone();
                tasks.push(tokio::spawn(async move {
                    connection(addr, proto, uri, count).await
                }));
            }
            let mut last = String::new();
            for task in tasks {
                last = task.await.unwrap();
            }
            last
        };
        tokio::time::timeout(Duration::from_secs(30), work)
            .await
            .expect("the load did not finish within 30 s: the server stalled")
    })
}

/// `count` requests on one connection.
async fn connection(addr: SocketAddr, proto: Proto, uri: http::Uri, count: usize) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let io = TokioIo::new(tcp);
    let request = || {
        http::Request::get(uri.clone())
            // The same authority as the URI's: HTTP/2's `:authority` and `host` must agree.
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let mut last = String::new();
    match proto {
        Proto::H1 => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            for _ in 0..count {
                sender.ready().await.unwrap();
                let response = sender.send_request(request()).await.unwrap();
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                last = String::from_utf8_lossy(&body).into_owned();
            }
        }
        Proto::H2 => {
            let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut sent = 0;
            while sent < count {
                let batch = (count - sent).min(16);
                let mut streams = Vec::new();
                for _ in 0..batch {
                    let mut sender = sender.clone();
                    let req = request();
                    streams.push(tokio::spawn(async move {
                        let response = sender.send_request(req).await.unwrap();
                        assert_eq!(response.status(), 200);
                        response.into_body().collect().await.unwrap().to_bytes()
                    }));
                }
                for stream in streams {
                    last = String::from_utf8_lossy(&stream.await.unwrap()).into_owned();
                }
                sent += batch;
            }
        }
    }
    last
}

/// The value of the sample `name` on a `/metrics` page.
fn sample(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} on the page:\n{page}"))
}

/// A `spool` whose stderr is a pipe that nobody reads once the address has been read from it:
/// as a stalled log shipper. Killed on drop.
struct Stalled {
    child: Child,
    /// Held open, never read again.
    _stderr: BufReader<ChildStderr>,
    addr: SocketAddr,
}

impl Stalled {
    fn spawn(runtime: &str) -> Stalled {
        let mut child = spool()
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--log",
                "info",
                "--workers",
                "2",
            ])
            // A small queue, so that it fills long before the 10 000 requests are done.
            .args(["--runtime", runtime, "--log-queue-lines", "64"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the spool binary runs");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let needle = "listening on http://";
        let addr = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "spool exited");
            if let Some(rest) = line.split(needle).nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        Stalled {
            child,
            _stderr: stderr,
            addr,
        }
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stalled_stderr_never_stops_service(runtime: &str) {
    let server = Stalled::spawn(runtime);
    // A pipe holds 64 KiB, a few hundred access lines: far fewer than this.
    assert_eq!(load(server.addr, Proto::H1, "/", 5_000, 4), "Hello, World!");
    assert_eq!(load(server.addr, Proto::H2, "/", 5_000, 2), "Hello, World!");
    let page = load(server.addr, Proto::H1, "/metrics", 1, 1);
    let dropped = sample(&page, "spool_log_lines_dropped_total");
    eprintln!("{runtime}: {dropped} log lines dropped");
    // At most the pipe's and the queue's worth of the 10 001 lines got through.
    assert!(dropped > 5_000, "{dropped} lines dropped");
    assert!(dropped <= 10_001, "{dropped} lines dropped");
}

#[test]
fn a_stderr_nobody_reads_never_stops_service_on_tokio() {
    stalled_stderr_never_stops_service("tokio");
}

#[test]
fn a_stderr_nobody_reads_never_stops_service_on_spool() {
    stalled_stderr_never_stops_service("spool");
}

/// Every line the process wrote, once it has exited (at most 10 s after SIGTERM).
fn lines_until_exit(mut running: Running) -> Vec<String> {
    running.signal(libc::SIGTERM);
    let status = running
        .exited_within(Duration::from_secs(10))
        .expect("still running 10 s after SIGTERM");
    assert!(status.success(), "exit status {status}");
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    // The reader thread ends at the end of the pipe, which the exit closed.
    while let Ok(line) = running
        .lines
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        lines.push(line);
    }
    lines
}

fn shutdown_writes_every_access_line(runtime: &str) {
    let running = Running::spawn(
        spool()
            .args(["serve", "--addr", "127.0.0.1:0", "--log", "info"])
            .args(["--runtime", runtime]),
    );
    let addr = running.listening_on("http");
    load(addr, Proto::H1, "/", 500, 4);
    load(addr, Proto::H2, "/", 500, 2);
    let lines = lines_until_exit(running);
    let access = lines
        .iter()
        .filter(|line| line.contains(" spool::access: "))
        .count();
    assert_eq!(access, 1_000, "access lines of 1 000 requests");
    assert!(
        !lines.iter().any(|line| line.contains("dropped")),
        "lines were dropped"
    );
}

#[test]
fn shutdown_writes_every_access_line_on_tokio() {
    shutdown_writes_every_access_line("tokio");
}

#[test]
fn shutdown_writes_every_access_line_on_spool() {
    shutdown_writes_every_access_line("spool");
}

#[test]
fn json_lines_parse_with_the_documented_fields() {
    for runtime in ["tokio", "spool"] {
        let running = Running::spawn(
            spool()
                .args(["serve", "--addr", "127.0.0.1:0", "--log", "info"])
                .args(["--runtime", runtime, "--log-format", "json"]),
        );
        // `listening_on` finds the address inside the JSON line's message too.
        let addr = running.listening_on("http");
        load(addr, Proto::H1, "/", 1, 1);
        load(addr, Proto::H2, "/nothing-here", 1, 1);
        let lines = lines_until_exit(running);
        let objects: Vec<serde_json::Value> = lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        let access: Vec<&serde_json::Value> = objects
            .iter()
            .filter(|o| o["target"] == "spool::access")
            .collect();
        assert_eq!(access.len(), 2, "{lines:#?}");
        for (object, protocol, path) in [
            (access[0], "HTTP/1.1", "/"),
            (access[1], "HTTP/2.0", "/nothing-here"),
        ] {
            assert_eq!(object["level"], "INFO", "{object}");
            assert_eq!(object["message"], "request", "{object}");
            assert!(object["timestamp"].is_string(), "{object}");
            assert_eq!(object["method"], "GET", "{object}");
            assert_eq!(object["path"], path, "{object}");
            assert_eq!(object["protocol"], protocol, "{object}");
            assert_eq!(object["tls"], false, "{object}");
            assert_eq!(object["status"], 200, "{object}");
            assert_eq!(object["bytes"], "Hello, World!".len(), "{object}");
            let peer: SocketAddr = object["peer"].as_str().unwrap().parse().unwrap();
            assert!(peer.ip().is_loopback(), "{object}");
            assert!(
                object["duration"].as_str().unwrap().ends_with('s'),
                "{object}"
            );
        }
    }
}

#[test]
fn the_access_target_is_silenced_alone() {
    let running = Running::spawn(
        spool()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(["--log", "info,spool::access=off"]),
    );
    let addr = running.listening_on("http");
    load(addr, Proto::H1, "/", 20, 1);
    let lines = lines_until_exit(running);
    assert!(
        !lines.iter().any(|line| line.contains("spool::access")),
        "{lines:#?}"
    );
    // Other info lines still come: the drain's.
    assert!(
        lines.iter().any(|line| line.contains(" INFO ")),
        "{lines:#?}"
    );
}
