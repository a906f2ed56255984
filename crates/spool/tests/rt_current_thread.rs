//! The current-thread flavor: everything runs on the thread in `block_on`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Signal;

#[test]
fn tasks_timers_and_io_run_on_the_block_on_thread() {
    common::watchdog("current_thread_runs_here", || {
        let rt = common::rt_current_thread();
        assert_eq!(rt.metrics().workers.len(), 1);
        let here = std::thread::current().id();
        let ids = rt.block_on(async {
            let task = spool::spawn(async {
                spool::time::sleep(Duration::from_millis(5)).await;
                std::thread::current().id()
            });
            let listener = spool::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let accept = spool::spawn(async move {
                let _stream = listener.accept().await.unwrap();
                std::thread::current().id()
            });
            let _client = spool::net::TcpStream::connect(addr).await.unwrap();
            (task.await.unwrap(), accept.await.unwrap())
        });
        assert_eq!(ids, (here, here));
        let m = rt.metrics();
        assert_eq!(m.tasks_spawned, 2);
        assert!(m.workers[0].polls >= 2);
    });
}

#[test]
fn spawning_from_another_thread_wakes_it() {
    common::watchdog("current_thread_remote_spawn", || {
        let rt = common::rt_current_thread();
        let handle = rt.handle().clone();
        let count = Arc::new(AtomicUsize::new(0));
        let done = Signal::default();
        let (c, d) = (count.clone(), done.clone());
        let spawner = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20)); // block_on is parked by now
            for _ in 0..100 {
                let c = c.clone();
                handle
                    .spawn(async move { c.fetch_add(1, Ordering::SeqCst) })
                    .detach();
            }
            let d = d.clone();
            handle.spawn(async move { d.set() }).detach();
        });
        rt.block_on(done.wait());
        spawner.join().unwrap();
        // Tasks run in spawn order on the one thread: the counter tasks came first.
        assert_eq!(count.load(Ordering::SeqCst), 100);
    });
}

#[test]
fn blocking_pool_and_spans_work() {
    common::watchdog("current_thread_blocking", || {
        let rt = spool::Builder::new_current_thread()
            .record_spans(true)
            .build()
            .unwrap();
        let v = rt.block_on(async {
            let sum = spool::spawn_blocking(|| (1..=10u64).sum::<u64>())
                .await
                .unwrap();
            spool::spawn(async move { sum * 2 }).await.unwrap()
        });
        assert_eq!(v, 110);
        let spans = rt.take_spans();
        assert!(spans.iter().all(|s| s.worker == 0));
        assert!(!spans.is_empty());
    });
}

#[test]
fn tasks_wait_between_block_on_calls_and_dropping_cancels_them() {
    common::watchdog("current_thread_between_calls", || {
        let rt = common::rt_current_thread();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let task = rt.spawn(async move { r.fetch_add(1, Ordering::SeqCst) });
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "nothing runs outside block_on"
        );
        assert_eq!(rt.block_on(task), Ok(0));
        let counter = common::DropCounter::default();
        let tracked = counter.track();
        rt.spawn(async move {
            let _tracked = tracked;
            std::future::pending::<()>().await
        })
        .detach();
        rt.block_on(spool::yield_now());
        drop(rt);
        assert_eq!(counter.drops(), 1);
    });
}

#[test]
fn nested_block_on_panics() {
    let rt = common::rt_current_thread();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { rt.block_on(async {}) })
    }));
    assert!(result.is_err());
    // The runtime still works after the panic.
    assert_eq!(rt.block_on(spool::spawn(async { 3 })), Ok(3));
}

/// A task spawned or woken by the running task goes to the back of the queue on a current-thread
/// runtime: the tasks already queued run first (no LIFO slot to jump ahead through: with one,
/// `b` would run before `a`, and `c` before `b`). The order is what lets an HTTP/2 connection
/// woken by each of its streams run once, after all of them.
#[test]
fn a_task_woken_on_the_thread_runs_after_those_already_queued() {
    common::watchdog("current_thread_fifo_wake", || {
        let rt = common::rt_current_thread();
        let order = rt.block_on(async {
            let order = Arc::new(std::sync::Mutex::new(Vec::new()));
            let (wake_c, c_waits) = futures_channel::oneshot::channel::<()>();
            let c = {
                let order = order.clone();
                spool::spawn(async move {
                    c_waits.await.unwrap();
                    order.lock().unwrap().push("c");
                })
            };
            // Let `c` run up to its await, so that it is waiting, not queued.
            spool::task::yield_now().await;
            let a = {
                let order = order.clone();
                spool::spawn(async move {
                    order.lock().unwrap().push("a");
                    wake_c.send(()).unwrap(); // `c` is queued now, behind `b`
                })
            };
            let b = {
                let order = order.clone();
                spool::spawn(async move {
                    order.lock().unwrap().push("b");
                })
            };
            a.await.unwrap();
            b.await.unwrap();
            c.await.unwrap();
            let order = order.lock().unwrap().clone();
            order
        });
        assert_eq!(order, ["a", "b", "c"]);
    });
}
