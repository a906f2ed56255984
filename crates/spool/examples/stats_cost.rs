//! The instruction cost of per-task statistics, for callgrind: the same spawn + yield + wake
//! workload with `task_stats` on or off, on one worker (so the count is repeatable).
//!
//! ```text
//! cargo build -p spool --release --example stats_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/stats_cost on
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/stats_cost off
//! ```
//!
//! Compare the `Collected` totals; divide the difference by the operations printed at the end
//! (spawns + polls) for a cost per operation. Results: `docs/inspector.md`.

use std::sync::mpsc;

const TASKS: usize = 10_000;
const YIELDS: usize = 10;

fn main() {
    let on = match std::env::args().nth(1).as_deref() {
        Some("on") | None => true,
        Some("off") => false,
        Some(other) => {
            eprintln!("stats_cost: expected `on` or `off`, got `{other}`");
            std::process::exit(2);
        }
    };
    let rt = spool::Runtime::builder()
        .worker_threads(1)
        .task_stats(on)
        .build()
        .expect("runtime");
    // Spawned from a task on the worker: spawns and wakes take the worker's paths.
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                spool::spawn(async {
                    for _ in 0..YIELDS {
                        spool::yield_now().await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task failed");
        }
        tx.send(()).expect("main is waiting");
    })
    .detach();
    rx.recv().expect("workload finished");
    let polls: u64 = rt.metrics().workers.iter().map(|w| w.polls).sum();
    println!("task_stats={on} spawns={TASKS} polls={polls}");
}
