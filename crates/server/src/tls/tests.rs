//! The server's TLS (tokio-rustls under [`TlsAcceptor`]'s settings) against a real TLS client,
//! over an in-memory pipe whose tiny buffer forces partial writes and `Pending` at every step of
//! the handshake and the transfer.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};

use super::*;

/// A client that trusts `cert` only, offers `alpn`, and speaks `versions`.
fn client_config(
    cert: &CertificateDer<'static>,
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

type ServerStream = TlsStream<DuplexStream>;
type ClientStream = tokio_rustls::client::TlsStream<DuplexStream>;

/// A server with a fresh self-signed certificate, and a client that trusts it.
fn endpoints(
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (TlsAcceptor, tokio_rustls::TlsConnector) {
    let (certs, key) = self_signed().unwrap();
    let acceptor = TlsAcceptor::new(certs.clone(), key).unwrap();
    let client = client_config(&certs[0], alpn, versions);
    (acceptor, tokio_rustls::TlsConnector::from(Arc::new(client)))
}

/// A handshaken client/server pair over a 64 KiB pipe.
async fn pair(
    alpn: &[&[u8]],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (ServerStream, ClientStream) {
    let (acceptor, connector) = endpoints(alpn, versions);
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let name = ServerName::try_from("localhost").unwrap();
    let (client, server) = within(async {
        tokio::join!(
            connector.connect(name, client_io),
            acceptor.accept(server_io)
        )
    })
    .await;
    (server.unwrap(), client.unwrap())
}

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("timed out")
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn alpn_agrees_on_what_the_client_offers() {
    let v = rustls::DEFAULT_VERSIONS;
    for (offered, agreed) in [
        (&[&b"h2"[..], b"http/1.1"][..], Some(&b"h2"[..])),
        (&[&b"http/1.1"[..]][..], Some(&b"http/1.1"[..])),
        (&[][..], None),
    ] {
        let (server, _client) = pair(offered, v).await;
        assert_eq!(alpn_protocol(&server), agreed, "{offered:?}");
    }
}

/// The handshake, then both ways at once, 300 KiB each, through a 61-byte pipe: every read and
/// write of TLS records is partial and most return `Pending` first. Then both sides close with
/// close_notify. Each side runs as it would on a socket: handshake and transfer in one go, the
/// two sides concurrently.
#[tokio::test]
async fn large_transfers_through_a_tiny_pipe_both_tls_versions() {
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (acceptor, connector) = endpoints(&[b"h2"], versions);
        let (client_io, server_io) = tokio::io::duplex(61);
        let to_client = pattern(300 * 1024, 1);
        let to_server = pattern(300 * 1024, 7);
        let server_side = async {
            let stream = acceptor.accept(server_io).await.unwrap();
            assert_eq!(alpn_protocol(&stream), Some(&b"h2"[..]));
            let (mut reader, mut writer) = tokio::io::split(stream);
            let write = async {
                writer.write_all(&to_client).await.unwrap();
                // Sends close_notify, then shuts the pipe's write side.
                writer.shutdown().await.unwrap();
            };
            let read = async {
                let mut got = Vec::new();
                reader.read_to_end(&mut got).await.unwrap();
                got
            };
            tokio::join!(write, read).1
        };
        let client_side = async {
            let name = ServerName::try_from("localhost").unwrap();
            let stream = connector.connect(name, client_io).await.unwrap();
            let (mut reader, mut writer) = tokio::io::split(stream);
            let write = async {
                writer.write_all(&to_server).await.unwrap();
                writer.shutdown().await.unwrap();
            };
            let read = async {
                let mut got = Vec::new();
                // tokio-rustls reports an EOF without close_notify as an error: Ok means the
                // server's close_notify arrived.
                reader.read_to_end(&mut got).await.unwrap();
                got
            };
            tokio::join!(write, read).1
        };
        let (server_got, client_got) =
            within(async { tokio::join!(server_side, client_side) }).await;
        assert!(server_got == to_server, "server received corrupt data");
        assert!(client_got == to_client, "client received corrupt data");
    }
}

/// The same with the two halves of the server's stream in two tasks: reading never writes, so
/// neither half takes the other's wake-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_in_two_tasks() {
    let (server, client) = pair(&[b"h2"], rustls::DEFAULT_VERSIONS).await;
    let (mut server_reader, mut server_writer) = tokio::io::split(server);
    let (mut client_reader, mut client_writer) = tokio::io::split(client);
    let data = pattern(1024 * 1024, 3);
    let tasks = [
        tokio::spawn({
            let data = data.clone();
            async move {
                server_writer.write_all(&data).await.unwrap();
                server_writer.shutdown().await.unwrap();
                Vec::new()
            }
        }),
        tokio::spawn(async move {
            let mut got = Vec::new();
            server_reader.read_to_end(&mut got).await.unwrap();
            got
        }),
        tokio::spawn({
            let data = data.clone();
            async move {
                client_writer.write_all(&data).await.unwrap();
                client_writer.shutdown().await.unwrap();
                Vec::new()
            }
        }),
        tokio::spawn(async move {
            let mut got = Vec::new();
            client_reader.read_to_end(&mut got).await.unwrap();
            got
        }),
    ];
    for (i, task) in tasks.into_iter().enumerate() {
        let got = within(task).await.unwrap();
        if i % 2 == 1 {
            assert!(got == data, "reader {i} received corrupt data");
        }
    }
}

/// A peer that drops the TCP connection without close_notify: the server's read ends at once,
/// reporting the truncation as `UnexpectedEof` (tokio-rustls's rule; the hand-written driver
/// that came before reported a plain EOF). hyper frames its own messages, so to HTTP either is
/// the end of the connection.
#[tokio::test]
async fn eof_without_close_notify_ends_the_read_as_unexpected_eof() {
    let (mut server, client) = pair(&[b"http/1.1"], rustls::DEFAULT_VERSIONS).await;
    let (io, _conn) = client.into_inner();
    drop(io);
    let mut got = Vec::new();
    let error = within(server.read_to_end(&mut got)).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
    assert!(got.is_empty());
}

async fn handshake_with(bytes: &[u8]) -> io::Error {
    let (certs, key) = self_signed().unwrap();
    let acceptor = TlsAcceptor::new(certs, key).unwrap();
    let (mut client_io, server_io) = tokio::io::duplex(64 * 1024);
    client_io.write_all(bytes).await.unwrap();
    client_io.shutdown().await.unwrap();
    let result = within(acceptor.accept(server_io)).await;
    // Whatever the server answered (an alert, or nothing) can be read, then EOF.
    let mut answer = Vec::new();
    let _ = within(client_io.read_to_end(&mut answer)).await;
    drop(client_io);
    result.expect_err("the handshake must fail")
}

#[tokio::test]
async fn eof_mid_handshake_is_an_error() {
    // The first bytes of a TLS ClientHello record, then EOF.
    let error = handshake_with(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]).await;
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
    // Nothing at all, then EOF.
    let error = handshake_with(b"").await;
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_refused() {
    let error = handshake_with(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
}

#[test]
fn fingerprint_is_sha256_in_colon_hex() {
    let (certs, _) = self_signed().unwrap();
    let print = fingerprint(&certs[0]);
    assert_eq!(print.len(), 32 * 3 - 1, "{print}");
    assert!(print
        .split(':')
        .all(|byte| byte.len() == 2 && byte.chars().all(|c| c.is_ascii_hexdigit())));
    assert_eq!(
        fingerprint(&CertificateDer::from(&b"abc"[..])),
        "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
    );
}

#[test]
fn flag_combinations() {
    let with = |cert: Option<&str>, key: Option<&str>, self_signed: bool| Config {
        tls_cert: cert.map(PathBuf::from),
        tls_key: key.map(PathBuf::from),
        tls_self_signed: self_signed,
        ..Config::default()
    };
    assert!(TlsAcceptor::from_config(&with(None, None, false))
        .unwrap()
        .is_none());
    assert!(TlsAcceptor::from_config(&with(None, None, true))
        .unwrap()
        .is_some());
    for (config, expected) in [
        (
            with(Some("c.pem"), None, false),
            "--tls-cert needs --tls-key",
        ),
        (
            with(None, Some("k.pem"), false),
            "--tls-key needs --tls-cert",
        ),
        (
            with(Some("c.pem"), Some("k.pem"), true),
            "--tls-self-signed cannot be combined",
        ),
        (
            with(None, Some("k.pem"), true),
            "--tls-self-signed cannot be combined",
        ),
        (
            with(Some("/nonexistent/c.pem"), Some("k.pem"), false),
            "cannot read the TLS certificate file /nonexistent/c.pem: no such file",
        ),
    ] {
        let error = TlsAcceptor::from_config(&config).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{error}");
        assert_eq!(error.lines().count(), 1, "{error}");
    }
}
