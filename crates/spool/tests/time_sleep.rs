//! Timers: sleep, timeout, interval; from tasks, from `block_on`, from plain threads.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

rt_test! {
    fn sleep_waits_at_least_its_duration(rt) {
        for ms in [0, 1, 5, 20] {
            let elapsed = rt.block_on(rt.spawn(async move {
                let start = Instant::now();
                spool::time::sleep(Duration::from_millis(ms)).await;
                start.elapsed()
            }));
            assert!(elapsed.unwrap() >= Duration::from_millis(ms));
        }
    }
}

rt_test! {
    fn many_timers_all_fire(rt) {
        let late = rt.block_on(async {
            let tasks: Vec<_> = (0..10_000u64)
                .map(|i| spool::spawn(async move {
                    let deadline = Instant::now() + Duration::from_micros((i * 7919) % 50_000);
                    spool::time::sleep_until(deadline.into()).await;
                    Instant::now() >= deadline
                }))
                .collect();
            let mut ok = 0;
            for task in tasks {
                ok += task.await.unwrap() as u32;
            }
            ok
        });
        assert_eq!(late, 10_000);
        assert_eq!(rt.metrics().timers, 0);
    }
}

rt_test! {
    fn a_sleep_first_polled_after_its_deadline_completes_promptly(rt) {
        // A sleep created, then held past its deadline before its first poll (the task blocks
        // its thread): the first poll must see it due (or, if it registered it, the next turn
        // must fire it), never leave it pending until some later event. Generous bound.
        let waited = rt.block_on(rt.spawn(async {
            let sleep = spool::time::sleep(Duration::from_millis(5));
            std::thread::sleep(Duration::from_millis(20));
            let start = Instant::now();
            sleep.await;
            start.elapsed()
        }));
        assert!(waited.unwrap() < Duration::from_secs(2));
        assert_eq!(rt.metrics().timers, 0);
    }
}

rt_test! {
    fn sleep_in_runtime_block_on(rt) {
        let start = Instant::now();
        rt.block_on(spool::time::sleep(Duration::from_millis(10)));
        assert!(start.elapsed() >= Duration::from_millis(10));
    }
}

rt_test! {
    fn timers_fire_while_every_worker_is_busy(rt) {
        // Busy workers fire due timers during maintenance: the sleeper must not wait for the
        // busy tasks to finish (they run 300 ms; the sleep is 10 ms).
        let workers = rt.metrics().workers.len();
        let busy: Vec<_> = (0..workers * 4)
            .map(|_| rt.spawn(async {
                let until = Instant::now() + Duration::from_millis(300);
                while Instant::now() < until {
                    std::thread::sleep(Duration::from_micros(200));
                    spool::yield_now().await;
                }
            }))
            .collect();
        let start = Instant::now();
        rt.block_on(spool::time::sleep(Duration::from_millis(10)));
        let slept = start.elapsed();
        for task in busy {
            rt.block_on(task).unwrap();
        }
        assert!(slept >= Duration::from_millis(10));
        eprintln!("10 ms sleep with busy workers took {slept:?}");
    }
}

rt_test! {
    fn timeout_ok_and_elapsed(rt) {
        rt.block_on(async {
            let fast = spool::time::timeout(Duration::from_secs(5), async { 7 }).await;
            assert_eq!(fast, Ok(7));
            let slow = spool::time::timeout(
                Duration::from_millis(10),
                spool::time::sleep(Duration::from_secs(5)),
            )
            .await;
            assert!(slow.is_err());
            let pending = spool::time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
            assert_eq!(pending.unwrap_err().to_string(), "deadline has elapsed");
        });
        // The losing sleep was dropped with its timeout: its timer is gone.
        assert_eq!(rt.metrics().timers, 0);
    }
}

rt_test! {
    fn interval_ticks(rt) {
        let ticks = rt.block_on(rt.spawn(async {
            let mut interval = spool::time::interval(Duration::from_millis(5));
            let mut ticks = Vec::new();
            for _ in 0..5 {
                ticks.push(interval.tick().await);
            }
            ticks
        }))
        .unwrap();
        for pair in ticks.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(5));
        }
    }
}

#[test]
fn sleep_outside_any_runtime_uses_the_default_runtime() {
    let start = Instant::now();
    spool::block_on(spool::time::sleep(Duration::from_millis(15)));
    assert!(start.elapsed() >= Duration::from_millis(15));
    // And from several plain threads at once.
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let d = Duration::from_millis(5 + i);
                let start = Instant::now();
                spool::block_on(spool::time::sleep(d));
                start.elapsed() >= d
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap());
    }
}

#[test]
fn sleep_reset_and_huge_durations() {
    let mut s = spool::time::sleep(Duration::MAX); // must not overflow
    assert!(!s.is_elapsed());
    s.reset((Instant::now() + Duration::from_millis(2)).into());
    spool::block_on(s);
}

#[test]
#[should_panic(expected = "non-zero")]
fn zero_period_interval_panics() {
    let _ = spool::time::interval(Duration::ZERO);
}

#[test]
fn earlier_timer_interrupts_the_driver_wait() {
    // A long timer makes the driver wait ~10 s; a short one registered later from another thread
    // must interrupt that wait (the timer hand-off).
    let rt = common::rt(1);
    rt.spawn(spool::time::sleep(Duration::from_secs(10)))
        .detach();
    std::thread::sleep(Duration::from_millis(20));
    let start = Instant::now();
    rt.block_on(spool::time::sleep(Duration::from_millis(5)));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

rt_test! {
    fn sub_millisecond_sleeps_are_not_rounded_up_to_a_millisecond(rt) {
        // The driver's timerfd (`driver.rs`): a 300 µs sleep must not take epoll's 1 ms. The
        // median of 31 absorbs a loaded machine's outliers; the bound is generous (3x).
        let mut took: Vec<Duration> = rt.block_on(rt.spawn(async {
            let mut took = Vec::new();
            for _ in 0..31 {
                let start = std::time::Instant::now();
                spool::time::sleep(Duration::from_micros(300)).await;
                took.push(start.elapsed());
            }
            took
        })).unwrap();
        took.sort();
        assert!(took[0] >= Duration::from_micros(300), "a sleep ended early: {:?}", took[0]);
        let median = took[took.len() / 2];
        assert!(median < Duration::from_micros(900), "median of sleep(300 µs): {median:?}");
    }
}
