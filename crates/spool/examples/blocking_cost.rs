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

#[allow(dead_code, unreachable_pub)] // the tests' helper: this example uses part of it
#[path = "../tests/common/cpu.rs"]
mod cpu;

/// One round: `BATCHES` batches of `BATCH` no-op calls, each batch awaited before the next.
/// `call` starts one call on the runtime under test.
async fn round<J, E>(call: impl Fn() -> J)
where
    J: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Debug,
{
    for _ in 0..BATCHES {
        let calls: Vec<_> = (0..BATCH).map(|_| call()).collect();
        for call in calls {
            call.await.expect("blocking call failed");
        }
    }
}

/// Runs one warm-up round (it starts the pool's threads), then measures `rounds` rounds.
fn measure(rounds: usize, mut run_round: impl FnMut()) -> Measured {
    run_round();
    let (at, cpu, switches) = (Instant::now(), cpu::CpuTime::now(), cpu::Switches::now());
    for _ in 0..rounds {
        run_round();
    }
    let now = cpu::Switches::now();
    Measured {
        elapsed_s: at.elapsed().as_secs_f64(),
        cpu_s: cpu::CpuTime::now().since(cpu).total().as_secs_f64(),
        voluntary: now.voluntary - switches.voluntary,
        involuntary: now.involuntary - switches.involuntary,
    }
}

fn rounds_spool(rounds: usize, workers: usize) -> Measured {
    let rt = spool::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("spool runtime");
    measure(rounds, || {
        rt.block_on(round(|| rt.spawn_blocking(|| std::hint::black_box(()))))
    })
}

fn rounds_tokio(rounds: usize, workers: usize) -> Measured {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    measure(rounds, || {
        rt.block_on(round(|| rt.spawn_blocking(|| std::hint::black_box(()))))
    })
}

/// Wall time, CPU time (user + system) and context switches over the measured rounds.
struct Measured {
    elapsed_s: f64,
    cpu_s: f64,
    voluntary: i64,
    involuntary: i64,
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
        measured.voluntary as f64 / calls,
        measured.involuntary as f64 / calls,
        measured.cpu_s * 1e6 / calls,
    );
}
