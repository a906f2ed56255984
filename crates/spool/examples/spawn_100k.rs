//! First figure: `spawn` + await of 100 000 empty tasks, Spool vs tokio (multi-thread), 2 workers
//! each, in the same process, alternated.
//!
//! ```text
//! cargo run -p spool --release --example spawn_100k [rounds]
//! ```
//!
//! Each round spawns 100 000 `async {}` tasks from inside `block_on` (so, from outside the
//! workers: every task goes through the injection queue, the common case for an accept loop
//! or a main function), keeps the handles, then awaits them in order. Reported: the median
//! per round and per task.

use std::time::{Duration, Instant};

const TASKS: usize = 100_000;

fn spool_round(rt: &spool::Runtime) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS).map(|_| spool::spawn(async {})).collect();
        for task in tasks {
            task.await.expect("task failed");
        }
        start.elapsed()
    })
}

fn spool_round_inside(rt: &spool::Runtime) -> Duration {
    let task = rt.spawn(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS).map(|_| spool::spawn(async {})).collect();
        for task in tasks {
            task.await.expect("task failed");
        }
        start.elapsed()
    });
    rt.block_on(task).expect("driver task failed")
}

fn tokio_round(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS).map(|_| tokio::spawn(async {})).collect();
        for task in tasks {
            task.await.expect("task failed");
        }
        start.elapsed()
    })
}

fn tokio_round_inside(rt: &tokio::runtime::Runtime) -> Duration {
    let task = rt.spawn(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS).map(|_| tokio::spawn(async {})).collect();
        for task in tasks {
            task.await.expect("task failed");
        }
        start.elapsed()
    });
    rt.block_on(task).expect("driver task failed")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> std::io::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let spool_rt = spool::Runtime::builder()
        .worker_threads(2)
        .detector_threshold(None)
        .build()?;
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;

    let mut results: [(&str, Vec<Duration>); 4] = [
        ("spool, spawned from block_on", Vec::new()),
        ("tokio, spawned from block_on", Vec::new()),
        ("spool, spawned from a task", Vec::new()),
        ("tokio, spawned from a task", Vec::new()),
    ];
    // One warm-up round each, then alternate.
    spool_round(&spool_rt);
    tokio_round(&tokio_rt);
    for _ in 0..rounds {
        results[0].1.push(spool_round(&spool_rt));
        results[1].1.push(tokio_round(&tokio_rt));
        results[2].1.push(spool_round_inside(&spool_rt));
        results[3].1.push(tokio_round_inside(&tokio_rt));
    }
    println!("spawn + await of {TASKS} empty tasks, 2 workers, median of {rounds} rounds:");
    let medians: Vec<Duration> = results.iter().map(|(_, v)| median(v.clone())).collect();
    for ((name, _), m) in results.iter().zip(&medians) {
        println!(
            "  {name:<32} {:>8.2} ms  {:>6.0} ns/task",
            m.as_secs_f64() * 1e3,
            m.as_secs_f64() * 1e9 / TASKS as f64
        );
    }
    println!(
        "  ratio spool/tokio: from block_on {:.2}, from a task {:.2}",
        medians[0].as_secs_f64() / medians[1].as_secs_f64(),
        medians[2].as_secs_f64() / medians[3].as_secs_f64()
    );
    Ok(())
}
