//! Load smoke test of the Spool host: 20 000 requests, half from 64 concurrent HTTP/1.1
//! keep-alive connections, half from 8 HTTP/2 connections with 32 streams each in flight; every
//! one must be a 200 and the server must log nothing at WARN or above.
//!
//! Alone in its binary: it installs the global log subscriber to read the server's log.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{h1_connection, h2_connection, start, Logs, RuntimeKind};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode};

const H1_CONNECTIONS: usize = 64;
const H2_CONNECTIONS: usize = 8;
const H2_STREAMS: usize = 32;
const REQUESTS: usize = 20_000;

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "load")
        .body(Full::default())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_requests_h1_and_h2_all_200_no_error_logged() {
    // The per-request INFO lines are 20 000 lines of formatting nobody reads here.
    let logs = Logs::capture(Some(tracing::Level::WARN));

    let server = start(RuntimeKind::Spool);
    let started = Instant::now();
    let mut tasks = Vec::new();

    // HTTP/1.1: 64 connections, each sending its share one request after another.
    let h1_share = REQUESTS / 2 / H1_CONNECTIONS;
    let h1_total = h1_share * H1_CONNECTIONS;
    for _ in 0..H1_CONNECTIONS {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let (mut sender, _conn) = h1_connection(addr).await;
            let mut ok = 0;
            for _ in 0..h1_share {
                sender.ready().await.expect("h1 connection usable");
                let response = sender.send_request(get("/")).await.expect("h1 request");
                assert_eq!(response.status(), StatusCode::OK);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(&body[..], b"Hello, World!");
                ok += 1;
            }
            ok
        }));
    }

    // HTTP/2: 8 connections × 32 streams in flight, each stream task sending its share.
    let h2_remaining = REQUESTS - h1_total;
    let streams = H2_CONNECTIONS * H2_STREAMS;
    for connection in 0..H2_CONNECTIONS {
        let (sender, _conn) = h2_connection(server.addr).await;
        for stream in 0..H2_STREAMS {
            let index = connection * H2_STREAMS + stream;
            // Spread the remainder so the total is exactly REQUESTS.
            let share = h2_remaining / streams + usize::from(index < h2_remaining % streams);
            let mut sender = sender.clone();
            tasks.push(tokio::spawn(async move {
                let mut ok = 0;
                for _ in 0..share {
                    let response = sender.send_request(get("/")).await.expect("h2 request");
                    assert_eq!(response.status(), StatusCode::OK);
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(&body[..], b"Hello, World!");
                    ok += 1;
                }
                ok
            }));
        }
    }

    let mut ok = 0;
    for task in tasks {
        ok += tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("a client task hung")
            .expect("a client task failed");
    }
    let elapsed = started.elapsed();
    eprintln!("{ok} requests in {elapsed:?}");
    assert_eq!(ok, REQUESTS);

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        !logs.contains("WARN") && !logs.contains("ERROR"),
        "the server logged a problem:\n{logs}"
    );
}
