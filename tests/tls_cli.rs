//! The TLS flags as a user meets them: each unusable certificate or key file, and each
//! incomplete flag set, is one `error: ...` line and exit code 2; `--tls-self-signed` serves
//! HTTPS and logs the certificate's fingerprint. Both on tokio and on Spool (`--runtime`).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{spool, Running};

/// Runs `spool serve` on a free port with `args`, expecting it to exit at once.
fn run(args: &[&str]) -> Output {
    let mut child = spool()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the spool binary runs");
    // A bad setting must stop it; if it serves instead, don't wait forever.
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

/// A directory of PEM files for the tests (removed on drop).
struct Files(PathBuf);

impl Files {
    fn new(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("spool-tls-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let files = Files(dir);
        for who in ["a", "b"] {
            let names = vec!["localhost".to_owned()];
            let certified = rcgen::generate_simple_self_signed(names).unwrap();
            std::fs::write(files.path(&format!("{who}.crt")), certified.cert.pem()).unwrap();
            std::fs::write(
                files.path(&format!("{who}.key")),
                certified.key_pair.serialize_pem(),
            )
            .unwrap();
        }
        std::fs::write(files.path("junk.txt"), "this is not PEM\n").unwrap();
        files
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The runtimes the binary can host the server on.
const RUNTIMES: [&str; 2] = ["tokio", "spool"];

/// Exit code 2 and exactly `error: {expected}...` on one line, on every runtime.
fn assert_usage_error(args: &[&str], expected: &str) {
    for runtime in RUNTIMES {
        let args = [&["--runtime", runtime][..], args].concat();
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: {expected}")),
            "{args:?}:\n  got      {stderr}  expected error: {expected}"
        );
    }
}

#[test]
fn unusable_files_are_one_line_and_exit_2() {
    let f = Files::new("files");
    let (a_crt, a_key, b_key) = (f.path("a.crt"), f.path("a.key"), f.path("b.key"));
    let missing = f.path("missing.crt");
    let junk = f.path("junk.txt");
    let dir = f.0.display().to_string();

    assert_usage_error(
        &["--tls-cert", &missing, "--tls-key", &a_key],
        &format!("cannot read the TLS certificate file {missing}: no such file or directory"),
    );
    // Unreadable (a directory; permissions would not stop root).
    assert_usage_error(
        &["--tls-cert", &a_crt, "--tls-key", &dir],
        &format!("cannot read the TLS key file {dir}: is a directory"),
    );
    assert_usage_error(
        &["--tls-cert", &a_crt, "--tls-key", &b_key],
        &format!("the private key in {b_key} does not match the certificate in {a_crt}"),
    );
    // A PEM file with no certificate: a key, or no PEM at all.
    for not_a_cert in [&a_key, &junk] {
        assert_usage_error(
            &["--tls-cert", not_a_cert, "--tls-key", &a_key],
            &format!("no certificate in {not_a_cert}: expected a PEM block `-----BEGIN CERTIFICATE-----`"),
        );
    }
    // A PEM file with no key.
    assert_usage_error(
        &["--tls-cert", &a_crt, "--tls-key", &a_crt],
        &format!("no private key in {a_crt}: expected a PEM block"),
    );
}

#[test]
fn incomplete_flags_are_one_line_and_exit_2() {
    let f = Files::new("flags");
    let (crt, key) = (f.path("a.crt"), f.path("a.key"));
    assert_usage_error(&["--tls-cert", &crt], "--tls-cert needs --tls-key");
    assert_usage_error(&["--tls-key", &key], "--tls-key needs --tls-cert");
    assert_usage_error(
        &["--tls-self-signed", "--tls-cert", &crt, "--tls-key", &key],
        "--tls-self-signed cannot be combined with --tls-cert or --tls-key",
    );
}

#[test]
fn help_shows_the_tls_flags() {
    let out = spool().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "HTTPS:",
        "--tls-cert <FILE>",
        "--tls-key <FILE>",
        "--tls-self-signed",
        "[env: SPOOL_TLS_CERT=]",
        "ALPN",
    ] {
        assert!(help.contains(expected), "no {expected:?} in\n{help}");
    }
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

#[test]
fn self_signed_logs_its_fingerprint_and_serves_https_on_tokio() {
    self_signed_logs_its_fingerprint_and_serves_https("tokio");
}

#[test]
fn self_signed_logs_its_fingerprint_and_serves_https_on_spool() {
    self_signed_logs_its_fingerprint_and_serves_https("spool");
}

fn self_signed_logs_its_fingerprint_and_serves_https(runtime: &str) {
    // Through the environment variables, as a deployment would set them.
    let running = Running::spawn(
        spool()
            .args(["serve", "--addr", "127.0.0.1:0", "--log", "info"])
            .env("SPOOL_TLS_SELF_SIGNED", "true")
            .env("SPOOL_RUNTIME", runtime),
    );

    let made = running.line_with("self-signed");
    let fingerprint = made
        .split("sha256=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no sha256= in {made}"));
    let bytes: Vec<&str> = fingerprint.split(':').collect();
    assert_eq!(bytes.len(), 32, "{made}");
    assert!(bytes
        .iter()
        .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit())));
    assert!(made.contains("localhost") && made.contains("127.0.0.1") && made.contains("::1"));

    let listening = running.line_with("listening on https://");
    assert!(listening.contains(runtime), "{listening}");
    let addr = listening
        .split("listening on https://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    if !have("curl") {
        eprintln!("self_signed_logs_its_fingerprint_and_serves_https ({runtime}): curl part skipped: curl not installed");
        return;
    }
    let out = Command::new("curl")
        .args(["-sSk", "--max-time", "15", "--http2", "-o", "/dev/null"])
        .args(["-w", "%{http_version}"])
        .arg(format!("https://{addr}/"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2", "{out:?}");
    let logged = running.line_with("request");
    assert!(logged.contains("tls=true"), "{logged}");
    assert!(logged.contains("protocol=HTTP/2.0"), "{logged}");
}
