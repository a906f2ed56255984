//! [`Instant`]: a point on the runtime's time line (tokio's `tokio::time::Instant`).

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A measurement of the runtime's clock: the real monotonic clock, unless the runtime's clock
/// is paused ([`pause`](crate::time::pause)), in which case it reads the paused (virtual) time.
/// Converts to and from [`std::time::Instant`] at no cost.
///
/// ```
/// use std::time::Duration;
/// use spool::time::Instant;
///
/// let rt = spool::Builder::new_current_thread().start_paused(true).build()?;
/// rt.block_on(async {
///     let start = Instant::now();
///     spool::time::sleep(Duration::from_secs(60)).await; // virtual: instant in real time
///     assert_eq!(start.elapsed(), Duration::from_secs(60));
///     let deadline = start + Duration::from_secs(90);
///     assert_eq!(deadline.duration_since(start), Duration::from_secs(90));
///     let std: std::time::Instant = deadline.into();
///     assert_eq!(Instant::from_std(std), deadline);
/// });
/// # std::io::Result::Ok(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// Now, on the clock of the calling thread's runtime (the real clock outside any runtime).
    ///
    /// ```
    /// let a = spool::time::Instant::now();
    /// assert!(spool::time::Instant::now() >= a);
    /// ```
    pub fn now() -> Instant {
        Instant(super::clock::now())
    }

    /// Wraps a `std::time::Instant`.
    ///
    /// ```
    /// let std = std::time::Instant::now();
    /// assert_eq!(spool::time::Instant::from_std(std).into_std(), std);
    /// ```
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant(std)
    }

    /// The `std::time::Instant` it wraps.
    ///
    /// ```
    /// let now = spool::time::Instant::now();
    /// let _: std::time::Instant = now.into_std();
    /// ```
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    ///
    /// ```
    /// use std::time::Duration;
    /// let a = spool::time::Instant::now();
    /// let b = a + Duration::from_secs(1);
    /// assert_eq!(b.duration_since(a), Duration::from_secs(1));
    /// assert_eq!(a.duration_since(b), Duration::ZERO);
    /// ```
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time from `earlier` to `self`, or `None` if `earlier` is later.
    ///
    /// ```
    /// let a = spool::time::Instant::now();
    /// assert!(a.checked_duration_since(a + std::time::Duration::from_secs(1)).is_none());
    /// ```
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    ///
    /// ```
    /// let a = spool::time::Instant::now();
    /// assert!(a.saturating_duration_since(a).is_zero());
    /// ```
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time since `self`, on the runtime's clock.
    ///
    /// ```
    /// let start = spool::time::Instant::now();
    /// assert!(start.elapsed() < std::time::Duration::from_secs(60));
    /// ```
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + duration`, or `None` on overflow.
    ///
    /// ```
    /// let a = spool::time::Instant::now();
    /// assert!(a.checked_add(std::time::Duration::from_secs(1)).is_some());
    /// ```
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` on underflow.
    ///
    /// ```
    /// let a = spool::time::Instant::now();
    /// assert!(a.checked_sub(std::time::Duration::ZERO) == Some(a));
    /// ```
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0 + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 += rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0 - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        self.0 -= rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Saturating, as `std`'s since Rust 1.60.
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
