//! A real browser, as in the chapter's Figure 3.4: headless Chromium loads `/echo` over HTTPS
//! and gets HTTP/2 (agreed by ALPN), and over cleartext gets HTTP/1.1 — browsers speak HTTP/2
//! only over TLS, which is why the chapter's cleartext HTTP/2-only server could not be opened in
//! one.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it). Where it is missing the test says so and
//! passes, except in CI (`CI=true`), where a missing browser fails it, so CI cannot skip it
//! silently.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{start_with, RuntimeKind, TestServer};

const CHROMIUM: &str = "chromium";
/// Chromium starts in about a second here; this only stops a hung browser from hanging CI.
const BROWSER_LIMIT: Duration = Duration::from_secs(60);

host_tests!(chromium_gets_http2_over_tls_and_http1_in_cleartext);

/// Chromium's version line, or `None` (after saying why the test is skipped) when it is not
/// installed. Panics in CI, where it must be.
fn chromium_version(test: &str) -> Option<String> {
    let found = std::process::Command::new(CHROMIUM)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success());
    match found {
        Some(out) => Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        None if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!(
                "{test}: chromium not installed, and CI must run this test (.ci/run installs it)"
            )
        }
        None => {
            eprintln!("{test}: skipped: chromium not installed (apt-get install chromium)");
            None
        }
    }
}

/// A fresh, empty directory for one browser profile (removed on drop).
struct Profile(PathBuf);

impl Profile {
    fn new() -> Profile {
        Profile(common::fresh_dir("spool-chromium"))
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads `url` in headless Chromium and returns the page's DOM as the browser rendered it.
async fn dump_dom(url: &str, profile: &Path) -> String {
    let mut command = tokio::process::Command::new(CHROMIUM);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            // The server's certificate is self-signed.
            "--ignore-certificate-errors",
            // Nothing but our page: no updates, sync, or first-run traffic.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            // HTTP/3 is not what is being tested.
            "--disable-quic",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        // If the limit passes, dropping the future kills the browser.
        .kill_on_drop(true);
    let output = tokio::time::timeout(BROWSER_LIMIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("chromium did not finish loading {url} in {BROWSER_LIMIT:?}"))
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && !dom.is_empty(),
        "chromium failed on {url}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// The `/echo` JSON out of the page Chromium made of it (`<pre>{...}</pre>`).
fn echo_json(dom: &str) -> serde_json::Value {
    let start = dom
        .find("<pre")
        .and_then(|i| dom[i..].find('>').map(|j| i + j + 1));
    let end = dom.find("</pre>");
    let (Some(start), Some(end)) = (start, end) else {
        panic!("no <pre> in the page:\n{dom}");
    };
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

fn url(scheme: &str, server: &TestServer) -> String {
    format!("{scheme}://{}/echo", server.addr)
}

async fn chromium_gets_http2_over_tls_and_http1_in_cleartext(host: RuntimeKind) {
    // Names the host too: the same test runs once per host.
    let test = &format!("chromium_gets_http2_over_tls_and_http1_in_cleartext (host {host:?})");
    let Some(version) = chromium_version(test) else {
        return;
    };
    let tls = start_with(
        host,
        server::Config {
            tls_self_signed: true,
            ..server::Config::default()
        },
    );
    let plain = start_with(host, server::Config::default());

    let profile = Profile::new();
    let over_tls = echo_json(&dump_dom(&url("https", &tls), &profile.0).await);
    let profile = Profile::new();
    let cleartext = echo_json(&dump_dom(&url("http", &plain), &profile.0).await);
    // Shown with --nocapture: what the browser reported, for the record.
    eprintln!(
        "{test}: {version}: https -> {} (alpn {}), http -> {}",
        over_tls["version"], over_tls["alpn"], cleartext["version"]
    );

    assert_eq!(over_tls["version"], "HTTP/2.0", "{over_tls}");
    assert_eq!(over_tls["tls"], true);
    assert_eq!(over_tls["alpn"], "h2");
    assert_eq!(cleartext["version"], "HTTP/1.1", "{cleartext}");
    assert_eq!(cleartext["tls"], false);
    // It really was the browser.
    let user_agent = over_tls["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pair| pair[0] == "user-agent")
        .map(|pair| pair[1].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert!(user_agent.contains("Chrome"), "{user_agent}");
}
