//! The instruction cost of per-task statistics, for callgrind: the same workload with
//! `task_stats` on or off, on one worker (so the count is repeatable).
//!
//! ```text
//! cargo build -p spool --release --example stats_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/stats_cost on
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/stats_cost off
//! ```
//!
//! Arguments: `on` or `off`, the workload (default `yield`), and how many times to run it
//! (default 1; more for a CPU-time comparison outside valgrind). The workload is spawned from a
//! task on the worker, so that spawns and wakes take the worker's paths:
//!
//! - `yield`: 10 000 tasks × 10 `yield_now` (every poll a self-wake; the costliest case);
//! - `spawn`: 10 000 empty tasks spawned and awaited (`spawn_many_local`);
//! - `ping`: 10 000 rounds of a task and a peer it spawns exchanging two oneshot messages
//!   (`ping_pong`);
//! - `chain`: 10 000 tasks, each spawning the next (`chained_spawn`);
//! - `none`: nothing (the runtime's start and stop, to subtract from the others).
//!
//! Compare the `Collected` totals (less `none`'s); divide the difference by the polls printed
//! at the end for a cost per poll. Results: `docs/inspector.md`.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;

use futures_channel::oneshot;

const TASKS: usize = 10_000;
const YIELDS: usize = 10;
const ROUNDS: usize = 10_000;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

async fn workload(which: &str) {
    match which {
        "none" => {}
        "yield" => {
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
        }
        "spawn" => {
            let tasks: Vec<_> = (0..TASKS).map(|_| spool::spawn(async {})).collect();
            for task in tasks {
                task.await.expect("task failed");
            }
        }
        "ping" => {
            for _ in 0..ROUNDS {
                let (tx1, rx1) = oneshot::channel::<()>();
                let (tx2, rx2) = oneshot::channel::<()>();
                let peer = spool::spawn(async move {
                    rx1.await.expect("ping");
                    tx2.send(()).expect("pong");
                });
                tx1.send(()).expect("ping");
                rx2.await.expect("pong");
                peer.await.expect("task failed");
            }
        }
        "chain" => {
            fn chain(done: oneshot::Sender<()>, n: usize) -> BoxFuture {
                Box::pin(async move {
                    if n == 0 {
                        let _ = done.send(());
                    } else {
                        spool::spawn(chain(done, n - 1)).detach();
                    }
                })
            }
            let (tx, rx) = oneshot::channel();
            spool::spawn(chain(tx, ROUNDS)).detach();
            rx.await.expect("the chain ended");
        }
        other => {
            eprintln!("stats_cost: expected yield, spawn, ping, chain or none, got `{other}`");
            std::process::exit(2);
        }
    }
}

fn main() {
    let on = match std::env::args().nth(1).as_deref() {
        Some("on") | None => true,
        Some("off") => false,
        Some(other) => {
            eprintln!("stats_cost: expected `on` or `off`, got `{other}`");
            std::process::exit(2);
        }
    };
    let which = std::env::args().nth(2).unwrap_or_else(|| "yield".into());
    let rounds: usize = match std::env::args().nth(3).map(|s| s.parse()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("stats_cost: the round count must be a number");
            std::process::exit(2);
        }
    };
    let rt = spool::Runtime::builder()
        .worker_threads(1)
        .task_stats(on)
        .build()
        .expect("runtime");
    let (tx, rx) = mpsc::channel();
    let name = which.clone();
    rt.spawn(async move {
        for _ in 0..rounds {
            workload(&name).await;
        }
        tx.send(()).expect("main is waiting");
    })
    .detach();
    rx.recv().expect("workload finished");
    let polls: u64 = rt.metrics().workers.iter().map(|w| w.polls).sum();
    println!("task_stats={on} workload={which} polls={polls}");
}
