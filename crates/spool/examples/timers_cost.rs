//! The timer rows of the runtime benchmark (`timers_cancel`, `timers_fire`) as one program, for
//! instruction counts under callgrind, which are repeatable where criterion's times on a shared
//! machine are not:
//!
//! ```text
//! cargo build --release -p spool --example timers_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/timers_cost cancel   # or: fire
//! ```
//!
//! `cancel`: 100 000 sleeps (1 s and more, all distinct) registered by one poll and dropped.
//! `fire`: 10 000 tasks sleeping 1–10 ms, until all have woken. One worker.

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

fn main() {
    let which = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "cancel".to_owned());
    let rt = spool::Runtime::builder()
        .worker_threads(1)
        .build()
        .expect("runtime");
    match which.as_str() {
        "cancel" => rt.block_on(async {
            let task = spool::spawn(async {
                for i in 0..100_000u64 {
                    let sleep =
                        spool::time::sleep(Duration::from_secs(1) + Duration::from_micros(i));
                    assert!(!poll_once(sleep).await, "a 1 s sleep fired at once");
                }
            });
            task.await.expect("the task");
        }),
        "fire" => rt.block_on(async {
            let tasks: Vec<_> = (0..10_000u64)
                .map(|i| spool::spawn(spool::time::sleep(Duration::from_millis(1 + i % 10))))
                .collect();
            for task in tasks {
                task.await.expect("a sleeper");
            }
        }),
        other => {
            eprintln!("usage: timers_cost cancel|fire (not {other:?})");
            std::process::exit(2);
        }
    }
}
