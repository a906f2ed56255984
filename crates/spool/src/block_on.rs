//! [`block_on`]: run a future to completion on the calling thread.
//!
//! The chapter used `futures_lite::future::block_on` to wait for its tasks; this is the same
//! mechanism in a dozen lines. The waker unparks this thread; between polls the thread sleeps in
//! `parking::Parker::park` (a futex), so a `block_on` waiting for a task or a timer costs nothing.
//! Timers still fire: they live in a runtime's driver (the default runtime's, outside any
//! runtime), whose parked worker waits for the deadline and calls our waker.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Wakes the blocked thread.
struct Unparker(parking::Unparker);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` on the calling thread until it completes, and returns its output.
///
/// Tasks it spawns with [`spool::spawn`](crate::spawn) go to the current runtime if the thread is
/// in one (see [`Runtime::block_on`](crate::Runtime::block_on)), else to the default runtime;
/// its timers likewise.
///
/// # Panics
///
/// When called on a worker thread of a Spool runtime: blocking a worker until some task
/// completes can deadlock the runtime (that task might be queued behind us). Await the future
/// instead, or call it from [`spawn_blocking`](crate::spawn_blocking).
///
/// ```
/// let task = spool::spawn(async { 1 + 2 });
/// assert_eq!(spool::block_on(task), Ok(3));
/// ```
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    if crate::runtime::context::is_worker() {
        panic!(
            "spool::block_on called on a runtime worker thread; \
             `.await` the future instead, or run it in spool::spawn_blocking"
        );
    }
    let (parker, unparker) = parking::pair();
    let waker = Waker::from(Arc::new(Unparker(unparker)));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        parker.park();
    }
}
