//! [`Sleep`]: a future that completes at a deadline, held by the driver while it waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::Instant;

use crate::driver::Driver;
use crate::runtime::context;
use crate::time::timers::TimerKey;

/// Waits until `duration` has elapsed.
///
/// Uses the timers of the runtime it is first polled in, or the default runtime's outside any (see the
/// [module docs](crate::time)). Durations too large to add to `Instant::now()` sleep
/// "forever" (about 30 years).
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// spool::block_on(spool::time::sleep(Duration::from_millis(20)));
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(super::deadline_after(duration))
}

/// Waits until `deadline`.
///
/// ```
/// use std::time::Duration;
/// use spool::time::Instant;
/// let deadline = Instant::now() + Duration::from_millis(10);
/// spool::block_on(spool::time::sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        driver: None,
        entry: None,
    }
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// ```
/// use std::time::Duration;
/// let rt = spool::Runtime::new()?;
/// rt.block_on(async {
///     let sleep = spool::time::sleep(Duration::from_millis(5));
///     let deadline = sleep.deadline();
///     sleep.await;
///     assert!(spool::time::Instant::now() >= deadline);
/// });
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// Chosen at the first registration: the runtime of the thread that polls it.
    driver: Option<Arc<Driver>>,
    /// The registered timer and the waker it holds (to skip re-registering the same waker).
    entry: Option<(TimerKey, Waker)>,
}

impl Sleep {
    /// When the sleep completes.
    ///
    /// ```
    /// let s = spool::time::sleep(std::time::Duration::from_secs(1));
    /// assert!(s.deadline() > spool::time::Instant::now());
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    ///
    /// ```
    /// assert!(spool::time::sleep(std::time::Duration::ZERO).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (earlier or later). The sleep re-registers on its next poll.
    ///
    /// ```
    /// use std::time::Duration;
    /// use spool::time::Instant;
    /// let mut s = spool::time::sleep(Duration::from_secs(3600));
    /// s.reset(Instant::now() + Duration::from_millis(1));
    /// spool::block_on(s);
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline;
    }

    fn deregister(&mut self) {
        if let (Some((key, _)), Some(driver)) = (self.entry.take(), &self.driver) {
            driver.timers().remove(key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // 1. Registered: the driver decides, through the mark of its last fire (`timers.rs`:
        //    a timer at or before it was fired and is gone). No clock read, no lock.
        if let (Some((key, waker)), Some(driver)) = (&mut this.entry, &this.driver) {
            let timers = driver.timers();
            if timers.has_fired(*key) {
                // Progress spends the cooperative budget, or yields if it is spent; waiting
                // spends nothing, so the budget is only looked at here (`task/coop.rs`, step 2).
                std::task::ready!(crate::task::coop::poll_proceed(cx));
                this.entry = None;
                return Poll::Ready(());
            }
            if !waker.will_wake(cx.waker()) {
                if timers.update(*key, cx.waker()) {
                    waker.clone_from(cx.waker());
                } else {
                    // Fired since the mark was read: step 2 on the next poll sees it due.
                    this.entry = None;
                    cx.waker().wake_by_ref();
                }
            }
            return Poll::Pending;
        }
        // 2. Not registered yet (or reset): the clock of the runtime the timer will be
        //    registered with; before the first registration, the thread's runtime's, read
        //    without finding the runtime while no clock was ever paused (`time/clock.rs`,
        //    "What a clock read costs").
        let now = match &this.driver {
            Some(driver) => driver.timers().clock().now(),
            None => super::clock::now(),
        };
        if now >= this.deadline.into_std() {
            std::task::ready!(crate::task::coop::poll_proceed(cx));
            return Poll::Ready(());
        }
        let driver = this.driver.get_or_insert_with(context::driver);
        match driver.insert_timer(this.deadline.into_std(), cx.waker().clone()) {
            Some(key) => this.entry = Some((key, cx.waker().clone())),
            // The driver fired past the deadline between the clock read and the insert.
            None => cx.waker().wake_by_ref(),
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}
