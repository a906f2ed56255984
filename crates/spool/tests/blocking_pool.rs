//! `spawn_blocking`: progress while the workers are busy, panics, the cap, retiring threads, and
//! the hand-off of each job to its own thread (`blocking.rs`, rules 1–3).

#[macro_use]
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
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

/// Waits (up to 10 s) until the pool has `idle` idle threads.
fn wait_idle(rt: &spool::Runtime, idle: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.metrics().blocking_idle != idle && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(rt.metrics().blocking_idle, idle);
}

#[test]
fn every_job_gets_its_own_thread_and_idle_threads_are_reused() {
    // Rule 1: jobs that wait for each other all run at once (one thread each), whether the pool
    // starts a thread for them or hands them to idle ones (rule 2); idle threads are reused, not
    // replaced.
    common::watchdog("own_thread", || {
        const JOBS: usize = 8;
        let rt = spool::Runtime::builder().worker_threads(1).build().unwrap();
        for _ in 0..3 {
            let barrier = Arc::new(Barrier::new(JOBS));
            let jobs: Vec<_> = (0..JOBS)
                .map(|_| {
                    let barrier = barrier.clone();
                    rt.spawn_blocking(move || {
                        barrier.wait();
                    })
                })
                .collect();
            for job in jobs {
                rt.block_on(job).unwrap();
            }
            wait_idle(&rt, JOBS);
            assert_eq!(rt.metrics().blocking_threads, JOBS);
        }
    });
}

#[test]
fn jobs_racing_the_keep_alive_all_complete() {
    // Rule 3: with a keep-alive of 1 ms, idle threads time out while jobs are handed to them;
    // none is lost.
    common::watchdog("keep_alive_race", || {
        let rt = spool::Runtime::builder()
            .worker_threads(1)
            .blocking_keep_alive(Duration::from_millis(1))
            .build()
            .unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        for round in 0..300u64 {
            let jobs: Vec<_> = (0..4)
                .map(|_| {
                    let done = done.clone();
                    rt.spawn_blocking(move || done.fetch_add(1, Ordering::SeqCst))
                })
                .collect();
            for job in jobs {
                rt.block_on(job).unwrap();
            }
            // 0 to 1.2 ms: around the keep-alive, so some hand-offs meet a thread timing out.
            std::thread::sleep(Duration::from_micros(round % 7 * 200));
        }
        assert_eq!(done.load(Ordering::SeqCst), 1200);
    });
}

#[test]
fn shutdown_stops_idle_threads() {
    // Rule 4: idle threads are told to exit through their slots; the drop does not wait for
    // their keep-alive (an hour here).
    common::watchdog("idle_shutdown", || {
        let rt = spool::Runtime::builder()
            .worker_threads(1)
            .blocking_keep_alive(Duration::from_secs(3600))
            .build()
            .unwrap();
        let jobs: Vec<_> = (0..4).map(|i| rt.spawn_blocking(move || i)).collect();
        for job in jobs {
            rt.block_on(job).unwrap();
        }
        wait_idle(&rt, rt.metrics().blocking_threads);
        assert!(
            rt.shutdown_timeout(Duration::from_secs(5)),
            "idle threads did not exit"
        );
    });
}
