//! Timer precision: how late `sleep(d)` wakes, on Spool and on tokio, in the same run.
//!
//! ```text
//! cargo run -p spool --release --example timer_precision [samples]
//! ```
//!
//! For each d in 50 µs, 300 µs, 1 ms, 10 ms: one task sleeps d, `samples` times in a row
//! (default 200), and records `elapsed - d` for each sleep; the runtimes take turns, d by d
//! (2 workers each, built as a user would). Printed: median and p99 lateness, as a markdown
//! table (`docs/benchmarks.md`, "Timer precision").

use std::time::{Duration, Instant};

const DURATIONS: [Duration; 4] = [
    Duration::from_micros(50),
    Duration::from_micros(300),
    Duration::from_millis(1),
    Duration::from_millis(10),
];

/// Lateness of `samples` sleeps of `d`, sorted.
async fn measure<S, F>(sleep: S, d: Duration, samples: usize) -> Vec<Duration>
where
    S: Fn(Duration) -> F,
    F: std::future::Future<Output = ()>,
{
    let mut late = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        sleep(d).await;
        late.push(start.elapsed().saturating_sub(d));
    }
    late.sort();
    late
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn main() {
    let samples: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let spool = spool::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("spool runtime");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("samples per cell: {samples}; lateness = elapsed - d, in µs");
    println!();
    println!("| d | Spool median | Spool p99 | tokio median | tokio p99 |");
    println!("|---|---|---|---|---|");
    for d in DURATIONS {
        let s = spool
            .block_on(spool.spawn(measure(spool::time::sleep, d, samples)))
            .expect("spool task");
        let t = tokio
            .block_on(tokio.spawn(measure(tokio::time::sleep, d, samples)))
            .expect("tokio task");
        println!(
            "| {} µs | {} | {} | {} | {} |",
            micros(d),
            micros(percentile(&s, 0.5)),
            micros(percentile(&s, 0.99)),
            micros(percentile(&t, 0.5)),
            micros(percentile(&t, 0.99)),
        );
    }
}
