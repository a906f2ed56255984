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
mod interval;
mod sleep;
mod timeout;
pub(crate) mod timers;

pub use busy::BusySleep;
pub use interval::{interval, interval_at, Interval};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};

/// `now + duration`, saturating to about 30 years from now instead of overflowing (tokio's
/// "far future"): a sleep that long never fires in practice, and must not panic.
pub(crate) fn deadline_after(duration: std::time::Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(duration).unwrap_or_else(|| {
        now.checked_add(std::time::Duration::from_secs(86_400 * 365 * 30))
            .unwrap_or(now)
    })
}
