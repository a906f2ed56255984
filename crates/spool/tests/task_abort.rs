//! `Task::abort` and `AbortHandle`: before the first poll, while waiting, after completion, from
//! another thread; the aborted future is dropped (drop counters), the handle reports `Cancelled`.

#[macro_use]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::DropCounter;

rt_test! {
    fn abort_before_first_poll(rt) {
        let counter = DropCounter::default();
        let polled = Arc::new(AtomicBool::new(false));
        let (tracked, p) = (counter.track(), polled.clone());
        // Spawned from a task, the new task sits in this worker's LIFO slot, which no other
        // worker can steal: it cannot have been polled when `abort` runs. (The handle is
        // returned, not awaited, on purpose.)
        #[allow(clippy::async_yields_async)]
        let task = rt
            .block_on(rt.spawn(async move {
                let task = spool::spawn(async move {
                    let _tracked = tracked;
                    p.store(true, Ordering::SeqCst);
                });
                task.abort();
                task
            }))
            .unwrap();
        let result = rt.block_on(task);
        assert!(result.unwrap_err().is_cancelled());
        assert!(!polled.load(Ordering::SeqCst), "an aborted task must not be polled");
        assert_eq!(counter.drops(), 1, "the aborted future must be dropped");
    }
}

rt_test! {
    fn abort_while_sleeping(rt) {
        let counter = DropCounter::default();
        let tracked = counter.track();
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        let task = rt.spawn(async move {
            let _tracked = tracked;
            spool::time::sleep(Duration::from_secs(30)).await;
            f.store(true, Ordering::SeqCst);
        });
        // Let it reach its sleep (inside `block_on`: on a current-thread runtime tasks run
        // only there).
        rt.block_on(spool::time::sleep(Duration::from_millis(20)));
        assert_eq!(counter.drops(), 0);
        let start = std::time::Instant::now();
        task.abort();
        let result = rt.block_on(task);
        assert!(result.unwrap_err().is_cancelled());
        assert!(start.elapsed() < Duration::from_secs(10), "abort must not wait for the timer");
        assert!(!finished.load(Ordering::SeqCst));
        assert_eq!(counter.drops(), 1, "the future is dropped before the handle reports");
    }
}

rt_test! {
    fn abort_after_completion_keeps_the_value(rt) {
        let task = rt.spawn(async { 42 });
        let handle = task.abort_handle();
        // Waited for inside `block_on`: on a current-thread runtime tasks run only there.
        rt.block_on(async {
            while !handle.is_finished() {
                spool::time::sleep(Duration::from_millis(1)).await;
            }
        });
        task.abort();
        handle.abort();
        assert_eq!(rt.block_on(task), Ok(42));
    }
}

rt_test! {
    fn abort_handle_from_another_thread(rt) {
        let counter = DropCounter::default();
        let tracked = counter.track();
        let task = rt.spawn(async move {
            let _tracked = tracked;
            std::future::pending::<()>().await;
        });
        let handle = task.abort_handle();
        let clone = handle.clone();
        assert!(!handle.is_finished());
        std::thread::spawn(move || clone.abort()).join().unwrap();
        assert!(rt.block_on(task).unwrap_err().is_cancelled());
        assert!(handle.is_finished());
        assert_eq!(counter.drops(), 1);
    }
}

rt_test! {
    fn abort_from_inside_the_runtime_and_of_a_detached_task(rt) {
        let counter = DropCounter::default();
        let tracked = counter.track();
        let victim = rt.spawn(async move {
            let _tracked = tracked;
            loop {
                spool::yield_now().await;
            }
        });
        let handle = victim.abort_handle();
        victim.detach();
        let h = handle.clone();
        rt.block_on(rt.spawn(async move {
            spool::time::sleep(Duration::from_millis(5)).await;
            h.abort();
        }))
        .unwrap();
        rt.block_on(async {
            while !handle.is_finished() {
                spool::time::sleep(Duration::from_millis(1)).await;
            }
        });
        assert_eq!(counter.drops(), 1);
    }
}

rt_test! {
    fn abort_is_counted_once_and_other_tasks_run_on(rt) {
        // Two aborts of one task, then ordinary tasks: they complete (the pending-abort count
        // went back to zero and does not make them look aborted).
        let task = rt.spawn(std::future::pending::<()>());
        task.abort();
        task.abort();
        assert!(rt.block_on(task).unwrap_err().is_cancelled());
        for i in 0..100 {
            assert_eq!(rt.block_on(rt.spawn(async move { i })), Ok(i));
        }
    }
}

rt_test! {
    fn handles_outlive_their_runtime(rt) {
        // A task's handle and its abort handles reach the runtime's registry without owning it
        // through the handle itself (`scheduler/registry.rs`, "Who keeps whom alive"): after
        // the runtime is gone they must still work, and find the task finished.
        let counter = DropCounter::default();
        let tracked = counter.track();
        let task = rt.spawn(async move {
            let _tracked = tracked;
            std::future::pending::<()>().await;
        });
        let before = task.abort_handle();
        rt.block_on(spool::time::sleep(Duration::from_millis(5)));
        drop(rt);
        assert_eq!(counter.drops(), 1, "the runtime's drop drops the pending future");
        let after = task.abort_handle();
        task.abort();
        before.abort();
        assert!(before.is_finished() && after.is_finished());
        drop(task);
        after.abort();
        assert!(after.is_finished());
    }
}

#[test]
fn abort_of_a_blocking_task_does_nothing() {
    let rt = common::rt(1);
    let task = rt.spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(20));
        7
    });
    task.abort();
    assert!(!task.abort_handle().is_finished());
    assert_eq!(rt.block_on(task), Ok(7));
}
