//! The blocking detector: fires for the chapter's `thread::sleep` inside an `async fn`, stays
//! quiet for well-behaved tasks, and names the spawn site.

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

fn rt_with_reports(
    workers: usize,
    threshold: Option<Duration>,
) -> (spool::Runtime, Arc<Mutex<Vec<spool::BlockingReport>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    let rt = spool::Runtime::builder()
        .worker_threads(workers)
        .detector_threshold(threshold)
        .on_blocking(move |report: &spool::BlockingReport| {
            sink.lock().unwrap().push(report.clone())
        })
        .build()
        .unwrap();
    (rt, reports)
}

/// The chapter's `do_something`: an async fn that blocks its thread.
async fn do_something(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn fires_for_a_blocking_task_and_names_its_spawn_site() {
    for workers in [1, 2, 4] {
        let (rt, reports) = rt_with_reports(workers, Some(Duration::from_millis(50)));
        let line = line!() + 1;
        let task = rt.spawn(do_something(120));
        rt.block_on(task).unwrap();
        // The report follows the poll; the result may arrive first.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while reports.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let reports = reports.lock().unwrap().clone();
        assert_eq!(reports.len(), 1, "{workers} workers: {reports:?}");
        let report = &reports[0];
        assert_eq!(report.location.file(), file!());
        assert_eq!(report.location.line(), line);
        assert!(report.duration >= Duration::from_millis(120));
        assert!(report.worker < workers);
        assert_eq!(rt.metrics().detector_hits, 1);
    }
}

rt_test! {
    fn quiet_for_well_behaved_tasks(rt) {
        drop(rt);
        let (rt, reports) = rt_with_reports(2, Some(Duration::from_millis(50)));
        rt.block_on(async {
            let tasks: Vec<_> = (0..100)
                .map(|_| spool::spawn(async {
                    spool::time::sleep(Duration::from_millis(100)).await; // waits, does not block
                    spool::yield_now().await;
                }))
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert!(reports.lock().unwrap().is_empty());
        assert_eq!(rt.metrics().detector_hits, 0);
    }
}

#[test]
fn off_means_off() {
    let (rt, reports) = rt_with_reports(1, None);
    rt.block_on(rt.spawn(do_something(80))).unwrap();
    assert!(reports.lock().unwrap().is_empty());
    assert_eq!(rt.metrics().detector_hits, 0);
}

#[test]
fn spawn_blocking_is_not_reported() {
    let (rt, reports) = rt_with_reports(1, Some(Duration::from_millis(20)));
    rt.block_on(rt.spawn(async {
        spool::spawn_blocking(|| std::thread::sleep(Duration::from_millis(80)))
            .await
            .unwrap();
    }))
    .unwrap();
    assert!(reports.lock().unwrap().is_empty());
}
