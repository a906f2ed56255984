//! The conformance suite: what a hostile or merely careless client sends, as raw bytes (RFC
//! 9112 framing and smuggling) and raw HTTP/2 frames (RFC 9113 §3.4–§8, RFC 7541), and the
//! floods, against every host. Each case is named after the section it checks (`rfc9113_6_5_…`
//! is RFC 9113 §6.5) and says what that section requires.
//!
//! Where the h2 crate answers otherwise than the RFC requires, the case is a `deviation_…`:
//! it asserts only that the server refuses or survives, and the difference is written down in
//! docs/conformance.md, not asserted as correct.
//!
//! Loopback only, every flood bounded; each case takes well under a second.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::frames::{self, Conn, Outcome};
use common::{read_until_closed, start_with, Proto, RuntimeKind, TestServer};
use http_body_util::Full;
use hyper::{Request, StatusCode};
use server::Config;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

/// The server every case runs against: defaults, with a short shutdown.
fn server(host: RuntimeKind) -> TestServer {
    start_with(
        host,
        Config {
            shutdown_timeout: Duration::from_secs(2),
            ..Config::default()
        },
    )
}

/// Sends `bytes` on a fresh connection and reads until the server closes it (at most 5 s):
/// the reply, and whether the connection was closed.
async fn h1(addr: SocketAddr, bytes: &[u8]) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may close before it has read it all; what it answered is still readable.
    let _ = stream.write_all(bytes).await;
    match read_until_closed(&mut stream, Duration::from_secs(5)).await {
        Some(reply) => (String::from_utf8_lossy(&reply).into_owned(), true),
        None => (String::new(), false),
    }
}

/// The status codes of every response in `reply`, in order.
fn statuses(reply: &str) -> Vec<u16> {
    reply
        .split("HTTP/1.1 ")
        .skip(1)
        .filter_map(|rest| rest.get(..3)?.parse().ok())
        .collect()
}

/// The value of header `name` in the first response of `reply`.
fn header<'r>(reply: &'r str, name: &str) -> Option<&'r str> {
    let head = reply.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Asserts `bytes` is answered `400` and the connection closed.
async fn assert_400_and_closed(addr: SocketAddr, bytes: &[u8]) {
    let (reply, closed) = h1(addr, bytes).await;
    assert_eq!(
        statuses(&reply).first(),
        Some(&400),
        "{:?}: {reply}",
        String::from_utf8_lossy(bytes)
    );
    assert!(closed, "still open after: {reply}");
}

/// One raw HTTP/2 case: open a connection, send `bytes`, return what the server did about
/// `stream`.
async fn h2(addr: SocketAddr, bytes: &[u8], stream: u32) -> Outcome {
    let mut conn = Conn::open(addr).await;
    conn.send(bytes).await;
    conn.outcome(stream).await
}

/// After a case, the server still answers a fresh client over both protocols.
async fn still_serving(server: &TestServer) {
    for proto in Proto::ALL {
        let reply = common::get(proto, &server.url("/healthz")).await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
    }
}

host_tests!(
    rfc9112_3_2_missing_host_is_400_and_closed,
    rfc9112_3_2_duplicate_host_is_400_and_closed,
    rfc9112_3_2_invalid_host_is_400_and_closed,
    rfc9112_3_2_valid_hosts_are_served,
    rfc9113_8_3_1_host_differing_from_authority_is_400_on_the_stream,
    rfc9110_9_3_6_connect_is_405_with_allow,
    rfc9110_9_3_8_trace_is_405_with_allow,
    rfc9110_9_3_7_options_star_is_200_with_allow,
);

// --- Host, CONNECT, TRACE, OPTIONS (the server's own rules: src/validate.rs) ---------------

async fn rfc9112_3_2_missing_host_is_400_and_closed(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(server.addr, b"GET / HTTP/1.1\r\n\r\n").await;
    still_serving(&server).await;
}

async fn rfc9112_3_2_duplicate_host_is_400_and_closed(host: RuntimeKind) {
    let server = server(host);
    assert_400_and_closed(server.addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").await;
    // The same value twice is still two Host lines.
    assert_400_and_closed(server.addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n").await;
}

async fn rfc9112_3_2_invalid_host_is_400_and_closed(host: RuntimeKind) {
    let server = server(host);
    for bad in ["bad host/../x", "a/b", "x:80a", "[::1", "user@host"] {
        let request = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
        assert_400_and_closed(server.addr, request.as_bytes()).await;
    }
}

async fn rfc9112_3_2_valid_hosts_are_served(host: RuntimeKind) {
    let server = server(host);
    for good in [
        "localhost",
        "127.0.0.1:3000",
        "[::1]:8080",
        "example.com",
        "",
    ] {
        let request = format!("GET / HTTP/1.1\r\nHost: {good}\r\nConnection: close\r\n\r\n");
        let (reply, _) = h1(server.addr, request.as_bytes()).await;
        assert_eq!(statuses(&reply), [200], "{good:?}: {reply}");
    }
    // HTTP/1.0 predates Host.
    let (reply, _) = h1(server.addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert!(
        reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200"),
        "{reply}"
    );
}

async fn rfc9113_8_3_1_host_differing_from_authority_is_400_on_the_stream(host: RuntimeKind) {
    let server = server(host);
    let mut conn = Conn::open(server.addr).await;
    let differing = frames::request("GET", "/", &[("host", "elsewhere.test")]);
    conn.send(&frames::headers(1, &differing, true)).await;
    assert_eq!(conn.outcome(1).await, Outcome::Response(Some(400)));
    // The same name in either case agrees; the connection goes on.
    let agreeing = frames::request("GET", "/", &[("host", "LOCALHOST")]);
    conn.send(&frames::headers(3, &agreeing, true)).await;
    assert_eq!(conn.outcome(3).await, Outcome::Response(Some(200)));
}

/// `method` over HTTP/1.1 (raw) and HTTP/2 (the h2 crate) is 405 with `Allow`.
async fn assert_405_with_allow(server: &TestServer, method: &str, target: &str) {
    let request =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let (reply, _) = h1(server.addr, request.as_bytes()).await;
    assert_eq!(statuses(&reply).first(), Some(&405), "{reply}");
    assert!(
        header(&reply, "allow").is_some_and(|a| a.contains("GET")),
        "{reply}"
    );

    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let uri = if method == "CONNECT" {
        target.to_owned()
    } else {
        server.url(target)
    };
    let request = Request::builder().method(method).uri(uri).body(()).unwrap();
    let (response, _) = client.send_request(request, method != "CONNECT").unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("no HTTP/2 answer")
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::METHOD_NOT_ALLOWED,
        "{method}"
    );
    assert!(response.headers().contains_key("allow"), "{method}");
}

async fn rfc9110_9_3_6_connect_is_405_with_allow(host: RuntimeKind) {
    let server = server(host);
    assert_405_with_allow(&server, "CONNECT", "localhost:443").await;
    still_serving(&server).await;
}

async fn rfc9110_9_3_8_trace_is_405_with_allow(host: RuntimeKind) {
    let server = server(host);
    assert_405_with_allow(&server, "TRACE", "/").await;
    // And through hyper's client on both protocols.
    for proto in Proto::ALL {
        let request = Request::builder()
            .method("TRACE")
            .uri(server.url("/"))
            .body(Full::default())
            .unwrap();
        let reply = common::send(proto, request).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{proto:?}");
    }
}

async fn rfc9110_9_3_7_options_star_is_200_with_allow(host: RuntimeKind) {
    let server = server(host);
    let (reply, _) = h1(
        server.addr,
        b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&reply), [200], "{reply}");
    assert!(
        header(&reply, "allow").is_some_and(|a| a.contains("OPTIONS")),
        "{reply}"
    );
    let outcome = h2(
        server.addr,
        &frames::headers(1, &frames::request("OPTIONS", "*", &[]), true),
        1,
    )
    .await;
    assert_eq!(outcome, Outcome::Response(Some(200)));
}
