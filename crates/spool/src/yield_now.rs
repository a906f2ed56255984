//! [`yield_now`]: let the other tasks run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Gives up the worker once, and lets every other ready task run first: the task is *deferred*
/// (set aside on its worker, not stealable) until that worker has nothing else to run — its LIFO
/// slot, its queue *and* the runtime's injection queue (tasks spawned from outside) are empty. A
/// worker that never runs dry still runs its deferred tasks on every maintenance tick (see
/// `scheduler/worker.rs`), so a yielder always makes progress.
///
/// The future wakes itself and returns `Pending` once. async-task sees a task woken while it was
/// running and tells the schedule function so (`ScheduleInfo::woken_while_running`), which is how
/// Spool knows to defer it. (Any task woken during its own poll, by itself or another thread, is
/// deferred the same way.)
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
