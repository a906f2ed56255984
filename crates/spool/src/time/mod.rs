//! Time: [`sleep`], [`sleep_until`], [`timeout`], [`interval`] — and [`BusySleep`], the
//! chapter's `AsyncSleep`, kept to show what not to do.
//!
//! # A sleeping task is a deadline and a waker
//!
//! The chapter's `AsyncSleep` returned `Pending` and immediately woke itself, on every poll,
//! until its deadline passed: the executor kept re-polling it, and the queue's thread burned a
//! whole core for the whole sleep (5.00 s of CPU in 5.00 s). [`Sleep`] instead registers
//! `(deadline, waker)` with the runtime's driver on its first poll and is not polled again until
//! the driver fires it. Meanwhile the driver's holder blocks in `epoll_wait` with the nearest
//! deadline as its timeout: a runtime full of sleeping tasks uses no CPU.
//!
//! - Registration is lazy (first poll) and cheap to repeat: a re-poll with the same waker
//!   (`will_wake`) touches nothing; a new waker replaces the old one under the timer lock.
//! - Dropping a `Sleep` removes its entry, so cancelled timeouts do not pile up.
//! - Resolution: the deadline is an exact `Instant`; the driver's `epoll_wait` takes whole
//!   milliseconds, rounded *up* (mio), so a timer fires at its deadline or up to about 1 ms after
//!   it on an idle machine, never early, and a sub-millisecond wait never turns into a
//!   zero-timeout busy loop (tokio's wheel has the same 1 ms).
//!
//! # The test clock
//!
//! On a current-thread runtime the clock can be paused ([`pause`],
//! [`Builder::start_paused`](crate::Builder::start_paused)): [`Instant::now`] then stands still,
//! [`advance`] moves it, and when no task can run the runtime jumps it to the next timer, so a
//! test of an hour-long timeout takes no real time. How: `time/clock.rs`.
//!
//! # Which driver?
//!
//! A `Sleep` registers with the driver of the runtime current on the thread that *first polls
//! it* ([`Handle::current`](crate::Handle::current)): inside a task, the task's runtime; inside
//! [`Runtime::block_on`](crate::Runtime::block_on), that runtime. Polled outside any runtime (in
//! [`spool::block_on`](crate::block_on) on a plain thread, say) it uses the **default runtime's**
//! driver, starting the default runtime if needed: a timer needs some thread to wait for its
//! deadline, and the default runtime's parked worker is that thread. Binding at the first poll
//! rather than at creation means `rt.spawn(sleep(d))` uses `rt`'s timers although `sleep(d)` was
//! called outside it. After that the future may move anywhere: the driver only calls its waker.

mod busy;
pub(crate) mod clock;
mod instant;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod timers;

pub use busy::BusySleep;
pub use instant::Instant;
pub use interval::{interval, interval_at, Interval};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};

/// `now + duration`, saturating to about 30 years from now instead of overflowing (tokio's
/// "far future"): a sleep that long never fires in practice, and must not panic.
pub(crate) fn deadline_after(duration: std::time::Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration).unwrap_or_else(|| {
        now.checked_add(std::time::Duration::from_secs(86_400 * 365 * 30))
            .unwrap_or(now)
    })
}

/// The current runtime's driver, for the test-clock functions; panics unless it is a
/// current-thread runtime.
#[track_caller]
fn paused_clock_driver(what: &str) -> std::sync::Arc<crate::driver::Driver> {
    match crate::runtime::context::current() {
        Some(handle) if handle.shared.is_current_thread() => handle.shared.driver().clone(),
        Some(_) => panic!(
            "spool::time::{what} needs a current-thread runtime (Builder::new_current_thread): \
             on a multi-thread runtime no thread can tell that no task can run"
        ),
        None => panic!(
            "spool::time::{what} called outside a runtime; it needs a current-thread runtime"
        ),
    }
}

/// Pauses the current runtime's clock: [`Instant::now`] stands still; [`advance`] moves it, and
/// when no task can run the runtime jumps it to the next timer (auto-advance). A no-op if it is
/// paused already.
///
/// # Panics
///
/// Outside a current-thread runtime.
///
/// ```
/// use std::time::Duration;
/// let rt = spool::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     spool::time::pause();
///     let start = spool::time::Instant::now();
///     spool::time::sleep(Duration::from_secs(3600)).await; // no real hour
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
/// });
/// # std::io::Result::Ok(())
/// ```
#[track_caller]
pub fn pause() {
    paused_clock_driver("pause").timers().clock().pause();
}

/// Lets the current runtime's paused clock run again, at real speed, from where it stands. A
/// no-op if it is not paused.
///
/// # Panics
///
/// Outside a current-thread runtime.
///
/// ```
/// let rt = spool::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let a = spool::time::Instant::now();
///     spool::time::resume();
///     std::thread::sleep(std::time::Duration::from_millis(2));
///     assert!(a.elapsed() >= std::time::Duration::from_millis(2));
/// });
/// # std::io::Result::Ok(())
/// ```
#[track_caller]
pub fn resume() {
    paused_clock_driver("resume").timers().clock().resume();
}

/// Moves the current runtime's paused clock forward by `duration`, wakes the timers that are due
/// by then (and only those), and yields so that their tasks run before the caller goes on.
///
/// # Panics
///
/// Outside a current-thread runtime, or if its clock is not paused.
///
/// ```
/// use std::time::Duration;
/// let rt = spool::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let short = spool::spawn(spool::time::sleep(Duration::from_secs(1)));
///     let long = spool::spawn(spool::time::sleep(Duration::from_secs(10)));
///     spool::time::advance(Duration::from_secs(5)).await;
///     assert!(short.is_finished());
///     assert!(!long.is_finished());
/// });
/// # std::io::Result::Ok(())
/// ```
#[track_caller]
pub fn advance(duration: std::time::Duration) -> impl std::future::Future<Output = ()> {
    let driver = paused_clock_driver("advance");
    assert!(
        driver.timers().clock().advance(duration),
        "spool::time::advance: the clock is not paused (call spool::time::pause first)"
    );
    driver.timers().fire_due();
    crate::yield_now()
}
