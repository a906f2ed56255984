//! The process's log: every line, access lines included, goes into a bounded buffer that one
//! writer thread empties, so that a slow or stalled stderr (a log shipper that stopped reading,
//! `spool serve | less` left open) never stops a worker, and so that a line costs a worker no
//! system call and no wake-up.
//!
//! # Rules
//!
//! 1. Each thread that logs has its own buffer (registered with the writer at its first line).
//!    A worker formats its line **straight into its buffer**, under the buffer's own lock, which
//!    only the writer also takes (once a round): no allocation, no copy, no shared counter, and
//!    no lock or cache line that another worker writes. It never calls `write(2)` on the log
//!    and never waits for the writer.
//! 2. When its buffer already holds `--log-queue-lines` lines, a new line is **dropped**, not
//!    waited for. The drops are counted: `spool_log_lines_dropped_total` on `/metrics`
//!    (`dropped_lines`).
//! 3. The writer thread works in rounds: it takes every thread's buffer at once (swapping in an
//!    empty one), merges their lines in the order they were made (each line carries the time it
//!    was made), and writes the round with **one `write(2)`** (more only when stderr takes
//!    part of it); then it rests [`WRITE_PAUSE`].
//!    While it rests nobody wakes it: a busy server pays no `futex(2)` wake-up and no context
//!    switch per line, one `write(2)` and one sleep per round. Two things cut a rest short: a
//!    buffer reaching half its bound (so a burst is written before it has to be dropped), and
//!    shutdown.
//! 4. When lines were dropped since the last round, the round ends with one `WARN` line saying
//!    how many, so a reader sees where the gap is and how large it is.
//! 5. After [`IDLE_ROUNDS`] rounds with nothing to write, the writer sleeps until a line comes:
//!    it raises `asleep`, looks at every buffer once more (a line queued meanwhile is written at
//!    once), and parks; the first line that finds `asleep` raised wakes it. An idle server's
//!    writer costs nothing, and only the first line after a quiet spell pays a wake-up.
//! 6. **Latency:** while stderr keeps up, a line reaches `write(2)` at most [`WRITE_PAUSE`] plus
//!    one round's write after it was made; after a quiet spell, one wake-up after. Dropping the
//!    [`LogGuard`] (the binary does so once the host has returned, on an error return and on a
//!    panic's unwinding alike) writes every line still buffered before it returns. If stderr
//!    stays stalled, it gives up after [`EXIT_WAIT`], so a stalled log never holds the exit for
//!    long. Only a process killed outright (`SIGKILL`, an abort) loses lines: at most the last
//!    [`WRITE_PAUSE`]'s.
//!
//! Lines of one thread keep their order. Lines of different threads are written in the order
//! of the times they were made (the wall clock, read under the buffer's lock) within a round;
//! across two rounds, only lines made during the few microseconds the writer takes to sweep
//! the buffers can come out of that order.
//!
//! # Why not tracing-appender's `non_blocking`
//!
//! It was this log's first queue (issue 14 asks for it or a reason). Per line it allocates a
//! `Vec` for the bytes and sends it through a crossbeam channel whose head and tail every worker
//! and the writer write; the writer receives it and frees it on its own thread. callgrind
//! (`scripts/callgrind-http`, 1 worker, HTTP/1.1) counted ~350 instructions a line for the copy
//! and the send, ~360 for the `malloc` and `free`, ~190 for the receive. Its writer also parks
//! in the channel's `recv` whenever the queue is empty, so that without a pause of our own every
//! line woke it (a `futex` wake and a context switch). The buffers here cost a line its bytes
//! and one uncontended lock (~30 instructions) and the writer ~50: with the formatting below,
//! the whole access line went from ~2 450 to ~1 240 instructions, and the writer thread's CPU
//! from ~0.22 to ~0.12 µs a request (`docs/benchmarks.md`, "The access line's cost").
//!
//! # Targets and formats
//!
//! Access lines (one per request) have their own target, [`ACCESS_TARGET`] (`spool::access`),
//! so a filter can silence them alone: `--log info,spool::access=off`. Every other line keeps
//! its module's target (`server::host`, ...).
//!
//! The access line is the one line written per request, so it is formatted here, by hand,
//! straight into the thread's buffer (`access`): tracing's generic formatter spends about
//! 15 000 instructions on it (field visitors, `core::fmt` for every value, ANSI wrappers even
//! with colours off, the date computed afresh each time), this well under a tenth of that. It
//! is still filtered as a tracing event of [`ACCESS_TARGET`] at `INFO`, and reads the same as
//! tracing's line; when the filter has no span directives (`[...]`), its answer cannot change,
//! so it is asked once at [`init`]. When stderr is a terminal (colours on), or when [`init`] was
//! not called (the library's tests, an embedder with its own subscriber), it is an ordinary
//! tracing event.
//!
//! `--log-format text` (the default) is tracing's human format; `--log-format json` writes one
//! JSON object per line, the event's fields at the top level beside `timestamp`, `level`,
//! `target` and `message`. An access line carries `peer`, `method`, `path`, `protocol`, `tls`,
//! `status`, `bytes` and `duration` (e.g. `"1.2ms"`), as the text line does.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, IsTerminal as _, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, UNIX_EPOCH};

use http::Version;
use tracing_subscriber::fmt::format::Writer as FmtWriter;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The target of the one line logged per request.
pub const ACCESS_TARGET: &str = "spool::access";

/// Lines each thread's buffer holds when `--log-queue-lines` is absent: about 3 MB of access
/// lines, seconds of a busy server's log, enough to ride out a slow disk or a paused reader.
pub const DEFAULT_QUEUE_LINES: usize = 16 * 1024;

/// How long the writer thread rests after a round (rule 3): lines reach stderr at most this
/// much later, and a full buffer ([`DEFAULT_QUEUE_LINES`]) lasts far longer than this at any
/// rate a server on one machine answers.
pub const WRITE_PAUSE: Duration = Duration::from_millis(2);

/// Rounds with nothing to write before the writer sleeps until a line wakes it (rule 5).
pub const IDLE_ROUNDS: u32 = 8;

/// How long dropping the [`LogGuard`] waits for the writer to write what is buffered (rule 6).
pub const EXIT_WAIT: Duration = Duration::from_secs(1);

/// The log [`init`] set up: where lines go, and how the access line is written.
static LOG: OnceLock<Log> = OnceLock::new();

struct Log {
    queue: Arc<Queue>,
    format: LogFormat,
    /// Whether [`access`] formats the line itself (not when colours are on).
    by_hand: bool,
    /// The filter's fixed answer for the access line, when it cannot change (no span directives).
    access_on: Option<bool>,
}

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
    /// The writer thread could not be started.
    #[error("cannot start the log's writer thread: {0}")]
    Thread(io::Error),
}

/// Keeps the log's writer thread: while it lives, buffered lines are written; dropping it
/// writes the lines still buffered and stops the thread (rule 6 of the module docs).
#[must_use = "dropping the guard stops the log's writer thread"]
pub struct LogGuard {
    queue: Arc<Queue>,
    /// Closed by the writer thread when it has written its last round.
    done: mpsc::Receiver<()>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.queue.stop.store(true, Ordering::Release);
        self.queue.wake_writer();
        // Disconnected when the writer has finished; a timeout when stderr is stalled.
        let _ = self.done.recv_timeout(EXIT_WAIT);
    }
}

/// Sends this process's logs (tracing events) to stderr through the buffers, filtered by
/// `filter` (EnvFilter syntax) and written in `format`; `queue_lines` bounds each thread's
/// buffer (at least 1 line).
pub fn init(filter: &str, format: LogFormat, queue_lines: usize) -> Result<LogGuard, LogError> {
    let env_filter = EnvFilter::try_new(filter).map_err(|error| LogError::Filter {
        filter: filter.to_owned(),
        reason: error.to_string(),
    })?;
    let stderr = io::stderr();
    let ansi = format == LogFormat::Text && stderr.is_terminal();
    let queue = Arc::new(Queue::new(queue_lines));
    let guard = start_writer(Arc::clone(&queue), stderr, format).map_err(LogError::Thread)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(QueueWriter(Arc::clone(&queue)));
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
    // A span directive (`[name]=level`) makes the answer depend on the current span.
    let access_on = (!filter.contains('['))
        .then(|| tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO));
    let _ = LOG.set(Log {
        queue,
        format,
        by_hand: !ansi,
        access_on,
    });
    Ok(guard)
}

/// Log lines dropped so far because a buffer was full (rule 2).
pub(crate) fn dropped_lines() -> u64 {
    LOG.get()
        .map_or(0, |log| log.queue.dropped.load(Ordering::Relaxed))
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
/// into this thread's buffer when [`init`] set that up, else as a tracing event (see the module
/// docs).
pub(crate) fn access(line: &AccessLine<'_>) {
    let Some(log) = LOG.get().filter(|log| log.by_hand) else {
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
    let on = match log.access_on {
        Some(on) => on,
        None => tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO),
    };
    if on {
        log.queue.push(|out| format_access(out, log.format, line));
    }
}

/// The lines one thread has buffered that the writer has not taken yet.
#[derive(Default)]
struct Lines {
    bytes: Vec<u8>,
    /// Per line: when it was made (nanoseconds since the epoch, the merge key) and where it
    /// ends in `bytes`.
    ends: Vec<(u64, usize)>,
}

/// One thread's buffer.
type Buffer = Arc<Mutex<Lines>>;

/// What the workers and the writer thread share.
struct Queue {
    /// Every buffer, registered by its thread at its first line; the writer removes those whose
    /// thread has gone once it has written their lines.
    buffers: Mutex<Vec<Buffer>>,
    /// Lines a buffer holds at most (rule 2).
    limit: usize,
    /// Lines dropped, counted under the full buffer's lock (so a round that took the buffer
    /// sees every drop made before it took it).
    dropped: AtomicU64,
    /// Raised by the writer before it sleeps with nothing to write (rule 5); read by every line
    /// under its buffer's lock.
    asleep: AtomicBool,
    /// Raised by the guard: the writer writes one last round and ends.
    stop: AtomicBool,
    /// The writer thread, to unpark.
    writer: OnceLock<Thread>,
}

thread_local! {
    /// This thread's buffer, and the queue it belongs to (its address: only tests have more
    /// than one queue).
    static MINE: RefCell<Option<(usize, Buffer)>> = const { RefCell::new(None) };
}

/// Takes `mutex`'s lock; a poisoned lock is still good here (a panic mid-line leaves at worst
/// a partial line).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Queue {
    fn new(limit: usize) -> Queue {
        Queue {
            buffers: Mutex::new(Vec::new()),
            limit: limit.max(1),
            dropped: AtomicU64::new(0),
            asleep: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            writer: OnceLock::new(),
        }
    }

    /// Appends one line to this thread's buffer: `fill` writes it (newline included) and
    /// returns when it was made; a full buffer drops it instead (rules 1, 2).
    fn push(&self, fill: impl FnOnce(&mut Vec<u8>) -> u64) {
        let id = std::ptr::from_ref(self) as usize;
        // A line logged while this thread's locals are being destroyed, or from inside `fill`,
        // finds no buffer to use: it counts as dropped.
        let wake = MINE.try_with(|mine| {
            let Ok(mut mine) = mine.try_borrow_mut() else {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            };
            let buffer = match &mut *mine {
                Some((owner, buffer)) if *owner == id => buffer,
                other => &other.insert((id, self.register())).1,
            };
            let mut lines = lock(buffer);
            if lines.ends.len() >= self.limit {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            let made = fill(&mut lines.bytes);
            let end = lines.bytes.len();
            lines.ends.push((made, end));
            // Read under the lock: see `Writer::sleep` for why that is enough.
            lines.ends.len() == self.limit.div_ceil(2) || self.asleep.load(Ordering::Relaxed)
        });
        match wake {
            Ok(true) => self.wake_writer(),
            Ok(false) => {}
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A new buffer for the calling thread, known to the writer.
    fn register(&self) -> Buffer {
        let buffer = Buffer::default();
        lock(&self.buffers).push(Arc::clone(&buffer));
        buffer
    }

    /// Cuts the writer's rest or sleep short.
    fn wake_writer(&self) {
        self.asleep.store(false, Ordering::Relaxed);
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }

    /// Whether no buffer holds a line.
    fn is_empty(&self) -> bool {
        lock(&self.buffers)
            .iter()
            .all(|buffer| lock(buffer).ends.is_empty())
    }
}

/// The writer tracing's formatter writes its (non-access) lines to: each `write` is one whole
/// line (the formatter writes an event with one `write_all`).
struct QueueWriter(Arc<Queue>);

/// [`QueueWriter`]'s writer for one line.
struct LineWriter<'a>(&'a Queue);

impl<'a> MakeWriter<'a> for QueueWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.push(|out| {
            out.extend_from_slice(buf);
            now().0
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Starts the writer thread on `out`; the guard it returns stops it (rule 6).
fn start_writer<W: Write + Send + 'static>(
    queue: Arc<Queue>,
    out: W,
    format: LogFormat,
) -> io::Result<LogGuard> {
    let (done_tx, done) = mpsc::channel();
    let mut writer = Writer::new(Arc::clone(&queue), out, format);
    let thread = thread::Builder::new()
        .name("spool-log".to_owned())
        .spawn(move || {
            writer.run();
            drop(done_tx);
        })?;
    let _ = queue.writer.set(thread.thread().clone());
    Ok(LogGuard { queue, done })
}

/// The writer thread's state (rules 3 to 6).
struct Writer<W: Write> {
    queue: Arc<Queue>,
    out: W,
    format: LogFormat,
    /// The drop count already reported.
    reported: u64,
    /// The buffers taken this round, and emptied ones kept for the next swaps.
    taken: Vec<Lines>,
    spare: Vec<Lines>,
    /// This round's bytes, in the order they are written.
    round: Vec<u8>,
}

impl<W: Write> Writer<W> {
    fn new(queue: Arc<Queue>, out: W, format: LogFormat) -> Self {
        Writer {
            queue,
            out,
            format,
            reported: 0,
            taken: Vec::new(),
            spare: Vec::new(),
            round: Vec::new(),
        }
    }

    /// Rounds until the guard says stop, then one last one.
    fn run(&mut self) {
        let mut idle = 0;
        loop {
            let stopping = self.queue.stop.load(Ordering::Acquire);
            // A write error (stderr closed) loses that round's lines; the next round tries again.
            let wrote = self.round().unwrap_or(true);
            if stopping {
                return;
            }
            idle = if wrote { 0 } else { idle + 1 };
            if idle < IDLE_ROUNDS {
                thread::park_timeout(WRITE_PAUSE);
            } else {
                self.sleep();
                idle = 0;
            }
        }
    }

    /// Rule 5: sleeps until a line (or the guard) wakes it.
    ///
    /// Why no line is left waiting: a line is appended and `asleep` read under its buffer's
    /// lock, and `asleep` is raised here before every buffer's lock is taken once more. If this
    /// look takes a buffer's lock after a line's, it sees the line and does not sleep; if
    /// before, the line's lock comes after this look's, so the line reads `asleep` raised and
    /// wakes the writer. (A new thread's first line registers its buffer under the list's
    /// lock, which the look takes too.)
    fn sleep(&mut self) {
        self.queue.asleep.store(true, Ordering::SeqCst);
        if self.queue.is_empty() {
            while self.queue.asleep.load(Ordering::Acquire)
                && !self.queue.stop.load(Ordering::Acquire)
            {
                thread::park();
            }
        }
        self.queue.asleep.store(false, Ordering::Relaxed);
    }

    /// One round (rules 3 and 4): takes every buffer, writes their lines in the order they
    /// were made and the drop report with one `write_all`. Returns whether it wrote anything.
    fn round(&mut self) -> io::Result<bool> {
        {
            let mut buffers = lock(&self.queue.buffers);
            for buffer in buffers.iter() {
                let mut lines = lock(buffer);
                if !lines.ends.is_empty() {
                    let empty = self.spare.pop().unwrap_or_default();
                    self.taken.push(std::mem::replace(&mut *lines, empty));
                }
            }
            // A buffer only the list holds belongs to a thread that has ended; its lines were
            // just taken.
            buffers.retain(|buffer| Arc::strong_count(buffer) > 1);
        }
        // Every drop counted before the buffers were taken comes before the lines queued after.
        let dropped = self.queue.dropped.load(Ordering::Relaxed);
        merge(&self.taken, &mut self.round);
        for mut lines in self.taken.drain(..) {
            lines.bytes.clear();
            lines.ends.clear();
            self.spare.push(lines);
        }
        if dropped > self.reported {
            drop_report(&mut self.round, self.format, dropped - self.reported);
            self.reported = dropped;
        }
        if self.round.is_empty() {
            return Ok(false);
        }
        let result = self
            .out
            .write_all(&self.round)
            .and_then(|()| self.out.flush());
        self.round.clear();
        result.map(|()| true)
    }
}

/// Appends every line of `taken` to `out`, in the order the lines were made (each buffer's lines
/// are in that order already; a merge of a few sorted runs).
fn merge(taken: &[Lines], out: &mut Vec<u8>) {
    if let [only] = taken {
        out.extend_from_slice(&only.bytes);
        return;
    }
    // Per buffer: the next line's index.
    let mut next = vec![0usize; taken.len()];
    loop {
        let mut pick: Option<(usize, u64)> = None;
        for (i, lines) in taken.iter().enumerate() {
            if let Some(&(made, _)) = lines.ends.get(next[i]) {
                if pick.map_or(true, |(_, earliest)| made < earliest) {
                    pick = Some((i, made));
                }
            }
        }
        let Some((i, _)) = pick else { return };
        let lines = &taken[i];
        let start = match next[i] {
            0 => 0,
            n => lines.ends[n - 1].1,
        };
        out.extend_from_slice(&lines.bytes[start..lines.ends[next[i]].1]);
        next[i] += 1;
    }
}

/// Appends the line saying that `count` lines were dropped (rule 4).
fn drop_report(out: &mut Vec<u8>, format: LogFormat, count: u64) {
    let mut timestamp = String::new();
    let _ = SystemTime.format_time(&mut FmtWriter::new(&mut timestamp));
    let message = "log lines dropped: the log's buffer was full (stderr slower than the server)";
    let line = match format {
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
    out.extend_from_slice(line.as_bytes());
}

/// Appends `line`, newline included, to `out` in `format`, and returns when it was made (the
/// timestamp's nanoseconds since the epoch): the text reads as tracing's own `fmt` line, the
/// JSON as its `json().flatten_event(true)` line.
///
/// Every field is written by hand, straight into the buffer: `core::fmt` (its `Arguments`,
/// padding checks and the `Debug` of `Duration`) cost ~2 500 of the line's ~3 500
/// instructions. The line is written into a region of the buffer sized for the longest line
/// these fields can make ([`room`]), through a [`Cursor`]: a copy of known length per piece,
/// no capacity check or `memcpy` call per piece, digits written in place.
fn format_access(out: &mut Vec<u8>, format: LogFormat, line: &AccessLine<'_>) -> u64 {
    let start = out.len();
    out.resize(start + room(line), 0);
    let mut c = Cursor {
        buf: &mut out[start..],
        at: 0,
    };
    let made;
    match format {
        LogFormat::Text => {
            made = timestamp(&mut c);
            c.put(b"  INFO spool::access: request peer=");
            peer(&mut c, line.peer);
            c.put(b" method=");
            c.put(line.method.as_bytes());
            c.put(b" path=");
            c.put(line.path.as_bytes());
            c.put(b" protocol=");
            version(&mut c, line.protocol);
            c.put(if line.tls {
                b" tls=true status="
            } else {
                b" tls=false status="
            });
            c.decimal(u64::from(line.status));
            c.put(b" bytes=");
            c.decimal(line.bytes);
            c.put(b" duration=");
            duration(&mut c, line.duration);
            c.byte(b'\n');
        }
        LogFormat::Json => {
            c.put(b"{\"timestamp\":\"");
            made = timestamp(&mut c);
            c.put(b"\",\"level\":\"INFO\",\"message\":\"request\",\"peer\":\"");
            peer(&mut c, line.peer);
            c.put(b"\",\"method\":");
            json_string(&mut c, line.method);
            c.put(b",\"path\":");
            json_string(&mut c, line.path);
            c.put(b",\"protocol\":\"");
            version(&mut c, line.protocol);
            c.put(if line.tls {
                b"\",\"tls\":true,\"status\":"
            } else {
                b"\",\"tls\":false,\"status\":"
            });
            c.decimal(u64::from(line.status));
            c.put(b",\"bytes\":");
            c.decimal(line.bytes);
            c.put(b",\"duration\":\"");
            duration(&mut c, line.duration);
            c.put(b"\",\"target\":\"spool::access\"}\n");
        }
    }
    let len = c.at;
    out.truncate(start + len);
    made
}

/// The most bytes `line` can take in either format: the fixed text (under 200 bytes), the
/// timestamp (27), the peer (an IPv6 address with scope and port, under 64), two 20-digit
/// numbers, the duration (under 32), and the method and path, each escaped to at most 6 bytes
/// a byte (`\u001f`) plus quotes in JSON.
fn room(line: &AccessLine<'_>) -> usize {
    384 + 6 * (line.method.len() + line.path.len())
}

/// Writes one line into the region [`format_access`] sized for it ([`room`]).
struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    fn byte(&mut self, byte: u8) {
        self.buf[self.at] = byte;
        self.at += 1;
    }

    /// `n` in decimal: its length first, then the digits from the last, in place.
    fn decimal(&mut self, n: u64) {
        let mut len = 1;
        let mut bound = 10u64;
        while len < 20 && n >= bound {
            len += 1;
            bound = bound.saturating_mul(10);
        }
        self.digits(n, len);
    }

    /// `n`'s last `len` decimal digits, zero-padded: two at a time from [`PAIRS`], from the
    /// last.
    fn digits(&mut self, n: u64, len: usize) {
        let out = &mut self.buf[self.at..self.at + len];
        let mut n = n;
        let mut end = len;
        while end >= 2 {
            let pair = (n % 100) as usize * 2;
            out[end - 2..end].copy_from_slice(&PAIRS[pair..pair + 2]);
            n /= 100;
            end -= 2;
        }
        if end == 1 {
            out[0] = b'0' + (n % 10) as u8;
        }
        self.at += len;
    }
}

/// `00`, `01`, ... `99`: the digits of every number below 100, two bytes each.
const PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// `s` as a JSON string, quoted and escaped.
fn json_string(c: &mut Cursor<'_>, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        c.byte(b'"');
        c.put(s.as_bytes());
        c.byte(b'"');
    } else {
        c.put(serde_json::Value::from(s).to_string().as_bytes());
    }
}

/// The client's address; IPv4 digit by digit (`core::fmt` costs several times as much).
fn peer(c: &mut Cursor<'_>, peer: SocketAddr) {
    match peer {
        SocketAddr::V4(v4) => {
            let [a, b, cc, d] = v4.ip().octets();
            c.decimal(u64::from(a));
            c.byte(b'.');
            c.decimal(u64::from(b));
            c.byte(b'.');
            c.decimal(u64::from(cc));
            c.byte(b'.');
            c.decimal(u64::from(d));
            c.byte(b':');
            c.decimal(u64::from(v4.port()));
        }
        SocketAddr::V6(_) => {
            let mut text = String::new();
            let _ = write!(text, "{peer}");
            c.put(text.as_bytes());
        }
    }
}

/// The protocol as `Version`'s `Debug` writes it (`HTTP/1.1`, `HTTP/2.0`).
fn version(c: &mut Cursor<'_>, version: Version) {
    let name: &[u8] = match version {
        Version::HTTP_09 => b"HTTP/0.9",
        Version::HTTP_10 => b"HTTP/1.0",
        Version::HTTP_11 => b"HTTP/1.1",
        Version::HTTP_2 => b"HTTP/2.0",
        Version::HTTP_3 => b"HTTP/3.0",
        // `Version` has no other value today; its `Debug` is short.
        other => {
            let text = format!("{other:?}");
            c.put(&text.as_bytes()[..text.len().min(16)]);
            return;
        }
    };
    c.put(name);
}

/// `d` as `Duration`'s `Debug` writes it: the largest unit of s, ms, µs and ns that is at most
/// `d`, then every non-zero digit of the fraction (`52µs`, `1.000012ms`, `2.5s`).
fn duration(c: &mut Cursor<'_>, d: Duration) {
    let nanos = d.subsec_nanos();
    let (whole, frac, width, unit): (u64, u32, usize, &[u8]) = if d.as_secs() > 0 {
        (d.as_secs(), nanos, 9, b"s")
    } else if nanos >= 1_000_000 {
        (u64::from(nanos / 1_000_000), nanos % 1_000_000, 6, b"ms")
    } else if nanos >= 1_000 {
        (u64::from(nanos / 1_000), nanos % 1_000, 3, "µs".as_bytes())
    } else {
        (u64::from(nanos), 0, 0, b"ns")
    };
    c.decimal(whole);
    if frac > 0 {
        // The fraction's `width` digits without their trailing zeros.
        let (mut frac, mut width) = (frac, width);
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        c.byte(b'.');
        c.digits(u64::from(frac), width);
    }
    c.put(unit);
}

/// The wall clock now: nanoseconds since the epoch (a line's merge key), and the same as a
/// `Duration`.
fn now() -> (u64, Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (u64::try_from(now.as_nanos()).unwrap_or(u64::MAX), now)
}

/// Writes the time now as tracing writes it (`2026-12-03T11:35:40.123456Z`, UTC) and returns
/// it in nanoseconds since the epoch. The part up to the seconds is formatted once per second
/// per thread and reused.
fn timestamp(c: &mut Cursor<'_>) -> u64 {
    thread_local! {
        /// The second last formatted, and its text up to the seconds.
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let (made, now) = now();
    SECOND.with(|second| {
        let mut second = second.borrow_mut();
        if second.0 != now.as_secs() {
            let mut full = String::with_capacity(32);
            let _ = SystemTime.format_time(&mut FmtWriter::new(&mut full));
            // `YYYY-MM-DDTHH:MM:SS`, what is left of tracing's own format once the fraction
            // goes; the fraction below is this call's. (Cut to 32 bytes: `room` counts on it.)
            full.truncate(full.find('.').unwrap_or(full.len()).min(32));
            *second = (now.as_secs(), full);
        }
        c.put(second.1.as_bytes());
    });
    c.byte(b'.');
    c.digits(u64::from(now.subsec_micros()), 6);
    c.byte(b'Z');
    made
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A writer that never finishes a write, as stderr when nobody reads the pipe.
    struct Blocked;

    impl Write for Blocked {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            loop {
                thread::park();
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// An output the test reads back while the writer thread writes to it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }
    }

    /// Queues `text` as a line made at `made`.
    fn push(queue: &Queue, made: u64, text: &str) {
        queue.push(|out| {
            out.extend_from_slice(text.as_bytes());
            made
        });
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

    /// What `write` writes through a cursor.
    fn cursor(write: impl FnOnce(&mut Cursor<'_>)) -> String {
        let mut buf = [0u8; 128];
        let mut c = Cursor {
            buf: &mut buf,
            at: 0,
        };
        write(&mut c);
        let len = c.at;
        String::from_utf8(buf[..len].to_vec()).unwrap()
    }

    fn formatted(format: LogFormat, line: &AccessLine<'_>) -> String {
        let mut out = Vec::new();
        format_access(&mut out, format, line);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_text_access_line_reads_as_tracing_writes_it() {
        let out = formatted(LogFormat::Text, &a_line());
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
        let mut line = a_line();
        line.peer = "[::1]:8080".parse().unwrap();
        let out = formatted(LogFormat::Json, &line);
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
    fn the_longest_lines_fit_their_room_and_append() {
        let path = format!("/{}\"\\{}", "\u{1}".repeat(300), "é".repeat(50));
        let line = AccessLine {
            peer: "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%4294967295]:65535"
                .parse()
                .unwrap(),
            method: "\u{7f}\u{7f}\u{7f}",
            path: &path,
            protocol: Version::HTTP_11,
            tls: false,
            status: u16::MAX,
            bytes: u64::MAX,
            duration: Duration::MAX,
        };
        for format in [LogFormat::Text, LogFormat::Json] {
            let mut out = b"before\n".to_vec();
            format_access(&mut out, format, &line);
            format_access(&mut out, format, &line);
            let text = String::from_utf8(out).unwrap();
            let lines: Vec<&str> = text.split_terminator('\n').collect();
            assert_eq!(lines.len(), 3, "{text}");
            assert_eq!(lines[0], "before");
            // The same but for the timestamp's digits.
            assert_eq!(lines[1].len(), lines[2].len(), "{text}");
            if format == LogFormat::Json {
                let object: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
                assert_eq!(object["path"], path);
                assert_eq!(object["bytes"], u64::MAX);
                assert_eq!(object["duration"], format!("{:?}", Duration::MAX));
            } else {
                assert!(lines[1].contains(&format!(" path={path} ")), "{text}");
            }
        }
    }

    #[test]
    fn peers_read_as_their_display() {
        for peer in [
            "0.0.0.0:0",
            "127.0.0.1:40312",
            "10.20.3.255:8080",
            "255.255.255.255:65535",
            "[::1]:443",
        ] {
            let peer: SocketAddr = peer.parse().unwrap();
            assert_eq!(cursor(|c| super::peer(c, peer)), peer.to_string());
        }
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 255, 65535, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(cursor(|c| c.decimal(n)), n.to_string());
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
            assert_eq!(cursor(|c| duration(c, d)), format!("{d:?}"));
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
            assert_eq!(cursor(|c| version(c, v)), format!("{v:?}"));
        }
    }

    #[test]
    fn a_round_writes_every_line_once_and_nothing_without_drops() {
        let queue = Arc::new(Queue::new(100));
        let mut writer = Writer::new(Arc::clone(&queue), Vec::new(), LogFormat::Text);
        push(&queue, 1, "a\n");
        push(&queue, 2, "b\n");
        assert!(writer.round().unwrap());
        assert_eq!(writer.out, b"a\nb\n");
        assert!(!writer.round().unwrap(), "an empty round writes nothing");
        push(&queue, 3, "c\n");
        assert!(writer.round().unwrap());
        assert_eq!(writer.out, b"a\nb\nc\n");
        assert!(queue.is_empty());
    }

    #[test]
    fn lines_of_several_threads_are_written_in_the_order_they_were_made() {
        let queue = Arc::new(Queue::new(100));
        let mut writer = Writer::new(Arc::clone(&queue), Vec::new(), LogFormat::Text);
        // Joined by hand: the end of a scope waits for the closures only, a join for the
        // thread's exit, and so for its locals' destructors (which drop its buffer's handle).
        thread::scope(|scope| {
            let first = scope.spawn(|| {
                for made in [1, 4, 5] {
                    push(&queue, made, &format!("{made}\n"));
                }
            });
            let second = scope.spawn(|| {
                for made in [2, 3, 6] {
                    push(&queue, made, &format!("{made}\n"));
                }
            });
            first.join().unwrap();
            second.join().unwrap();
        });
        push(&queue, 0, "0\n");
        writer.round().unwrap();
        assert_eq!(
            String::from_utf8(writer.out).unwrap(),
            "0\n1\n2\n3\n4\n5\n6\n"
        );
        // The two threads have ended: their buffers are gone, this thread's is kept.
        assert_eq!(lock(&queue.buffers).len(), 1);
    }

    #[test]
    fn a_full_buffer_drops_and_the_round_reports_how_many() {
        let queue = Arc::new(Queue::new(2));
        let mut writer = Writer::new(Arc::clone(&queue), Vec::new(), LogFormat::Json);
        for made in 0..5 {
            push(&queue, made, &format!("{{\"line\":{made}}}\n"));
        }
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 3);
        writer.round().unwrap();
        let text = String::from_utf8(std::mem::take(&mut writer.out)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[..2], ["{\"line\":0}", "{\"line\":1}"]);
        let report: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(report["dropped"], 3);
        assert_eq!(report["level"], "WARN");
        assert_eq!(report["target"], "spool::log");
        // Reported once; room again after the round.
        push(&queue, 9, "{\"line\":9}\n");
        writer.round().unwrap();
        assert_eq!(String::from_utf8(writer.out).unwrap(), "{\"line\":9}\n");
    }

    #[test]
    fn the_text_report_names_the_count() {
        let queue = Arc::new(Queue::new(1));
        let mut writer = Writer::new(Arc::clone(&queue), Vec::new(), LogFormat::Text);
        for made in 0..4 {
            push(&queue, made, "x\n");
        }
        writer.round().unwrap();
        let text = String::from_utf8(writer.out).unwrap();
        assert!(text.starts_with("x\n"), "{text}");
        assert!(
            text.contains("WARN spool::log: log lines dropped"),
            "{text}"
        );
        assert!(text.ends_with(" dropped=3\n"), "{text}");
    }

    #[test]
    fn dropping_the_guard_writes_every_line_of_every_thread() {
        let queue = Arc::new(Queue::new(100_000));
        let out = Shared::default();
        let guard = start_writer(Arc::clone(&queue), out.clone(), LogFormat::Text).unwrap();
        thread::scope(|scope| {
            for t in 0..3 {
                let queue = &queue;
                scope.spawn(move || {
                    for i in 0..2_000 {
                        push(queue, now().0, &format!("{t} {i}\n"));
                        if i % 500 == 0 {
                            // Let the writer go to sleep now and then (rule 5).
                            thread::sleep(WRITE_PAUSE * (IDLE_ROUNDS + 2));
                        }
                    }
                });
            }
        });
        drop(guard);
        let text = out.text();
        assert_eq!(text.lines().count(), 6_000);
        for t in 0..3 {
            let mine: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(&format!("{t} ")))
                .collect();
            let expected: Vec<String> = (0..2_000).map(|i| format!("{t} {i}")).collect();
            assert_eq!(mine, expected, "thread {t}'s lines, in order");
        }
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_sleeping_writer_is_woken_by_the_next_line() {
        let queue = Arc::new(Queue::new(100));
        let out = Shared::default();
        let _guard = start_writer(Arc::clone(&queue), out.clone(), LogFormat::Text).unwrap();
        // Long enough for the writer to go to sleep (rule 5), twice.
        for round in 0..2 {
            thread::sleep(WRITE_PAUSE * (IDLE_ROUNDS + 10));
            push(&queue, now().0, "late\n");
            let start = Instant::now();
            while out.text().lines().count() <= round {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "the line was never written"
                );
                thread::sleep(Duration::from_millis(1));
            }
        }
    }

    #[test]
    fn a_stalled_output_never_blocks_a_line_nor_the_exit_for_long() {
        let queue = Arc::new(Queue::new(16));
        let guard = start_writer(Arc::clone(&queue), Blocked, LogFormat::Text).unwrap();
        let start = Instant::now();
        for i in 0..10_000 {
            push(&queue, i, "x\n");
            if i == 8 {
                // Let the writer take the first lines and block writing them.
                thread::sleep(Duration::from_millis(50));
            }
        }
        let dropped = queue.dropped.load(Ordering::Relaxed);
        assert!((9_000..10_000).contains(&dropped), "{dropped} dropped");
        drop(guard);
        // The guard waits EXIT_WAIT (1 s) for the stuck writer; generous here.
        assert!(start.elapsed() < Duration::from_secs(20));
    }
}
