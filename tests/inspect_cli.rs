//! The inspector's flags as a user meets them: a non-loopback `--inspect` without
//! `--inspect-allow-remote`, or `--inspect` on the tokio host, is one `error:` line and exit 2,
//! before anything listens; `SPOOL_INSPECT` is the same flag.

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::spool;

/// Runs `spool serve` with `args` (and `env`), expecting it to exit at once.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = spool()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the spool binary runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("spool {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn one_line_exit_2(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(needle),
        "{stderr}"
    );
}

#[test]
fn a_remote_inspector_address_is_refused_without_the_flag() {
    let out = run(&["--runtime", "spool", "--inspect", "0.0.0.0:0"], &[]);
    one_line_exit_2(&out, "--inspect-allow-remote");
    let out = run(&["--runtime", "spool"], &[("SPOOL_INSPECT", "0.0.0.0:0")]);
    one_line_exit_2(&out, "--inspect-allow-remote");
}

#[test]
fn the_tokio_host_refuses_the_inspector() {
    let out = run(&["--runtime", "tokio", "--inspect", "127.0.0.1:0"], &[]);
    one_line_exit_2(&out, "--runtime spool");
}

#[test]
fn the_lab_page_is_loopback_only() {
    let out = spool()
        .args(["lab", "--serve", "0.0.0.0:0"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    one_line_exit_2(&out, "loopback");
}
