//! [`BusySleep`]: the chapter's `AsyncSleep`, kept as written — the thing not to do.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The chapter's `AsyncSleep`: a future that is ready once `duration` has passed since it was
/// created, and that **wakes itself on every poll** until then.
///
/// It is correct — it completes on time — and it is the wrong way to wait. Each `Pending` comes
/// with `wake_by_ref()`, so the executor puts the task straight back in its queue and polls it
/// again, and again: the worker never parks, and a 5-second sleep costs 5 seconds of CPU (the
/// chapter measured 5.00 s of user time in 5.00 s of wall time). Worse, on a one-worker runtime
/// every other task now shares the core with a spinning loop.
///
/// Spool keeps it for the lab, which measures exactly that against [`sleep`](crate::time::sleep):
/// a deadline handed to the driver, which waits in `epoll_wait` at no cost.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// spool::block_on(spool::time::BusySleep::new(Duration::from_millis(10))); // burns a core for 10 ms
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// ```
#[derive(Debug, Clone)]
#[must_use = "futures do nothing unless awaited"]
pub struct BusySleep {
    start_time: Instant,
    duration: Duration,
}

impl BusySleep {
    /// Starts the clock now, as the chapter's `AsyncSleep::new` did.
    ///
    /// ```
    /// let s = spool::time::BusySleep::new(std::time::Duration::from_millis(1));
    /// spool::block_on(s);
    /// ```
    pub fn new(duration: Duration) -> Self {
        BusySleep {
            start_time: Instant::now(),
            duration,
        }
    }
}

impl Future for BusySleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.start_time.elapsed() >= self.duration {
            Poll::Ready(())
        } else {
            // "Poll me again right away": the self-wake loop that keeps a core at 100%.
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
