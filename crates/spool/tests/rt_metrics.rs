//! Metrics and poll spans.

#[macro_use]
mod common;

use std::time::Duration;

rt_test! {
    multi_thread_only;
    fn counts_spawns_polls_and_parks(rt) {
        let workers = rt.metrics().workers.len();
        rt.block_on(async {
            let tasks: Vec<_> = (0..1_000).map(|_| spool::spawn(async { spool::yield_now().await })).collect();
            for task in tasks {
                task.await.unwrap();
            }
        });
        let m = rt.metrics();
        assert_eq!(m.workers.len(), workers);
        assert_eq!(m.tasks_spawned, 1_000);
        assert_eq!(m.tasks_alive, 0);
        // Each task is polled twice (once before its yield, once after).
        assert!(m.workers.iter().map(|w| w.polls).sum::<u64>() >= 2_000);
        // With nothing left to run the workers park; not necessarily yet (a worker that never
        // ran out of work, under load, parks only now).
        let parks = |m: &spool::RuntimeMetrics| m.workers.iter().map(|w| w.parks).sum::<u64>();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while parks(&rt.metrics()) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(parks(&rt.metrics()) >= 1);
        assert_eq!(m.injection_queue_depth, 0);
        assert_eq!(m.detector_hits, 0);
    }
}

rt_test! {
    multi_thread_only;
    fn tasks_alive_and_timers(rt) {
        let tasks: Vec<_> = (0..10).map(|_| rt.spawn(spool::time::sleep(Duration::from_secs(3600)))).collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while rt.metrics().timers < 10 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let m = rt.metrics();
        assert_eq!(m.tasks_alive, 10);
        assert_eq!(m.timers, 10);
        drop(tasks);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while rt.metrics().tasks_alive > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let m = rt.metrics();
        assert_eq!(m.tasks_alive, 0);
        assert_eq!(m.timers, 0, "dropped sleeps deregister their timers");
    }
}

#[test]
fn steals_happen_when_one_worker_has_all_the_work() {
    let rt = common::rt(4);
    // Spawned from a worker, the tasks land on its local queue (fewer than its capacity, so
    // none spill to the injection queue): the others can only get them by stealing. Repeated a
    // few times in case the OS never ran the other workers meanwhile (2 shared cores).
    for _ in 0..10 {
        rt.block_on(rt.spawn(async {
            let tasks: Vec<_> = (0..200)
                .map(|_| spool::spawn(async { std::thread::sleep(Duration::from_micros(200)) }))
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        }))
        .unwrap();
        if rt.metrics().workers.iter().map(|w| w.steals).sum::<u64>() > 0 {
            return;
        }
    }
    panic!("no steals: {:?}", rt.metrics());
}

#[test]
fn blocking_metrics() {
    let rt = common::rt(1);
    let gate = common::Signal::default();
    let g = gate.clone();
    let task = rt.spawn_blocking(move || spool::block_on(g.wait()));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rt.metrics().blocking_busy < 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let m = rt.metrics();
    assert_eq!(
        (m.blocking_threads, m.blocking_busy, m.blocking_idle),
        (1, 1, 0)
    );
    gate.set();
    rt.block_on(task).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rt.metrics().blocking_idle < 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let m = rt.metrics();
    assert_eq!(
        (m.blocking_threads, m.blocking_busy, m.blocking_idle),
        (1, 0, 1)
    );
}

#[test]
fn poll_spans_are_recorded_on_request() {
    let rt = spool::Runtime::builder()
        .worker_threads(1)
        .record_spans(true)
        .build()
        .unwrap();
    let line = line!() + 1;
    let task = rt.spawn(async { spool::yield_now().await });
    let id = task.id();
    rt.block_on(task).unwrap();
    // Spans are pushed right after each poll: on one worker, a later task's poll starts only
    // after the earlier task's span is in.
    rt.block_on(rt.spawn(async {})).unwrap();
    let spans = rt.take_spans();
    let mine: Vec<_> = spans.iter().filter(|s| s.task_id == id).collect();
    assert_eq!(mine.len(), 2, "{spans:?}");
    assert!(mine
        .iter()
        .all(|s| s.location.line() == line && s.end >= s.start && s.worker == 0));
    assert!(mine[0].end <= mine[1].start);

    let plain = common::rt(1);
    plain.block_on(plain.spawn(async {})).unwrap();
    assert!(plain.take_spans().is_empty());
}
