//! loom models of the runtime's hand-written concurrency, run on the library's own code built
//! with loom's primitives (`src/loom/`), as tokio's `runtime/tests/loom_*.rs`:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
//!     cargo test -p spool --release --lib
//! ```
//!
//! Each model replaces only what loom cannot run (the poller's `epoll_wait`, a socket, the task
//! queues) with a small stand-in, and says which.

mod loom_idle;
mod loom_io;
mod loom_park;
mod loom_timer;

use ::loom::sync::{Condvar, Mutex};

/// The poller, where loom cannot run `epoll_wait`: `wait` blocks until `notify` (as
/// `epoll_wait` with no timer would), and a notification is sticky (as the driver's mio waker
/// is: its eventfd's edge stays in epoll's ready list until a wait collects it).
#[derive(Default)]
struct FakePoller {
    notified: Mutex<bool>,
    cv: Condvar,
}

impl FakePoller {
    fn wait(&self) {
        let mut notified = self.notified.lock().unwrap();
        while !*notified {
            notified = self.cv.wait(notified).unwrap();
        }
        *notified = false;
    }

    fn notify(&self) {
        *self.notified.lock().unwrap() = true;
        self.cv.notify_one();
    }
}
