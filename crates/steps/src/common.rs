//! What every step shares and no step is about: `block_on`, `yield_now`, the worker count, and
//! a lock that survives a poisoned mutex.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

/// Runs a future to completion on the calling thread: the chapter's `block_on`, from
/// futures-lite. It parks the thread between polls; the tasks it waits for run elsewhere.
pub use futures_lite::future::block_on;

/// How many worker threads the multi-threaded steps (3 to 8) start: one per core, from 2 to 8.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// Locks `mutex`; a panic while it was held leaves queues and lists whole (every change is one
/// call), so a poisoned lock is still good to use.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lets other tasks run: pending once (waking itself first), then ready.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
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
        // Back of the queue: whatever the step's schedule function does with a wake.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
