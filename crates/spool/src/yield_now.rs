//! [`yield_now`]: let the other tasks run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Gives up the worker once: the task is re-queued at the **back** of its worker's queue (not in
/// the LIFO slot, which would run it again immediately), so every task queued before it runs
/// first.
///
/// The future wakes itself and returns `Pending` once. async-task sees a task woken while it was
/// running and tells the schedule function so (`ScheduleInfo::woken_while_running`), which is how
/// Spool knows to queue it at the back.
///
/// ```
/// let rt = spool::Runtime::new()?;
/// rt.block_on(rt.spawn(async {
///     for _ in 0..3 {
///         spool::yield_now().await;
///     }
/// }))
/// .unwrap();
/// # std::io::Result::Ok(())
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
///
/// ```
/// let y: spool::YieldNow = spool::yield_now();
/// spool::block_on(y);
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
