//! HTTPS end to end: a real server with a certificate from PEM files (or self-signed), real TLS
//! clients (curl, hyper over tokio-rustls, raw sockets), on every host.
//!
//! The browser's view of the same (HTTP/2 over TLS, HTTP/1.1 in cleartext) is in `browser.rs`.

#[macro_use]
mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{start_with, RuntimeKind, TestServer};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

host_tests!(
    curl_http2_over_tls,
    curl_http1_over_tls,
    rust_clients_get_the_protocol_alpn_chose,
    self_signed_serves_curl,
    silent_clients_are_closed_after_the_header_read_timeout,
    plain_http_on_the_tls_port_is_closed_and_the_server_goes_on,
    graceful_shutdown_over_tls,
);

/// A certificate for `localhost`/127.0.0.1 and its key, written as PEM files in a fresh
/// directory (removed on drop).
struct CertFiles {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

impl CertFiles {
    fn new() -> CertFiles {
        let dir = common::fresh_dir("spool-tls-test");
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
        CertFiles {
            dir,
            cert,
            key,
            der: certified.cert.der().clone(),
        }
    }
}

impl Drop for CertFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server on `host` with HTTPS from fresh PEM files; keep the files for the client's trust.
fn start_tls(host: RuntimeKind, header_read_timeout: Duration) -> (TestServer, CertFiles) {
    let files = CertFiles::new();
    let config = server::Config {
        tls_cert: Some(files.cert.clone()),
        tls_key: Some(files.key.clone()),
        header_read_timeout,
        shutdown_timeout: Duration::from_secs(5),
        ..server::Config::default()
    };
    (start_with(host, config), files)
}

fn https(server: &TestServer, path: &str) -> String {
    format!("https://{}{path}", server.addr)
}

/// Runs curl with `args` plus `-k` (the certificate is self-signed); returns stdout.
async fn curl(args: &[&str]) -> String {
    common::curl(&[&["-k"], args].concat()).await
}

/// `/echo` through curl with `flag`; returns the JSON and curl's `%{http_version}`.
async fn curl_echo(server: &TestServer, flag: &str) -> (serde_json::Value, String) {
    let out = curl(&[flag, "-w", "\n%{http_version}", &https(server, "/echo")]).await;
    let (json, version) = out.rsplit_once('\n').unwrap();
    (serde_json::from_str(json).unwrap(), version.to_owned())
}

async fn curl_http2_over_tls(host: RuntimeKind) {
    // `--http2` on an https:// URL: curl offers h2 and http/1.1 by ALPN, the server picks h2.
    curl_over_tls(
        "curl_http2_over_tls",
        host,
        "--http2",
        ["2", "HTTP/2.0", "h2"],
    )
    .await;
}

async fn curl_http1_over_tls(host: RuntimeKind) {
    let expected = ["1.1", "HTTP/1.1", "http/1.1"];
    curl_over_tls("curl_http1_over_tls", host, "--http1.1", expected).await;
}

/// `/echo` over TLS through curl with `flag`: `[curl's version, the echoed version, ALPN]`.
async fn curl_over_tls(test: &str, host: RuntimeKind, flag: &str, expected: [&str; 3]) {
    if !common::have_curl(test) {
        return;
    }
    let [curl_version, echoed_version, alpn] = expected;
    let (server, _files) = start_tls(host, Duration::from_secs(10));
    let (json, version) = curl_echo(&server, flag).await;
    assert_eq!(version, curl_version);
    assert_eq!(json["version"], echoed_version);
    assert_eq!(json["tls"], true);
    assert_eq!(json["alpn"], alpn);
}

async fn self_signed_serves_curl(host: RuntimeKind) {
    if !common::have_curl("self_signed_serves_curl") {
        return;
    }
    let config = server::Config {
        tls_self_signed: true,
        ..server::Config::default()
    };
    let server = start_with(host, config);
    let (json, version) = curl_echo(&server, "--http2").await;
    assert_eq!((version.as_str(), &json["tls"]), ("2", &true.into()));
    // Nobody curl trusts signed the certificate, which is what -k is for; without it, curl
    // refuses.
    let output = tokio::process::Command::new("curl")
        .args(["--silent", "--max-time", "15", &https(&server, "/")])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "curl trusted a self-signed cert");
}

/// A TLS client that trusts exactly `cert` and offers `alpn`.
async fn tls_connect(server: &TestServer, cert: &CertificateDer<'static>, alpn: &[&[u8]]) -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

fn echo_request() -> Request<Full<Bytes>> {
    Request::get("/echo")
        .header("host", "localhost")
        .body(Full::default())
        .unwrap()
}

/// The response's version and its JSON body.
async fn read_echo(
    response: hyper::Result<hyper::Response<hyper::body::Incoming>>,
) -> (Version, serde_json::Value) {
    let response = response.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let version = response.version();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (version, serde_json::from_slice(&body).unwrap())
}

/// `GET /echo` as HTTP/2 over `tls`.
async fn echo_h2(tls: Tls) -> (Version, serde_json::Value) {
    let exchange = async {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .expect("HTTP/2 handshake");
        tokio::spawn(conn);
        read_echo(sender.send_request(echo_request()).await).await
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("HTTP/2 request timed out")
}

/// `GET /echo` as HTTP/1.1 over `tls`.
async fn echo_h1(tls: Tls) -> (Version, serde_json::Value) {
    let exchange = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .expect("HTTP/1 handshake");
        tokio::spawn(conn);
        read_echo(sender.send_request(echo_request()).await).await
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("HTTP/1.1 request timed out")
}

async fn rust_clients_get_the_protocol_alpn_chose(host: RuntimeKind) {
    let (server, files) = start_tls(host, Duration::from_secs(10));

    // ALPN h2 (and http/1.1): HTTP/2, and nothing else is served on that connection.
    let tls = tls_connect(&server, &files.der, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (version, json) = echo_h2(tls).await;
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(
        (&json["version"], &json["tls"], &json["alpn"]),
        (&"HTTP/2.0".into(), &true.into(), &"h2".into())
    );

    // ALPN http/1.1, and no ALPN at all: HTTP/1.1.
    for (alpn, expected) in [
        (&[&b"http/1.1"[..]][..], serde_json::json!("http/1.1")),
        (&[][..], serde_json::Value::Null),
    ] {
        let tls = tls_connect(&server, &files.der, alpn).await;
        let (version, json) = echo_h1(tls).await;
        assert_eq!(version, Version::HTTP_11, "{alpn:?}");
        assert_eq!(json["version"], "HTTP/1.1", "{alpn:?}");
        assert_eq!(json["tls"], true);
        assert_eq!(json["alpn"], expected);
    }

    // A client that agreed on h2 but speaks HTTP/1.1 is not served: the protocol came from ALPN,
    // not from sniffing.
    let mut tls = tls_connect(&server, &files.der, &[b"h2"]).await;
    tls.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut reply))
        .await
        .expect("neither answered nor closed");
    assert!(
        !String::from_utf8_lossy(&reply).contains("200 OK"),
        "{reply:?}"
    );
}

/// Connects `n` raw TCP clients that send nothing (or only `bytes`), and keeps them open.
async fn silent_clients(server: &TestServer, n: usize, bytes: &[u8]) -> Vec<TcpStream> {
    let mut clients = Vec::new();
    for _ in 0..n {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        clients.push(stream);
    }
    clients
}

async fn silent_clients_are_closed_after_the_header_read_timeout(host: RuntimeKind) {
    let (server, files) = start_tls(host, Duration::from_millis(500));
    let started = Instant::now();
    // Twenty clients that never start the handshake, and one that stops half-way through its
    // ClientHello: they must neither stall the accept loop nor stay open.
    let mut stalled = silent_clients(&server, 20, b"").await;
    stalled.extend(silent_clients(&server, 1, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await);

    // Meanwhile a real client is served at once.
    let tls = tls_connect(&server, &files.der, &[b"h2"]).await;
    let (_, json) = echo_h2(tls).await;
    assert_eq!(json["tls"], true);

    // Each stalled one is closed by the server after the timeout (EOF or reset).
    for (i, mut client) in stalled.into_iter().enumerate() {
        let mut buf = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "client {i} still open after 10 s");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400),
        "closed too early: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
}

async fn plain_http_on_the_tls_port_is_closed_and_the_server_goes_on(host: RuntimeKind) {
    let (server, files) = start_tls(host, Duration::from_secs(10));
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    assert!(!String::from_utf8_lossy(&reply).contains("HTTP/1.1 200"));
    // rustls answers with a TLS alert record (content type 21), if anything.
    assert!(reply.is_empty() || reply[0] == 0x15, "{reply:?}");

    let tls = tls_connect(&server, &files.der, &[b"http/1.1"]).await;
    let (version, _) = echo_h1(tls).await;
    assert_eq!(version, Version::HTTP_11);
}

async fn graceful_shutdown_over_tls(host: RuntimeKind) {
    let (mut server, files) = start_tls(host, Duration::from_secs(10));
    // A client still in its handshake holds nothing up: the drain drops it at once, instead of
    // waiting out the 10 s handshake timeout.
    let mut silent = silent_clients(&server, 1, b"").await;
    // An HTTP/2 request in flight over TLS is let finish; then GOAWAY, close_notify, close.
    let tls = tls_connect(&server, &files.der, &[b"h2"]).await;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let request = Request::get("/sleep?ms=800")
        .body(Full::<Bytes>::default())
        .unwrap();
    let in_flight = tokio::spawn(async move {
        let response = sender.send_request(request).await.expect("response");
        response.into_body().collect().await.unwrap().to_bytes()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    server.begin_shutdown();
    let body = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body, "slept 800 ms\n");
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(
        ended.is_ok(),
        "the TLS connection stayed open after the drain"
    );
    server.stopped(Duration::from_secs(10)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the drain waited for the silent client: {:?}",
        started.elapsed()
    );
    let mut buf = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(5), silent[0].read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the silent client is still open");
}
