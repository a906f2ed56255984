//! Spawning and awaiting: many tasks, nested spawns, wakes from foreign threads, re-polls.

#[macro_use]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::Signal;

rt_test! {
    fn spawn_and_await(rt) {
        assert_eq!(rt.block_on(rt.spawn(async { 40 + 2 })), Ok(42));
    }
}

rt_test! {
    fn hundred_thousand_tasks(rt) {
        let sum = rt.block_on(async {
            let tasks: Vec<_> = (0..100_000u64).map(|i| spool::spawn(async move { i })).collect();
            let mut sum = 0;
            for task in tasks {
                sum += task.await.unwrap();
            }
            sum
        });
        assert_eq!(sum, 100_000 * 99_999 / 2);
        assert_eq!(rt.metrics().tasks_spawned, 100_000);
    }
}

rt_test! {
    fn hundred_thousand_tasks_spawned_from_a_task(rt) {
        let count = rt.block_on(rt.spawn(async {
            let tasks: Vec<_> = (0..100_000u64).map(|_| spool::spawn(async { 1u64 })).collect();
            let mut count = 0;
            for task in tasks {
                count += task.await.unwrap();
            }
            count
        }));
        assert_eq!(count, Ok(100_000));
    }
}

/// A binary tree of tasks, each spawning two children: tasks spawning tasks, depth 12.
fn tree(depth: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let left = spool::spawn(tree(depth - 1));
        let right = spool::spawn(tree(depth - 1));
        left.await.unwrap() + right.await.unwrap()
    })
}

rt_test! {
    fn tasks_spawning_tasks(rt) {
        assert_eq!(rt.block_on(rt.spawn(tree(12))), Ok(4096));
    }
}

rt_test! {
    fn chained_spawn(rt) {
        fn chain(n: u32, done: Signal) {
            if n == 0 {
                done.set();
            } else {
                spool::spawn(async move { chain(n - 1, done) }).detach();
            }
        }
        let done = Signal::default();
        let signal = done.clone();
        rt.spawn(async move { chain(10_000, signal) }).detach();
        rt.block_on(done.wait());
    }
}

rt_test! {
    fn wakes_from_foreign_threads(rt) {
        let signals: Vec<Signal> = (0..64).map(|_| Signal::default()).collect();
        let tasks: Vec<_> = signals
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, s)| rt.spawn(async move {
                s.wait().await;
                i
            }))
            .collect();
        let setters: Vec<_> = signals
            .into_iter()
            .map(|s| std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                s.set();
            }))
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(rt.block_on(task), Ok(i));
        }
        for setter in setters {
            setter.join().unwrap();
        }
    }
}

/// Wakes itself from another thread *while it is being polled*, then returns Pending: the
/// wake-up must not be lost (async-task re-schedules a task woken while running).
struct WokenWhileRunning {
    polls: usize,
}

impl Future for WokenWhileRunning {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        if self.polls == 100 {
            return Poll::Ready(self.polls);
        }
        let waker = cx.waker().clone();
        let woken = Arc::new(AtomicBool::new(false));
        let flag = woken.clone();
        std::thread::spawn(move || {
            waker.wake();
            flag.store(true, Ordering::SeqCst);
        });
        // Stay inside poll until the other thread's wake has happened.
        while !woken.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        Poll::Pending
    }
}

rt_test! {
    fn woken_while_running_is_polled_again(rt) {
        let tasks: Vec<_> = (0..4).map(|_| rt.spawn(WokenWhileRunning { polls: 0 })).collect();
        for task in tasks {
            assert_eq!(rt.block_on(task), Ok(100));
        }
    }
}

rt_test! {
    fn yield_now_lets_others_run(rt) {
        // A task that yields in a loop until another task (queued on the same worker, behind
        // it) has run: with the yielder re-queued in the LIFO slot this would never end.
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let task = rt.spawn(async move {
            let flag2 = flag.clone();
            spool::spawn(async move { flag2.store(true, Ordering::SeqCst) }).detach();
            let mut yields = 0u64;
            while !flag.load(Ordering::SeqCst) {
                spool::yield_now().await;
                yields += 1;
            }
            yields
        });
        assert!(rt.block_on(task).is_ok());
        assert!(ran.load(Ordering::SeqCst));
    }
}

rt_test! {
    fn handle_current_in_tasks_and_block_on(rt) {
        assert!(spool::Handle::try_current().is_err());
        let workers = rt.metrics().workers.len();
        let seen = rt.block_on(async move {
            let outer = spool::Handle::current().metrics().workers.len();
            let inner = spool::spawn(async { spool::Handle::current().metrics().workers.len() })
                .await
                .unwrap();
            (outer, inner)
        });
        assert_eq!(seen, (workers, workers));
        assert!(spool::Handle::try_current().is_err());
    }
}

rt_test! {
    multi_thread_only;
    fn spawn_from_many_threads_through_handles(rt) {
        let counter = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let handle = rt.handle().clone();
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let tasks: Vec<_> = (0..2_000)
                        .map(|_| {
                            let counter = counter.clone();
                            handle.spawn(async move {
                                counter.fetch_add(1, Ordering::SeqCst);
                            })
                        })
                        .collect();
                    for task in tasks {
                        spool::block_on(task).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::SeqCst), 8_000);
    }
}

rt_test! {
    fn block_on_in_a_task_is_refused(rt) {
        let result = rt.block_on(rt.spawn(async { spool::block_on(async { 1 }) }));
        match result {
            Err(spool::JoinError::Panicked(message)) => assert!(message.contains("worker thread")),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn default_runtime_spawn_and_block_on() {
    let task = spool::spawn(async { spool::spawn(async { 3 }).await.unwrap() * 2 });
    assert_eq!(spool::block_on(task), Ok(6));
}

#[test]
fn zero_workers_is_an_error() {
    let err = spool::Runtime::builder()
        .worker_threads(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
