//! The test clock: `time::pause`, `advance`, `Builder::start_paused` and auto-advance.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use spool::time::{self, Instant};

fn paused_rt() -> spool::Runtime {
    spool::Builder::new_current_thread()
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn an_hour_of_sleep_takes_no_real_time() {
    common::watchdog("hour_sleep", || {
        let rt = paused_rt();
        let real = std::time::Instant::now();
        let virtual_elapsed = rt.block_on(async {
            let start = Instant::now();
            time::sleep(Duration::from_secs(3600)).await;
            start.elapsed()
        });
        assert!(
            real.elapsed() < Duration::from_secs(1),
            "{:?}",
            real.elapsed()
        );
        assert!(
            virtual_elapsed >= Duration::from_secs(3600),
            "{virtual_elapsed:?}"
        );
        assert!(
            virtual_elapsed < Duration::from_secs(3601),
            "{virtual_elapsed:?}"
        );
    });
}

#[test]
fn timeout_fires_in_virtual_time() {
    common::watchdog("virtual_timeout", || {
        let rt = paused_rt();
        let real = std::time::Instant::now();
        rt.block_on(async {
            let start = Instant::now();
            let result =
                time::timeout(Duration::from_secs(600), std::future::pending::<()>()).await;
            assert!(result.is_err());
            assert_eq!(start.elapsed(), Duration::from_secs(600));
            let ok =
                time::timeout(Duration::from_secs(10), time::sleep(Duration::from_secs(5))).await;
            assert_eq!(ok, Ok(()));
            assert_eq!(start.elapsed(), Duration::from_secs(605));
            let at = time::timeout_at(
                Instant::now() + Duration::from_secs(1),
                std::future::pending::<()>(),
            );
            assert!(at.await.is_err());
        });
        assert!(real.elapsed() < Duration::from_secs(1));
    });
}

#[test]
fn advance_wakes_exactly_the_expired_timers() {
    common::watchdog("advance_exact", || {
        let rt = paused_rt();
        rt.block_on(async {
            let flags: Vec<Arc<AtomicBool>> = (0..4).map(|_| Arc::default()).collect();
            for (i, flag) in flags.iter().enumerate() {
                let flag = flag.clone();
                spool::spawn(async move {
                    time::sleep(Duration::from_secs(i as u64 + 1)).await;
                    flag.store(true, Ordering::SeqCst);
                })
                .detach();
            }
            spool::yield_now().await; // the sleepers register their timers
            let state = || {
                flags
                    .iter()
                    .map(|f| f.load(Ordering::SeqCst))
                    .collect::<Vec<_>>()
            };
            assert_eq!(state(), [false, false, false, false]);
            time::advance(Duration::from_millis(2500)).await;
            assert_eq!(state(), [true, true, false, false]);
            time::advance(Duration::from_secs(1)).await;
            assert_eq!(state(), [true, true, true, false]);
        });
    });
}

#[test]
fn interval_at_ticks_on_the_virtual_clock() {
    common::watchdog("virtual_interval", || {
        let rt = paused_rt();
        rt.block_on(async {
            let start = Instant::now() + Duration::from_secs(5);
            let mut ticks = time::interval_at(start, Duration::from_secs(60));
            for i in 0..4 {
                let at = ticks.tick().await;
                assert_eq!(at, start + Duration::from_secs(60 * i));
                assert_eq!(Instant::now(), at);
            }
            time::sleep_until(start + Duration::from_secs(3600)).await;
            assert_eq!(Instant::now(), start + Duration::from_secs(3600));
        });
    });
}

#[test]
fn the_blocking_pool_holds_auto_advance_back() {
    common::watchdog("blocking_inhibits", || {
        let rt = paused_rt();
        let result = rt.block_on(async {
            let job = spool::spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)));
            time::timeout(Duration::from_secs(1), job).await
        });
        assert_eq!(
            result,
            Ok(Ok(())),
            "auto-advance fired the timeout while a blocking job ran"
        );
    });
}

#[test]
fn pause_and_resume_by_hand() {
    common::watchdog("pause_resume", || {
        let rt = common::rt_current_thread();
        rt.block_on(async {
            time::pause();
            let a = Instant::now();
            std::thread::sleep(Duration::from_millis(5));
            assert_eq!(Instant::now(), a, "a paused clock stands still");
            time::advance(Duration::from_secs(2)).await;
            assert_eq!(Instant::now(), a + Duration::from_secs(2));
            time::resume();
            std::thread::sleep(Duration::from_millis(5));
            assert!(Instant::now() >= a + Duration::from_secs(2) + Duration::from_millis(5));
            // Real time again: a short sleep takes real time.
            let real = std::time::Instant::now();
            time::sleep(Duration::from_millis(20)).await;
            assert!(real.elapsed() >= Duration::from_millis(20));
        });
    });
}

#[test]
fn pausing_needs_a_current_thread_runtime() {
    let rt = common::rt(1);
    let err = rt
        .block_on(rt.spawn(async { time::pause() }))
        .expect_err("pause on a multi-thread runtime must panic");
    assert!(err.to_string().contains("current-thread"), "{err}");
    assert!(std::panic::catch_unwind(time::pause).is_err());
    assert!(spool::Runtime::builder()
        .start_paused(true)
        .build()
        .is_err());
}

#[test]
fn std_conversions() {
    let std_now = std::time::Instant::now();
    let ours: Instant = std_now.into();
    let back: std::time::Instant = ours.into();
    assert_eq!(back, std_now);
    let later = ours + Duration::from_millis(3);
    assert_eq!(later - ours, Duration::from_millis(3));
    assert_eq!(ours - later, Duration::ZERO);
    let mut m = later;
    m -= Duration::from_millis(3);
    assert_eq!(m, ours);
}
