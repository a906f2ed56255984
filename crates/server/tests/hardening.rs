//! Attack and fault tests: slow, silent, greedy and vanishing clients, floods and oversized
//! requests, against every host. Loopback only; every count and duration is bounded, and every
//! limit is set small so each test takes a second or two.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{
    get, h1_connection, h2_connection, metrics, read_until_closed, sample, start_with,
    wait_for_sample, Proto, RuntimeKind,
};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode};
use server::Config;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

host_tests!(
    a_silent_client_is_closed_at_the_header_read_timeout,
    slowloris_is_closed_at_the_timeout_while_others_are_served,
    h1_keep_alive_gets_the_header_read_timeout_again_h2_does_not,
    max_connections_pauses_accepting_and_open_ones_keep_working,
    a_body_over_max_body_gets_413_without_being_read,
    headers_over_the_limit_get_431_or_a_stream_error,
    idle_connections_are_closed_h1_and_goaway_h2,
    a_slow_handler_gets_503_at_the_request_timeout,
    h2_rapid_reset_is_bounded_and_others_are_served,
    h2_settings_advertise_the_stream_limit,
    metrics_page_counts_requests_connections_limits_and_the_runtime,
    vanishing_clients_leave_the_connection_gauge_at_baseline,
    a_panicking_handler_gets_500_and_the_server_goes_on,
    two_thousand_idle_connections_do_not_stop_a_new_client,
    an_h2_client_that_never_opens_its_window_is_closed_at_the_send_timeout,
    an_h1_client_that_never_reads_is_closed_at_the_send_timeout,
    a_slow_but_steady_reader_is_not_closed,
);

/// A config with short timeouts, so that failing tests end quickly.
fn config() -> Config {
    Config {
        shutdown_timeout: Duration::from_secs(2),
        ..Config::default()
    }
}

async fn a_silent_client_is_closed_at_the_header_read_timeout(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            header_read_timeout: Duration::from_millis(400),
            ..config()
        },
    );
    // Sends nothing at all: hyper-util's sniffer alone would wait for the first bytes forever.
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let reply = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert_eq!(reply, Some(Vec::new()), "closed without a word");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350),
        "closed too early: {waited:?}"
    );
    // Only an HTTP/2 preface, then nothing: the sniff is done, yet no request came.
    let mut preface_only = TcpStream::connect(server.addr).await.unwrap();
    preface_only
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    assert!(
        read_until_closed(&mut preface_only, Duration::from_secs(5))
            .await
            .is_some(),
        "an HTTP/2 connection with no request stayed open"
    );
    let page = metrics(server.addr).await;
    assert!(
        sample(
            &page,
            "spool_limit_hits_total{limit=\"header_read_timeout\"}"
        ) >= Some(2.0),
        "{page}"
    );
}

async fn slowloris_is_closed_at_the_timeout_while_others_are_served(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            header_read_timeout: Duration::from_secs(1),
            ..config()
        },
    );
    let addr = server.addr;
    // One byte every 100 ms of a request that never ends: 1 s of headers is 10 bytes.
    let slowloris = tokio::spawn(async move {
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: "
            .iter()
            .chain(&[b'a'; 100]);
        for byte in request {
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            // The server closing shows as a zero-byte read (or a reset).
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {} // a 408, read on: the close follows
                Err(_) => {}    // nothing yet: send the next byte
            }
        }
        started.elapsed()
    });
    // Meanwhile, others are served.
    let mut served = 0;
    while !slowloris.is_finished() {
        for proto in Proto::ALL {
            assert_eq!(get(proto, &server.url("/")).await.status, StatusCode::OK);
            served += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lasted = slowloris.await.unwrap();
    assert!(served >= 4, "only {served} requests served meanwhile");
    assert!(
        lasted >= Duration::from_millis(900) && lasted < Duration::from_secs(5),
        "the slow client lasted {lasted:?} (timeout 1 s; 100 bytes would take 10 s)"
    );
}

/// Reads from `stream` until what came ends with `end` (one whole response); panics after 5 s.
async fn read_response(stream: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !reply.ends_with(end) {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("no whole response within 5 s")
            .expect("read");
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&reply)
        );
        reply.extend_from_slice(&buf[..n]);
    }
    reply
}

async fn h1_keep_alive_gets_the_header_read_timeout_again_h2_does_not(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            header_read_timeout: Duration::from_millis(400),
            ..config()
        },
    );
    let addr = server.addr;
    // A request that runs past the header-read timeout is not a slow header: answered.
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(b"GET /sleep?ms=700 HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let reply = read_response(&mut busy, b"slept 700 ms\n").await;
    assert!(reply.starts_with(b"HTTP/1.1 200"), "{reply:?}");
    // One answered request, then silence: closed at the header-read timeout (not the 60 s idle
    // timeout), counted from the response.
    let answered = Instant::now();
    let reply = read_until_closed(&mut busy, Duration::from_secs(5)).await;
    assert_eq!(reply, Some(Vec::new()), "closed without a word");
    let waited = answered.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
        "an idle keep-alive connection was closed after {waited:?} (header-read timeout 400 ms)"
    );
    // One answered request, then a slowloris second request: a byte every 100 ms keeps it
    // busy-looking no longer than the timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    read_response(&mut slow, b"\r\n\r\nok").await;
    let answered = Instant::now();
    for byte in b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: "
        .iter()
        .chain(&[b'a'; 100])
    {
        if slow.write_all(&[*byte]).await.is_err() {
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => panic!("answered a request never finished: {:?}", &buf[..n]),
            Err(_) => {}
        }
    }
    let lasted = answered.elapsed();
    assert!(
        lasted >= Duration::from_millis(350) && lasted < Duration::from_secs(3),
        "a slowloris second request lasted {lasted:?} (header-read timeout 400 ms)"
    );
    // HTTP/2 between requests is bounded by the idle timeout only: still open well past it.
    let (mut h2, h2_conn) = h2_connection(addr).await;
    let request = || {
        Request::get("/healthz")
            .header("host", "x")
            .body(Full::<Bytes>::default())
            .unwrap()
    };
    assert_eq!(
        h2.send_request(request()).await.unwrap().status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        !h2_conn.is_finished(),
        "an idle HTTP/2 connection was closed"
    );
    assert_eq!(
        h2.send_request(request()).await.unwrap().status(),
        StatusCode::OK
    );
    let page = metrics(addr).await;
    assert!(
        sample(
            &page,
            "spool_limit_hits_total{limit=\"header_read_timeout\"}"
        ) >= Some(2.0),
        "{page}"
    );
}

async fn max_connections_pauses_accepting_and_open_ones_keep_working(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            max_connections: 2,
            ..config()
        },
    );
    let (mut first, first_conn) = h1_connection(server.addr).await;
    let (mut second, _second_conn) = h2_connection(server.addr).await;
    let hello = |_| {
        Request::get("/")
            .header("host", "x")
            .body(Full::<Bytes>::default())
            .unwrap()
    };
    assert_eq!(
        first.send_request(hello(())).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        second.send_request(hello(())).await.unwrap().status(),
        StatusCode::OK
    );

    // The third connects (the kernel completes the handshake into the backlog) but is not
    // accepted: its request gets no answer while two connections are open.
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "served above the limit: {early:?}");
    // The open ones keep working.
    assert_eq!(
        second.send_request(hello(())).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        first.send_request(hello(())).await.unwrap().status(),
        StatusCode::OK
    );

    // One closes: the waiting one is accepted and answered.
    drop(first);
    let _ = first_conn.await;
    let reply = read_until_closed(&mut third, Duration::from_secs(5))
        .await
        .expect("the waiting connection was never served");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let page = metrics(server.addr).await;
    assert!(
        sample(&page, "spool_limit_hits_total{limit=\"max_connections\"}") >= Some(1.0),
        "{page}"
    );
}

async fn a_body_over_max_body_gets_413_without_being_read(host: RuntimeKind) {
    let server = start_with(host, config());
    let ten_mib = 10 * 1024 * 1024;
    for path in ["/echo", "/"] {
        // HTTP/1.1: the headers announce 10 MiB; not a byte of it is sent, yet the answer comes.
        let started = Instant::now();
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let head = format!("POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {ten_mib}\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let reply = read_until_closed(&mut stream, Duration::from_secs(5))
            .await
            .expect("the server waited for the body");
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 413"), "{path}: {reply}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    // Chunked, so no length is announced: Limited stops reading at the limit.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "z".repeat(64 * 1024));
    let mut reply = Vec::new();
    for _ in 0..(ten_mib / (64 * 1024)) {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break; // the server answered and closed: the rest is never read
        }
        let mut buf = [0u8; 1024];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::ZERO, stream.read(&mut buf)).await {
            reply.extend_from_slice(&buf[..n]);
            if n == 0 || reply.ends_with(b"\n") {
                break;
            }
        }
    }
    if let Some(rest) = read_until_closed(&mut stream, Duration::from_secs(5)).await {
        reply.extend_from_slice(&rest);
    }
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "chunked: {reply}");

    // HTTP/2: the same announcement on a stream; the answer comes before any DATA.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = Request::post(server.url("/echo"))
        .header("content-length", ten_mib)
        .body(())
        .unwrap();
    let (response, _body) = client.send_request(request, false).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("no HTTP/2 answer")
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let page = metrics(server.addr).await;
    assert!(
        sample(&page, "spool_limit_hits_total{limit=\"max_body\"}") >= Some(4.0),
        "{page}"
    );
}

async fn headers_over_the_limit_get_431_or_a_stream_error(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            max_header_bytes: 16 * 1024,
            ..config()
        },
    );
    let big = "b".repeat(20 * 1024);
    // HTTP/1.1: hyper stops buffering at the limit and answers 431.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!("GET / HTTP/1.1\r\nhost: x\r\nx-big: {big}\r\n\r\n");
    // The server may close before taking it all; what it answered is still readable.
    let _ = stream.write_all(head.as_bytes()).await;
    let reply = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    // Just under the limit is fine.
    let ok = Request::get(server.url("/"))
        .header("x-big", "b".repeat(12 * 1024))
        .body(Full::default())
        .unwrap();
    assert_eq!(common::send(Proto::H1, ok).await.status, StatusCode::OK);

    // HTTP/2: the server advertised SETTINGS_MAX_HEADER_LIST_SIZE; the h2 client enforces it
    // before sending, or the server resets the stream. Either way the request is not served,
    // and the connection stays usable.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = Request::get(server.url("/"))
        .header("x-big", big.as_str())
        .body(())
        .unwrap();
    match client.send_request(request, true) {
        Err(error) => eprintln!("refused by the client (the server's setting): {error}"),
        Ok((response, _)) => {
            let response = tokio::time::timeout(Duration::from_secs(5), response)
                .await
                .expect("no HTTP/2 answer");
            match response {
                Ok(response) => assert_eq!(
                    response.status(),
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
                ),
                Err(error) => assert!(error.is_reset() || error.is_go_away(), "{error}"),
            }
        }
    }
    let mut client = client.ready().await.unwrap();
    let request = Request::get(server.url("/healthz")).body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), StatusCode::OK);
}

async fn idle_connections_are_closed_h1_and_goaway_h2(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            idle_timeout: Duration::from_millis(500),
            ..config()
        },
    );
    let request = || {
        Request::get("/sleep?ms=700")
            .header("host", "x")
            .body(Full::<Bytes>::default())
            .unwrap()
    };
    let (mut h1, h1_conn) = h1_connection(server.addr).await;
    let (mut h2, h2_conn) = h2_connection(server.addr).await;
    // A request in flight for longer than the idle timeout is not idleness.
    let (a, b) = tokio::join!(h1.send_request(request()), h2.send_request(request()));
    assert_eq!(a.unwrap().status(), StatusCode::OK);
    assert_eq!(b.unwrap().status(), StatusCode::OK);
    // Then nothing: both are closed (HTTP/2 with GOAWAY, which ends the client cleanly).
    let started = Instant::now();
    let h1_end = tokio::time::timeout(Duration::from_secs(5), h1_conn).await;
    let h2_end = tokio::time::timeout(Duration::from_secs(5), h2_conn).await;
    assert!(h1_end.is_ok(), "the idle HTTP/1 connection stayed open");
    let h2_end = h2_end
        .expect("the idle HTTP/2 connection stayed open")
        .unwrap();
    assert!(
        h2_end.is_ok(),
        "HTTP/2 ended without a clean GOAWAY: {h2_end:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let page = metrics(server.addr).await;
    assert!(
        sample(&page, "spool_limit_hits_total{limit=\"idle_timeout\"}") >= Some(2.0),
        "{page}"
    );
}

async fn a_slow_handler_gets_503_at_the_request_timeout(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            request_timeout: Duration::from_millis(300),
            ..config()
        },
    );
    for proto in Proto::ALL {
        let started = Instant::now();
        let reply = get(proto, &server.url("/sleep?ms=10000")).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{proto:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        // A quick one on the same server is unaffected.
        assert_eq!(
            get(proto, &server.url("/sleep?ms=10")).await.status,
            StatusCode::OK
        );
    }
    let page = metrics(server.addr).await;
    assert!(
        sample(&page, "spool_limit_hits_total{limit=\"request_timeout\"}") == Some(2.0),
        "{page}"
    );
}

async fn h2_rapid_reset_is_bounded_and_others_are_served(host: RuntimeKind) {
    let server = start_with(host, config());
    let addr = server.addr;
    let started = Instant::now();
    // CVE-2023-44487: open a stream and reset it at once, over and over, so the server starts
    // handlers whose streams no longer count against the concurrency limit.
    let attacker = tokio::spawn(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (client, connection) = h2::client::handshake(tcp).await.unwrap();
        let connection = tokio::spawn(connection);
        let mut sent = 0;
        let mut client = Some(client);
        while let Some(ready) = client.take() {
            if sent == 10_000 {
                break;
            }
            let Ok(mut ready) = ready.ready().await else {
                break; // GOAWAY: the server had enough
            };
            let request = Request::get(format!("http://{addr}/sleep?ms=1000"))
                .body(())
                .unwrap();
            match ready.send_request(request, false) {
                Ok((_response, mut stream)) => stream.send_reset(h2::Reason::CANCEL),
                Err(_) => break,
            }
            sent += 1;
            client = Some(ready);
        }
        drop(client);
        let ended = tokio::time::timeout(Duration::from_secs(10), connection).await;
        (sent, ended.map(|joined| joined.unwrap()))
    });
    // Meanwhile another client keeps being answered.
    let (mut other, other_conn) = h2_connection(addr).await;
    let mut answered = 0;
    while !attacker.is_finished() || answered < 5 {
        let request = Request::get("/healthz").body(Full::default()).unwrap();
        let response = other.send_request(request).await.expect("the other client");
        assert_eq!(response.status(), StatusCode::OK);
        answered += 1;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the flood never ended"
        );
    }
    drop(other);
    let _ = tokio::time::timeout(Duration::from_secs(5), other_conn).await;
    let (sent, ended) = attacker.await.unwrap();
    eprintln!("{host:?}: {sent} HEADERS+RST_STREAM sent; connection end: {ended:?}");
    match ended {
        // Cut off: GOAWAY (ENHANCE_YOUR_CALM) before the 10 000 were sent.
        Ok(Err(error)) => assert!(error.is_go_away() || error.is_io(), "{error}"),
        Ok(Ok(())) => {}
        // Still open 10 s after the client was dropped: the connection did not end.
        Err(_) => panic!("the attacking connection was still open"),
    }
    // The server is fine afterwards, and the attacker's connection is gone.
    wait_for_sample(server.addr, "spool_connections_open", 1.0).await;
    assert_eq!(
        get(Proto::H1, &server.url("/")).await.status,
        StatusCode::OK
    );
}

async fn h2_settings_advertise_the_stream_limit(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            h2_max_concurrent_streams: 7,
            ..config()
        },
    );
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let mut client = client.ready().await.unwrap();
    let request = Request::get(server.url("/healthz")).body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    // Drive the connection until the answer is in: the server's SETTINGS came before it.
    let response = tokio::select! {
        response = response => response.unwrap(),
        ended = &mut connection => panic!("the connection ended: {ended:?}"),
    };
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(connection.max_concurrent_send_streams(), 7);
}

async fn metrics_page_counts_requests_connections_limits_and_the_runtime(host: RuntimeKind) {
    let server = start_with(host, config());
    for proto in Proto::ALL {
        assert_eq!(get(proto, &server.url("/")).await.status, StatusCode::OK);
        let bad = get(proto, &server.url("/sleep?ms=nope")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
    let page = &metrics(server.addr).await;
    // This request's connection, and maybe the pooled clients' that have not closed yet.
    assert!(
        sample(page, "spool_connections_open") >= Some(1.0),
        "{page}"
    );
    for (series, value) in [
        (
            "spool_http_requests_total{protocol=\"HTTP/1.1\",status=\"200\"}",
            1.0,
        ),
        (
            "spool_http_requests_total{protocol=\"HTTP/2\",status=\"200\"}",
            1.0,
        ),
        (
            "spool_http_requests_total{protocol=\"HTTP/2\",status=\"400\"}",
            1.0,
        ),
        ("spool_http_request_duration_seconds_count", 4.0),
        ("spool_connections_total", 5.0),
        ("spool_limit_hits_total{limit=\"max_body\"}", 0.0),
        ("spool_runtime_workers", 2.0),
    ] {
        assert_eq!(sample(page, series), Some(value), "{series}:\n{page}");
    }
    assert!(
        sample(page, "spool_runtime_tasks_alive") >= Some(1.0),
        "{page}"
    );
    if host == RuntimeKind::Spool {
        // Spool's own counters, which tokio (without unstable metrics) does not have.
        assert!(
            sample(page, "spool_runtime_polls_total") > Some(0.0),
            "{page}"
        );
        assert!(
            sample(page, "spool_runtime_io_sources") >= Some(2.0),
            "{page}"
        );
    }
}

async fn vanishing_clients_leave_the_connection_gauge_at_baseline(host: RuntimeKind) {
    let server = start_with(host, config());
    let baseline = wait_for_sample(server.addr, "spool_connections_open", 1.0).await;
    let tasks_before = sample(&baseline, "spool_runtime_tasks_alive").unwrap();
    for _ in 0..10 {
        // Mid-request-body: 10 of 100 000 announced bytes, then gone.
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(
                b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n0123456789",
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(stream);

        // Mid-response: a 1 MiB echo (about 1 MiB of JSON back), 1 KiB of it read, then gone.
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let body = "e".repeat(1024 * 1024);
        let head = format!(
            "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body.as_bytes()).await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read_exact(&mut buf).await;
        drop(stream);

        // HTTP/2, mid-response: a stream's answer half read, then the connection dropped.
        let (mut sender, conn) = h2_connection(server.addr).await;
        let request = Request::post("/echo")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let mut response_body = response.into_body();
        let _ = response_body.frame().await;
        conn.abort();
        let _ = conn.await;
    }
    // Every one of those connections is gone from the gauge, and their tasks with them.
    let page = wait_for_sample(server.addr, "spool_connections_open", 1.0).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut page = page;
    while sample(&page, "spool_runtime_tasks_alive") > Some(tasks_before) {
        assert!(Instant::now() < deadline, "tasks leaked:\n{page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        page = metrics(server.addr).await;
    }
    assert_eq!(
        get(Proto::H2, &server.url("/")).await.status,
        StatusCode::OK
    );
}

async fn a_panicking_handler_gets_500_and_the_server_goes_on(host: RuntimeKind) {
    let server = start_with(
        host,
        Config {
            debug_panic_route: true,
            ..config()
        },
    );
    for proto in Proto::ALL {
        let reply = get(proto, &server.url("/panic")).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{proto:?}");
        assert_eq!(get(proto, &server.url("/")).await.status, StatusCode::OK);
    }
    // Without the hidden flag there is no such route.
    let plain = start_with(host, config());
    assert_eq!(
        get(Proto::H1, &plain.url("/panic")).await.text(),
        "Hello, World!"
    );
}

/// Raises this process's soft limit on open files to `want` (or the hard limit, if lower):
/// 2 000 connections are 4 000 descriptors here, the client's and the server's ends.
fn raise_fd_limit(want: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass, which outlives the calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < want {
            limit.rlim_cur = want.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

async fn two_thousand_idle_connections_do_not_stop_a_new_client(host: RuntimeKind) {
    const IDLE: usize = 2_000;
    // Both hosts' tests may run at once in this process: room for both, and the rest.
    let limit = raise_fd_limit(16_384);
    if limit < 2 * 2 * IDLE as u64 + 512 {
        eprintln!("skipped: only {limit} file descriptors allowed");
        return;
    }
    let server = start_with(host, config());
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Let the server accept them all, then a new client must still get through promptly.
    wait_for_sample(server.addr, "spool_connections_open", (IDLE + 1) as f64).await;
    for proto in Proto::ALL {
        let started = Instant::now();
        assert_eq!(get(proto, &server.url("/")).await.status, StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    drop(idle);
}

/// A server with `--send-timeout 1s` and room for a few MiB of body.
fn send_timeout_config() -> Config {
    Config {
        send_timeout: Duration::from_secs(1),
        max_body: 8 * 1024 * 1024,
        ..config()
    }
}

/// A TCP connection whose receive buffer is small, so that the server's writes block as soon
/// as the client stops reading (loopback would otherwise buffer megabytes).
async fn small_window_connection(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(addr).await.unwrap()
}

/// `POST /echo` of `len` bytes, as raw HTTP/1.1.
fn echo_request(len: usize) -> Vec<u8> {
    let mut request =
        format!("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: {len}\r\n\r\n").into_bytes();
    request.resize(request.len() + len, b'e');
    request
}

/// While `stalled` runs, other clients keep being answered; returns how many were.
async fn answered_meanwhile(
    addr: SocketAddr,
    stalled: &tokio::task::JoinHandle<Duration>,
) -> usize {
    let mut answered = 0;
    while !stalled.is_finished() {
        for proto in Proto::ALL {
            let reply = get(proto, &format!("http://{addr}/healthz")).await;
            assert_eq!(reply.status, StatusCode::OK);
            answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    answered
}

async fn an_h2_client_that_never_opens_its_window_is_closed_at_the_send_timeout(host: RuntimeKind) {
    let server = start_with(host, send_timeout_config());
    let addr = server.addr;
    let stalled = tokio::spawn(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (client, connection) = h2::client::handshake(tcp).await.unwrap();
        let mut connection = tokio::spawn(connection);
        let mut client = client.ready().await.unwrap();
        let request = Request::post(format!("http://{addr}/echo"))
            .body(())
            .unwrap();
        let (response, mut body) = client.send_request(request, false).unwrap();
        body.send_data(Bytes::from(vec![b'e'; 1024 * 1024 - 1024]), true)
            .unwrap();
        let started = Instant::now();
        // The answer's headers come; its body is never read, so h2 never releases window
        // (no WINDOW_UPDATE): the server can send 64 KiB, then nothing.
        let response = tokio::select! {
            response = response => response.unwrap(),
            ended = &mut connection => panic!("ended before the answer: {ended:?}"),
        };
        assert_eq!(response.status(), StatusCode::OK);
        let ended = tokio::time::timeout(Duration::from_secs(10), connection)
            .await
            .expect("the stalled HTTP/2 connection stayed open");
        eprintln!("{host:?}: stalled HTTP/2 connection ended: {ended:?}");
        drop(response);
        started.elapsed()
    });
    let answered = answered_meanwhile(addr, &stalled).await;
    let lasted = stalled.await.unwrap();
    eprintln!(
        "{host:?}: the stalled client was closed after {lasted:?}; {answered} answered meanwhile"
    );
    assert!(answered >= 2, "only {answered} answered meanwhile");
    assert!(
        lasted >= Duration::from_millis(900) && lasted < Duration::from_secs(6),
        "closed after {lasted:?} (send timeout 1 s)"
    );
    let page = metrics(addr).await;
    assert!(
        sample(&page, "spool_limit_hits_total{limit=\"send_timeout\"}") >= Some(1.0),
        "{page}"
    );
}

async fn an_h1_client_that_never_reads_is_closed_at_the_send_timeout(host: RuntimeKind) {
    let server = start_with(host, send_timeout_config());
    let addr = server.addr;
    let stalled = tokio::spawn(async move {
        let mut stream = small_window_connection(addr).await;
        // 6 MiB back: more than loopback's socket buffers hold, so the server's writes block.
        stream
            .write_all(&echo_request(6 * 1024 * 1024))
            .await
            .unwrap();
        let started = Instant::now();
        // Never read; a closed peer makes a write fail (after the first write's RST).
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stream.write_all(b"x").await.is_err() || started.elapsed() > Duration::from_secs(10)
            {
                break;
            }
        }
        started.elapsed()
    });
    let answered = answered_meanwhile(addr, &stalled).await;
    let lasted = stalled.await.unwrap();
    eprintln!(
        "{host:?}: the stalled client was closed after {lasted:?}; {answered} answered meanwhile"
    );
    assert!(answered >= 2, "only {answered} answered meanwhile");
    assert!(
        lasted >= Duration::from_millis(900) && lasted < Duration::from_secs(6),
        "closed after {lasted:?} (send timeout 1 s)"
    );
    let page = metrics(addr).await;
    assert!(
        sample(&page, "spool_limit_hits_total{limit=\"send_timeout\"}") >= Some(1.0),
        "{page}"
    );
}

async fn a_slow_but_steady_reader_is_not_closed(host: RuntimeKind) {
    let server = start_with(host, send_timeout_config());
    let mut stream = small_window_connection(server.addr).await;
    let len = 2 * 1024 * 1024;
    stream.write_all(&echo_request(len)).await.unwrap();
    // 32 KiB every 50 ms: about 640 KiB/s, so the answer takes over 3 s, three send timeouts,
    // with the server blocked on a full socket most of that time.
    let started = Instant::now();
    let mut reply = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => reply.extend_from_slice(&buf[..n]),
        }
        if reply.ends_with(b"\"body_base64\":false}") {
            break;
        }
    }
    assert!(
        reply.ends_with(b"\"body_base64\":false}"),
        "cut off after {} bytes, {:?}",
        reply.len(),
        started.elapsed()
    );
    assert!(reply.len() > len, "{}", reply.len());
    eprintln!(
        "{host:?}: slow reader read {} bytes in {:?}",
        reply.len(),
        started.elapsed()
    );
    let page = metrics(server.addr).await;
    assert_eq!(
        sample(&page, "spool_limit_hits_total{limit=\"send_timeout\"}"),
        Some(0.0),
        "{page}"
    );
}
