//! The ecosystem's runtime-agnostic crates on Spool: `tokio::sync` (mpsc, oneshot, Mutex,
//! Semaphore, Notify, watch), `async-channel`, `futures::channel` and `futures::{join!,
//! select!}`, with the tasks on Spool's workers and no tokio runtime anywhere (what the README's
//! "Channels and locks" section recommends).

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

rt_test! {
    fn tokio_mpsc_and_oneshot(rt) {
        rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(8);
            let producers: Vec<_> = (0..4u32)
                .map(|p| {
                    let tx = tx.clone();
                    spool::spawn(async move {
                        for i in 0..100 {
                            tx.send(p * 1000 + i).await.unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            spool::spawn(async move {
                let mut sum = 0u64;
                while let Some(v) = rx.recv().await {
                    sum += u64::from(v);
                }
                done_tx.send(sum).unwrap();
            })
            .detach();
            for p in producers {
                p.await.unwrap();
            }
            let expected: u64 = (0..4u64).map(|p| (0..100).map(|i| p * 1000 + i).sum::<u64>()).sum();
            assert_eq!(done_rx.await.unwrap(), expected);
        });
    }
}

rt_test! {
    fn tokio_mutex_semaphore_notify_watch(rt) {
        rt.block_on(async {
            // Mutex: 8 tasks x 100 increments, held across an await.
            let counter = Arc::new(tokio::sync::Mutex::new(0u32));
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let counter = counter.clone();
                    spool::spawn(async move {
                        for _ in 0..100 {
                            let mut guard = counter.lock().await;
                            spool::yield_now().await;
                            *guard += 1;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*counter.lock().await, 800);

            // Semaphore: at most 2 holders at a time.
            let sem = Arc::new(tokio::sync::Semaphore::new(2));
            let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let tasks: Vec<_> = (0..6)
                .map(|_| {
                    let (sem, inside) = (sem.clone(), inside.clone());
                    spool::spawn(async move {
                        let _permit = sem.acquire().await.unwrap();
                        let now = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        assert!(now <= 2, "{now} holders of a 2-permit semaphore");
                        spool::time::sleep(Duration::from_millis(2)).await;
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }

            // Notify: a waiter woken from another task.
            let notify = Arc::new(tokio::sync::Notify::new());
            let n = notify.clone();
            let waiter = spool::spawn(async move { n.notified().await });
            spool::time::sleep(Duration::from_millis(5)).await;
            notify.notify_one();
            waiter.await.unwrap();

            // watch: the receiver sees the last value.
            let (tx, mut rx) = tokio::sync::watch::channel(0u32);
            let reader = spool::spawn(async move {
                while *rx.borrow_and_update() != 3 {
                    rx.changed().await.unwrap();
                }
            });
            for v in 1..=3 {
                tx.send(v).unwrap();
                spool::yield_now().await;
            }
            reader.await.unwrap();
        });
    }
}

rt_test! {
    fn async_channel_and_futures_channel(rt) {
        rt.block_on(async {
            let (tx, rx) = async_channel::bounded::<u32>(4);
            let consumers: Vec<_> = (0..3)
                .map(|_| {
                    let rx = rx.clone();
                    spool::spawn(async move {
                        let mut n = 0u32;
                        while rx.recv().await.is_ok() {
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            for i in 0..300 {
                tx.send(i).await.unwrap();
            }
            drop(tx);
            let mut total = 0;
            for c in consumers {
                total += c.await.unwrap();
            }
            assert_eq!(total, 300);

            use futures::{SinkExt, StreamExt};
            let (mut tx, mut rx) = futures::channel::mpsc::channel::<u32>(2);
            let sender = spool::spawn(async move {
                for i in 0..50 {
                    tx.send(i).await.unwrap();
                }
            });
            let mut got = Vec::new();
            while let Some(v) = rx.next().await {
                got.push(v);
            }
            sender.await.unwrap();
            assert_eq!(got, (0..50).collect::<Vec<_>>());
            let (otx, orx) = futures::channel::oneshot::channel();
            spool::spawn(async move { otx.send("hi").unwrap() }).detach();
            assert_eq!(orx.await, Ok("hi"));
        });
    }
}

rt_test! {
    fn futures_join_and_select(rt) {
        rt.block_on(async {
            let a = spool::spawn(async { 1 });
            let b = async {
                spool::time::sleep(Duration::from_millis(5)).await;
                2
            };
            let (a, b) = futures::join!(a, b);
            assert_eq!((a.unwrap(), b), (1, 2));

            use futures::FutureExt;
            let fast = spool::time::sleep(Duration::from_millis(5)).fuse();
            let slow = spool::time::sleep(Duration::from_secs(30)).fuse();
            futures::pin_mut!(fast, slow);
            let winner = futures::select! {
                () = fast => "fast",
                () = slow => "slow",
            };
            assert_eq!(winner, "fast");

            // A timeout of Spool's racing a tokio::sync channel that never sends.
            let (_tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
            let timed_out = spool::time::timeout(Duration::from_millis(5), rx.recv()).await;
            assert!(timed_out.is_err());
        });
    }
}
