//! Dropping a runtime: pending futures are dropped, handles report `Cancelled`, nothing hangs.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{DropCounter, Signal};

rt_test! {
    multi_thread_only; // it waits for the tasks to be polled outside block_on
    fn drop_runtime_drops_pending_futures(rt) {
        let counter = DropCounter::default();
        let never = Signal::default();
        let mut kept = Vec::new();
        for i in 0..300 {
            let tracked = counter.track();
            let never = never.clone();
            let future = async move {
                let _tracked = tracked;
                match i % 3 {
                    0 => std::future::pending::<()>().await,
                    1 => spool::time::sleep(Duration::from_secs(3600)).await,
                    _ => never.wait().await,
                }
            };
            let task = rt.spawn(future);
            if i % 2 == 0 {
                task.detach();
            } else {
                kept.push(task);
            }
        }
        // Let them all start waiting.
        let deadline = Instant::now() + Duration::from_secs(10);
        while rt.metrics().workers.iter().map(|w| w.polls).sum::<u64>() < 300 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(counter.drops(), 0);
        drop(rt);
        assert_eq!(counter.drops(), 300);
        for task in kept {
            assert_eq!(spool::block_on(task), Err(spool::JoinError::Cancelled));
        }
        drop(never);
    }
}

rt_test! {
    fn drop_runtime_drops_queued_tasks(rt) {
        let counter = DropCounter::default();
        // Block every worker so that the tasks stay queued, then drop the runtime.
        let workers = rt.metrics().workers.len();
        let release = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for _ in 0..workers {
            let release = release.clone();
            rt.spawn(async move {
                while !release.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
            .detach();
        }
        for _ in 0..1_000 {
            let tracked = counter.track();
            rt.spawn(async move { drop(tracked) }).detach();
        }
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            release.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        drop(rt);
        releaser.join().unwrap();
        // Each one either ran (and dropped its value) or was dropped unrun.
        assert_eq!(counter.drops(), 1_000);
    }
}

rt_test! {
    fn spawn_after_shutdown_is_cancelled(rt) {
        let handle = rt.handle().clone();
        drop(rt);
        let counter = DropCounter::default();
        let tracked = counter.track();
        let task = handle.spawn(async move { drop(tracked); 1 });
        assert_eq!(counter.drops(), 1);
        assert_eq!(spool::block_on(task), Err(spool::JoinError::Cancelled));
    }
}

rt_test! {
    multi_thread_only;
    fn dropping_a_task_cancels_it(rt) {
        let counter = DropCounter::default();
        let tracked = counter.track();
        let task = rt.spawn(async move {
            let _tracked = tracked;
            spool::time::sleep(Duration::from_secs(3600)).await;
        });
        std::thread::sleep(Duration::from_millis(20));
        drop(task);
        // Cancelled at once if idle, else at its next scheduling point.
        let deadline = Instant::now() + Duration::from_secs(10);
        while counter.drops() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(counter.drops(), 1);
        assert_eq!(rt.metrics().tasks_alive, 0);
    }
}

#[test]
fn shutdown_timeout_does_not_wait_for_stuck_blocking_work() {
    common::watchdog("shutdown_timeout", || {
        let rt = common::rt(2);
        let started = Signal::default();
        let s = started.clone();
        rt.spawn_blocking(move || {
            s.set();
            std::thread::sleep(Duration::from_secs(2));
        })
        .detach();
        rt.block_on(started.wait());
        let start = Instant::now();
        assert!(!rt.shutdown_timeout(Duration::from_millis(50)));
        assert!(start.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn many_runtimes_come_and_go() {
    common::watchdog("many_runtimes", || {
        for i in 0..50 {
            let rt = common::rt(1 + i % 4);
            let task = rt.spawn(async { spool::time::sleep(Duration::from_millis(1)).await });
            rt.block_on(task).unwrap();
            rt.spawn(std::future::pending::<()>()).detach();
        }
    });
}

#[test]
fn dropping_a_runtime_inside_its_own_task_panics_saying_why() {
    // The watchdog turns the old behaviour (a hang) into a failure.
    common::watchdog("drop_inside_own_task", || {
        let rt = common::rt(2);
        let (tx, rx) = std::sync::mpsc::channel::<spool::Runtime>();
        let task = rt.spawn(async move {
            let rt = rx.recv().unwrap();
            drop(rt);
        });
        tx.send(rt).unwrap();
        match spool::block_on(task) {
            Err(spool::JoinError::Panicked(message)) => {
                assert!(
                    message.contains("dropped inside one of its own tasks"),
                    "{message}"
                );
                assert!(message.contains("shutdown_background"), "{message}");
            }
            other => panic!("expected the drop to panic, got {other:?}"),
        }
    });
}

rt_test! {
    fn shutdown_background_returns_at_once_and_cancels(rt) {
        let counter = DropCounter::default();
        let tracked = counter.track();
        let (started_tx, started) = std::sync::mpsc::channel();
        let task = rt.spawn(async move {
            let _tracked = tracked;
            let _ = started_tx.send(());
            spool::time::sleep(Duration::from_secs(3600)).await;
        });
        let blocking = rt.spawn_blocking(|| std::thread::sleep(Duration::from_millis(300)));
        rt.block_on(async {
            while started.try_recv().is_err() {
                spool::yield_now().await;
            }
        });
        let start = Instant::now();
        rt.shutdown_background();
        assert!(start.elapsed() < Duration::from_millis(250), "it waited for the blocking job");
        assert!(spool::block_on(task).unwrap_err().is_cancelled());
        assert_eq!(counter.drops(), 1);
        drop(blocking);
    }
}

#[test]
fn shutdown_background_inside_its_own_task() {
    common::watchdog("shutdown_background_inside", || {
        let rt = common::rt(2);
        let (tx, rx) = std::sync::mpsc::channel::<spool::Runtime>();
        let (done_tx, done) = std::sync::mpsc::channel();
        rt.spawn(async move {
            rx.recv().unwrap().shutdown_background();
            let _ = done_tx.send(());
        })
        .detach();
        tx.send(rt).unwrap();
        done.recv_timeout(Duration::from_secs(10))
            .expect("shutdown_background returned");
    });
}
