//! Parking a worker: on its own condvar, or inside the driver when it is free.
//!
//! Only one thread can wait in the driver (`epoll_wait` with the next timer deadline as its
//! timeout); the other idle workers sleep on a condvar. Whoever wakes a worker does not know which
//! kind of sleep it is in, so each worker's [`Parker`] records it in one atomic word:
//!
//! ```text
//!   EMPTY ──park_condvar──▶ PARKED_CONDVAR ─┐
//!     │                                     ├─ unpark: swap(NOTIFIED), then notify the condvar
//!     └───park_driver────▶ PARKED_DRIVER ───┘           or the poller, per the old state
//!   NOTIFIED: a wake-up arrived before (or while) parking; the next park returns at once.
//! ```
//!
//! `unpark` swaps the state to `NOTIFIED` and acts on what it replaced: nothing to do for `EMPTY`
//! (the worker is running and will see `NOTIFIED` when it next parks), the condvar for
//! `PARKED_CONDVAR` (taking the mutex first, so the notification cannot slip in between the
//! parker's check and its wait), the poller's `notify()` for `PARKED_DRIVER` (an eventfd write,
//! which stays pending if the parker has not reached `epoll_wait` yet). This is tokio's
//! `park.rs`, minus the unsafe. `src/tests/loom_park.rs` checks that no wake-up is lost.

use crate::loom::{lock, AtomicUsize, Condvar, Mutex, Ordering::SeqCst};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// One worker's parking spot.
#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Self {
        Parker {
            state: AtomicUsize::new(EMPTY),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// Consumes a pending notification, if any. The fast path before choosing where to sleep.
    pub(crate) fn try_consume_notification(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
    }

    /// Whether this worker is waiting in the driver right now (a hint: wake others first).
    pub(crate) fn is_in_driver(&self) -> bool {
        self.state.load(SeqCst) == PARKED_DRIVER
    }

    /// Sleeps on the condvar until [`unpark`](Self::unpark).
    pub(crate) fn park_condvar(&self) {
        let mut guard = lock(&self.mutex);
        match self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
        {
            Ok(_) => {}
            Err(_) => {
                // NOTIFIED: consume it and return without sleeping. A `swap`, not a `store`:
                // `unpark` may have run again since our CAS read NOTIFIED, and we must read
                // *its* write to see what it did before unparking us (a shutdown flag, say).
                // loom found the `store` version losing exactly that (tokio has the same note).
                self.state.swap(EMPTY, SeqCst);
                return;
            }
        }
        loop {
            guard = self
                .condvar
                .wait(guard)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return;
            }
            // A spurious condvar wake-up: sleep again.
        }
    }

    /// Sleeps in the driver: `wait` is one driver turn (the caller holds the driver). Returns when
    /// the turn returns: a notification, a timer deadline, an I/O event or a spurious wake-up.
    pub(crate) fn park_driver(&self, wait: impl FnOnce()) {
        if self
            .state
            .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
            .is_err()
        {
            // NOTIFIED already: do not wait at all (`swap`: see `park_condvar`).
            self.state.swap(EMPTY, SeqCst);
            return;
        }
        wait();
        // Back to EMPTY, consuming a notification that may have arrived during the turn.
        self.state.swap(EMPTY, SeqCst);
    }

    /// Wakes the worker, wherever it sleeps; if it is running, its next park returns at once.
    /// `wake_driver` interrupts the driver's wait (the poller's `notify`).
    pub(crate) fn unpark(&self, wake_driver: impl FnOnce()) {
        match self.state.swap(NOTIFIED, SeqCst) {
            PARKED_CONDVAR => {
                // Taking the lock orders this notification after the parker's wait began.
                drop(lock(&self.mutex));
                self.condvar.notify_one();
            }
            PARKED_DRIVER => wake_driver(),
            _ => {} // EMPTY or NOTIFIED: it will see NOTIFIED when it parks.
        }
    }
}
