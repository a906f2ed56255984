//! CPU burned while waiting: the chapter's self-waking `BusySleep` against `spool::time::sleep`
//! (and `tokio::time::sleep` for reference), 3 tasks × 1 s each, on 2 workers.
//!
//! ```text
//! cargo run -p spool --release --example busy_vs_timer_sleep -- [seconds] [workers]
//! ```
//!
//! Criterion measures wall time, which is the same (~1 s) for all of them; what differs is the
//! process's CPU time (user + system, from `getrusage(RUSAGE_SELF)`, all threads) over the run.
//! Prints one JSON line per case.

use std::time::{Duration, Instant};

const TASKS: usize = 3;

#[allow(dead_code, unreachable_pub)] // the tests' helper: this example uses part of it
#[path = "../tests/common/cpu.rs"]
mod cpu;

/// User and system CPU seconds of this process so far.
fn cpu_seconds() -> (f64, f64) {
    let now = cpu::CpuTime::now();
    (now.user.as_secs_f64(), now.system.as_secs_f64())
}

fn measure(case: &str, workers: usize, secs: f64, run: impl FnOnce()) {
    let (u0, s0) = cpu_seconds();
    let start = Instant::now();
    run();
    let wall = start.elapsed().as_secs_f64();
    let (u1, s1) = cpu_seconds();
    let (user, sys) = (u1 - u0, s1 - s0);
    println!(
        "{{\"case\": \"{case}\", \"tasks\": {TASKS}, \"sleep_s\": {secs}, \"workers\": {workers}, \
         \"wall_s\": {wall:.3}, \"user_s\": {user:.3}, \"sys_s\": {sys:.3}, \"cpu_s\": {:.3}}}",
        user + sys
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let workers: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let d = Duration::from_secs_f64(secs);

    let rt = spool::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("spool runtime");
    rt.block_on(rt.spawn(async {})).expect("warm-up");
    measure("spool BusySleep", workers, secs, || {
        rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| spool::spawn(spool::time::BusySleep::new(d)))
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
        })
    });
    measure("spool time::sleep", workers, secs, || {
        rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| spool::spawn(spool::time::sleep(d)))
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
        })
    });
    drop(rt);

    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    tokio_rt
        .block_on(tokio_rt.spawn(async {}))
        .expect("warm-up");
    measure("tokio time::sleep", workers, secs, || {
        tokio_rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| tokio::spawn(tokio::time::sleep(d)))
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
        })
    });
}
