//! The chapter's experiment, scaled down 10×: three `sleeping(n)` tasks on a one-worker queue,
//! the main thread in `std::thread::sleep`, then `block_on` each task.
//!
//! With `spool::time::sleep` the tasks sleep *concurrently* and cost no CPU: all three finish
//! (at ~300 ms) before the main thread's 500 ms sleep ends, and the process uses a small fraction
//! of the wall time. With `BusySleep` (the chapter's self-waking `AsyncSleep`) they still finish,
//! but the worker spins the whole time: CPU ≈ wall. Alone in its test binary, so the process CPU
//! time (getrusage) is this experiment's. The spin is also counted as polls (the runtime's
//! metrics): a figure that does not depend on how much of a core a loaded machine gives the
//! worker, where the CPU time does.

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

/// What one run of the experiment measured.
struct Run {
    /// When each task finished.
    finished: Vec<Instant>,
    /// When the main thread's sleep ended.
    main_done: Instant,
    /// The process's CPU time over the run.
    cpu: Duration,
    /// The run's wall time.
    wall: Duration,
    /// Polls the worker made.
    polls: u64,
}

fn experiment<S, F>(make_sleep: F) -> Run
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
    let polls = rt.metrics().workers.iter().map(|w| w.polls).sum();
    Run {
        finished,
        main_done,
        cpu,
        wall,
        polls,
    }
}

#[test]
fn chapter_experiment_sleep_vs_busy_sleep() {
    // Spool's sleep: every task done before the main sleep ends, CPU far below wall, and each
    // task polled twice (its start, its wake).
    let run = experiment(spool::time::sleep);
    eprintln!(
        "spool::time::sleep: {:?} CPU in {:?} wall, {} polls",
        run.cpu, run.wall, run.polls
    );
    for f in &run.finished {
        assert!(
            *f < run.main_done,
            "a task finished after the main thread's sleep"
        );
    }
    assert!(
        run.cpu < run.wall / 10,
        "sleeping tasks used {:?} of CPU in {:?}",
        run.cpu,
        run.wall
    );
    assert!(run.polls <= 12, "{} polls for three sleeps", run.polls);

    // The chapter's AsyncSleep: the worker spins until the last task's deadline.
    let run = experiment(spool::time::BusySleep::new);
    eprintln!(
        "BusySleep: {:?} CPU in {:?} wall, {} polls",
        run.cpu, run.wall, run.polls
    );
    for f in &run.finished {
        assert!(
            *f < run.main_done,
            "a task finished after the main thread's sleep"
        );
    }
    // The worker spins for the 300 ms the tasks sleep (then idles the remaining 200 ms): a poll
    // takes well under a microsecond, so even a worker given a twentieth of a core by a loaded
    // machine polls thousands of times. Its CPU time is that share of the spin: generous bound.
    assert!(
        run.polls > 5_000,
        "BusySleep polled only {} times in {:?}",
        run.polls,
        run.wall
    );
    let spin = Duration::from_millis(3 * SCALE_MS);
    assert!(
        run.cpu > spin / 10,
        "BusySleep used only {:?} of CPU over {spin:?} of sleeping",
        run.cpu
    );
}
