//! The `spool` binary as a user meets it: help, flag errors, a busy port, serving, and
//! stopping on a signal.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Output;
use std::time::Duration;

mod common;

use common::{http_get, spool, Running};

fn run(args: &[&str]) -> Output {
    spool().args(args).output().expect("the spool binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_exits_0_and_shows_every_default() {
    for args in [&["--help"][..], &["serve", "--help"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = text(&out.stdout);
        for expected in [
            "--addr",
            "[default: 127.0.0.1:3000]",
            "[env: SPOOL_ADDR=]",
            "--workers",
            "number of CPU cores",
            "--log",
            "[default: info]",
            "--shutdown-timeout",
            "[default: 10s]",
            "--header-read-timeout",
            "--runtime",
            "[env: SPOOL_RUNTIME=]",
            "[default: tokio]",
        ] {
            assert!(
                help.contains(expected),
                "{args:?}: no {expected:?} in\n{help}"
            );
        }
    }
    assert!(text(&run(&["--help"]).stdout).contains("serve"));
}

#[test]
fn a_bad_address_or_flag_exits_2_with_a_message() {
    let out = run(&["serve", "--addr", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid value 'nonsense' for '--addr"),
        "{stderr}"
    );

    for args in [
        &["--no-such-flag"][..],
        &["serve", "--workers", "0"],
        &["serve", "--shutdown-timeout", "soon"],
        &["serve", "--log", "[["],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).starts_with("error: "), "{args:?}");
    }
}

#[test]
fn a_port_in_use_exits_1_with_one_line() {
    for runtime in ["tokio", "spool"] {
        a_port_in_use_on(runtime);
    }
}

fn a_port_in_use_on(runtime: &str) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = run(&["serve", "--runtime", runtime, "--addr", &addr.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{runtime}");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let prefix = format!("error: cannot listen on {addr}: address already in use");
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// A running `spool` on a free port, its address read from its "listening on" log line.
struct Server {
    running: Running,
    addr: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let running =
            Running::spawn(
                spool()
                    .args(args)
                    .args(["--addr", "127.0.0.1:0", "--log", "info"]),
            );
        let addr = running.listening_on("http");
        Server { running, addr }
    }

    /// Sends `signal` and waits (at most 10 s) for the process to exit.
    fn stop(mut self, signal: libc::c_int) -> std::process::ExitStatus {
        self.running.signal(signal);
        self.running
            .exited_within(Duration::from_secs(10))
            .expect("spool did not exit within 10 s of the signal")
    }
}

#[test]
fn serves_then_exits_0_on_sigint_and_on_sigterm() {
    for (args, signal) in [
        (&[][..], libc::SIGINT),
        (&["serve"][..], libc::SIGTERM),
        (&["--runtime", "spool"][..], libc::SIGINT),
        (&["serve", "--runtime", "spool"][..], libc::SIGTERM),
    ] {
        let server = Server::start(args);
        let response = http_get(server.addr, "/");
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with("Hello, World!"), "{response}");

        // The request was logged, on one line.
        let logged = server
            .running
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a request log line");
        for part in [
            "method=GET",
            "path=/",
            "status=200",
            "bytes=13",
            "protocol=HTTP/1.1",
        ] {
            assert!(logged.contains(part), "{part:?} not in {logged:?}");
        }

        let status = server.stop(signal);
        assert_eq!(status.code(), Some(0), "after signal {signal}");
    }
}

/// CPU time (user + system) of every thread of process `pid` so far, from the scheduler's
/// per-thread nanosecond counters (`/proc/PID/task/*/schedstat`; `stat`'s 10 ms ticks are too
/// coarse for a 20 ms bound).
fn process_cpu(pid: u32) -> Duration {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("schedstat");
        if let Ok(stat) = std::fs::read_to_string(path) {
            total += stat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

#[test]
fn the_spool_hosted_server_with_100_idle_keep_alive_connections_uses_under_20ms_cpu_in_2s() {
    let server = Server::start(&["--runtime", "spool", "--workers", "2"]);
    // 100 keep-alive connections, each after one request, now idle: the server holds 100 pending
    // reads (and 100 header-read timers, 10 s away).
    let mut connections = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
            .unwrap();
        let mut response = [0u8; 512];
        let n = stream.read(&mut response).unwrap();
        assert!(response[..n].starts_with(b"HTTP/1.1 200 OK"));
        connections.push(stream);
    }
    std::thread::sleep(Duration::from_millis(200)); // let the workers park
    let before = process_cpu(server.running.id());
    assert!(before > Duration::ZERO, "schedstat unreadable"); // it has served 100 requests
    std::thread::sleep(Duration::from_secs(2));
    let used = process_cpu(server.running.id()) - before;
    eprintln!("spool host, 100 idle keep-alive connections: {used:?} of CPU in 2 s");
    assert!(used < Duration::from_millis(20), "used {used:?} in 2 s");
    drop(connections);
}
