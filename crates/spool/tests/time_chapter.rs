//! The chapter's experiment, scaled down 10×: three `sleeping(n)` tasks on a one-worker queue,
//! the main thread in `std::thread::sleep`, then `block_on` each task.
//!
//! With `spool::time::sleep` the tasks sleep *concurrently* and cost no CPU: all three finish
//! (at ~300 ms) before the main thread's 500 ms sleep ends, and the process uses a small fraction
//! of the wall time. With `BusySleep` (the chapter's self-waking `AsyncSleep`) they still finish,
//! but the worker spins the whole time: CPU ≈ wall. Alone in its test binary, so the process CPU
//! time (getrusage) is this experiment's.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

const SCALE_MS: u64 = 100; // the chapter's 1 s

async fn sleeping<S: Future<Output = ()>>(label: u64, sleep: S) -> Instant {
    println!("sleeping {label}");
    sleep.await;
    println!("done sleeping {label}");
    Instant::now()
}

/// Returns (when each task finished, when the main sleep ended, CPU used, wall time).
fn experiment<S, F>(make_sleep: F) -> (Vec<Instant>, Instant, Duration, Duration)
where
    S: Future<Output = ()> + Send + 'static,
    F: Fn(Duration) -> S,
{
    let rt = spool::Runtime::builder()
        .worker_threads(1) // the chapter's one-thread queue
        .detector_threshold(None)
        .build()
        .unwrap();
    let cpu_before = common::process_cpu();
    let start = Instant::now();
    let tasks: Vec<_> = [3, 2, 1]
        .into_iter()
        .map(|n| rt.spawn(sleeping(n, make_sleep(Duration::from_millis(n * SCALE_MS)))))
        .collect();
    println!("before the block");
    std::thread::sleep(Duration::from_millis(5 * SCALE_MS));
    let main_done = Instant::now();
    println!("after the block");
    let finished: Vec<Instant> = tasks
        .into_iter()
        .map(|t| spool::block_on(t).unwrap())
        .collect();
    let wall = start.elapsed();
    let cpu = common::process_cpu() - cpu_before;
    (finished, main_done, cpu, wall)
}

#[test]
fn chapter_experiment_sleep_vs_busy_sleep() {
    // Spool's sleep: every task done before the main sleep ends, CPU far below wall.
    let (finished, main_done, cpu, wall) = experiment(spool::time::sleep);
    eprintln!("spool::time::sleep: {cpu:?} CPU in {wall:?} wall");
    for f in &finished {
        assert!(
            *f < main_done,
            "a task finished after the main thread's sleep"
        );
    }
    assert!(
        cpu < wall / 10,
        "sleeping tasks used {cpu:?} of CPU in {wall:?}"
    );

    // The chapter's AsyncSleep: the worker spins until the last task's deadline.
    let (finished, main_done, cpu, wall) = experiment(spool::time::BusySleep::new);
    eprintln!("BusySleep: {cpu:?} CPU in {wall:?} wall");
    for f in &finished {
        assert!(
            *f < main_done,
            "a task finished after the main thread's sleep"
        );
    }
    // The worker spins for the 300 ms the tasks sleep (then idles the remaining 200 ms). On a
    // 2-core machine shared with other work it may get less than a full core: generous bound.
    let spin = Duration::from_millis(3 * SCALE_MS);
    assert!(
        cpu > spin / 3,
        "BusySleep used only {cpu:?} of CPU over {spin:?} of sleeping"
    );
}
