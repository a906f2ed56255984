//! Per-task statistics (`spool::stats`) read through `Runtime::tasks()`: exact counts for a task
//! whose every poll is known, the three states, and busy time against a known busy poll.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use spool::stats::{TaskSnapshot, TaskState};
use spool::task::TaskId;

fn snapshot(rt: &spool::Runtime, id: TaskId) -> TaskSnapshot {
    rt.tasks()
        .into_iter()
        .find(|t| t.id == id)
        .expect("the task is live")
}

/// Polls `read` until it returns `Some`, for at most 10 s.
fn wait_for<T>(mut read: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = read() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn spin(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// How many of the polls numbered `polls` (0: the first) of task `id` give a latency sample.
fn sampled_polls(id: spool::TaskId, polls: std::ops::Range<u64>) -> usize {
    polls
        .filter(|p| (p + id.as_u64()) % spool::stats::SAMPLE_EVERY == 0)
        .count()
}

#[test]
fn counts_of_a_task_whose_polls_are_known() {
    for workers in [1, 2] {
        let rt = spool::Runtime::builder()
            .worker_threads(workers)
            .build()
            .unwrap();
        let (tx, rx) = futures_channel::oneshot::channel::<()>();
        let task = rt.spawn(async move {
            spin(Duration::from_millis(20)); // poll 1 is busy for 20 ms
            for _ in 0..10 {
                spool::yield_now().await; // polls 2..=11, each after a self-wake
            }
            rx.await.unwrap(); // poll 11 pends; poll 12 after the send
        });
        let id = task.id();
        let s = wait_for(|| {
            let s = snapshot(&rt, id);
            (s.polls == 11 && s.state == TaskState::Idle).then_some(s)
        });
        assert_eq!((s.wakes, s.self_wakes), (10, 10), "{s:?}");
        // A latency sample on one poll in eight, picked by the id; not on the first: spawned
        // from this thread (not a worker), the task is dated by its first poll.
        assert_eq!(
            s.latency_histogram.iter().sum::<u32>() as usize,
            sampled_polls(id, 1..11),
            "{s:?}"
        );
        assert!(s.last_worker.is_some_and(|w| w < workers), "{s:?}");
        assert!(s.busy >= Duration::from_millis(20), "{s:?}");
        assert!(s.busy <= s.age.unwrap(), "{s:?}");
        assert!(s.since_last_poll.unwrap() <= s.age.unwrap(), "{s:?}");
        assert!(s.latency_quantile(0.99).is_some());
        tx.send(()).unwrap();
        rt.block_on(task).unwrap();
    }
}

#[test]
fn states_running_scheduled_idle() {
    let rt = spool::Runtime::builder().worker_threads(1).build().unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    // Yields once, then holds the only worker until told: its second poll starts where its
    // first ended (the worker's clock is reused), and must still read as running.
    let blocker = rt.spawn(async move {
        spool::yield_now().await;
        go_rx.recv().unwrap();
    });
    let running = wait_for(|| {
        let s = snapshot(&rt, blocker.id());
        (s.polls == 2).then_some(s)
    });
    assert_eq!(running.state, TaskState::Running, "{running:?}");
    // Spawned while the only worker is held: scheduled, never polled.
    let waiting = rt.spawn(async {});
    let s = snapshot(&rt, waiting.id());
    assert_eq!(
        (s.state, s.polls, s.wakes),
        (TaskState::Scheduled, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.last_worker, None);
    go_tx.send(()).unwrap();
    rt.block_on(blocker).unwrap();
    rt.block_on(waiting).unwrap();
    // An idle task: pending on a channel nobody sends on yet.
    let (tx, rx) = futures_channel::oneshot::channel::<()>();
    let idle = rt.spawn(async move { rx.await.unwrap() });
    let s = wait_for(|| {
        let s = snapshot(&rt, idle.id());
        (s.polls == 1).then_some(s)
    });
    assert_eq!(s.state, TaskState::Idle, "{s:?}");
    tx.send(()).unwrap();
    rt.block_on(idle).unwrap();
}

#[test]
fn current_thread_tasks_are_counted_too() {
    let rt = spool::Builder::new_current_thread().build().unwrap();
    let task = rt.spawn(async {
        for _ in 0..5 {
            spool::yield_now().await;
        }
        std::future::pending::<()>().await;
    });
    let id = task.id();
    rt.block_on(async {
        for _ in 0..20 {
            spool::yield_now().await;
        }
    });
    let s = snapshot(&rt, id);
    assert_eq!((s.polls, s.wakes, s.self_wakes), (6, 5, 5), "{s:?}");
    assert_eq!(
        s.latency_histogram.iter().sum::<u32>() as usize,
        sampled_polls(id, 1..6),
        "{s:?}"
    );
    assert_eq!(s.state, TaskState::Idle);
    assert!(s.busy <= s.age.unwrap(), "{s:?}");
}

/// Self-wakes are derived: the wakes (polls less one) less those made while the task was not
/// running, which each such wake counts (`stats.rs`, rule 3). A wake from every site — outside
/// the workers, the driver's timers, another task on the worker — must count as one of those,
/// and a spawn's first schedule as none: either mistake moves `self_wakes` off the two yields.
#[test]
fn wakes_from_every_site_are_told_from_self_wakes() {
    let rt = spool::Runtime::builder().worker_threads(1).build().unwrap();
    let (outside_tx, outside_rx) = futures_channel::oneshot::channel::<()>();
    let (peer_tx, peer_rx) = futures_channel::oneshot::channel::<()>();
    let (last_tx, last_rx) = futures_channel::oneshot::channel::<()>();
    let task = rt.spawn(async move {
        spool::yield_now().await;
        outside_rx.await.unwrap(); // woken by this test's thread
        spool::time::sleep(Duration::from_millis(5)).await; // by the driver
        spool::yield_now().await;
        peer_rx.await.unwrap(); // by a task on the worker
        last_rx.await.unwrap();
    });
    let id = task.id();
    let idle_at = |polls: u64| {
        wait_for(|| {
            let s = snapshot(&rt, id);
            (s.polls >= polls && s.state == TaskState::Idle).then_some(s)
        })
    };
    idle_at(2);
    outside_tx.send(()).unwrap();
    idle_at(5);
    rt.spawn(async move { peer_tx.send(()).unwrap() }).detach();
    let s = idle_at(6);
    assert_eq!(s.wakes, s.polls - 1, "{s:?}");
    assert_eq!(s.self_wakes, 2, "{s:?}");
    last_tx.send(()).unwrap();
    rt.block_on(task).unwrap();

    // A local task on a current-thread runtime: its first schedule takes the local path.
    let rt = spool::Builder::new_current_thread().build().unwrap();
    let s = rt.block_on(async {
        let (tx, rx) = futures_channel::oneshot::channel::<()>();
        let task = spool::spawn_local(async move {
            spool::yield_now().await;
            rx.await.unwrap();
            std::future::pending::<()>().await;
        });
        for _ in 0..5 {
            spool::yield_now().await;
        }
        tx.send(()).unwrap(); // a wake from `block_on`'s future, on the worker
        for _ in 0..5 {
            spool::yield_now().await;
        }
        let tasks = spool::runtime::Handle::current().tasks();
        tasks.into_iter().find(|t| t.id == task.id()).unwrap()
    });
    assert_eq!((s.polls, s.wakes, s.self_wakes), (3, 2, 1), "{s:?}");
}

#[test]
fn a_spawn_inside_block_on_is_dated_by_a_fresh_clock() {
    // The worker of a current-thread runtime dates spawns made by `block_on`'s future with one
    // clock read before each poll of it, not with its last task's poll end: here that end is
    // 60 ms older (the worker slept on the timer meanwhile), so a stale date shows as the age.
    let rt = spool::Builder::new_current_thread().build().unwrap();
    let age = rt.block_on(async {
        spool::spawn(async {}).await.unwrap();
        spool::time::sleep(Duration::from_millis(60)).await;
        let task = spool::spawn(std::future::pending::<()>());
        let tasks = spool::runtime::Handle::current().tasks();
        let me = tasks.iter().find(|t| t.id == task.id()).unwrap();
        me.age.unwrap()
    });
    assert!(age < Duration::from_millis(40), "dated {age:?} ago");
}

#[test]
fn nothing_is_counted_with_stats_off() {
    let rt = spool::Runtime::builder()
        .worker_threads(1)
        .task_stats(false)
        .build()
        .unwrap();
    let task = rt.spawn(async {
        spool::yield_now().await;
        std::future::pending::<()>().await;
    });
    std::thread::sleep(Duration::from_millis(20));
    let s = snapshot(&rt, task.id());
    assert_eq!((s.polls, s.wakes, s.self_wakes), (0, 0, 0), "{s:?}");
    assert_eq!((s.age, s.last_worker), (None, None));
}

/// The registry reaches each live task through a plain pointer (`scheduler/registry.rs`, "Who
/// keeps whom alive"): snapshots taken from another thread while tasks complete in their first
/// poll, wait with nothing left to wake them, or are aborted, must read only live tasks; and the
/// runtime's drop still drops the waiting ones.
#[test]
fn snapshots_race_with_tasks_that_finish_wait_and_are_aborted() {
    let counter_drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    struct Tracked(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let rt = spool::Runtime::builder().worker_threads(2).build().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let handle = rt.handle().clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut snapshots = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for task in handle.tasks() {
                    assert!(task.id.as_u64() > 0);
                }
                snapshots += 1;
            }
            snapshots
        })
    };
    let mut waiting = 0;
    for round in 0..200 {
        let tasks: Vec<_> = (0..50).map(|i| rt.spawn(async move { i })).collect();
        for i in 0..5 {
            let tracked = Tracked(counter_drops.clone());
            let task = rt.spawn(async move {
                let _tracked = tracked;
                std::future::pending::<()>().await
            });
            if i % 2 == 0 {
                task.abort();
            } else {
                waiting += 1;
            }
            task.detach();
        }
        // The snapshot reads every live task's header while the others finish.
        assert!(rt.tasks().len() <= 50 + 5 * (round + 1));
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(rt.block_on(task), Ok(i));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);
    let aborted = 200 * 5 - waiting;
    wait_for(|| (counter_drops.load(std::sync::atomic::Ordering::SeqCst) >= aborted).then_some(()));
    assert_eq!(rt.tasks().len(), waiting, "the waiting tasks stay listed");
    drop(rt);
    assert_eq!(
        counter_drops.load(std::sync::atomic::Ordering::SeqCst),
        200 * 5,
        "the runtime's drop drops the waiting futures"
    );
}
