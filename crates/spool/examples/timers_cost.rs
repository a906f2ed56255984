//! The timer rows of the runtime benchmark (`timers_cancel`, `timers_fire`) as one program, for
//! instruction counts under callgrind, which are repeatable where criterion's times on a shared
//! machine are not:
//!
//! ```text
//! cargo build --release -p spool --example timers_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/timers_cost cancel            # or: fire, fire-1s
//! valgrind ... target/release/examples/timers_cost fire-1s tokio 2   # runtime, workers
//! ```
//!
//! Arguments: the workload, then the runtime (`spool`, the default, `spool-nostats` —
//! `task_stats(false)` — or `tokio`), then the number of workers (default 1).
//!
//! - `cancel`: 100 000 sleeps (1 s and more, all distinct) registered by one poll and dropped.
//! - `fire`: 10 000 tasks sleeping 1–10 ms, until all have woken (the benchmark's row). Under
//!   callgrind (~50× slower) spawning them takes longer than 10 ms, so most sleeps have expired
//!   before their first poll and never reach the timer map: this mostly counts spawn and join.
//! - `fire-1s`: the same with 1 s + 0–9 ms, so that every sleep is registered and fired by the
//!   driver, as in the benchmark at full speed (the second of idling costs no instructions).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Polls `future` once, yielding whether it finished.
async fn poll_once<F: Future>(future: F) -> bool {
    let mut future = pin!(future);
    std::future::poll_fn(|cx: &mut Context<'_>| Poll::Ready(future.as_mut().poll(cx).is_ready()))
        .await
}

/// The workload on one runtime, given as its `spawn` (awaited through `join`) and `sleep`.
macro_rules! workload {
    ($which:expr, $spawn:path, $sleep:path, $join:expr) => {
        async move {
            let fire = |base: Duration| async move {
                let tasks: Vec<_> = (0..10_000u64)
                    .map(|i| $spawn($sleep(base + Duration::from_millis(i % 10))))
                    .collect();
                for task in tasks {
                    $join(task.await);
                }
            };
            match $which {
                "cancel" => {
                    let task = $spawn(async {
                        for i in 0..100_000u64 {
                            let sleep = $sleep(Duration::from_secs(1) + Duration::from_micros(i));
                            assert!(!poll_once(sleep).await, "a 1 s sleep fired at once");
                        }
                    });
                    $join(task.await);
                }
                "fire" => fire(Duration::from_millis(1)).await,
                "fire-1s" => fire(Duration::from_secs(1)).await,
                other => {
                    eprintln!("usage: timers_cost cancel|fire|fire-1s [spool|tokio] [WORKERS] (not {other:?})");
                    std::process::exit(2);
                }
            }
        }
    };
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "cancel".to_owned());
    let runtime = args.next().unwrap_or_else(|| "spool".to_owned());
    let workers: usize = match args.next().map(|w| w.parse()) {
        None => 1,
        Some(Ok(w)) if w > 0 => w,
        Some(_) => {
            eprintln!("timers_cost: WORKERS must be a positive number");
            std::process::exit(2);
        }
    };
    match runtime.as_str() {
        "spool" | "spool-nostats" => {
            let rt = spool::Runtime::builder()
                .worker_threads(workers)
                .task_stats(runtime == "spool")
                .build()
                .expect("runtime");
            rt.block_on(workload!(
                which.as_str(),
                spool::spawn,
                spool::time::sleep,
                |r: Result<(), spool::JoinError>| r.expect("a task")
            ));
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_time()
                .build()
                .expect("runtime");
            rt.block_on(workload!(
                which.as_str(),
                tokio::spawn,
                tokio::time::sleep,
                |r: Result<(), tokio::task::JoinError>| r.expect("a task")
            ));
        }
        other => {
            eprintln!("timers_cost: the runtime is spool or tokio (not {other:?})");
            std::process::exit(2);
        }
    }
}
