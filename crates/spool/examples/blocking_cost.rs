//! The `spawn_blocking` benchmark's workload, on Spool or on tokio, for counters and profiles:
//! `ROUNDS` rounds of 100 batches of 16 no-op `spawn_blocking` calls, each batch awaited from
//! `block_on` before the next (`benches/runtimes.rs`, `spawn_blocking`). Both runtimes are built
//! as the benchmark builds them (2 workers by default, the rest their defaults).
//!
//! ```text
//! cargo build -p spool --release --example blocking_cost
//! strace -c -f target/release/examples/blocking_cost spool 20      # futex calls, both sides
//! strace -c -f target/release/examples/blocking_cost tokio 20
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/blocking_cost spool 5
//! ```
//!
//! It prints the wall time per round, and per call the process's voluntary and involuntary
//! context switches (`getrusage`: each voluntary one is a thread that parked and had to be
//! woken) and its CPU time (user + system: less sensitive than wall time to a loaded machine),
//! over the rounds after a first warm-up round (which starts the pools' threads).
//! Arguments: `spool|tokio`, the number of rounds (default 20), the workers (default 2).
//! callgrind's instructions per call: the difference between two round counts, over the calls.

use std::time::Instant;

const BATCHES: usize = 100;
const BATCH: usize = 16;

/// Runs one warm-up round (it starts the pool's threads), then measures `rounds` rounds.
fn rounds_spool(rounds: usize, workers: usize) -> Measured {
    let rt = spool::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("spool runtime");
    let mut measured = Measured::default();
    for round in 0..=rounds {
        if round == 1 {
            measured.start();
        }
        rt.block_on(async {
            for _ in 0..BATCHES {
                let calls: Vec<_> = (0..BATCH)
                    .map(|_| rt.spawn_blocking(|| std::hint::black_box(())))
                    .collect();
                for call in calls {
                    call.await.expect("blocking call failed");
                }
            }
        });
    }
    measured.stop();
    measured
}

/// [`rounds_spool`] on tokio.
fn rounds_tokio(rounds: usize, workers: usize) -> Measured {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut measured = Measured::default();
    for round in 0..=rounds {
        if round == 1 {
            measured.start();
        }
        rt.block_on(async {
            for _ in 0..BATCHES {
                let calls: Vec<_> = (0..BATCH)
                    .map(|_| rt.spawn_blocking(|| std::hint::black_box(())))
                    .collect();
                for call in calls {
                    call.await.expect("blocking call failed");
                }
            }
        });
    }
    measured.stop();
    measured
}

/// Wall time, CPU time and context switches over the measured rounds.
#[derive(Default)]
struct Measured {
    start: Option<(Instant, Usage)>,
    elapsed_s: f64,
    usage: Usage,
}

impl Measured {
    fn start(&mut self) {
        self.start = Some((Instant::now(), Usage::now()));
    }

    fn stop(&mut self) {
        if let Some((at, before)) = self.start {
            self.elapsed_s = at.elapsed().as_secs_f64();
            let now = Usage::now();
            self.usage = Usage {
                cpu_s: now.cpu_s - before.cpu_s,
                voluntary: now.voluntary - before.voluntary,
                involuntary: now.involuntary - before.involuntary,
            };
        }
    }
}

/// The whole process's CPU time (user + system) and context switches so far.
#[derive(Default, Clone, Copy)]
struct Usage {
    cpu_s: f64,
    voluntary: i64,
    involuntary: i64,
}

impl Usage {
    fn now() -> Self {
        // SAFETY: `getrusage` only writes the `rusage` we hand it; zeroed is a valid `rusage`.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        Usage {
            cpu_s: seconds(usage.ru_utime) + seconds(usage.ru_stime),
            voluntary: usage.ru_nvcsw,
            involuntary: usage.ru_nivcsw,
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = args.next().unwrap_or_else(|| "spool".to_owned());
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let measured = match runtime.as_str() {
        "spool" => rounds_spool(rounds, workers),
        "tokio" => rounds_tokio(rounds, workers),
        other => {
            eprintln!("unknown runtime {other:?}: spool or tokio");
            std::process::exit(2);
        }
    };
    let calls = (rounds * BATCHES * BATCH) as f64;
    println!(
        "{runtime}: {:.2} ms per round, {:.2} voluntary + {:.2} involuntary \
         context switches per call, {:.2} µs CPU per call",
        measured.elapsed_s * 1e3 / rounds as f64,
        measured.usage.voluntary as f64 / calls,
        measured.usage.involuntary as f64 / calls,
        measured.usage.cpu_s * 1e6 / calls,
    );
}
