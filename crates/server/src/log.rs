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
//!    ([`dropped_lines`]).
//! 3. The writer thread takes lines off the queue in batches, buffers them and writes the batch
//!    at once (one `write(2)` for many lines). Before the first line it writes after a drop, it
//!    writes one line saying how many lines were dropped since the last such line, so a reader
//!    sees where the gap is and how large it is.
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
//! `--log-format text` (the default) is tracing's human format; `--log-format json` writes one
//! JSON object per line, the event's fields at the top level beside `timestamp`, `level`,
//! `target` and `message`. An access line carries `peer`, `method`, `path`, `protocol`, `tls`,
//! `status`, `bytes` and `duration` (e.g. `"1.2ms"`), as the text line does.

use std::io::{self, BufWriter, IsTerminal as _, Write};
use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
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
    let writer = Reporting::new(
        BufWriter::with_capacity(WRITE_BUFFER, stderr),
        format,
        &DROPPED,
    );
    let (queue, worker) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(queue_lines.max(1))
        .thread_name("spool-log")
        .finish(writer);
    // Set before the first event is sent, so the writer thread always finds it.
    let _ = DROPPED.set(queue.error_counter());
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

/// The writer thread's end of the queue: buffers the lines, and writes the "lines dropped" line
/// before the first line after a drop (rule 3).
struct Reporting<W: Write> {
    inner: W,
    /// The drop count already reported.
    reported: u64,
    format: LogFormat,
    /// The queue's drop counter ([`DROPPED`] but in tests).
    counter: &'static OnceLock<ErrorCounter>,
}

impl<W: Write> Reporting<W> {
    fn new(inner: W, format: LogFormat, counter: &'static OnceLock<ErrorCounter>) -> Self {
        Reporting {
            inner,
            reported: 0,
            format,
            counter,
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
        self.inner.flush()
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
