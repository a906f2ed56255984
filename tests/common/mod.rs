//! Test support for the binary's tests: the `spool` command with a clean environment, and a
//! running `spool` whose log lines (stderr) the test reads.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part of this module

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for a log line it expects.
const LOG_WAIT: Duration = Duration::from_secs(20);

/// The binary, with the environment variables it reads cleared so the host's settings can't
/// change what the tests see.
pub fn spool() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spool"));
    for var in [
        "RUST_LOG",
        "SPOOL_ADDR",
        "SPOOL_RUNTIME",
        "SPOOL_TLS_CERT",
        "SPOOL_TLS_KEY",
        "SPOOL_TLS_SELF_SIGNED",
        "SPOOL_SEND_TIMEOUT",
        "SPOOL_REUSE_PORT",
        "SPOOL_INSPECT",
        "SPOOL_PER_CORE",
    ] {
        command.env_remove(var);
    }
    command
}

/// A running `spool`, its stderr read line by line on a helper thread; killed on drop.
pub struct Running {
    child: Child,
    /// The log lines not yet read by the test.
    pub lines: mpsc::Receiver<String>,
}

impl Running {
    /// Spawns `command` (stdout discarded, stderr captured).
    pub fn spawn(command: &mut Command) -> Running {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the spool binary runs");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most 20 s) for a log line containing `needle`, and returns it.
    pub fn line_with(&self, needle: &str) -> String {
        let deadline = Instant::now() + LOG_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no log line with {needle:?} within {LOG_WAIT:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// The address in the "listening on {scheme}://ADDR" line (`scheme`: `http` or `https`).
    pub fn listening_on(&self, scheme: &str) -> SocketAddr {
        let needle = format!("listening on {scheme}://");
        let line = self.line_with(&needle);
        line.split(&needle)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own live child.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
    }

    /// Waits at most `limit` for the process to exit; `None` if it is still running.
    pub fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a plain socket (`connection: close`): the whole response.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The names of a process's threads (`/proc/<pid>/task/*/comm`: the first 15 bytes of each
/// name), sorted.
pub fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("/proc/<pid>/task is readable")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect();
    names.sort();
    names
}
