//! `JoinSet`: results in completion order, `abort_all`, `shutdown`, dropping the set (drop
//! counters prove the futures were dropped), and `spawn_local` members.

#[macro_use]
mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::Duration;

use common::DropCounter;
use spool::task::JoinSet;

rt_test! {
    fn results_come_in_completion_order(rt) {
        rt.block_on(async {
            let mut set = JoinSet::new();
            // Spawned in reverse order of their deadlines, which count from one instant and lie
            // 50 ms apart (generous against scheduling jitter on a loaded machine).
            let start = spool::time::Instant::now();
            for i in (0..4u64).rev() {
                set.spawn(async move {
                    spool::time::sleep_until(start + Duration::from_millis(50 * i)).await;
                    i
                });
            }
            assert_eq!(set.len(), 4);
            let mut order = Vec::new();
            while let Some(result) = set.join_next().await {
                order.push(result.unwrap());
            }
            assert_eq!(order, [0, 1, 2, 3]);
            assert!(set.is_empty());
            assert_eq!(set.join_next().await, None);
        });
    }
}

rt_test! {
    fn many_tasks_each_returned_once(rt) {
        rt.block_on(async {
            let mut set = JoinSet::new();
            for i in 0..1000u32 {
                set.spawn(async move {
                    if i % 3 == 0 {
                        spool::yield_now().await;
                    }
                    i
                });
            }
            let mut seen = vec![false; 1000];
            while let Some(result) = set.join_next().await {
                let i = result.unwrap() as usize;
                assert!(!seen[i], "task {i} returned twice");
                seen[i] = true;
            }
            assert!(seen.iter().all(|&s| s));
        });
    }
}

rt_test! {
    fn abort_all_cancels_pending_tasks_and_keeps_finished_ones(rt) {
        let counter = DropCounter::default();
        rt.block_on(async {
            let mut set = JoinSet::new();
            set.spawn(async { Some(7) });
            // Let the quick one finish before aborting.
            let first = set.join_next().await;
            assert_eq!(first, Some(Ok(Some(7))));
            for _ in 0..10 {
                let tracked = counter.track();
                set.spawn(async move {
                    let _tracked = tracked;
                    spool::time::sleep(Duration::from_secs(30)).await;
                    None
                });
            }
            set.abort_all();
            let mut cancelled = 0;
            while let Some(result) = set.join_next().await {
                assert!(result.unwrap_err().is_cancelled());
                cancelled += 1;
            }
            assert_eq!(cancelled, 10);
        });
        assert_eq!(counter.drops(), 10);
    }
}

rt_test! {
    fn shutdown_empties_the_set(rt) {
        let counter = DropCounter::default();
        rt.block_on(async {
            let mut set = JoinSet::new();
            for _ in 0..20 {
                let tracked = counter.track();
                set.spawn(async move {
                    let _tracked = tracked;
                    std::future::pending::<()>().await;
                });
            }
            set.shutdown().await;
            assert!(set.is_empty());
        });
        assert_eq!(counter.drops(), 20);
    }
}

rt_test! {
    fn dropping_the_set_aborts_its_tasks(rt) {
        let counter = DropCounter::default();
        let finished = Arc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        for _ in 0..10 {
            let (tracked, finished) = (counter.track(), finished.clone());
            set.spawn_on(
                async move {
                    let _tracked = tracked;
                    spool::time::sleep(Duration::from_millis(100)).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                },
                rt.handle(),
            );
        }
        // Slept inside `block_on`: on a current-thread runtime tasks run only there.
        rt.block_on(spool::time::sleep(Duration::from_millis(10)));
        drop(set);
        rt.block_on(async {
            let start = std::time::Instant::now();
            while counter.drops() < 10 && start.elapsed() < Duration::from_secs(10) {
                spool::time::sleep(Duration::from_millis(1)).await;
            }
        });
        assert_eq!(counter.drops(), 10, "every future dropped");
        rt.block_on(spool::time::sleep(Duration::from_millis(150)));
        assert_eq!(finished.load(Ordering::SeqCst), 0, "no task ran on after the set was dropped");
    }
}

rt_test! {
    fn abort_handle_from_spawn_aborts_one_member(rt) {
        rt.block_on(async {
            let mut set = JoinSet::new();
            let slow = set.spawn(std::future::pending::<u8>());
            set.spawn(async { 3 });
            slow.abort();
            let mut results = Vec::new();
            while let Some(result) = set.join_next().await {
                results.push(result);
            }
            assert_eq!(results.len(), 2);
            assert!(results.contains(&Ok(3)));
            assert!(results.iter().any(|r| matches!(r, Err(e) if e.is_cancelled())));
        });
    }
}

rt_test! {
    fn spawn_local_members_share_rc_state_and_can_be_aborted(rt) {
        let counter = DropCounter::default();
        let tracked = counter.track();
        // The set lives in a local task: on every flavor that thread runs tasks (a multi-thread
        // runtime's `block_on` thread does not, so `spawn_local` would panic there).
        let outcome = rt
            .block_on(rt.spawn(async move {
                spool::spawn_local(async move {
                    let spawner = std::thread::current().id();
                    let log = Rc::new(RefCell::new(Vec::new())); // !Send
                    let mut set = JoinSet::new();
                    // Spawned in reverse order of their deadlines, 30 ms apart from one instant.
                    let start = spool::time::Instant::now();
                    for i in (0..3u64).rev() {
                        let log = log.clone();
                        set.spawn_local(async move {
                            spool::time::sleep_until(start + Duration::from_millis(30 * i)).await;
                            log.borrow_mut().push(i);
                            (i, std::thread::current().id())
                        });
                    }
                    let victim = set.spawn_local(async move {
                        let _tracked = tracked;
                        std::future::pending::<(u64, ThreadId)>().await
                    });
                    victim.abort();
                    let (mut order, mut cancelled) = (Vec::new(), 0);
                    while let Some(result) = set.join_next().await {
                        match result {
                            Ok((i, thread)) => {
                                assert_eq!(thread, spawner, "a local member left its thread");
                                order.push(i);
                            }
                            Err(err) => {
                                assert!(err.is_cancelled(), "{err}");
                                cancelled += 1;
                            }
                        }
                    }
                    let logged = log.borrow().clone();
                    (order, logged, cancelled)
                })
                .await
            }))
            .unwrap()
            .unwrap();
        assert_eq!(outcome, (vec![0, 1, 2], vec![0, 1, 2], 1));
        assert_eq!(counter.drops(), 1, "the aborted local future was dropped");
    }
}

#[test]
#[should_panic(expected = "spool::spawn_local called outside a thread that runs tasks")]
fn spawn_local_outside_a_task_running_thread_panics() {
    let mut set = JoinSet::new();
    set.spawn_local(async {});
}
