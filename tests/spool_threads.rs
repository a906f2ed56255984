//! `--runtime spool` runs no tokio: the serving process's threads, read from
//! `/proc/<pid>/task/*/comm` while it serves (plain and TLS), include Spool's workers and no
//! thread whose name starts with `tokio`; SIGINT, delivered through `spool::signal`, still
//! stops it.

mod common;

use std::time::Duration;

use common::{http_get, spool, thread_names, Running};

fn serve_and_list_threads(extra: &[&str]) -> Vec<String> {
    let mut running = Running::spawn(
        spool()
            .args(["serve", "--addr", "127.0.0.1:0", "--runtime", "spool"])
            .args(["--workers", "2", "--log", "info"])
            .args(extra),
    );
    let scheme = if extra.is_empty() { "http" } else { "https" };
    let addr = running.listening_on(scheme);
    if extra.is_empty() {
        assert!(
            http_get(addr, "/sleep?ms=1").starts_with("HTTP/1.1 200"),
            "the server answers"
        );
    }
    let names = thread_names(running.id());
    running.signal(libc::SIGINT);
    let status = running
        .exited_within(Duration::from_secs(10))
        .expect("still running 10 s after SIGINT");
    assert!(status.success(), "exit status {status}");
    names
}

#[test]
fn a_spool_hosted_server_runs_no_tokio_thread() {
    for extra in [&[][..], &["--tls-self-signed"][..]] {
        let names = serve_and_list_threads(extra);
        assert!(
            names
                .iter()
                .filter(|n| n.starts_with("spool-worker"))
                .count()
                == 2,
            "two Spool workers expected among {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.starts_with("tokio")),
            "a tokio thread in a Spool-hosted server ({extra:?}): {names:?}"
        );
        // Nor the side thread that runs a current-thread tokio runtime for signals on the
        // tokio host (its name does not say tokio, so it is named here).
        assert!(
            !names.iter().any(|n| n == "spool-signals"),
            "the tokio signal thread runs in a Spool-hosted server: {names:?}"
        );
        eprintln!("threads ({extra:?}): {names:?}");
    }
}
