//! `spawn_blocking`: progress while the workers are busy, panics, the cap, retiring threads.

#[macro_use]
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

rt_test! {
    fn progresses_while_every_worker_is_busy(rt) {
        // Every worker is stuck in a task that only a blocking closure can release.
        let workers = rt.metrics().workers.len();
        let release = Arc::new(AtomicBool::new(false));
        let hogs: Vec<_> = (0..workers)
            .map(|_| {
                let release = release.clone();
                rt.spawn(async move {
                    while !release.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        let r = release.clone();
        let blocking = rt.spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(10));
            r.store(true, Ordering::SeqCst);
            "released"
        });
        assert_eq!(spool::block_on(blocking), Ok("released"));
        for hog in hogs {
            rt.block_on(hog).unwrap();
        }
    }
}

rt_test! {
    fn panics_are_reported(rt) {
        let r = rt.block_on(rt.spawn_blocking(|| -> u32 { panic!("blocking boom") }));
        assert_eq!(r, Err(spool::JoinError::Panicked("blocking boom".into())));
        // The pool still works.
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 3)), Ok(3));
    }
}

rt_test! {
    fn spawn_blocking_from_tasks_and_context_inside(rt) {
        let v = rt.block_on(rt.spawn(async {
            spool::spawn_blocking(|| {
                // Inside the pool the runtime is current: spawn and block on a task.
                spool::block_on(spool::spawn(async { 20 })).unwrap() + 1
            })
            .await
            .unwrap()
        }));
        assert_eq!(v, Ok(21));
    }
}

#[test]
fn cap_is_respected() {
    common::watchdog("cap", || {
        let rt = spool::Runtime::builder()
            .worker_threads(1)
            .max_blocking_threads(2)
            .build()
            .unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let running = running.clone();
                let max_seen = max_seen.clone();
                rt.spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            rt.block_on(t).unwrap();
        }
        assert_eq!(max_seen.load(Ordering::SeqCst), 2);
        assert!(rt.metrics().blocking_threads <= 2);
    });
}

#[test]
fn idle_threads_retire_after_keep_alive() {
    common::watchdog("keep_alive", || {
        let rt = spool::Runtime::builder()
            .worker_threads(1)
            .blocking_keep_alive(Duration::from_millis(50))
            .build()
            .unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|_| rt.spawn_blocking(|| std::thread::sleep(Duration::from_millis(20))))
            .collect();
        for t in tasks {
            rt.block_on(t).unwrap();
        }
        assert!(rt.metrics().blocking_threads >= 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while rt.metrics().blocking_threads > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(rt.metrics().blocking_threads, 0);
        // And the pool grows again on demand.
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)), Ok(1));
    });
}

#[test]
fn queued_blocking_work_is_cancelled_at_shutdown() {
    common::watchdog("blocking_shutdown", || {
        let rt = spool::Runtime::builder()
            .worker_threads(1)
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let first = rt.spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)));
        let queued = rt.spawn_blocking(|| 1);
        std::thread::sleep(Duration::from_millis(10));
        drop(rt); // waits for `first`, drops `queued`
        assert_eq!(spool::block_on(first), Ok(()));
        assert_eq!(spool::block_on(queued), Err(spool::JoinError::Cancelled));
    });
}
