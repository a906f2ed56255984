//! The process's log: every line, access lines included, goes through a bounded queue to one
//! writer thread, so that a slow or stalled stderr (a log shipper that stopped reading,
//! `spool serve | less` left open) never stops a worker.
//!
//! # Rules
//!
//! 1. A worker formats its line and hands the bytes to the queue (tracing-appender's
//!    `non_blocking`, in its lossy mode): it never calls `write(2)` on the log and never waits
//!    for the queue.
//! 2. When the queue already holds `--log-queue-lines` lines, the new line is **dropped**, not
//!    waited for. The drops are counted: `spool_log_lines_dropped_total` on `/metrics`
//!    (`dropped_lines`).
//! 3. The writer thread takes lines off the queue in batches, buffers them and writes the batch
//!    at once (one `write(2)` for many lines), then rests [`WRITE_PAUSE`] before it looks at the
//!    queue again. While it rests it is not waiting on the queue, so the workers that queue lines
//!    meanwhile wake nobody: a busy server pays no `futex(2)` wake-up and no writer context
//!    switch per line, only one `write(2)` per pause. Before the first line it writes after a
//!    drop, it writes one line saying how many lines were dropped since the last such line, so a
//!    reader sees where the gap is and how large it is.
//! 4. Dropping the [`LogGuard`] (the binary does so once the host has returned) writes every
//!    line still queued before it returns. If stderr stays stalled, it gives up after about a
//!    second (tracing-appender's limit), so a stalled log never holds the exit for long.
//!
//! # Targets and formats
//!
//! Access lines (one per request) have their own target, [`ACCESS_TARGET`] (`spool::access`),
//! so a filter can silence them alone: `--log info,spool::access=off`. Every other line keeps
//! its module's target (`server::host`, ...).
//!
//! The access line is the one line written per request, so it is formatted here, by hand, into
//! the same queue (`access`): tracing's generic formatter spends about 15 000 instructions on
//! it (field visitors, `core::fmt` for every value, ANSI wrappers even with colours off, the
//! date computed afresh each time), this about a tenth of that. It is still filtered as a
//! tracing event of [`ACCESS_TARGET`] at `INFO`, and reads the same as tracing's line. When
//! stderr is a terminal (colours on), or when [`init`] was not called (the library's tests, an
//! embedder with its own subscriber), it is an ordinary tracing event.
//!
//! `--log-format text` (the default) is tracing's human format; `--log-format json` writes one
//! JSON object per line, the event's fields at the top level beside `timestamp`, `level`,
//! `target` and `message`. An access line carries `peer`, `method`, `path`, `protocol`, `tls`,
//! `status`, `bytes` and `duration` (e.g. `"1.2ms"`), as the text line does.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, BufWriter, IsTerminal as _, Write};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use http::Version;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::EnvFilter;

/// The target of the one line logged per request.
pub const ACCESS_TARGET: &str = "spool::access";

/// Lines the queue holds when `--log-queue-lines` is absent: about 3 MB of access lines, seconds
/// of a busy server's log, enough to ride out a slow disk or a paused reader.
pub const DEFAULT_QUEUE_LINES: usize = 16 * 1024;

/// The writer thread's buffer: one batch is written with one `write(2)` while it fits.
const WRITE_BUFFER: usize = 64 * 1024;

/// How long the writer thread rests after writing a batch (rule 3): lines reach stderr at most
/// this much later, and a full queue ([`DEFAULT_QUEUE_LINES`]) lasts far longer than this at any
/// rate a server on one machine answers.
pub const WRITE_PAUSE: Duration = Duration::from_millis(2);

/// Where [`access`] writes its hand-formatted lines: set by [`init`] unless stderr is a terminal.
static ACCESS: OnceLock<AccessSink> = OnceLock::new();

/// The queue, and the format lines are written in.
struct AccessSink {
    queue: NonBlocking,
    format: LogFormat,
}

/// The queue's drop counter, set once by [`init`]; unset (no drops) when the process logs some
/// other way (the library's tests, an embedder).
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// tracing's human-readable lines (colours when stderr is a terminal).
    #[default]
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// Why [`init`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The filter is not valid EnvFilter syntax.
    #[error("invalid value '{filter}' for '--log <FILTER>': {reason}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// What the parser said.
        reason: String,
    },
    /// A global subscriber was set already (only an embedder can cause this).
    #[error("cannot set up logging: {0}")]
    Init(String),
}

/// Keeps the log's writer thread: while it lives, queued lines are written; dropping it writes
/// the lines still queued and stops the thread (rule 4 of the module docs).
#[must_use = "dropping the guard stops the log's writer thread"]
#[derive(Debug)]
pub struct LogGuard {
    _worker: WorkerGuard,
}

/// Sends this process's logs (tracing events) to stderr through the bounded queue, filtered by
/// `filter` (EnvFilter syntax) and written in `format`; `queue_lines` is the queue's bound (at
/// least 1).
pub fn init(filter: &str, format: LogFormat, queue_lines: usize) -> Result<LogGuard, LogError> {
    let env_filter = EnvFilter::try_new(filter).map_err(|error| LogError::Filter {
        filter: filter.to_owned(),
        reason: error.to_string(),
    })?;
    let stderr = io::stderr();
    let ansi = format == LogFormat::Text && stderr.is_terminal();
    let mut writer = Reporting::new(
        BufWriter::with_capacity(WRITE_BUFFER, stderr),
        format,
        &DROPPED,
    );
    writer.pause = true;
    let (queue, worker) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(queue_lines.max(1))
        .thread_name("spool-log")
        .finish(writer);
    // Set before the first event is sent, so the writer thread always finds it.
    let _ = DROPPED.set(queue.error_counter());
    if !ansi {
        let _ = ACCESS.set(AccessSink {
            queue: queue.clone(),
            format,
        });
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(queue);
    let result = match format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    result.map_err(|error| LogError::Init(error.to_string()))?;
    Ok(LogGuard { _worker: worker })
}

/// Log lines dropped so far because the queue was full (rule 2).
pub(crate) fn dropped_lines() -> u64 {
    count(&DROPPED)
}

/// What `counter` has counted; 0 while it is unset.
fn count(counter: &OnceLock<ErrorCounter>) -> u64 {
    counter
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64)
}

/// What the one line per request says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccessLine<'a> {
    pub(crate) peer: SocketAddr,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) protocol: Version,
    pub(crate) tls: bool,
    pub(crate) status: u16,
    pub(crate) bytes: u64,
    pub(crate) duration: Duration,
}

/// Logs `line` at `INFO` on [`ACCESS_TARGET`], if the filter lets it through: formatted by hand
/// into the queue when [`init`] set that up, else as a tracing event (see the module docs).
pub(crate) fn access(line: &AccessLine<'_>) {
    let Some(sink) = ACCESS.get() else {
        tracing::info!(
            target: ACCESS_TARGET,
            peer = %line.peer,
            method = %line.method,
            path = %line.path,
            protocol = ?line.protocol,
            tls = line.tls,
            status = line.status,
            bytes = line.bytes,
            duration = ?line.duration,
            "request"
        );
        return;
    };
    if !tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO) {
        return;
    }
    thread_local! {
        /// This thread's line buffer, reused: a line costs no allocation of its own here
        /// (the queue copies it once); and its own handle on the queue, as writing needs
        /// `&mut` and a clone per line costs two atomic counts and their drop.
        static LOCAL: RefCell<(String, Option<NonBlocking>)> =
            RefCell::new((String::with_capacity(256), None));
    }
    LOCAL.with(|local| {
        let (buffer, queue) = &mut *local.borrow_mut();
        buffer.clear();
        format_access(buffer, sink.format, line);
        let queue = queue.get_or_insert_with(|| sink.queue.clone());
        // The queue never blocks and never fails: a full queue counts the line as dropped.
        let _ = queue.write_all(buffer.as_bytes());
    });
}

/// Appends `line`, newline included, to `out` in `format`: the text reads as tracing's own
/// `fmt` line, the JSON as its `json().flatten_event(true)` line.
///
/// Every field is written by hand: `core::fmt` (its `Arguments`, padding checks and the
/// `Debug` of `Duration`) cost ~2 500 of the line's ~3 500 instructions.
fn format_access(out: &mut String, format: LogFormat, line: &AccessLine<'_>) {
    match format {
        LogFormat::Text => {
            timestamp(out);
            out.push_str("  INFO spool::access: request peer=");
            peer(out, line.peer);
            out.push_str(" method=");
            out.push_str(line.method);
            out.push_str(" path=");
            out.push_str(line.path);
            out.push_str(" protocol=");
            version(out, line.protocol);
            out.push_str(if line.tls { " tls=true" } else { " tls=false" });
            out.push_str(" status=");
            decimal(out, u64::from(line.status));
            out.push_str(" bytes=");
            decimal(out, line.bytes);
            out.push_str(" duration=");
            duration(out, line.duration);
            out.push('\n');
        }
        LogFormat::Json => {
            out.push_str("{\"timestamp\":\"");
            timestamp(out);
            out.push_str("\",\"level\":\"INFO\",\"message\":\"request\",\"peer\":\"");
            peer(out, line.peer);
            out.push_str("\",\"method\":");
            json_string(out, line.method);
            out.push_str(",\"path\":");
            json_string(out, line.path);
            out.push_str(",\"protocol\":\"");
            version(out, line.protocol);
            out.push_str(if line.tls {
                "\",\"tls\":true,\"status\":"
            } else {
                "\",\"tls\":false,\"status\":"
            });
            decimal(out, u64::from(line.status));
            out.push_str(",\"bytes\":");
            decimal(out, line.bytes);
            out.push_str(",\"duration\":\"");
            duration(out, line.duration);
            out.push_str("\",\"target\":\"spool::access\"}\n");
        }
    }
}

/// `s` as a JSON string, quoted and escaped.
fn json_string(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(s).to_string());
    }
}

/// The client's address; IPv4 digit by digit (`core::fmt` costs several times as much).
fn peer(out: &mut String, peer: SocketAddr) {
    match peer {
        SocketAddr::V4(v4) => {
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                decimal(out, u64::from(octet));
            }
            out.push(':');
            decimal(out, u64::from(v4.port()));
        }
        SocketAddr::V6(_) => {
            let _ = write!(out, "{peer}");
        }
    }
}

/// The protocol as `Version`'s `Debug` writes it (`HTTP/1.1`, `HTTP/2.0`).
fn version(out: &mut String, version: Version) {
    let name = match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        other => {
            let _ = write!(out, "{other:?}");
            return;
        }
    };
    out.push_str(name);
}

/// `n` in decimal.
fn decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[at..]
        .iter()
        .for_each(|&digit| out.push(char::from(digit)));
}

/// `n`'s last `width` decimal digits, zero-padded, with trailing zeros dropped when `trim`.
fn fraction(out: &mut String, n: u32, width: usize, trim: bool) {
    let mut digits = [b'0'; 9];
    let width = width.min(digits.len());
    let mut n = n;
    for digit in digits[..width].iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let mut len = width;
    while trim && len > 0 && digits[len - 1] == b'0' {
        len -= 1;
    }
    digits[..len]
        .iter()
        .for_each(|&digit| out.push(char::from(digit)));
}

/// `d` as `Duration`'s `Debug` writes it: the largest unit of s, ms, µs and ns that is at most
/// `d`, then every non-zero digit of the fraction (`52µs`, `1.000012ms`, `2.5s`).
fn duration(out: &mut String, d: Duration) {
    let nanos = d.subsec_nanos();
    let (whole, frac, width, unit) = if d.as_secs() > 0 {
        (d.as_secs(), nanos, 9, "s")
    } else if nanos >= 1_000_000 {
        (u64::from(nanos / 1_000_000), nanos % 1_000_000, 6, "ms")
    } else if nanos >= 1_000 {
        (u64::from(nanos / 1_000), nanos % 1_000, 3, "µs")
    } else {
        (u64::from(nanos), 0, 0, "ns")
    };
    decimal(out, whole);
    if frac > 0 {
        out.push('.');
        fraction(out, frac, width, true);
    }
    out.push_str(unit);
}

/// The time now as tracing writes it (`2026-12-03T11:35:40.123456Z`, UTC). The part up to the
/// seconds is formatted once per second per thread and reused.
fn timestamp(out: &mut String) {
    thread_local! {
        /// The second last formatted, and its text up to the seconds.
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    SECOND.with(|second| {
        let mut second = second.borrow_mut();
        if second.0 != now.as_secs() {
            let mut full = String::with_capacity(32);
            let _ = SystemTime.format_time(&mut Writer::new(&mut full));
            // `YYYY-MM-DDTHH:MM:SS`, what is left of tracing's own format once the fraction
            // goes; the fraction below is this call's.
            full.truncate(full.find('.').unwrap_or(full.len()));
            *second = (now.as_secs(), full);
        }
        out.push_str(&second.1);
    });
    out.push('.');
    fraction(out, now.subsec_micros(), 6, false);
    out.push('Z');
}

/// The writer thread's end of the queue: buffers the lines, and writes the "lines dropped" line
/// before the first line after a drop (rule 3).
struct Reporting<W: Write> {
    inner: W,
    /// The drop count already reported.
    reported: u64,
    format: LogFormat,
    /// The queue's drop counter ([`DROPPED`] but in tests).
    counter: &'static OnceLock<ErrorCounter>,
    /// Whether to rest after each batch (not in unit tests).
    pause: bool,
}

impl<W: Write> Reporting<W> {
    fn new(inner: W, format: LogFormat, counter: &'static OnceLock<ErrorCounter>) -> Self {
        Reporting {
            inner,
            reported: 0,
            format,
            counter,
            pause: false,
        }
    }

    /// Writes the "lines dropped" line if lines were dropped since the last one.
    fn report_drops(&mut self) -> io::Result<()> {
        let dropped = count(self.counter);
        if dropped <= self.reported {
            return Ok(());
        }
        let count = dropped - self.reported;
        self.reported = dropped;
        let mut timestamp = String::new();
        let _ = SystemTime.format_time(&mut Writer::new(&mut timestamp));
        let message = "log lines dropped: the log's queue was full (stderr slower than the server)";
        let line = match self.format {
            LogFormat::Text => format!("{timestamp}  WARN spool::log: {message} dropped={count}\n"),
            LogFormat::Json => {
                let object = serde_json::json!({
                    "timestamp": timestamp,
                    "level": "WARN",
                    "message": message,
                    "dropped": count,
                    "target": "spool::log",
                });
                format!("{object}\n")
            }
        };
        self.inner.write_all(line.as_bytes())
    }
}

impl<W: Write> Write for Reporting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.report_drops()?;
        self.inner.write(buf)
    }

    /// Called by the writer thread at the end of each batch (the queue is empty), and before it
    /// stops: the batch goes out, with the count of any lines dropped after its last line.
    fn flush(&mut self) -> io::Result<()> {
        self.report_drops()?;
        self.inner.flush()?;
        // Rule 3: rest, so that the lines of the next few milliseconds make one batch and
        // their senders wake nobody.
        if self.pause {
            std::thread::sleep(WRITE_PAUSE);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that never finishes a write, as stderr when nobody reads the pipe.
    struct Blocked;

    impl Write for Blocked {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            loop {
                std::thread::park();
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A drop counter that has counted `lines - 2` or `lines - 1` drops: a queue of one line
    /// whose writer is stuck, sent `lines` lines.
    fn counter_with_drops(lines: usize) -> &'static OnceLock<ErrorCounter> {
        let (mut queue, guard) = NonBlockingBuilder::default()
            .buffered_lines_limit(1)
            .finish(Blocked);
        for _ in 0..lines {
            queue.write_all(b"x\n").unwrap();
        }
        // Dropping the guard would wait for the stuck writer; the test process ends soon.
        std::mem::forget(guard);
        let cell = Box::leak(Box::new(OnceLock::new()));
        let _ = cell.set(queue.error_counter());
        cell
    }

    fn a_line() -> AccessLine<'static> {
        AccessLine {
            peer: "127.0.0.1:40312".parse().unwrap(),
            method: "GET",
            path: "/a\"b",
            protocol: Version::HTTP_2,
            tls: true,
            status: 404,
            bytes: 13,
            duration: Duration::from_micros(52),
        }
    }

    #[test]
    fn the_text_access_line_reads_as_tracing_writes_it() {
        let mut out = String::new();
        format_access(&mut out, LogFormat::Text, &a_line());
        let (time, rest) = out.split_once("  ").unwrap();
        assert_eq!(
            rest,
            "INFO spool::access: request peer=127.0.0.1:40312 method=GET path=/a\"b \
             protocol=HTTP/2.0 tls=true status=404 bytes=13 duration=52µs\n"
        );
        // 2026-12-03T11:35:40.123456Z
        assert_eq!(time.len(), 27, "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
        assert_eq!(time.as_bytes()[19], b'.', "{time}");
    }

    #[test]
    fn the_json_access_line_parses_with_every_field() {
        let mut out = String::new();
        let mut line = a_line();
        line.peer = "[::1]:8080".parse().unwrap();
        format_access(&mut out, LogFormat::Json, &line);
        assert!(
            out.ends_with("}\n") && out.matches('\n').count() == 1,
            "{out}"
        );
        let object: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(object["level"], "INFO");
        assert_eq!(object["target"], "spool::access");
        assert_eq!(object["message"], "request");
        assert_eq!(object["peer"], "[::1]:8080");
        assert_eq!(object["method"], "GET");
        assert_eq!(object["path"], "/a\"b");
        assert_eq!(object["protocol"], "HTTP/2.0");
        assert_eq!(object["tls"], true);
        assert_eq!(object["status"], 404);
        assert_eq!(object["bytes"], 13);
        assert_eq!(object["duration"], "52µs");
        assert_eq!(object["timestamp"].as_str().unwrap().len(), 27);
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 255, 65535, u64::from(u32::MAX), u64::MAX] {
            let mut out = String::new();
            decimal(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn durations_read_as_their_debug() {
        let mut cases = vec![
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_nanos(999),
            Duration::from_micros(1),
            Duration::from_nanos(1_001),
            Duration::from_nanos(52_340),
            Duration::from_millis(1),
            Duration::from_nanos(1_000_012),
            Duration::from_nanos(999_999_999),
            Duration::from_secs(1),
            Duration::from_millis(2_500),
            Duration::new(86_400, 1),
            Duration::MAX,
        ];
        // And a spread of odd ones.
        let mut n: u64 = 1;
        for _ in 0..200 {
            n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            cases.push(Duration::from_nanos(n % 20_000_000_000));
        }
        for d in cases {
            let mut out = String::new();
            duration(&mut out, d);
            assert_eq!(out, format!("{d:?}"));
        }
    }

    #[test]
    fn versions_read_as_their_debug() {
        for v in [
            Version::HTTP_09,
            Version::HTTP_10,
            Version::HTTP_11,
            Version::HTTP_2,
            Version::HTTP_3,
        ] {
            let mut out = String::new();
            version(&mut out, v);
            assert_eq!(out, format!("{v:?}"));
        }
    }

    #[test]
    fn nothing_is_reported_without_drops() {
        let empty: &'static OnceLock<ErrorCounter> = Box::leak(Box::new(OnceLock::new()));
        let mut writer = Reporting::new(Vec::new(), LogFormat::Text, empty);
        writer.write_all(b"a line\n").unwrap();
        writer.flush().unwrap();
        assert_eq!(writer.inner, b"a line\n");
    }

    #[test]
    fn drops_are_reported_once_before_the_next_line() {
        let counter = counter_with_drops(12);
        let dropped = count(counter);
        assert!((10..=11).contains(&dropped), "{dropped}");
        let mut writer = Reporting::new(Vec::new(), LogFormat::Json, counter);
        writer.write_all(b"{\"line\":1}\n").unwrap();
        writer.write_all(b"{\"line\":2}\n").unwrap();
        writer.flush().unwrap();
        let text = String::from_utf8(writer.inner).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let report: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(report["dropped"], dropped);
        assert_eq!(report["level"], "WARN");
        assert_eq!(report["target"], "spool::log");
        assert_eq!(lines[1..], ["{\"line\":1}", "{\"line\":2}"]);
    }

    #[test]
    fn the_text_report_names_the_count() {
        let counter = counter_with_drops(5);
        let dropped = count(counter);
        let mut writer = Reporting::new(Vec::new(), LogFormat::Text, counter);
        writer.flush().unwrap();
        let text = String::from_utf8(writer.inner).unwrap();
        assert!(
            text.contains("WARN spool::log: log lines dropped"),
            "{text}"
        );
        assert!(text.ends_with(&format!(" dropped={dropped}\n")), "{text}");
    }
}
