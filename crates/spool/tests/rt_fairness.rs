//! Fairness between yielding tasks, remote spawns and local floods, measured in polls (not time,
//! so that a loaded machine cannot make these tests flaky).
//!
//! - Remote spawns must not wait behind yielders: `yield_now` defers the task until the worker
//!   has nothing else (injection queue included), so a worker busy with yield loops still takes
//!   the injected tasks at once. Before deferral every remote task cost `global_queue_interval`
//!   (61) background polls.
//! - The other way round: a yielder must still run when its worker never runs out of work (the
//!   deferred list is also flushed every maintenance tick).

#[macro_use]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::DropCounter;

fn total_polls(m: &spool::RuntimeMetrics) -> u64 {
    m.workers.iter().map(|w| w.polls).sum()
}

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

const REMOTE_TASKS: u64 = 1_000;

rt_test! {
    multi_thread_only;
    fn remote_spawns_are_not_starved_by_yielders(rt) {
        // tokio's spawn_many_remote_busy1, in polls: 2 x workers tasks loop yield_now + a spin.
        let workers = rt.metrics().workers.len();
        let background = 2 * workers;
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicUsize::new(0));
        for _ in 0..background {
            let (stop, started) = (stop.clone(), started.clone());
            rt.spawn(async move {
                started.fetch_add(1, SeqCst);
                while !stop.load(SeqCst) {
                    spool::yield_now().await;
                    spin(Duration::from_micros(20));
                }
            })
            .detach();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while started.load(SeqCst) < background && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let before = total_polls(&rt.metrics());
        // The last remote task to finish reads the counters itself: no wake-up latency of this
        // thread is counted.
        let (tx, rx) = mpsc::channel();
        let done = Arc::new(AtomicU64::new(0));
        for _ in 0..REMOTE_TASKS {
            let (done, tx, handle) = (done.clone(), tx.clone(), rt.handle().clone());
            rt.spawn(async move {
                if done.fetch_add(1, SeqCst) + 1 == REMOTE_TASKS {
                    let _ = tx.send(total_polls(&handle.metrics()));
                }
            })
            .detach();
        }
        let after = rx.recv_timeout(Duration::from_secs(50));
        stop.store(true, SeqCst);
        let after = after.expect("the remote tasks did not finish in 50 s");
        let during = after - before;
        eprintln!("{workers} workers: {during} polls for {REMOTE_TASKS} remote tasks");
        // Without deferral: ~61 polls per remote task (the injection queue was checked every
        // 61st tick, one task at a time). With it: ~1-3.
        assert!(
            during < 20 * REMOTE_TASKS,
            "{during} worker polls to run {REMOTE_TASKS} remote tasks beside {background} yielders \
             ({:.1} per task)",
            during as f64 / REMOTE_TASKS as f64
        );
    }
}

/// A task that spawns its own replacement: `n` of them keep a worker's queue non-empty forever.
fn flood(stop: Arc<AtomicBool>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if !stop.load(SeqCst) {
            spool::spawn(flood(stop)).detach();
        }
    })
}

const YIELDS: u64 = 100;
/// Polls (all workers together) the yielder may wait, in total, for its 100 yields. A deferred
/// task waits at most one maintenance interval (61 ticks) of its worker; the other workers poll
/// meanwhile too: 4 x 61 x 100 ≈ 24 000 with 4 workers.
const FLOOD_BOUND: u64 = 200_000;

rt_test! {
    multi_thread_only;
    fn yielder_progresses_while_its_worker_is_flooded(rt) {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let handle = rt.handle().clone();
        let before = total_polls(&rt.metrics());
        let flood_stop = stop.clone();
        // Everything is spawned from one worker, so it all starts in that worker's queue.
        rt.block_on(rt.spawn(async move {
            spool::spawn(async move {
                for _ in 0..YIELDS {
                    spool::yield_now().await;
                }
                let _ = tx.send(total_polls(&handle.metrics()));
            })
            .detach();
            for _ in 0..32 {
                spool::spawn(flood(flood_stop.clone())).detach();
            }
        }))
        .unwrap();
        // Stop the flood once it is clear the yielder is starved (or after 30 s).
        let deadline = Instant::now() + Duration::from_secs(30);
        let result = loop {
            match rx.recv_timeout(Duration::from_millis(1)) {
                Ok(polls) => break Some(polls),
                Err(_) if total_polls(&rt.metrics()) - before > 10 * FLOOD_BOUND
                    || Instant::now() > deadline => break None,
                Err(_) => {}
            }
        };
        stop.store(true, SeqCst);
        let polls = result.expect("the yielder starved while its worker was flooded");
        let during = polls - before;
        eprintln!("{during} polls for {YIELDS} yields under a flood");
        assert!(
            during < FLOOD_BOUND,
            "{during} worker polls for {YIELDS} yields under a flood"
        );
    }
}

rt_test! {
    multi_thread_only; // it waits for the tasks to be polled outside block_on
    fn drop_runtime_drops_yielding_tasks(rt) {
        // Deferred (yielded) tasks are held by their worker, outside every queue: shutdown must
        // drop them like queued ones.
        let counter = DropCounter::default();
        for _ in 0..100 {
            let tracked = counter.track();
            rt.spawn(async move {
                let _tracked = tracked;
                loop {
                    spool::yield_now().await;
                }
            })
            .detach();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while total_polls(&rt.metrics()) < 1_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(counter.drops(), 0);
        drop(rt);
        assert_eq!(counter.drops(), 100);
    }
}

rt_test! {
    fn a_lone_yielder_never_parks_its_worker_for_good(rt) {
        // One task yielding alone: its worker finds every queue empty with only the deferred
        // task left, and must run it rather than park.
        let n = rt.block_on(rt.spawn(async {
            let mut n = 0u32;
            for _ in 0..10_000 {
                spool::yield_now().await;
                n += 1;
            }
            n
        }));
        assert_eq!(n, Ok(10_000));
    }
}
