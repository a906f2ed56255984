//! The current-thread benchmark rows as one small program, for instruction counts under
//! callgrind: `valgrind --tool=callgrind target/release/examples/current_thread_profile spool yield`.
//!
//! Arguments: the runtime (`spool`, `spool-nostats` — `task_stats(false)` — or `tokio`), then the workload (`yield`: 200 tasks × 1 000
//! `yield_now`; `spawn`: 10 000 empty tasks spawned and awaited; `ping`: 1 000 ping-pong rounds;
//! `chain`: 1 000 tasks each spawning the next).

use std::future::Future;

type BoxFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

async fn workload<S, J, Y>(which: &str, spawn: S, detach: fn(BoxFuture), yield_now: fn() -> Y)
where
    S: Fn(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> J + Copy + Send + 'static,
    J: Future<Output = ()> + Send + 'static,
    Y: Future<Output = ()> + Send + 'static,
{
    match which {
        "yield" => {
            let tasks: Vec<_> = (0..200)
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
            let tasks: Vec<_> = (0..10_000).map(|_| spawn(Box::pin(async {}))).collect();
            for task in tasks {
                task.await;
            }
        }
        "ping" => {
            use futures_channel::oneshot;
            let tasks: Vec<_> = (0..1_000)
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
            chain(detach, tx, 1_000);
            rx.await.unwrap();
        }
        other => panic!("unknown workload {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = args.get(1).map_or("spool", String::as_str);
    let which = args.get(2).map_or("yield", String::as_str).to_owned();
    match runtime {
        "spool" | "spool-nostats" => {
            let rt = spool::Builder::new_current_thread()
                .task_stats(runtime == "spool")
                .build()
                .unwrap();
            rt.block_on(workload(
                &which,
                |f| {
                    let task = spool::spawn(f);
                    async move { task.await.unwrap() }
                },
                |f| spool::spawn(f).detach(),
                spool::yield_now,
            ));
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(workload(
                &which,
                |f| {
                    let task = tokio::spawn(f);
                    async move { task.await.unwrap() }
                },
                |f| drop(tokio::spawn(f)),
                tokio::task::yield_now,
            ));
        }
        other => panic!("unknown runtime {other}"),
    }
}
