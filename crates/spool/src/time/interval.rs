//! [`interval`]: a timer that ticks periodically.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Instant;

use super::sleep::{sleep_until, Sleep};

/// An [`Interval`] whose first tick completes at once, then every `period`.
///
/// # Panics
///
/// If `period` is zero (it would tick in a busy loop).
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// spool::block_on(async {
///     let mut ticks = spool::time::interval(Duration::from_millis(10));
///     for _ in 0..3 {
///         ticks.tick().await; // at 0, 10, 20 ms
///     }
/// });
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// An [`Interval`] whose first tick completes at `start`, then every `period`.
///
/// # Panics
///
/// If `period` is zero.
///
/// ```
/// use std::time::Duration;
/// use spool::time::Instant;
/// let mut ticks = spool::time::interval_at(Instant::now(), Duration::from_millis(5));
/// spool::block_on(ticks.tick());
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "spool::time::interval: the period must be non-zero"
    );
    Interval {
        period,
        sleep: sleep_until(start),
    }
}

/// Ticks every `period`. A tick that is late (the task was busy) fires at once, and the next one
/// is scheduled a full period after *it* (no burst of catch-up ticks: tokio's
/// `MissedTickBehavior::Delay`).
///
/// ```
/// use std::time::Duration;
/// let rt = spool::Runtime::new()?;
/// rt.block_on(async {
///     let mut interval = spool::time::interval(Duration::from_millis(2));
///     let first = interval.tick().await;
///     let second = interval.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick; returns the instant it was scheduled for.
    ///
    /// ```
    /// let mut i = spool::time::interval(std::time::Duration::from_millis(1));
    /// let at = spool::block_on(i.tick());
    /// assert!(at <= spool::time::Instant::now());
    /// ```
    pub fn tick(&mut self) -> impl Future<Output = Instant> + '_ {
        poll_fn(|cx| self.poll_tick(cx))
    }

    /// Polls for the next tick (for hand-written futures).
    ///
    /// ```
    /// use std::future::poll_fn;
    /// let mut i = spool::time::interval(std::time::Duration::from_millis(1));
    /// spool::block_on(poll_fn(|cx| i.poll_tick(cx)));
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let mut next = scheduled + self.period;
        if next <= now {
            next = now + self.period;
        }
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// The period.
    ///
    /// ```
    /// let i = spool::time::interval(std::time::Duration::from_millis(3));
    /// assert_eq!(i.period(), std::time::Duration::from_millis(3));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}
