//! The server's counters, served at `/metrics` in Prometheus' text format.
//!
//! Everything here is a relaxed atomic bumped on the request path: no lock, no allocation, no
//! map lookup, so counting costs a few nanoseconds per request on any runtime. The per-request
//! counters are sharded: each thread bumps the shard it was given ([`SHARDS`] of them), so two
//! workers answering requests at once do not pull the same cache lines back and forth (with one
//! shared set, every request's three increments were cross-core cache misses at 2 workers). The
//! page, rendered only when someone asks for it, sums the shards. Written by hand rather than with a metrics crate
//! because the whole format is "name{labels} value" lines, and the fixed set of series here
//! fits in arrays.
//!
//! What it shows:
//!
//! | series | type | meaning |
//! |---|---|---|
//! | `spool_http_requests_total{protocol,status}` | counter | answered requests |
//! | `spool_http_request_duration_seconds` | histogram | time from request headers to response |
//! | `spool_connections_open` | gauge | connections being served now |
//! | `spool_connections_total` | counter | connections accepted |
//! | `spool_connections_accepted_total{core}` | counter | connections accepted by each core's listener (per-core mode only, [`crate::host::per_core`]) |
//! | `spool_limit_hits_total{limit}` | counter | requests refused / connections closed, per [`Limit`] |
//! | `spool_log_lines_dropped_total` | counter | log lines the log's full queue dropped ([`crate::log`]) |
//! | `spool_runtime_*` | gauge / counter | the hosting runtime's own figures ([`crate::Runtime::metrics_text`]) |

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use http::{StatusCode, Version};

/// A limit that refused a request or closed a connection, for `spool_limit_hits_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// `--max-connections` was reached and accepting paused (counted once per pause).
    MaxConnections,
    /// A connection sent no complete request headers within `--header-read-timeout` (of its
    /// accept, or on HTTP/1 of its last response) and was closed.
    HeaderReadTimeout,
    /// A connection was idle for `--idle-timeout` and was closed.
    IdleTimeout,
    /// A handler ran past `--request-timeout`: 503.
    RequestTimeout,
    /// A body over `--max-body`: 413.
    MaxBody,
    /// A connection owed its client a response and sent no byte of it for `--send-timeout`:
    /// closed.
    SendTimeout,
}

impl Limit {
    const ALL: [Limit; 6] = [
        Limit::MaxConnections,
        Limit::HeaderReadTimeout,
        Limit::IdleTimeout,
        Limit::RequestTimeout,
        Limit::MaxBody,
        Limit::SendTimeout,
    ];

    /// The label value, the flag's name in snake case.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Limit::MaxConnections => "max_connections",
            Limit::HeaderReadTimeout => "header_read_timeout",
            Limit::IdleTimeout => "idle_timeout",
            Limit::RequestTimeout => "request_timeout",
            Limit::MaxBody => "max_body",
            Limit::SendTimeout => "send_timeout",
        }
    }
}

/// The protocols requests are counted by.
const PROTOCOLS: [&str; 3] = ["HTTP/1.0", "HTTP/1.1", "HTTP/2"];
/// Status codes 100..=599, one counter each: 500 × 3 counters is 12 KB, and every code is
/// counted exactly, with no "other" bucket to explain.
const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 500;
/// Histogram bucket upper bounds, in seconds: 100 µs to 30 s (the default request timeout).
const BUCKETS: [f64; 12] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0,
];

/// [`BUCKETS`] in nanoseconds, the unit requests are sorted into them by.
const BUCKET_NANOS: [u64; BUCKETS.len()] = [
    100_000,
    500_000,
    1_000_000,
    5_000_000,
    10_000_000,
    50_000_000,
    100_000_000,
    500_000_000,
    1_000_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
];

/// Shards of the per-request counters: more than the workers of any machine this runs on
/// usually, so most threads have one to themselves.
const SHARDS: usize = 16;

/// The per-request counters of the threads given this shard.
#[derive(Debug)]
#[repr(align(128))] // two cache lines: no false sharing with the neighbour's counters
struct Shard {
    /// By protocol and status: `protocol * STATUS_SLOTS + status slot`.
    requests: Box<[AtomicU64]>,
    /// Per bucket, *not* cumulative (Prometheus' `le` buckets are summed when rendered); the
    /// last slot is `+Inf`.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
}

impl Shard {
    fn new() -> Self {
        Shard {
            requests: (0..PROTOCOLS.len() * STATUS_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: Default::default(),
            latency_sum_micros: AtomicU64::new(0),
        }
    }
}

/// The shard the current thread counts in: threads are dealt shards in turn as they first
/// count.
fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    MINE.with(|mine| *mine)
}

/// All the server's counters. One per server, shared by every connection.
#[derive(Debug)]
pub(crate) struct Metrics {
    shards: Box<[Shard]>,
    connections_total: AtomicU64,
    /// Per-core mode: connections accepted by each core's listener (empty otherwise). Bumped
    /// once per connection, so sharing cache lines between cores costs nothing measurable.
    accepted_by_core: Box<[AtomicU64]>,
    /// Also the counter `--max-connections` is enforced with (see `host::ConnLimit`).
    pub(crate) open_connections: AtomicUsize,
    limit_hits: [AtomicU64; Limit::ALL.len()],
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All counters at zero.
    pub(crate) fn new() -> Self {
        Self::with_cores(0)
    }

    /// All counters at zero, with a `spool_connections_accepted_total{core}` series for each
    /// of `cores` listeners (per-core mode; `0`: no such series).
    pub(crate) fn with_cores(cores: usize) -> Self {
        Metrics {
            shards: (0..SHARDS).map(|_| Shard::new()).collect(),
            connections_total: AtomicU64::new(0),
            accepted_by_core: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            open_connections: AtomicUsize::new(0),
            limit_hits: Default::default(),
        }
    }

    /// Counts one answered request.
    pub(crate) fn record_request(&self, version: Version, status: StatusCode, elapsed: Duration) {
        let protocol = match version {
            Version::HTTP_10 | Version::HTTP_09 => 0,
            Version::HTTP_2 => 2,
            _ => 1,
        };
        let slot = usize::from(status.as_u16().saturating_sub(STATUS_MIN)).min(STATUS_SLOTS - 1);
        let shard = &self.shards[my_shard()];
        shard.requests[protocol * STATUS_SLOTS + slot].fetch_add(1, Relaxed);
        // In whole nanoseconds against integer bounds: no float conversion per request.
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS
            .iter()
            .position(|&le| nanos <= le)
            .unwrap_or(BUCKETS.len());
        shard.latency[bucket].fetch_add(1, Relaxed);
        shard.latency_sum_micros.fetch_add(nanos / 1_000, Relaxed);
    }

    /// One counter summed over the shards.
    fn sum(&self, counter: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards
            .iter()
            .map(|shard| counter(shard).load(Relaxed))
            .sum()
    }

    /// Counts one hit of `limit`.
    pub(crate) fn record_limit(&self, limit: Limit) {
        self.limit_hits[limit as usize].fetch_add(1, Relaxed);
    }

    /// Counts one accepted connection (the open gauge is kept by the connection limit).
    pub(crate) fn record_connection(&self) {
        self.connections_total.fetch_add(1, Relaxed);
    }

    /// Counts one connection accepted by core `core`'s listener (per-core mode); a core
    /// outside [`Metrics::with_cores`]' count is ignored.
    pub(crate) fn record_core_accept(&self, core: usize) {
        if let Some(counter) = self.accepted_by_core.get(core) {
            counter.fetch_add(1, Relaxed);
        }
    }

    /// Connections being served now.
    pub(crate) fn open_connections(&self) -> usize {
        self.open_connections.load(Relaxed)
    }

    /// How many times `limit` was hit.
    pub(crate) fn limit_hits(&self, limit: Limit) -> u64 {
        self.limit_hits[limit as usize].load(Relaxed)
    }

    /// The page `/metrics` serves: these counters, then `runtime` (the hosting runtime's own
    /// lines, already in the format).
    pub(crate) fn render(&self, runtime: &str) -> String {
        let mut out = String::with_capacity(4096);
        // `write!` to a String cannot fail.
        out.push_str(
            "# HELP spool_http_requests_total Requests answered, by protocol and status.\n",
        );
        out.push_str("# TYPE spool_http_requests_total counter\n");
        for (p, protocol) in PROTOCOLS.iter().enumerate() {
            for slot in 0..STATUS_SLOTS {
                let count = self.sum(|shard| &shard.requests[p * STATUS_SLOTS + slot]);
                if count > 0 {
                    let status = usize::from(STATUS_MIN) + slot;
                    let _ = writeln!(
                        out,
                        "spool_http_requests_total{{protocol=\"{protocol}\",status=\"{status}\"}} {count}"
                    );
                }
            }
        }

        let name = "spool_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a request's headers to its response.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for i in 0..=BUCKETS.len() {
            cumulative += self.sum(|shard| &shard.latency[i]);
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |le| le.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum(|shard| &shard.latency_sum_micros) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");

        let _ = writeln!(
            out,
            "# HELP spool_connections_open Connections being served now.\n\
             # TYPE spool_connections_open gauge\n\
             spool_connections_open {}",
            self.open_connections()
        );
        let _ = writeln!(
            out,
            "# HELP spool_connections_total Connections accepted.\n\
             # TYPE spool_connections_total counter\n\
             spool_connections_total {}",
            self.connections_total.load(Relaxed)
        );
        if !self.accepted_by_core.is_empty() {
            out.push_str(
                "# HELP spool_connections_accepted_total Connections accepted, by the core whose \
                 listener accepted them (per-core mode).\n\
                 # TYPE spool_connections_accepted_total counter\n",
            );
            for (core, count) in self.accepted_by_core.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "spool_connections_accepted_total{{core=\"{core}\"}} {}",
                    count.load(Relaxed)
                );
            }
        }
        out.push_str(
            "# HELP spool_limit_hits_total Requests refused or connections closed, by limit.\n\
             # TYPE spool_limit_hits_total counter\n",
        );
        for limit in Limit::ALL {
            let _ = writeln!(
                out,
                "spool_limit_hits_total{{limit=\"{}\"}} {}",
                limit.label(),
                self.limit_hits(limit)
            );
        }
        write_counter(
            &mut out,
            "spool_log_lines_dropped_total",
            "Log lines dropped because the log's queue was full (stderr slower than the server).",
            crate::log::dropped_lines(),
        );
        out.push_str(runtime);
        out
    }
}

/// Appends one gauge (with its HELP and TYPE lines) to `out`: for [`crate::Runtime::metrics_text`].
pub(crate) fn write_gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// Appends one counter (with its HELP and TYPE lines) to `out`.
pub(crate) fn write_counter(
    out: &mut String,
    name: &str,
    help: &str,
    value: impl std::fmt::Display,
) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let m = Metrics::new();
        std::thread::scope(|scope| {
            for _ in 0..(SHARDS + 3) {
                scope.spawn(|| {
                    for _ in 0..100 {
                        m.record_request(Version::HTTP_11, StatusCode::OK, Duration::ZERO);
                    }
                });
            }
        });
        let page = m.render("");
        let expected = (SHARDS + 3) * 100;
        assert!(
            page.contains(&format!(
                "spool_http_requests_total{{protocol=\"HTTP/1.1\",status=\"200\"}} {expected}\n"
            )),
            "{page}"
        );
        assert!(page.contains(&format!(
            "spool_http_request_duration_seconds_count {expected}\n"
        )));
    }

    #[test]
    fn bucket_bounds_in_nanoseconds_match_the_seconds() {
        for (seconds, nanos) in BUCKETS.iter().zip(BUCKET_NANOS) {
            assert_eq!(
                Duration::from_secs_f64(*seconds).as_nanos(),
                u128::from(nanos)
            );
        }
        // A request exactly on a bound is in that bucket (`le`), one nanosecond more is not.
        let m = Metrics::new();
        m.record_request(Version::HTTP_11, StatusCode::OK, Duration::from_millis(1));
        m.record_request(
            Version::HTTP_11,
            StatusCode::OK,
            Duration::from_nanos(1_000_001),
        );
        let page = m.render("");
        assert!(
            page.contains("spool_http_request_duration_seconds_bucket{le=\"0.001\"} 1\n"),
            "{page}"
        );
        assert!(
            page.contains("spool_http_request_duration_seconds_bucket{le=\"0.005\"} 2\n"),
            "{page}"
        );
    }

    #[test]
    fn per_core_accepts_are_counted_by_core() {
        let m = Metrics::with_cores(2);
        m.record_core_accept(1);
        m.record_core_accept(1);
        m.record_core_accept(7); // no such core: ignored, not a panic
        let page = m.render("");
        assert!(
            page.contains("spool_connections_accepted_total{core=\"0\"} 0\n"),
            "{page}"
        );
        assert!(
            page.contains("spool_connections_accepted_total{core=\"1\"} 2\n"),
            "{page}"
        );
        assert_eq!(
            page.matches("# TYPE spool_connections_accepted_total")
                .count(),
            1
        );
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.record_request(Version::HTTP_11, StatusCode::OK, Duration::from_millis(2));
        m.record_request(Version::HTTP_2, StatusCode::OK, Duration::from_secs(100));
        m.record_request(Version::HTTP_2, StatusCode::NOT_FOUND, Duration::ZERO);
        m.record_limit(Limit::MaxBody);
        let page = m.render("spool_runtime_workers 2\n");
        assert!(page.contains("spool_http_requests_total{protocol=\"HTTP/1.1\",status=\"200\"} 1"));
        assert!(page.contains("spool_http_requests_total{protocol=\"HTTP/2\",status=\"404\"} 1"));
        assert!(page.contains("spool_http_request_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(page.contains("spool_http_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(page.contains("spool_http_request_duration_seconds_count 3"));
        assert!(page.contains("spool_limit_hits_total{limit=\"max_body\"} 1"));
        assert!(page.contains("spool_connections_open 0"));
        assert!(page.contains("spool_log_lines_dropped_total 0\n"));
        assert!(page.ends_with("spool_runtime_workers 2\n"));
        assert!(!page.contains("spool_connections_accepted_total"));
        // Every sample line is `name[{labels}] number`.
        for line in page.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
