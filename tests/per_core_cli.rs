//! `spool serve --per-core` through the binary: it serves and stops on SIGTERM on both
//! runtimes (on Spool with no tokio thread: the signal comes through the first core's reactor),
//! and the combinations it cannot honour exit 2 with one line.

mod common;

use std::time::Duration;

use common::{http_get, spool, thread_names, Running};

#[test]
fn per_core_serves_and_stops_on_sigterm_on_both_runtimes() {
    for runtime in ["tokio", "spool"] {
        let mut running = Running::spawn(spool().args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--runtime",
            runtime,
            "--per-core",
            "--workers",
            "2",
            "--log",
            "info",
        ]));
        let addr = running.listening_on("http");
        for _ in 0..8 {
            let reply = http_get(addr, "/");
            assert!(reply.starts_with("HTTP/1.1 200"), "{runtime}: {reply}");
            assert!(reply.ends_with("Hello, World!"), "{runtime}: {reply}");
        }
        let names = thread_names(running.id());
        assert!(
            names.iter().any(|n| n == "spool-core-1"),
            "{runtime}: the second core's thread is missing from {names:?}"
        );
        if runtime == "spool" {
            assert!(
                !names
                    .iter()
                    .any(|n| n.starts_with("tokio") || n == "spool-signals"),
                "a tokio thread in a Spool-hosted per-core server: {names:?}"
            );
        }
        running.signal(libc::SIGTERM);
        let status = running
            .exited_within(Duration::from_secs(10))
            .expect("still running 10 s after SIGTERM");
        assert!(status.success(), "{runtime}: exit status {status}");
    }
}

#[test]
fn combinations_per_core_cannot_honour_exit_2_with_one_line() {
    for (args, needle) in [
        (
            &["--runtime", "spool", "--inspect", "127.0.0.1:0"][..],
            "--inspect cannot be used with --per-core",
        ),
        (&["--max-connections", "1"][..], "--max-connections 1"),
        (
            &["--runtime", "spool", "--max-connections", "1"][..],
            "--max-connections 1",
        ),
    ] {
        let out = spool()
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--per-core",
                "--workers",
                "2",
            ])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
        assert!(errors[0].contains(needle), "{args:?}: {stderr}");
    }
}
