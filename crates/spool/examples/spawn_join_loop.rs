//! A spawn/join loop for instruction counts: one worker, a task spawning and awaiting `N` empty
//! tasks one at a time, then `N` rounds of a two-task ping-pong over a oneshot.
//!
//! ```text
//! cargo build -p spool --release --example spawn_join_loop
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/spawn_join_loop 20000
//! ```
//!
//! callgrind's "Collected" total is the figure compared before/after a change to the task path
//! (`docs/design.md`); the loop's size is the argument (default 20 000).

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let rt = spool::Runtime::builder()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let total = rt
        .block_on(rt.spawn(async move {
            let mut sum = 0usize;
            for i in 0..n {
                sum += spool::spawn(async move { i & 1 })
                    .await
                    .expect("task failed");
            }
            for _ in 0..n {
                let (tx, rx) = futures_channel::oneshot::channel::<usize>();
                let peer = spool::spawn(async move { rx.await.unwrap_or(0) });
                tx.send(1).ok();
                sum += peer.await.expect("task failed");
            }
            sum
        }))
        .expect("task failed");
    println!("{total}");
}
