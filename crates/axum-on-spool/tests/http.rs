//! The axum app on Spool, driven by a real HTTP client (hyper's, on Spool too) over HTTP/1.1
//! and HTTP/2: path parameter, JSON both ways, shared state across connections, the 404
//! fallback; and no thread of the process is tokio's.

use std::net::SocketAddr;
use std::time::Duration;

use axum_on_spool::Note;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Version};
use spool::hyper::SpoolExecutor;
use spool::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug)]
enum Http {
    One,
    Two,
}

/// One request on a fresh connection; the status, the version the server answered with, and
/// the body.
async fn send(
    addr: SocketAddr,
    http: Http,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> (StatusCode, Version, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("host", addr.to_string());
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
        .unwrap();
    let response = match http {
        Http::One => {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
            spool::spawn(conn).detach();
            sender.send_request(request).await.unwrap()
        }
        Http::Two => {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(SpoolExecutor::new(), stream)
                    .await
                    .unwrap();
            spool::spawn(conn).detach();
            sender.send_request(request).await.unwrap()
        }
    };
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.version,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim_end().to_owned())
        .collect()
}

#[test]
fn axum_router_over_http1_and_http2() {
    let rt = spool::Runtime::builder().worker_threads(2).build().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spool::spawn(axum_on_spool::serve(listener, axum_on_spool::app()));

        let work = async {
            for (http, expected) in [(Http::One, Version::HTTP_11), (Http::Two, Version::HTTP_2)] {
                let text = format!("written over {http:?}");
                let body = serde_json::json!({ "text": text }).to_string();
                let (status, version, created) =
                    send(addr, http, Method::POST, "/notes", Some(&body)).await;
                assert_eq!(
                    (status, version),
                    (StatusCode::CREATED, expected),
                    "{created}"
                );
                let note: Note = serde_json::from_str(&created).unwrap();
                assert_eq!(note.text, text);

                // The path parameter, on another connection: the state is shared.
                let (status, _, fetched) = send(
                    addr,
                    http,
                    Method::GET,
                    &format!("/notes/{}", note.id),
                    None,
                )
                .await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(serde_json::from_str::<Note>(&fetched).unwrap(), note);

                let (status, _, missing) = send(addr, http, Method::GET, "/notes/999", None).await;
                assert_eq!(status, StatusCode::NOT_FOUND);
                assert!(missing.contains("no note 999"), "{missing}");

                let (status, _, fallback) = send(addr, http, Method::GET, "/nowhere", None).await;
                assert_eq!(status, StatusCode::NOT_FOUND);
                assert!(fallback.contains("no route for GET /nowhere"), "{fallback}");

                let (status, _, _) =
                    send(addr, http, Method::POST, "/notes", Some("not json")).await;
                assert_eq!(status, StatusCode::BAD_REQUEST);
            }
            let (_, _, all) = send(addr, Http::One, Method::GET, "/notes", None).await;
            let all: Vec<Note> = serde_json::from_str(&all).unwrap();
            assert_eq!(all.len(), 2, "{all:?}");
        };
        spool::time::timeout(Duration::from_secs(30), work)
            .await
            .expect("the exchange took over 30 s");
        drop(server);
    });
    let names = thread_names();
    assert!(
        !names.iter().any(|n| n.starts_with("tokio")),
        "a tokio thread: {names:?}"
    );
}
