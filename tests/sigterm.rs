//! SIGTERM under load, through the binary, on both runtimes: every request that received
//! response headers receives its whole response, new connections are refused, and the process
//! exits 0 within its shutdown timeout.
//!
//! The load is 16 keep-alive HTTP/1.1 clients on plain threads (bounded: about 3 s), parsing
//! responses by hand so that a truncated body is seen as exactly that.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{spool, Running};

const CLIENTS: usize = 16;

#[test]
fn sigterm_under_load_completes_what_started_refuses_the_rest_and_exits_0_on_tokio() {
    sigterm_under_load("tokio");
}

#[test]
fn sigterm_under_load_completes_what_started_refuses_the_rest_and_exits_0_on_spool() {
    sigterm_under_load("spool");
}

/// What one client saw.
#[derive(Debug, Default)]
struct Seen {
    complete: usize,
    /// Headers arrived, then the connection ended before the body did: must stay 0.
    truncated: usize,
}

/// One keep-alive client: sends `/sleep?ms=20` requests until `stop`, reconnecting when the
/// server closes the connection, until connecting is refused.
fn client(addr: SocketAddr, stop: &AtomicBool, refused: &AtomicUsize) -> Seen {
    let mut seen = Seen::default();
    'connections: while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect(addr) else {
            refused.fetch_add(1, Ordering::Relaxed);
            return seen;
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        while !stop.load(Ordering::Relaxed) {
            let request = b"GET /sleep?ms=20 HTTP/1.1\r\nhost: load\r\n\r\n";
            if writer.write_all(request).is_err() {
                continue 'connections;
            }
            // The head: nothing at all is a close between requests, which is allowed.
            let mut content_length = None;
            let mut status = String::new();
            match reader.read_line(&mut status) {
                Ok(0) | Err(_) => continue 'connections,
                Ok(_) => {}
            }
            assert!(status.starts_with("HTTP/1.1 200"), "{status}");
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        seen.truncated += 1;
                        continue 'connections;
                    }
                    Ok(_) => {}
                }
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        content_length = value.trim().parse::<usize>().ok();
                    }
                }
            }
            let mut body = vec![0; content_length.expect("a content-length")];
            if reader.read_exact(&mut body).is_err() {
                seen.truncated += 1;
                continue 'connections;
            }
            assert_eq!(body, b"slept 20 ms\n");
            seen.complete += 1;
        }
    }
    seen
}

fn sigterm_under_load(runtime: &str) {
    let mut running = Running::spawn(
        spool()
            .args(["serve", "--addr", "127.0.0.1:0", "--log", "info"])
            .args(["--runtime", runtime, "--shutdown-timeout", "5s"]),
    );
    let addr = running.listening_on("http");

    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, refused) = (Arc::clone(&stop), Arc::clone(&refused));
            std::thread::spawn(move || client(addr, &stop, &refused))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));

    running.signal(libc::SIGTERM);
    let signalled = Instant::now();

    // The load goes on (new connections are tried) while the server drains.
    let status = running
        .exited_within(Duration::from_secs(8))
        .expect("still running 8 s after SIGTERM (shutdown timeout 5 s)");
    let exited_after = signalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Seen> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let complete: usize = seen.iter().map(|s| s.complete).sum();
    let truncated: usize = seen.iter().map(|s| s.truncated).sum();
    eprintln!(
        "{runtime}: {complete} complete responses, {truncated} truncated, {} refused \
         connections; {status}, {exited_after:?} after SIGTERM",
        refused.load(Ordering::Relaxed)
    );
    assert!(status.success(), "exit status {status}");
    assert_eq!(truncated, 0, "responses cut after their headers");
    assert!(
        complete > CLIENTS,
        "the load barely ran: {complete} responses"
    );
    // Clients whose connection the drain closed tried again, and were refused, not left
    // hanging in a backlog nobody accepts from.
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "no connection was refused"
    );
    // After exit nothing listens: refused.
    let error = TcpStream::connect(addr).expect_err("still accepting after exit");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}
