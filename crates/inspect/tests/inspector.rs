//! The inspector over HTTP, in-process: `/snapshot.json` matches its schema and its statistics
//! add up, a 100 ms blocking poll is a detector hit naming its spawn site, a busy-waiting task
//! is warned about, and a viewer that never reads `/events` costs bounded memory.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{get_json, request};
use serde_json::Value;

fn runtime(workers: usize) -> spool::Runtime {
    spool::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("runtime")
}

fn site_line(value: &Value) -> Option<(String, u32)> {
    let site = value.as_str()?;
    let mut parts = site.rsplitn(3, ':');
    let col: u32 = parts.next()?.parse().ok()?;
    let line: u32 = parts.next()?.parse().ok()?;
    let file = parts.next()?;
    (col > 0 && !file.is_empty()).then(|| (file.to_owned(), line))
}

#[test]
fn snapshot_matches_schema_and_stats_add_up() {
    let rt = runtime(2);
    let inspector =
        inspect::inspector::start(rt.handle(), "127.0.0.1:0".parse().unwrap()).expect("start");
    let addr = inspector.local_addr();
    // A busy-waiter (wakes itself on every poll, like the chapter's AsyncSleep) ...
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let spinner_line = line!() + 1;
    let spinner = rt.spawn(async move {
        while !flag.load(Ordering::Relaxed) {
            spool::yield_now().await;
            spool::time::sleep(Duration::from_micros(200)).await;
            spool::yield_now().await;
        }
    });
    // ... and a task that blocks its worker for 100 ms.
    let blocker_line = line!() + 1;
    let blocker = rt.spawn(async { std::thread::sleep(Duration::from_millis(100)) });
    rt.block_on(blocker).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let snapshot = get_json(addr, "/snapshot.json");
    // The schema: workers and tasks at the top, with these fields and types.
    let workers = snapshot["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), 2);
    for (i, w) in workers.iter().enumerate() {
        assert_eq!(w["index"], i);
        for key in ["polls", "steals", "parks", "local_queue_depth"] {
            assert!(w[key].is_u64(), "workers[{i}].{key}: {w}");
        }
    }
    for key in [
        "injection_queue_depth",
        "tasks_spawned",
        "tasks_alive",
        "timers",
        "io_sources",
        "blocking_threads",
        "detector_hits_total",
    ] {
        assert!(snapshot[key].is_u64(), "{key}");
    }
    let tasks = snapshot["tasks"].as_array().expect("tasks");
    assert!(!tasks.is_empty());
    for t in tasks {
        assert!(t["id"].is_u64(), "{t}");
        assert!(site_line(&t["spawned_at"]).is_some(), "{t}");
        assert!(["idle", "scheduled", "running"].contains(&t["state"].as_str().unwrap()));
        let (polls, wakes, self_wakes) = (
            t["polls"].as_u64().unwrap(),
            t["wakes"].as_u64().unwrap(),
            t["self_wakes"].as_u64().unwrap(),
        );
        // The statistics add up.
        assert!(
            polls + self_wakes >= wakes,
            "polls ≥ wakes − self-wakes: {t}"
        );
        assert!(self_wakes <= wakes, "{t}");
        // A task spawned off the workers is dated by its first poll: no age before it.
        match t["age_us"].as_u64() {
            Some(age) => assert!(t["busy_us"].as_u64().unwrap() <= age, "busy ≤ age: {t}"),
            None => assert_eq!((polls, t["state"].as_str()), (0, Some("scheduled")), "{t}"),
        }
        assert_eq!(
            t["latency_histogram"].as_array().unwrap().len(),
            spool::stats::LATENCY_BUCKETS
        );
        assert!(t["last_worker"].is_null() || t["last_worker"].as_u64().unwrap() < 2);
    }
    let here = file!();
    let spinner_row = tasks
        .iter()
        .find(|t| site_line(&t["spawned_at"]) == Some((here.to_owned(), spinner_line)))
        .unwrap_or_else(|| panic!("no task spawned at {here}:{spinner_line}: {tasks:?}"));
    assert!(spinner_row["polls"].as_u64().unwrap() > 20, "{spinner_row}");
    assert!(
        spinner_row["self_wakes"].as_u64().unwrap() > 10,
        "{spinner_row}"
    );
    assert!(spinner_row["latency_p50_us"].is_number(), "{spinner_row}");

    // The 100 ms poll: a detector hit with its spawn site, and a warning.
    let hit = snapshot["detector_hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| site_line(&h["spawned_at"]) == Some((here.to_owned(), blocker_line)))
        .unwrap_or_else(|| panic!("no detector hit at {here}:{blocker_line}: {snapshot:#}"));
    assert!(hit["duration_ms"].as_f64().unwrap() >= 100.0, "{hit}");
    assert!(hit["worker"].as_u64().unwrap() < 2);
    let warnings = snapshot["warnings"].as_array().unwrap();
    let warned = |kind: &str, line: u32| {
        warnings.iter().any(|w| {
            w["kind"] == kind && site_line(&w["spawned_at"]) == Some((here.to_owned(), line))
        })
    };
    assert!(warned("blocking", blocker_line), "{warnings:?}");
    assert!(warned("self_waking", spinner_line), "{warnings:?}");

    // The page is one self-contained document: no external script, style or font.
    let (status, page) = request(addr, "GET", "/");
    assert_eq!(status, 200);
    assert!(
        page.contains("<script>") && !page.contains("src=\"http"),
        "external resource"
    );
    assert!(!page.contains("/*SNAPSHOT*/"), "the snapshot is inlined");
    assert_eq!(request(addr, "GET", "/nope").0, 404);
    assert_eq!(request(addr, "POST", "/snapshot.json").0, 405);

    stop.store(true, Ordering::Relaxed);
    rt.block_on(spinner).unwrap();
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_viewer_that_never_reads_costs_bounded_memory() {
    let rt = runtime(2);
    let inspector =
        inspect::inspector::start(rt.handle(), "127.0.0.1:0".parse().unwrap()).expect("start");
    let addr = inspector.local_addr();
    // Many short polls: every tick carries as many spans as it may.
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    spool::yield_now().await;
                }
            })
        })
        .collect();
    // The viewer: subscribes, then never reads a byte (a small receive buffer fills at once).
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut viewer: TcpStream = socket.into();
    write!(viewer, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib();
    // Waits until at least `want` ticks were dropped (the viewer's queue is full by then).
    let dropped_at_least = |want: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut dropped = 0;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            let snapshot = get_json(addr, "/snapshot.json");
            assert_eq!(snapshot["events"]["viewers"], 1, "{:#}", snapshot["events"]);
            dropped = snapshot["events"]["dropped"].as_u64().unwrap();
            if dropped >= want {
                break;
            }
        }
        dropped
    };
    let dropped = dropped_at_least(3);
    // Ticks beyond the viewer's queue were dropped and counted, not kept.
    assert!(dropped >= 3, "only {dropped} ticks dropped in 30 s");
    let full = rss_kib();
    // The queue holds VIEWER_QUEUE ticks of at most MAX_SPANS_PER_TICK spans (~1.5 MB each):
    // a bound, generous for the allocator's slack and the span rings filling up.
    let grown_mib = full.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 128,
        "memory grew by {grown_mib} MiB for one viewer"
    );
    // And once the queue is full it stops growing: more ticks dropped, not kept. RSS alone swings
    // by ±30 MiB from one sample to the next here (each dropped tick is a ~1.5 MB buffer built
    // and freed, and glibc's heap grows and trims around it), so the test compares the *peak*
    // over two windows of ticks: 80 ticks kept would lift the second peak by ~120 MiB, where
    // the first peak already takes in the swing of one tick built and freed.
    let peak_until = |want: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut dropped, mut peak) = (0, 0);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            peak = peak.max(rss_kib());
            dropped = get_json(addr, "/snapshot.json")["events"]["dropped"]
                .as_u64()
                .unwrap();
            if dropped >= want {
                break;
            }
        }
        (dropped, peak)
    };
    let (settled, first_peak) = peak_until(dropped + 30);
    assert!(
        settled >= dropped + 30,
        "only {settled} ticks dropped in 30 s"
    );
    let (more, second_peak) = peak_until(settled + 80);
    assert!(more >= settled + 80, "only {more} ticks dropped in 30 s");
    let grown_mib = second_peak.saturating_sub(first_peak) / 1024;
    eprintln!("peaks: {first_peak} KiB, then {second_peak} KiB");
    assert!(
        grown_mib < 40,
        "peak memory grew by {grown_mib} MiB over {} ticks dropped after the viewer's queue was full",
        more - settled
    );
    drop(viewer);
    stop.store(true, Ordering::Relaxed);
    for task in load {
        rt.block_on(task).unwrap();
    }
}
