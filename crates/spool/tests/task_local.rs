//! `spool::spawn_local`: `!Send` tasks that stay on the thread that spawned them.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::thread::ThreadId;
use std::time::Duration;

use common::Signal;

/// 100 local tasks sharing `Rc<RefCell<_>>` state, each yielding and sleeping once.
async fn hundred_rc_tasks() -> Vec<usize> {
    let state = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let state = state.clone();
            spool::spawn_local(async move {
                spool::yield_now().await;
                spool::time::sleep(Duration::from_millis(1)).await;
                state.borrow_mut().push(i);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut seen = state.borrow().clone();
    seen.sort_unstable();
    seen
}

#[test]
fn rc_state_with_100_tasks_on_current_thread() {
    common::watchdog("rc_current_thread", || {
        let rt = common::rt_current_thread();
        assert_eq!(
            rt.block_on(hundred_rc_tasks()),
            (0..100).collect::<Vec<_>>()
        );
    });
}

#[test]
fn rc_state_with_100_tasks_on_a_worker() {
    common::watchdog("rc_worker", || {
        let rt = common::rt(4);
        let seen = rt.block_on(rt.spawn(async { spool::spawn_local(hundred_rc_tasks()).await }));
        assert_eq!(seen, Ok(Ok((0..100).collect::<Vec<_>>())));
    });
}

/// A local task that waits for signals set from plain threads, recording the thread of each of
/// its polls.
async fn woken_from_other_threads(rounds: usize) -> (ThreadId, Vec<ThreadId>) {
    let spawner = std::thread::current().id();
    let polls = Rc::new(RefCell::new(Vec::new()));
    let record = polls.clone();
    let task = spool::spawn_local(async move {
        for _ in 0..rounds {
            record.borrow_mut().push(std::thread::current().id());
            let signal = Signal::default();
            let setter = signal.clone();
            let thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                setter.set();
            });
            signal.wait().await;
            thread.join().unwrap();
        }
        record.borrow_mut().push(std::thread::current().id());
    });
    task.await.unwrap();
    let polls = polls.borrow().clone();
    (spawner, polls)
}

#[test]
fn woken_from_another_thread_on_current_thread() {
    common::watchdog("woken_current_thread", || {
        let rt = common::rt_current_thread();
        let (spawner, polls) = rt.block_on(woken_from_other_threads(10));
        assert_eq!(polls.len(), 11);
        assert!(polls.iter().all(|&t| t == spawner));
    });
}

#[test]
fn never_stolen_and_routed_back_to_its_worker() {
    common::watchdog("never_stolen", || {
        let rt = common::rt(4);
        let result = rt.block_on(rt.spawn(async {
            spool::spawn_local(async {
                // Many local tasks queued at once on this worker, which then busies itself: idle
                // workers would steal them if they could.
                let spawner = std::thread::current().id();
                let threads = Rc::new(RefCell::new(Vec::new()));
                let tasks: Vec<_> = (0..64)
                    .map(|_| {
                        let threads = threads.clone();
                        spool::spawn_local(async move {
                            for _ in 0..20 {
                                threads.borrow_mut().push(std::thread::current().id());
                                spool::yield_now().await;
                            }
                        })
                    })
                    .collect();
                let woken = spool::spawn_local(woken_from_other_threads(5));
                for task in tasks {
                    task.await.unwrap();
                }
                let (woken_spawner, woken_polls) = woken.await.unwrap();
                let threads = threads.borrow().clone();
                (spawner, threads, woken_spawner, woken_polls)
            })
            .await
        }));
        let (spawner, threads, woken_spawner, woken_polls) = result.unwrap().unwrap();
        assert_eq!(threads.len(), 64 * 20);
        assert!(
            threads.iter().all(|&t| t == spawner),
            "a local task ran on another worker"
        );
        assert_eq!(woken_spawner, spawner);
        assert!(
            woken_polls.iter().all(|&t| t == spawner),
            "a wake-up sent it elsewhere"
        );
    });
}

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("it must panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn outside_a_runtime_it_panics_saying_why() {
    let message = panic_message(|| drop(spool::spawn_local(async {})));
    assert!(
        message.contains("spawn_local") && message.contains("!Send"),
        "{message}"
    );
    // block_on of a multi-thread runtime runs no tasks: the same panic.
    let rt = common::rt(1);
    let message = panic_message(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { drop(spool::spawn_local(async {})) })
    }));
    assert!(message.contains("block_on"), "{message}");
}

#[test]
fn tokio_paths_in_the_task_module() {
    let rt = common::rt_current_thread();
    let v = rt.block_on(async {
        let a: spool::task::JoinHandle<u32> = spool::task::spawn(async { 1 });
        let b = spool::task::spawn_local(async { 2 });
        let c = spool::task::spawn_blocking(|| 3);
        spool::task::yield_now().await;
        a.await.unwrap() + b.await.unwrap() + c.await.unwrap()
    });
    assert_eq!(v, 6);
}

#[test]
fn dropping_the_runtime_drops_local_tasks_on_their_thread() {
    let rt = common::rt_current_thread();
    let counter = common::DropCounter::default();
    let tracked = counter.track();
    rt.block_on(async move {
        spool::spawn_local(async move {
            let _tracked = tracked;
            std::future::pending::<()>().await
        })
        .detach();
        spool::yield_now().await;
    });
    drop(rt);
    assert_eq!(counter.drops(), 1);
}

/// An abort from a plain thread reaches a local task through its registry entry, like any
/// task's: the owner polls it once more and drops its future there.
fn abort_of_a_local_task_from_another_thread(rt: spool::Runtime, in_task: bool) {
    let counter = common::DropCounter::default();
    let tracked = counter.track();
    if in_task {
        rt.block_on(rt.spawn(async { spool::spawn_local(abort_local_body(tracked)).await }))
            .unwrap()
            .unwrap();
    } else {
        rt.block_on(abort_local_body(tracked));
    }
    assert_eq!(counter.drops(), 1);
}

async fn abort_local_body(tracked: common::Tracked) {
    let owner = std::thread::current().id();
    let dropped_on = Rc::new(RefCell::new(None));
    let guard = DropOn(dropped_on.clone());
    let task = spool::spawn_local(async move {
        let _tracked = tracked;
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    spool::time::sleep(Duration::from_millis(5)).await; // it reaches its pending
    let handle = task.abort_handle();
    std::thread::spawn(move || handle.abort()).join().unwrap();
    assert!(task.await.unwrap_err().is_cancelled());
    let dropped_on = *dropped_on.borrow();
    assert_eq!(
        dropped_on,
        Some(owner),
        "the future was dropped on its owner's thread"
    );
}

/// Records the thread it is dropped on.
struct DropOn(Rc<RefCell<Option<ThreadId>>>);

impl Drop for DropOn {
    fn drop(&mut self) {
        *self.0.borrow_mut() = Some(std::thread::current().id());
    }
}

#[test]
fn abort_from_another_thread_on_current_thread() {
    common::watchdog("abort_local_current_thread", || {
        abort_of_a_local_task_from_another_thread(common::rt_current_thread(), false)
    });
}

#[test]
fn abort_from_another_thread_on_a_worker() {
    common::watchdog("abort_local_worker", || {
        abort_of_a_local_task_from_another_thread(common::rt(2), true)
    });
}
