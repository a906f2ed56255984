//! The server's settings: every `spool serve` flag, with its default and its validation.
//!
//! [`Config`] derives [`clap::Args`] so the binary can flatten it into its command line and
//! `--help` shows each default; tests and embedders build one with [`Config::default`] and
//! change fields directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::log::{LogFormat, DEFAULT_QUEUE_LINES};

/// The address served when `--addr` and `SPOOL_ADDR` are absent.
pub(crate) const DEFAULT_ADDR: &str = "127.0.0.1:3000";
/// The largest request body accepted (1 MiB, `--max-body`); larger ones get
/// `413 Payload Too Large`.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// The largest request head accepted (16 KiB, `--max-header-bytes`).
pub(crate) const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// hyper refuses an HTTP/1 read buffer smaller than this (it panics), so neither may
/// `--max-header-bytes` be.
pub(crate) const MIN_MAX_HEADER_BYTES: usize = 8 * 1024;
/// Connections served at once when `--max-connections` is absent.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// HTTP/2 streams a client may have open on one connection when
/// `--h2-max-concurrent-streams` is absent.
pub(crate) const DEFAULT_H2_MAX_CONCURRENT_STREAMS: u32 = 256;
/// Streams a client may reset before the server has accepted them, before the connection is
/// closed with `ENHANCE_YOUR_CALM`: h2's default, the defence against "rapid reset"
/// (CVE-2023-44487). Set explicitly so that a change of default upstream cannot silently lift it.
pub(crate) const H2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// Streams the server may reset because the *client* broke the protocol, before the
/// connection is closed: h2's default, the defence against floods of malformed frames
/// (e.g. "MadeYouReset"). Set explicitly for the same reason.
pub(crate) const H2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;
/// The largest `ms` accepted by `/sleep` and `/work` (one minute).
pub(crate) const MAX_MS: u64 = 60_000;

/// Settings for [`crate::serve_on_tokio`] and [`crate::serve_on_spool`], and the `spool serve`
/// command line.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Config {
    /// Address to listen on (IP:port).
    #[arg(long, env = "SPOOL_ADDR", default_value = DEFAULT_ADDR, value_name = "IP:PORT")]
    pub addr: SocketAddr,

    /// The async runtime that hosts the server: `tokio`, or `spool` (Spool's own runtime).
    #[arg(
        long,
        env = "SPOOL_RUNTIME",
        value_enum,
        default_value = "tokio",
        value_name = "RUNTIME"
    )]
    pub runtime: RuntimeKind,

    /// Worker threads of the async runtime; with --per-core, the number of single-threaded
    /// runtimes (cores) [default: the number of CPU cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Log filter, in tracing's EnvFilter syntax (e.g. `debug`, `info,server=debug`). The one
    /// line per request has the target `spool::access`: `info,spool::access=off` silences it.
    #[arg(long, env = "RUST_LOG", default_value = "info", value_name = "FILTER")]
    pub log: String,

    /// How log lines are written to stderr: `text`, or `json` (one object per line; an access
    /// line has peer, method, path, protocol, tls, status, bytes, duration).
    #[arg(
        long,
        env = "SPOOL_LOG_FORMAT",
        value_enum,
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,

    /// Log lines each thread may buffer for the log's writer thread; when stderr is slower than
    /// the server and a buffer is full, lines are dropped (counted in /metrics) rather than
    /// waited for.
    #[arg(
        long,
        default_value_t = DEFAULT_QUEUE_LINES,
        value_parser = parse_queue_lines,
        value_name = "N"
    )]
    pub log_queue_lines: usize,

    /// How long a graceful shutdown waits for in-flight requests before closing what is left
    /// (e.g. `10s`, `500ms`, `2m`; a plain number means seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_timeout: Duration,

    /// How long a new connection may take to send its first request's headers (the TLS
    /// handshake and the HTTP/1-or-2 sniff included; slowloris defence), and an HTTP/1 client
    /// each later request's headers, idle time before it included; `0` turns it off.
    #[arg(
        long,
        env = "SPOOL_HEADER_READ_TIMEOUT",
        default_value = "10s",
        value_parser = parse_duration,
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    pub header_read_timeout: Duration,

    /// How long a connection may stay open with no request in flight before it is closed
    /// (HTTP/2: GOAWAY); `0` turns it off. HTTP/1 connections are also bound by
    /// --header-read-timeout while they wait for the next request.
    #[arg(
        long,
        env = "SPOOL_IDLE_TIMEOUT",
        default_value = "60s",
        value_parser = parse_duration,
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    pub idle_timeout: Duration,

    /// How long a handler may run; a slower one is cancelled and its client gets
    /// `503 Service Unavailable`; `0` turns it off.
    #[arg(
        long,
        env = "SPOOL_REQUEST_TIMEOUT",
        default_value = "30s",
        value_parser = parse_duration,
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    pub request_timeout: Duration,

    /// How long a connection with a response to send may go without sending a byte of it
    /// (nginx's `send_timeout`): a client that stops reading (HTTP/1), or never opens its
    /// HTTP/2 flow-control window, is closed (HTTP/2: GOAWAY first where it can still be
    /// sent) instead of holding the response's memory; `0` turns it off.
    #[arg(
        long,
        env = "SPOOL_SEND_TIMEOUT",
        default_value = "30s",
        value_parser = parse_duration,
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    pub send_timeout: Duration,

    /// Connections served at once; above it, accepting pauses and new connections wait in the
    /// kernel's backlog while the open ones keep being served.
    #[arg(
        long,
        env = "SPOOL_MAX_CONNECTIONS",
        default_value_t = DEFAULT_MAX_CONNECTIONS,
        value_parser = parse_max_connections,
        value_name = "N",
        help_heading = "Limits"
    )]
    pub max_connections: usize,

    /// Largest request body (e.g. `1MiB`, `64KiB`, `1000`); a larger one gets `413` without
    /// being read (a declared Content-Length is checked before the first byte).
    #[arg(
        long,
        env = "SPOOL_MAX_BODY",
        default_value = "1MiB",
        value_parser = parse_body_size,
        value_name = "SIZE",
        help_heading = "Limits"
    )]
    pub max_body: usize,

    /// Largest request head (request line and headers; at least 8KiB): HTTP/1 answers `431`,
    /// HTTP/2 resets the stream.
    #[arg(
        long,
        env = "SPOOL_MAX_HEADER_BYTES",
        default_value = "16KiB",
        value_parser = parse_header_size,
        value_name = "SIZE",
        help_heading = "Limits"
    )]
    pub max_header_bytes: usize,

    /// HTTP/2 streams (requests) a client may have open at once on one connection.
    #[arg(
        long,
        env = "SPOOL_H2_MAX_CONCURRENT_STREAMS",
        default_value_t = DEFAULT_H2_MAX_CONCURRENT_STREAMS,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000),
        value_name = "N",
        help_heading = "Limits"
    )]
    pub h2_max_concurrent_streams: u32,

    /// Bind the listening socket with `SO_REUSEPORT`, so that a new server can bind the same
    /// address while this one drains (zero-downtime restarts; see docs/reliability.md). On
    /// Linux ≥ 5.14 with `net.ipv4.tcp_migrate_req=1`, connections still in this one's
    /// backlog when it closes its listener move to the other instead of being reset.
    #[arg(long, env = "SPOOL_REUSE_PORT")]
    pub reuse_port: bool,

    /// Per-core mode: `--workers` single-threaded runtimes, each with its own `SO_REUSEPORT`
    /// listener on the address; the kernel spreads new connections among them and a connection
    /// stays on its core. No cross-thread work (measured: less CPU per request, most under
    /// HTTP/2 load), but no work stealing: one slow handler stalls the
    /// other connections of its core, and the kernel balances connections, not load.
    /// `--max-connections` is split evenly among the cores. Not with `--inspect`. See
    /// docs/architecture.md, "Per-core mode".
    #[arg(long, env = "SPOOL_PER_CORE")]
    pub per_core: bool,

    /// Adds a `/panic` route whose handler panics, to watch the server survive it. For tests
    /// and demonstrations only, hence hidden from `--help`.
    #[arg(long, hide = true)]
    pub debug_panic_route: bool,

    /// Serve HTTPS with this certificate chain (PEM, end-entity certificate first); needs
    /// --tls-key. HTTP/2 or HTTP/1.1 is then agreed by ALPN, as browsers require for HTTP/2.
    #[arg(
        long,
        env = "SPOOL_TLS_CERT",
        value_name = "FILE",
        help_heading = "HTTPS"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1/RSA or SEC1/EC).
    #[arg(
        long,
        env = "SPOOL_TLS_KEY",
        value_name = "FILE",
        help_heading = "HTTPS"
    )]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a certificate made at start for localhost, 127.0.0.1 and ::1
    /// (its SHA-256 fingerprint is logged); clients must be told to trust it, e.g. `curl -k`.
    #[arg(long, env = "SPOOL_TLS_SELF_SIGNED", help_heading = "HTTPS")]
    pub tls_self_signed: bool,
}

impl Default for Config {
    /// The same values the command line uses when no flag is given (a test checks that).
    fn default() -> Self {
        Config {
            addr: DEFAULT_ADDR
                .parse()
                .expect("DEFAULT_ADDR is a valid socket address"),
            runtime: RuntimeKind::Tokio,
            workers: None,
            log: "info".to_owned(),
            log_format: LogFormat::Text,
            log_queue_lines: DEFAULT_QUEUE_LINES,
            shutdown_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(30),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_body: DEFAULT_MAX_BODY,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            h2_max_concurrent_streams: DEFAULT_H2_MAX_CONCURRENT_STREAMS,
            reuse_port: false,
            per_core: false,
            debug_panic_route: false,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
        }
    }
}

/// Which async runtime hosts the server (`--runtime`, `SPOOL_RUNTIME`): the binary calls
/// [`crate::serve_on_tokio`] or [`crate::serve_on_spool`] by it; the service is the same on
/// both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RuntimeKind {
    /// tokio's multi-threaded runtime.
    #[default]
    Tokio,
    /// Spool's own work-stealing runtime.
    Spool,
}

impl Config {
    /// The number of async worker threads to start: `--workers`, or the number of CPU cores.
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Why a size string was rejected by [`parse_size`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid size `{input}`: expected a whole number of bytes with an optional unit \
     B, KiB, MiB or GiB (e.g. `1MiB`, `16KiB`, `4096`), {limits}"
)]
pub(crate) struct SizeError {
    input: String,
    limits: String,
}

/// Parses a size in bytes: `4096`, `16KiB`, `1MiB`, `1GiB` (also `K`/`KB`/`M`/`MB`/`G`/`GB`,
/// which mean the same powers of 1024), and checks it lies in `min..=max`.
pub(crate) fn parse_size(input: &str, min: usize, max: usize) -> Result<usize, SizeError> {
    let error = || SizeError {
        input: input.to_owned(),
        limits: format!("from {min} to {max} bytes"),
    };
    let s = input.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim());
    let multiplier: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(error()),
    };
    let bytes = number
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(error)?;
    if (min..=max).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(error())
    }
}

/// `--max-body`: 1 byte to 1 GiB. `0` would refuse every body, surely a mistake, not "off".
fn parse_body_size(input: &str) -> Result<usize, SizeError> {
    parse_size(input, 1, 1 << 30)
}

/// `--max-header-bytes`: hyper's minimum read buffer to 1 MiB (h2 takes a `u32`).
fn parse_header_size(input: &str) -> Result<usize, SizeError> {
    parse_size(input, MIN_MAX_HEADER_BYTES, 1 << 20)
}

/// `--max-connections`: 1 to 1 000 000. No "off": an unbounded server is what this flag is
/// there to prevent, and the file-descriptor limit would stop it anyway, less gracefully.
fn parse_max_connections(input: &str) -> Result<usize, String> {
    match input.trim().parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid connection count `{input}`: expected a whole number from 1 to 1000000"
        )),
    }
}

/// `--log-queue-lines`: 1 to 10 000 000 lines.
fn parse_queue_lines(input: &str) -> Result<usize, String> {
    match input.trim().parse::<usize>() {
        Ok(n) if (1..=10_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid line count `{input}`: expected a whole number from 1 to 10000000"
        )),
    }
}

/// Why a duration string was rejected by [`parse_duration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration `{input}`: expected a number with an optional unit ms, s or m \
     (e.g. `500ms`, `10s`, `1.5s`, `2m`; no unit means seconds)"
)]
pub(crate) struct DurationError {
    input: String,
}

/// Parses a humane duration: `500ms`, `10s`, `1.5s`, `2m`, or a plain number of seconds (`10`).
///
/// Written by hand because it is ten lines and a whole crate (humantime) would be the
/// only user of its dependency; negative, empty, and absurdly large (> 1 year) values are refused.
pub(crate) fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let error = || DurationError {
        input: input.to_owned(),
    };
    let s = input.trim();
    // Split the number from its unit at the first character that cannot be part of a number.
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim());
    let seconds_per_unit = match unit {
        "ms" => 0.001,
        "" | "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        _ => return Err(error()),
    };
    // `f64::from_str` alone would also accept "inf", "NaN" and "1e3"; the split above already
    // limited `number` to digits and dots, so only plain decimals get here.
    let value: f64 = number.parse().map_err(|_| error())?;
    let seconds = value * seconds_per_unit;
    const ONE_YEAR: f64 = 365.0 * 24.0 * 3600.0;
    if !(0.0..=ONE_YEAR).contains(&seconds) {
        return Err(error());
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("16KiB", 1, usize::MAX), Ok(16 * 1024));
        assert_eq!(parse_size("1MiB", 1, usize::MAX), Ok(1 << 20));
        assert!(parse_size("1.5MiB", 1, usize::MAX).is_err());
        assert!(parse_size("0", 1, usize::MAX).is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("ten seconds").is_err());
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn durations_in_every_accepted_form() {
        let ok = [
            ("10s", Duration::from_secs(10)),
            ("500ms", Duration::from_millis(500)),
            ("1.5s", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("10", Duration::from_secs(10)),
            ("0", Duration::ZERO),
            (" 3 s ", Duration::from_secs(3)),
            ("250 ms", Duration::from_millis(250)),
        ];
        for (input, expected) in ok {
            assert_eq!(parse_duration(input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn durations_rejected() {
        for input in [
            "",
            "s",
            "ms",
            "-1s",
            "ten",
            "10h",
            "10 seconds",
            "1.2.3s",
            "inf",
            "NaN",
            "1e3",
            "99999999999m",
        ] {
            let err = parse_duration(input).expect_err(input);
            assert!(err.to_string().contains("invalid duration"), "{err}");
        }
    }

    #[test]
    fn default_matches_the_command_line_defaults() {
        // Neither variable may leak in from the environment running the tests.
        let cli = Cli::try_parse_from(["spool"]);
        let clean = std::env::vars_os()
            .all(|(name, _)| name != "RUST_LOG" && !name.to_string_lossy().starts_with("SPOOL_"));
        if clean {
            assert_eq!(cli.unwrap().config, Config::default());
        }
    }

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from([
            "spool",
            "--addr",
            "0.0.0.0:8080",
            "--workers",
            "3",
            "--log",
            "debug",
            "--shutdown-timeout",
            "250ms",
            "--header-read-timeout",
            "2",
            "--runtime",
            "spool",
            "--idle-timeout",
            "0",
            "--request-timeout",
            "5s",
            "--max-connections",
            "7",
            "--max-body",
            "64KiB",
            "--max-header-bytes",
            "8192",
            "--h2-max-concurrent-streams",
            "3",
            "--send-timeout",
            "1.5s",
            "--reuse-port",
        ])
        .unwrap();
        let c = cli.config;
        assert_eq!(c.addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.worker_threads(), 3);
        assert_eq!(c.log, "debug");
        assert_eq!(c.shutdown_timeout, Duration::from_millis(250));
        assert_eq!(c.header_read_timeout, Duration::from_secs(2));
        assert_eq!(c.runtime, RuntimeKind::Spool);
        assert_eq!(c.send_timeout, Duration::from_millis(1500));
        assert!(c.reuse_port);
        assert_eq!(
            (c.tls_cert, c.tls_key, c.tls_self_signed),
            (None, None, false)
        );

        let cli = Cli::try_parse_from(["spool", "--tls-cert", "cert.pem", "--tls-key", "key.pem"])
            .unwrap();
        assert_eq!(cli.config.tls_cert, Some(PathBuf::from("cert.pem")));
        assert_eq!(cli.config.tls_key, Some(PathBuf::from("key.pem")));
        let cli = Cli::try_parse_from(["spool", "--tls-self-signed"]).unwrap();
        assert!(cli.config.tls_self_signed);
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            ["--addr", "nonsense"],
            ["--workers", "0"],
            ["--shutdown-timeout", "soon"],
            ["--runtime", "glommio"],
            ["--max-connections", "0"],
            ["--max-body", "0"],
            ["--max-header-bytes", "1KiB"],
            ["--h2-max-concurrent-streams", "0"],
            ["--idle-timeout", "forever"],
            ["--send-timeout", "-1s"],
        ] {
            assert!(
                Cli::try_parse_from(["spool"].into_iter().chain(args)).is_err(),
                "{args:?}"
            );
        }
    }
}
