//! Zero-downtime restarts in place, through the binary (`--reuse-port`), on both runtimes: two
//! processes bound to one port both accept, and a restart under a small load (A and B on one
//! port; SIGTERM A; start A'; SIGTERM B) loses no request.
//!
//! The load is 8 keep-alive HTTP/1.1 clients on plain threads (bounded: a few seconds) that
//! honour `Connection: close`, as real clients do, and 2 HTTP/2 clients with 4 streams in flight
//! each that follow RFC 9113: after a GOAWAY they open a new connection, and a request the
//! server did not process (REFUSED_STREAM, or above the GOAWAY's last-stream-id, §8.7) is sent
//! again there. Every request that got no whole answer otherwise counts as failed.
//! `scripts/rolling-restart` runs the same with wrk and h2load, and behind nginx.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{spool, Running};

const CLIENTS: usize = 8;
const H2_CLIENTS: usize = 2;
const H2_STREAMS: usize = 4;

fn start(runtime: &str, addr: &str) -> (Running, SocketAddr) {
    let running = Running::spawn(
        spool()
            .args(["serve", "--addr", addr, "--log", "info", "--reuse-port"])
            .args([
                "--runtime",
                runtime,
                "--shutdown-timeout",
                "5s",
                "--workers",
                "2",
            ]),
    );
    let addr = running.listening_on("http");
    (running, addr)
}

fn terminate(mut running: Running) {
    running.signal(libc::SIGTERM);
    let status = running
        .exited_within(Duration::from_secs(10))
        .expect("still running 10 s after SIGTERM (shutdown timeout 5 s)");
    assert!(status.success(), "exit status {status}");
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Seen {
    complete: usize,
    /// Sent, and no whole answer came (reset, closed, cut): must stay 0.
    failed: usize,
    /// Connections opened.
    connections: usize,
}

/// One keep-alive client: `GET /healthz` until `stop`; a new connection after every
/// `Connection: close`, as real clients do.
fn client(addr: SocketAddr, stop: &AtomicBool) -> Seen {
    let mut seen = Seen::default();
    'connections: while !stop.load(Ordering::Relaxed) {
        let stream = match TcpStream::connect(addr) {
            Ok(stream) => stream,
            Err(_) => {
                seen.failed += 1;
                continue;
            }
        };
        seen.connections += 1;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        while !stop.load(Ordering::Relaxed) {
            if writer
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: load\r\n\r\n")
                .is_err()
            {
                seen.failed += 1;
                continue 'connections;
            }
            let mut status = String::new();
            if reader.read_line(&mut status).unwrap_or(0) == 0 {
                seen.failed += 1;
                continue 'connections;
            }
            assert!(status.starts_with("HTTP/1.1 200"), "{status}");
            let (mut length, mut close) = (None, false);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    seen.failed += 1;
                    continue 'connections;
                }
                if line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    length = value.trim().parse::<usize>().ok();
                }
                close |= lower.starts_with("connection:") && lower.contains("close");
            }
            let mut body = vec![0; length.expect("a content-length")];
            if reader.read_exact(&mut body).is_err() {
                seen.failed += 1;
                continue 'connections;
            }
            assert_eq!(body, b"ok");
            seen.complete += 1;
            if close {
                continue 'connections;
            }
        }
    }
    seen
}

/// What the HTTP/2 clients saw.
#[derive(Debug, Default)]
struct SeenH2 {
    complete: usize,
    /// Sent, not refused, and no whole answer came: must stay 0.
    failed: usize,
    /// Refused unprocessed (safe to retry), and sent again on a new connection.
    retried: usize,
    connections: usize,
}

/// One HTTP/2 client (see the module docs), on a runtime of its own, until `stop`.
fn h2_client(addr: SocketAddr, stop: Arc<AtomicBool>) -> SeenH2 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut seen = SeenH2::default();
        // Requests refused on the last connection, owed a resend on the next.
        let mut owed = 0;
        while !stop.load(Ordering::Relaxed) || owed > 0 {
            let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
                // Nothing was sent: try again (as the HTTP/1 clients count it: failed).
                seen.failed += 1;
                continue;
            };
            let Ok((send, conn)) = h2::client::handshake(tcp).await else {
                seen.failed += 1;
                continue;
            };
            seen.connections += 1;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let streams: Vec<_> = (0..H2_STREAMS)
                .map(|i| {
                    let resend = owed / H2_STREAMS + usize::from(i < owed % H2_STREAMS);
                    tokio::spawn(h2_stream(addr, send.clone(), Arc::clone(&stop), resend))
                })
                .collect();
            owed = 0;
            for stream in streams {
                let (s, refused) = stream.await.unwrap();
                seen.complete += s.complete;
                seen.failed += s.failed;
                seen.retried += s.retried;
                owed += refused;
            }
        }
        seen
    })
}

/// One stream slot of [`h2_client`]: requests one after the other on `send` until `stop` (and
/// the `resend` owed are done), or until the connection takes no new stream (GOAWAY). Returns
/// what it saw and how many requests were refused unprocessed (0 or 1: it stops at one).
async fn h2_stream(
    addr: SocketAddr,
    mut send: h2::client::SendRequest<bytes::Bytes>,
    stop: Arc<AtomicBool>,
    mut resend: usize,
) -> (SeenH2, usize) {
    let mut seen = SeenH2::default();
    let owed = |resend: usize| resend.max(1);
    while resend > 0 || !stop.load(Ordering::Relaxed) {
        // An error here or from `send_request`: the connection takes no new stream (GOAWAY,
        // closed); nothing was sent, so what this slot owes goes to the next connection.
        send = match send.ready().await {
            Ok(send) => send,
            Err(_) => return (seen, resend),
        };
        let request = http::Request::get(format!("http://{addr}/healthz"))
            .body(())
            .unwrap();
        let Ok((response, _)) = send.send_request(request, true) else {
            return (seen, resend);
        };
        let answer = async {
            let response = response.await?;
            assert_eq!(response.status(), 200);
            let mut body = response.into_body();
            let mut got = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk?;
                let _ = body.flow_control().release_capacity(chunk.len());
                got.extend_from_slice(&chunk);
            }
            Ok::<_, h2::Error>(got)
        };
        match answer.await {
            Ok(body) => {
                assert_eq!(body, b"ok");
                seen.complete += 1;
                resend = resend.saturating_sub(1);
            }
            // RFC 9113 §8.7: refused, or above the GOAWAY's last-stream-id (h2 reports those
            // as a GOAWAY error): not processed, safe to send again.
            Err(e) if e.reason() == Some(h2::Reason::REFUSED_STREAM) || e.is_go_away() => {
                seen.retried += 1;
                return (seen, owed(resend));
            }
            Err(_) => {
                seen.failed += 1;
                resend = resend.saturating_sub(1);
            }
        }
    }
    (seen, 0)
}

fn restart_in_place_loses_nothing(runtime: &str) {
    let (a, addr) = start(runtime, "127.0.0.1:0");
    let port = addr.to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || client(addr, &stop))
        })
        .collect();
    let h2_clients: Vec<_> = (0..H2_CLIENTS)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || h2_client(addr, stop))
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let (b, _) = start(runtime, &port);
    std::thread::sleep(Duration::from_millis(500));
    terminate(a);
    let (a2, _) = start(runtime, &port);
    std::thread::sleep(Duration::from_millis(500));
    terminate(b);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Seen> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let complete: usize = seen.iter().map(|s| s.complete).sum();
    let failed: usize = seen.iter().map(|s| s.failed).sum();
    let connections: usize = seen.iter().map(|s| s.connections).sum();
    let h2: Vec<SeenH2> = h2_clients.into_iter().map(|c| c.join().unwrap()).collect();
    let h2_complete: usize = h2.iter().map(|s| s.complete).sum();
    let h2_failed: usize = h2.iter().map(|s| s.failed).sum();
    let h2_retried: usize = h2.iter().map(|s| s.retried).sum();
    let h2_connections: usize = h2.iter().map(|s| s.connections).sum();
    eprintln!(
        "{runtime}: HTTP/1.1 {complete} answered, {failed} failed, {connections} connections; \
         HTTP/2 {h2_complete} answered, {h2_failed} failed, {h2_retried} refused and sent again, \
         {h2_connections} connections; in {:?}",
        started.elapsed()
    );
    terminate(a2);
    assert_eq!(failed, 0, "HTTP/1.1 requests lost across the restart");
    assert_eq!(h2_failed, 0, "HTTP/2 requests lost across the restart");
    assert!(
        h2_complete > 100,
        "the HTTP/2 load barely ran: {h2_complete}"
    );
    // Each drain sent its HTTP/2 connections GOAWAY: the clients moved at least twice.
    assert!(
        h2_connections >= 2 * H2_CLIENTS,
        "{h2_connections} HTTP/2 connections"
    );
    assert!(complete > 100, "the load barely ran: {complete}");
    // Each drain closed its keep-alive connections, so clients reconnected at least twice.
    assert!(connections >= 2 * CLIENTS, "{connections} connections");
}

/// Both processes on one port accept: new connections reach each of them.
fn two_servers_on_one_port_both_accept(runtime: &str) {
    let (a, addr) = start(runtime, "127.0.0.1:0");
    let (b, _) = start(runtime, &addr.to_string());
    // Without SO_REUSEPORT on both, the second could not have bound: it would have exited.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut a_served = false;
    let mut b_served = false;
    // The kernel spreads connections by a hash of their addresses: the log line of each
    // request shows which process answered.
    while !(a_served && b_served) {
        assert!(Instant::now() < deadline, "a: {a_served}, b: {b_served}");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        a_served |= a
            .lines
            .try_iter()
            .any(|line| line.contains("path=/healthz"));
        b_served |= b
            .lines
            .try_iter()
            .any(|line| line.contains("path=/healthz"));
    }
    terminate(a);
    terminate(b);
}

#[test]
fn restart_in_place_under_load_loses_no_request_on_tokio() {
    restart_in_place_loses_nothing("tokio");
}

#[test]
fn restart_in_place_under_load_loses_no_request_on_spool() {
    restart_in_place_loses_nothing("spool");
}

#[test]
fn two_servers_bound_to_one_port_both_accept_on_tokio() {
    two_servers_on_one_port_both_accept("tokio");
}

#[test]
fn two_servers_bound_to_one_port_both_accept_on_spool() {
    two_servers_on_one_port_both_accept("spool");
}
