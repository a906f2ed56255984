//! Resident memory per idle task: 100 000 tasks that wait forever, on Spool, tokio or
//! async-executor (one runtime per process, so that one's heap does not hide in another's).
//!
//! ```text
//! cargo run -p spool --release --example idle_task_memory -- spool|tokio|async-executor [workers] [tasks]
//! ```
//!
//! Builds the runtime (2 workers by default) and warms it up, reads `VmRSS` from
//! `/proc/self/status`, spawns the tasks from outside the workers, waits until every one has
//! been polled once and is parked on a future that never completes (`std::future::pending`, so
//! only the runtime's task and the future's state are measured: no channel), reads `VmRSS`
//! again, and prints one JSON line. The process then exits without tearing the runtime down.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// A task that counts its first poll and then waits forever.
async fn idle(polled: Arc<AtomicUsize>) {
    polled.fetch_add(1, Relaxed);
    std::future::pending::<()>().await
}

fn wait_for(polled: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while polled.load(Relaxed) < n {
        assert!(
            Instant::now() < deadline,
            "tasks were not all polled in 60 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = args.next().unwrap_or_else(|| "spool".to_owned());
    let workers: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let tasks: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let polled = Arc::new(AtomicUsize::new(0));
    // Keeps the runtime alive until the process exits; the closure spawns one idle task.
    let (keep, spawn): (Box<dyn std::any::Any>, Box<dyn Fn()>) = match runtime.as_str() {
        "spool" => {
            let rt = spool::Runtime::builder()
                .worker_threads(workers)
                .build()
                .expect("spool runtime");
            for _ in 0..1000 {
                rt.block_on(rt.spawn(async {})).expect("warm-up task");
            }
            let handle = rt.handle().clone();
            let polled = polled.clone();
            (
                Box::new(rt),
                Box::new(move || handle.spawn(idle(polled.clone())).detach()),
            )
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("tokio runtime");
            for _ in 0..1000 {
                rt.block_on(rt.spawn(async {})).expect("warm-up task");
            }
            let handle = rt.handle().clone();
            let polled = polled.clone();
            (
                Box::new(rt),
                Box::new(move || drop(handle.spawn(idle(polled.clone())))),
            )
        }
        "async-executor" => {
            let ex = Arc::new(async_executor::Executor::new());
            for _ in 0..workers {
                let ex = ex.clone();
                std::thread::spawn(move || {
                    async_io::block_on(ex.run(std::future::pending::<()>()))
                });
            }
            for _ in 0..1000 {
                async_io::block_on(ex.spawn(async {}));
            }
            let polled = polled.clone();
            let spawner = ex.clone();
            (
                Box::new(ex),
                Box::new(move || spawner.spawn(idle(polled.clone())).detach()),
            )
        }
        other => {
            eprintln!("unknown runtime {other:?}: spool, tokio or async-executor");
            std::process::exit(2);
        }
    };
    std::thread::sleep(Duration::from_millis(50));
    let before = rss_kib();
    for _ in 0..tasks {
        spawn();
    }
    wait_for(&polled, tasks);
    std::thread::sleep(Duration::from_millis(50));
    let after = rss_kib();
    let per_task = (after.saturating_sub(before) * 1024) as f64 / tasks as f64;
    println!(
        "{{\"runtime\": \"{runtime}\", \"workers\": {workers}, \"tasks\": {tasks}, \
         \"rss_before_kib\": {before}, \"rss_after_kib\": {after}, \"bytes_per_task\": {per_task:.1}}}"
    );
    // Skip teardown (cancelling 100 000 tasks is not what is measured).
    std::mem::forget(keep);
    std::process::exit(0);
}
