//! A real browser: headless Chromium loads the inspector of a running Spool server (the real
//! `crates/server` service, under a small load) and the lab page after one experiment, and the
//! DOM shows what a person would see.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it). Missing, the tests say so and pass,
//! except in CI (`CI=true`), where a missing browser fails them.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{chromium_present, dump_dom, get_json, request};

#[test]
fn the_inspector_shows_one_lane_per_worker_and_the_tasks_spawn_site() {
    if !chromium_present("the_inspector_shows_one_lane_per_worker_and_the_tasks_spawn_site") {
        return;
    }
    let rt = spool::Runtime::builder().worker_threads(3).build().unwrap();
    let inspector = inspect::inspector::start(rt.handle(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let line = line!() + 1;
    let ticker = rt.spawn(async move {
        while !flag.load(Ordering::Relaxed) {
            spool::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let (shutdown_tx, shutdown_rx) = flume::bounded::<()>(1);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        // The real server on the inspected runtime, as `spool serve --runtime spool --inspect`.
        let server = scope.spawn(|| {
            let config = server::Config {
                addr: "127.0.0.1:0".parse().unwrap(),
                ..server::Config::default()
            };
            let shutdown = async move {
                let _ = shutdown_rx.recv_async().await;
            };
            server::serve_on_spool(&rt, config, shutdown, |addr| addr_tx.send(addr).unwrap())
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("serving");
        // A small load while the browser looks.
        let stop_load = &stop;
        let load = scope.spawn(move || {
            while !stop_load.load(Ordering::Relaxed) {
                let _ = request(addr, "GET", "/sleep?ms=2");
                let _ = request(addr, "GET", "/");
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        let dom = dump_dom(&format!("http://{}/", inspector.local_addr()));
        stop.store(true, Ordering::Relaxed);
        load.join().unwrap();
        shutdown_tx.send(()).unwrap();
        server.join().unwrap().expect("the server ran");
        let lanes = dom.matches("<div class=\"lane\"").count();
        assert_eq!(lanes, 3, "one lane per worker:\n{dom}");
        let site = format!(">{}:{line}:", file!());
        assert!(
            dom.contains(&site),
            "no task-table row spawned at {site}:\n{dom}"
        );
    });
    rt.block_on(ticker).unwrap();
}

#[test]
fn the_lab_page_runs_an_experiment_and_draws_it() {
    if !chromium_present("the_lab_page_runs_an_experiment_and_draws_it") {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        inspect::lab::serve("127.0.0.1:0".parse().unwrap(), |addr| {
            tx.send(addr).unwrap()
        })
        .unwrap();
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the lab listens");
    let (status, body) = request(addr, "POST", "/run?name=threads&scale=0.05");
    assert_eq!(status, 202, "{body}");
    assert_eq!(request(addr, "POST", "/run?name=nope").0, 400);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = get_json(addr, "/status");
        if run["running"] == false {
            assert_eq!(run["row"]["name"], "threads");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the experiment did not finish: {run}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = dump_dom(&format!("http://{addr}/"));
    assert!(
        dom.contains("id=\"measured\" data-name=\"threads\""),
        "no measured row:\n{dom}"
    );
    let drawn = dom
        .split("id=\"timeline\"")
        .nth(1)
        .and_then(|rest| rest.split("data-spans=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    assert!(
        drawn >= 3,
        "the three threads' spans are drawn (data-spans={drawn}):\n{dom}"
    );
    // The experiment's source is beside it.
    assert!(dom.contains("fn threads("), "no source:\n{dom}");
}
