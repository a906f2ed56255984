//! The current-thread benchmark rows as one small program, for instruction counts under
//! callgrind: `valgrind --tool=callgrind target/release/examples/current_thread_profile spool yield`.
//!
//! Arguments: the runtime (`spool`, `spool-nostats`: `task_stats(false)`, `spool-bare`: without
//! statistics nor blocking detector, or `tokio`), then the workload (`yield`: 200 tasks × 1 000
//! `yield_now`; `spawn`: 10 000 empty tasks spawned and awaited; `ping`: 1 000 ping-pong rounds;
//! `chain`: 1 000 tasks each spawning the next), then optionally the number of tasks (instead of
//! 200, 10 000 or 1 000) and of rounds: with more than one round, the median round's wall time
//! and the process's user CPU time per round are printed, for timing runs outside valgrind.

use std::future::Future;
use std::time::Duration;

type BoxFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

async fn workload<S, J, Y>(
    which: &str,
    n: Option<usize>,
    spawn: S,
    detach: fn(BoxFuture),
    yield_now: fn() -> Y,
) where
    S: Fn(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> J + Copy + Send + 'static,
    J: Future<Output = ()> + Send + 'static,
    Y: Future<Output = ()> + Send + 'static,
{
    match which {
        "yield" => {
            let tasks: Vec<_> = (0..n.unwrap_or(200))
                .map(|_| {
                    spawn(Box::pin(async move {
                        for _ in 0..1_000 {
                            yield_now().await;
                        }
                    }))
                })
                .collect();
            for task in tasks {
                task.await;
            }
        }
        "spawn" => {
            let tasks: Vec<_> = (0..n.unwrap_or(10_000))
                .map(|_| spawn(Box::pin(async {})))
                .collect();
            for task in tasks {
                task.await;
            }
        }
        "ping" => {
            use futures_channel::oneshot;
            let tasks: Vec<_> = (0..n.unwrap_or(1_000))
                .map(|_| {
                    spawn(Box::pin(async move {
                        let (tx1, rx1) = oneshot::channel::<()>();
                        let (tx2, rx2) = oneshot::channel::<()>();
                        let peer = spawn(Box::pin(async move {
                            rx1.await.unwrap();
                            tx2.send(()).unwrap();
                        }));
                        tx1.send(()).unwrap();
                        rx2.await.unwrap();
                        peer.await;
                    }))
                })
                .collect();
            for task in tasks {
                task.await;
            }
        }
        "chain" => {
            fn chain(detach: fn(BoxFuture), done: futures_channel::oneshot::Sender<()>, n: usize) {
                if n == 0 {
                    let _ = done.send(());
                } else {
                    detach(Box::pin(async move { chain(detach, done, n - 1) }));
                }
            }
            let (tx, rx) = futures_channel::oneshot::channel();
            chain(detach, tx, n.unwrap_or(1_000));
            rx.await.unwrap();
        }
        other => panic!("unknown workload {other}"),
    }
}

/// The process's user CPU time so far.
fn user_cpu() -> std::time::Duration {
    // SAFETY: `getrusage` writes into the zeroed struct it is given and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = usage.ru_utime;
    std::time::Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1_000)
}

/// Runs `round` `rounds` times; with more than one, prints the median round and the user CPU
/// time per round.
fn timed(rounds: usize, label: &str, mut round: impl FnMut()) {
    let cpu_before = user_cpu();
    let mut walls: Vec<_> = (0..rounds)
        .map(|_| {
            let start = std::time::Instant::now();
            round();
            start.elapsed()
        })
        .collect();
    if rounds > 1 {
        let cpu = (user_cpu() - cpu_before) / rounds as u32;
        walls.sort();
        println!(
            "{label}: median {:?} per round, user CPU {cpu:?} per round, {rounds} rounds",
            walls[rounds / 2]
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = args.get(1).map_or("spool", String::as_str);
    let which = args.get(2).map_or("yield", String::as_str).to_owned();
    let n = args.get(3).map(|n| n.parse().expect("a number of tasks"));
    let rounds = args
        .get(4)
        .map_or(1, |r| r.parse().expect("a number of rounds"));
    let label = format!("{runtime} {which}");
    match runtime {
        "spool" | "spool-nostats" | "spool-bare" => {
            let rt = spool::Builder::new_current_thread()
                .task_stats(runtime == "spool")
                .detector_threshold((runtime != "spool-bare").then_some(Duration::from_millis(50)))
                .build()
                .unwrap();
            timed(rounds, &label, || {
                rt.block_on(workload(
                    &which,
                    n,
                    |f| {
                        let task = spool::spawn(f);
                        async move { task.await.unwrap() }
                    },
                    |f| spool::spawn(f).detach(),
                    spool::yield_now,
                ))
            });
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            timed(rounds, &label, || {
                rt.block_on(workload(
                    &which,
                    n,
                    |f| {
                        let task = tokio::spawn(f);
                        async move { task.await.unwrap() }
                    },
                    |f| drop(tokio::spawn(f)),
                    tokio::task::yield_now,
                ))
            });
        }
        other => panic!("unknown runtime {other}"),
    }
}
