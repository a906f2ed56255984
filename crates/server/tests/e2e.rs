//! End-to-end tests: a real server on 127.0.0.1:0, real clients (hyper, curl, raw TCP), over
//! HTTP/1.1 and HTTP/2. Every test takes the [`RuntimeKind`] to run the server on; `host_tests!` makes
//! one `#[test]` per host, so the whole suite runs against each host without a copy.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{curl, get, send, start, start_with, Proto, RuntimeKind};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

host_tests!(
    hello_with_a_rust_client,
    hello_with_curl,
    echo_round_trip,
    echo_with_curl,
    echo_refuses_a_body_over_the_limit,
    h2_multiplexes_100_requests_on_one_connection,
    sleep_and_work_routes,
    out_of_range_parameters_are_400,
    garbage_gets_400_or_close_and_the_server_goes_on,
    header_read_timeout_closes_a_slow_client,
    graceful_shutdown_h1,
    draining_h1_responses_say_connection_close,
    graceful_shutdown_h2,
    shutdown_timeout_closes_what_is_left,
);

async fn hello_with_a_rust_client(host: RuntimeKind) {
    let server = start(host);
    for proto in Proto::ALL {
        for path in ["/", "/some/other/path?x=1"] {
            let reply = get(proto, &server.url(path)).await;
            assert_eq!(reply.status, StatusCode::OK, "{proto:?} {path}");
            assert_eq!(reply.version, proto.version(), "{proto:?} {path}");
            assert_eq!(reply.text(), "Hello, World!", "{proto:?} {path}");
        }
        // Any method, as in the chapter.
        let request = Request::delete(server.url("/"))
            .body(Full::default())
            .unwrap();
        assert_eq!(send(proto, request).await.text(), "Hello, World!");
        assert_eq!(get(proto, &server.url("/healthz")).await.text(), "ok");
    }
}

async fn hello_with_curl(host: RuntimeKind) {
    if !common::have_curl("hello_with_curl") {
        return;
    }
    let server = start(host);
    for proto in Proto::ALL {
        let url = server.url("/");
        let out = curl(&[proto.curl_flag(), "-w", "\n%{http_version}", &url]).await;
        assert_eq!(
            out,
            format!("Hello, World!\n{}", proto.curl_name()),
            "{proto:?}"
        );
    }
}

async fn echo_round_trip(host: RuntimeKind) {
    let server = start(host);
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    for proto in Proto::ALL {
        // A UTF-8 body, a query, and custom headers (one repeated).
        let text = "héllo, wörld ✓\nsecond line";
        let request = Request::post(server.url("/echo?a=1&b=two%20words"))
            .header("x-test", "hello")
            .header("x-multi", "one")
            .header("x-multi", "two")
            .body(Full::new(Bytes::from(text)))
            .unwrap();
        let reply = send(proto, request).await;
        assert_eq!(reply.status, StatusCode::OK);
        let json = reply.json();
        assert_eq!(json["method"], "POST");
        assert_eq!(json["path"], "/echo");
        assert_eq!(json["query"], "a=1&b=two%20words");
        assert_eq!(json["version"], proto.echo_name());
        assert_eq!(json["body"], text);
        assert_eq!(json["body_base64"], false);
        let headers: Vec<(String, String)> = json["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                let pair = pair.as_array().unwrap();
                (
                    pair[0].as_str().unwrap().into(),
                    pair[1].as_str().unwrap().into(),
                )
            })
            .collect();
        let has = |name: &str, value: &str| headers.contains(&(name.into(), value.into()));
        assert!(has("x-test", "hello"), "{proto:?}: {headers:?}");
        assert!(
            has("x-multi", "one") && has("x-multi", "two"),
            "{headers:?}"
        );

        // A body that is not UTF-8 comes back as base64.
        let request = Request::post(server.url("/echo"))
            .body(Full::new(Bytes::from(binary.clone())))
            .unwrap();
        let json = send(proto, request).await.json();
        assert_eq!(json["body_base64"], true, "{proto:?}");
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(json["body"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, binary, "{proto:?}");

        // GET works too, with an empty body and no query.
        let json = get(proto, &server.url("/echo")).await.json();
        assert_eq!(json["method"], "GET");
        assert_eq!(json["body"], "");
        assert_eq!(json["query"], serde_json::Value::Null);
    }
}

async fn echo_with_curl(host: RuntimeKind) {
    if !common::have_curl("echo_with_curl") {
        return;
    }
    let server = start(host);
    for proto in Proto::ALL {
        let url = server.url("/echo?q=1");
        let out = curl(&[
            proto.curl_flag(),
            "-H",
            "x-test: curl",
            "--data-binary",
            "abc",
            &url,
        ])
        .await;
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(json["method"], "POST");
        assert_eq!(json["version"], proto.echo_name());
        assert_eq!(json["query"], "q=1");
        assert_eq!(json["body"], "abc");
        assert!(json["headers"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["x-test", "curl"])));
    }
}

async fn echo_refuses_a_body_over_the_limit(host: RuntimeKind) {
    let server = start(host);
    // HTTP/1.1: the declared length alone is refused, before a byte of the body. Only the head
    // is sent: a client still writing the body when the server answers and closes may get a
    // reset (the server closes with the body unread) before it reads the 413, a race of TCP's,
    // not of the server's.
    let head = format!(
        "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        server::DEFAULT_MAX_BODY + 1
    );
    let reply = raw_exchange(server.addr, head.as_bytes()).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    // HTTP/2: the whole body sent (the stream is refused, the connection stays).
    let big = Bytes::from(vec![b'x'; server::DEFAULT_MAX_BODY + 1]);
    let request = Request::post(server.url("/echo"))
        .body(Full::new(big))
        .unwrap();
    let reply = send(Proto::H2, request).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Exactly at the limit is fine.
    let at_limit = Bytes::from(vec![b'y'; server::DEFAULT_MAX_BODY]);
    let request = Request::post(server.url("/echo"))
        .body(Full::new(at_limit))
        .unwrap();
    assert_eq!(send(Proto::H2, request).await.status, StatusCode::OK);
}

async fn h2_multiplexes_100_requests_on_one_connection(host: RuntimeKind) {
    let server = start(host);
    let (sender, _conn) = common::h2_connection(server.addr).await;
    let started = Instant::now();
    let requests = (0..100).map(|i| {
        let mut sender = sender.clone();
        let uri = if i % 2 == 0 {
            "/sleep?ms=200".to_owned()
        } else {
            format!("/echo?i={i}")
        };
        tokio::spawn(async move {
            let request = Request::get(uri).body(Full::default()).unwrap();
            let response = sender.send_request(request).await.expect("stream");
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (i, status, body)
        })
    });
    let results = futures_join_all(requests).await;
    assert_eq!(results.len(), 100);
    for (i, status, body) in results {
        assert_eq!(status, StatusCode::OK, "request {i}");
        if i % 2 == 1 {
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["query"], format!("i={i}"));
            assert_eq!(json["version"], "HTTP/2.0");
        }
    }
    // 50 sleeps of 200 ms one after the other would take 10 s: they ran side by side.
    // (A generous bound: this checks concurrency, not speed.)
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

/// Awaits every task, in order (no `futures` crate needed for this one use).
async fn futures_join_all<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let tasks: Vec<_> = tasks.collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    results
}

async fn sleep_and_work_routes(host: RuntimeKind) {
    let server = start(host);
    for proto in Proto::ALL {
        let started = Instant::now();
        let reply = get(proto, &server.url("/sleep?ms=100")).await;
        assert_eq!(
            (reply.status, reply.text()),
            (StatusCode::OK, "slept 100 ms\n")
        );
        assert!(started.elapsed() >= Duration::from_millis(100));
        for mode in ["inline", "blocking"] {
            let reply = get(proto, &server.url(&format!("/work?ms=20&mode={mode}"))).await;
            assert_eq!(reply.status, StatusCode::OK, "{proto:?} {mode}");
            assert_eq!(reply.text(), format!("worked 20 ms ({mode})\n"));
        }
    }
}

async fn out_of_range_parameters_are_400(host: RuntimeKind) {
    let server = start(host);
    for proto in Proto::ALL {
        for path in [
            "/sleep?ms=60001",
            "/work?ms=60001",
            "/work?ms=100000&mode=blocking",
            "/sleep",
            "/sleep?ms=soon",
            "/work?ms=-5",
            "/work?ms=10&mode=sideways",
        ] {
            let reply = get(proto, &server.url(path)).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{proto:?} {path}");
            let text = reply.text();
            assert!(text.starts_with("bad request: "), "{path}: {text}");
            assert_eq!(text.lines().count(), 1, "{path}: {text}");
        }
    }
}

/// Writes `bytes` on a fresh TCP connection and reads what comes back until the server closes
/// (or 10 s pass). A reset counts as a close.
async fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    reply
}

async fn garbage_gets_400_or_close_and_the_server_goes_on(host: RuntimeKind) {
    let server = start(host);
    let garbage: [&[u8]; 4] = [
        b"\x00\x01\x02\xff\xfe garbage \r\n\r\n",
        b"HELLO THERE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        // Starts like the HTTP/2 preface, then is not.
        b"PRI * HTTP/2.0\r\n\r\nXY\r\n\r\n",
    ];
    for bytes in garbage {
        let reply = raw_exchange(server.addr, bytes).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.is_empty() || reply.starts_with("HTTP/1.1 400"),
            "{bytes:?} got {reply:?}"
        );
        // The server is still there for the next client.
        let ok = raw_exchange(
            server.addr,
            b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        let ok = String::from_utf8_lossy(&ok);
        assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
        assert!(ok.ends_with("Hello, World!"), "{ok}");
    }
}

async fn header_read_timeout_closes_a_slow_client(host: RuntimeKind) {
    let config = server::Config {
        header_read_timeout: Duration::from_millis(300),
        ..server::Config::default()
    };
    let server = start_with(host, config);
    let started = Instant::now();
    // Half a request line, then nothing: without hyper's timer this would wait forever.
    let reply = raw_exchange(server.addr, b"GET / HTTP/1.1\r\nhost: x\r\n").await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 408"),
        "{reply}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Waits until a new TCP connection is refused (the listener is closed); panics after 5 s.
async fn wait_until_refused(addr: std::net::SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => return,
            other => {
                assert!(Instant::now() < deadline, "still accepting: {other:?}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One request on the connection first, so the server has surely accepted it and picked the
/// protocol before the timed part of a test begins.
async fn warm_up_h1(sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>) {
    let request = Request::get("/healthz")
        .header("host", "test")
        .body(Full::default())
        .unwrap();
    let response = sender.send_request(request).await.expect("warm-up request");
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body().collect().await.unwrap();
    // The client's connection task marks it ready for the next request a moment after the
    // body is in: without this wait, a loaded machine sees "connection was not ready".
    sender
        .ready()
        .await
        .expect("the connection stays open after the warm-up");
}

async fn warm_up_h2(sender: &mut hyper::client::conn::http2::SendRequest<Full<Bytes>>) {
    let request = Request::get("/healthz").body(Full::default()).unwrap();
    let response = sender.send_request(request).await.expect("warm-up request");
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body().collect().await.unwrap();
}

async fn graceful_shutdown_h1(host: RuntimeKind) {
    let mut server = start(host);
    let (mut sender, _conn) = common::h1_connection(server.addr).await;
    warm_up_h1(&mut sender).await;
    let in_flight = tokio::spawn(async move {
        let request = Request::get("/sleep?ms=3000")
            .header("host", "test")
            .body(Full::default())
            .unwrap();
        let response = sender.send_request(request).await.expect("response");
        let status = response.status();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    });
    // Time for the requests to reach the handler (the connection is already being served).
    // They sleep 3 s, so the refusal check below has seconds of margin on a loaded machine.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.begin_shutdown();
    wait_until_refused(server.addr).await;
    let early = in_flight.is_finished();
    let result = in_flight.await;
    assert!(
        !early,
        "refused only after the in-flight request ended: {result:?}"
    );
    let (status, body) = result.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "slept 3000 ms\n");
    server.stopped(Duration::from_secs(10)).await.unwrap();
}

async fn draining_h1_responses_say_connection_close(host: RuntimeKind) {
    let mut server = start(host);
    let (mut sender, _conn) = common::h1_connection(server.addr).await;
    warm_up_h1(&mut sender).await;
    server.begin_shutdown();
    // Requests on the open keep-alive connection until an answer says `Connection: close` (the
    // drain's first step lasts 300 ms); the connection must not end without one.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut said_close = false;
    while !said_close && Instant::now() < deadline {
        if sender.ready().await.is_err() {
            break;
        }
        let request = Request::get("/healthz")
            .header("host", "test")
            .body(Full::default())
            .unwrap();
        let Ok(response) = sender.send_request(request).await else {
            break;
        };
        said_close = response
            .headers()
            .get("connection")
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
        response.into_body().collect().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        said_close,
        "the connection ended with no response saying Connection: close"
    );
    server.stopped(Duration::from_secs(10)).await.unwrap();
}

async fn graceful_shutdown_h2(host: RuntimeKind) {
    let mut server = start(host);
    let (sender, conn) = common::h2_connection(server.addr).await;
    warm_up_h2(&mut sender.clone()).await;
    let in_flight: Vec<_> = (0..3)
        .map(|_| {
            let mut sender = sender.clone();
            tokio::spawn(async move {
                let request = Request::get("/sleep?ms=3000")
                    .body(Full::default())
                    .unwrap();
                let response = sender.send_request(request).await.expect("response");
                let status = response.status();
                (
                    status,
                    response.into_body().collect().await.unwrap().to_bytes(),
                )
            })
        })
        .collect();
    // Time for the requests to reach the handler (the connection is already being served).
    // They sleep 3 s, so the refusal check below has seconds of margin on a loaded machine.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.begin_shutdown();
    wait_until_refused(server.addr).await;
    assert!(
        in_flight.iter().all(|request| !request.is_finished()),
        "refusal must happen while the requests are still in flight"
    );
    for request in in_flight {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "slept 3000 ms\n");
    }
    // The server sent GOAWAY and closed the connection once its streams were done.
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(
        ended.is_ok(),
        "the HTTP/2 connection stayed open after the drain"
    );
    server.stopped(Duration::from_secs(10)).await.unwrap();
}

async fn shutdown_timeout_closes_what_is_left(host: RuntimeKind) {
    let config = server::Config {
        shutdown_timeout: Duration::from_millis(300),
        ..server::Config::default()
    };
    let mut server = start_with(host, config);
    for proto in Proto::ALL {
        let url = server.url("/sleep?ms=30000");
        tokio::spawn(async move { common::client(proto).get(url.parse().unwrap()).await });
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    let started = Instant::now();
    server.begin_shutdown();
    server.stopped(Duration::from_secs(10)).await.unwrap();
    // 300 ms of grace plus at most 1 s for the forced close, far from the 30 s sleeps.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
