//! The multi-thread `yield_many` benchmark row (`benches/runtimes.rs`) as one small program, for
//! instruction counts under callgrind on a loaded machine where wall time is noise:
//!
//! ```text
//! cargo build -p spool --release --example yield_many_profile
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/yield_many_profile spool 2
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/yield_many_profile tokio 2
//! ```
//!
//! Arguments: the runtime (`spool`, `spool-nostats` — `task_stats(false)` — or `tokio`), the
//! worker count (default 2), the rounds (default 5). Each round spawns 200 tasks from the main
//! thread, each yielding 1 000 times, and waits for all of them, as the benchmark does. valgrind
//! runs one thread at a time, so with several workers the count includes some searching and
//! parking that depends on its scheduling: compare runs of the same worker count, a few each.

use std::sync::mpsc;

const TASKS: usize = 200;
const YIELDS: usize = 1_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = args.get(1).map_or("spool", String::as_str);
    let workers: usize = args
        .get(2)
        .map_or(Ok(2), |s| s.parse())
        .unwrap_or_else(|_| {
            eprintln!("yield_many_profile: the worker count must be a number");
            std::process::exit(2);
        });
    let rounds: usize = args
        .get(3)
        .map_or(Ok(5), |s| s.parse())
        .unwrap_or_else(|_| {
            eprintln!("yield_many_profile: the round count must be a number");
            std::process::exit(2);
        });
    let (tx, rx) = mpsc::sync_channel(TASKS);
    match runtime {
        "spool" | "spool-nostats" => {
            let rt = spool::Runtime::builder()
                .worker_threads(workers)
                .task_stats(runtime == "spool")
                .build()
                .expect("runtime");
            for _ in 0..rounds {
                for _ in 0..TASKS {
                    let tx = tx.clone();
                    rt.spawn(async move {
                        for _ in 0..YIELDS {
                            spool::yield_now().await;
                        }
                        tx.send(()).expect("main is waiting");
                    })
                    .detach();
                }
                for _ in 0..TASKS {
                    rx.recv().expect("a task finished");
                }
            }
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("runtime");
            for _ in 0..rounds {
                for _ in 0..TASKS {
                    let tx = tx.clone();
                    drop(rt.spawn(async move {
                        for _ in 0..YIELDS {
                            tokio::task::yield_now().await;
                        }
                        tx.send(()).expect("main is waiting");
                    }));
                }
                for _ in 0..TASKS {
                    rx.recv().expect("a task finished");
                }
            }
        }
        other => {
            eprintln!(
                "yield_many_profile: expected `spool`, `spool-nostats` or `tokio`, got `{other}`"
            );
            std::process::exit(2);
        }
    }
    println!(
        "runtime={runtime} workers={workers} rounds={rounds} polls={}",
        rounds * TASKS * (YIELDS + 1)
    );
}
