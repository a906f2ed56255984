//! The server's settings: every `spool serve` flag, with its default and its validation.
//!
//! [`Config`] derives [`clap::Args`] so the binary can flatten it into its command line and
//! `--help` shows each default; tests and embedders build one with [`Config::default`] and
//! change fields directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The address served when `--addr` and `SPOOL_ADDR` are absent.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
/// The largest request body `/echo` reads (1 MiB); larger ones get `413 Payload Too Large`.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// The largest `ms` accepted by `/sleep` and `/work` (one minute).
pub const MAX_MS: u64 = 60_000;

/// Settings for [`crate::run`] and for the `spool serve` command line.
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

    /// Worker threads of the async runtime [default: the number of CPU cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Log filter, in tracing's EnvFilter syntax (e.g. `debug`, `info,server=debug`).
    #[arg(long, env = "RUST_LOG", default_value = "info", value_name = "FILTER")]
    pub log: String,

    /// How long a graceful shutdown waits for in-flight requests before closing what is left
    /// (e.g. `10s`, `500ms`, `2m`; a plain number means seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_timeout: Duration,

    /// How long an HTTP/1 client may take to send a request's headers (also the idle time
    /// allowed between keep-alive requests, and the time a TLS handshake may take); `0` turns
    /// it off.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub header_read_timeout: Duration,

    /// Largest request body `/echo` accepts; not a flag yet (the hardening work adds one).
    #[arg(skip = DEFAULT_MAX_BODY)]
    pub max_body: usize,

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
            shutdown_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_body: DEFAULT_MAX_BODY,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
        }
    }
}

/// Which async runtime hosts the server (`--runtime`, `SPOOL_RUNTIME`). Only the binary and
/// [`crate::host`] look at it: the service is the same on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RuntimeKind {
    /// tokio's multi-threaded runtime ([`crate::host::tokio`]).
    #[default]
    Tokio,
    /// Spool's own work-stealing runtime ([`crate::host::spool`]).
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

/// Why a duration string was rejected by [`parse_duration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration `{input}`: expected a number with an optional unit ms, s or m \
     (e.g. `500ms`, `10s`, `1.5s`, `2m`; no unit means seconds)"
)]
pub struct DurationError {
    input: String,
}

/// Parses a humane duration: `500ms`, `10s`, `1.5s`, `2m`, or a plain number of seconds (`10`).
///
/// Written by hand because it is ten lines and a whole crate (humantime) would be the
/// only user of its dependency; negative, empty, and absurdly large (> 1 year) values are refused.
///
/// ```
/// use std::time::Duration;
/// use server::config::parse_duration;
///
/// assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
/// assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
/// assert!(parse_duration("ten seconds").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
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
        let vars = [
            "SPOOL_ADDR",
            "RUST_LOG",
            "SPOOL_RUNTIME",
            "SPOOL_TLS_CERT",
            "SPOOL_TLS_KEY",
            "SPOOL_TLS_SELF_SIGNED",
        ];
        if vars.iter().all(|var| std::env::var_os(var).is_none()) {
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
        ])
        .unwrap();
        let c = cli.config;
        assert_eq!(c.addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.worker_threads(), 3);
        assert_eq!(c.log, "debug");
        assert_eq!(c.shutdown_timeout, Duration::from_millis(250));
        assert_eq!(c.header_read_timeout, Duration::from_secs(2));
        assert_eq!(c.runtime, RuntimeKind::Spool);
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
        ] {
            assert!(
                Cli::try_parse_from(["spool"].into_iter().chain(args)).is_err(),
                "{args:?}"
            );
        }
    }
}
