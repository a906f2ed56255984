//! The driver: the one place an idle runtime waits, for I/O and for its timers at once.
//!
//! A [`polling::Poller`] (epoll on Linux) plus the [`TimerQueue`]. A worker with nothing to do
//! tries to take the driver ([`Driver::try_lock`]); if it gets it, it blocks in
//! `poller.wait(timeout = nearest timer deadline)` ([`DriverGuard::turn`]), so a runtime full of
//! sleeping tasks costs no CPU at all until the first deadline. On return it dispatches I/O events
//! and fires the expired timers, whose tasks land on its own queue. The other idle workers sleep
//! on their condvars (see [`crate::scheduler::park`]).
//!
//! Waking the holder is [`Driver::unpark`]: `poller.notify()`, an eventfd write that makes the
//! current (or the next) `epoll_wait` return. polling v3 arms a timerfd for the timeout, so the
//! resolution is sub-millisecond, not epoll's whole milliseconds.
//!
//! Busy workers must still fire due timers: every few dozen ticks a worker try-locks the driver and
//! turns it with a zero timeout (maintenance), see [`crate::scheduler::worker`].
//!
//! # The hook for the I/O reactor
//!
//! The reactor adds sources to the same poller, so that the same single wait covers sockets,
//! timers and wake-ups:
//!
//! 1. Keep a `slab` of per-source state (`ScheduledIo`: readiness bits + reader and writer wakers)
//!    in the driver; registering a source inserts into it and calls
//!    `poller.add(&fd, polling::Event::all(key))` (or `add_with_mode(.., PollMode::Edge)`), with
//!    `key` the slab index. polling reserves `usize::MAX` for its own notifier, so any slab key is
//!    free to use.
//! 2. Make [`Driver::has_io`] return `true` while sources are registered, so that zero-timeout
//!    maintenance turns really poll the kernel (they skip the syscall while there are none).
//! 3. Fill in [`DriverGuard::dispatch`]: look the event's `key` up in the slab, set its readiness
//!    and wake the wakers it holds. Dispatch runs on a worker thread, so the woken tasks go to that
//!    worker's own queue, exactly like fired timers.

use std::io;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::task::Waker;
use std::time::{Duration, Instant};

use polling::{Event, Events, Poller};

use crate::time::timers::{TimerKey, TimerQueue};

/// Poller + timers of one runtime.
#[derive(Debug)]
pub(crate) struct Driver {
    poller: Poller,
    timers: TimerQueue,
    /// Held by whoever turns the driver; `try_lock` decides who waits in it.
    turn: Mutex<Events>,
}

/// The right to turn the driver, held by one thread at a time.
#[derive(Debug)]
pub(crate) struct DriverGuard<'a> {
    driver: &'a Driver,
    events: MutexGuard<'a, Events>,
}

impl Driver {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Driver {
            poller: Poller::new()?,
            timers: TimerQueue::new(),
            turn: Mutex::new(Events::new()),
        })
    }

    /// Takes the driver if nobody holds it.
    pub(crate) fn try_lock(&self) -> Option<DriverGuard<'_>> {
        let events = match self.turn.try_lock() {
            Ok(events) => events,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(DriverGuard {
            driver: self,
            events,
        })
    }

    /// Interrupts the wait of the driver's holder (or makes its next wait return at once).
    pub(crate) fn unpark(&self) {
        if let Err(err) = self.poller.notify() {
            tracing::error!(%err, "spool: failed to notify the poller");
        }
    }

    /// Registers a timer; wakes the holder if this deadline comes before the one it waits for.
    pub(crate) fn insert_timer(&self, deadline: Instant, waker: Waker) -> TimerKey {
        let (key, notify) = self.timers.insert(deadline, waker);
        if notify {
            self.unpark();
        }
        key
    }

    pub(crate) fn timers(&self) -> &TimerQueue {
        &self.timers
    }

    /// Whether any I/O source is registered. Always `false` until the reactor lands: then a
    /// zero-timeout turn need not enter the kernel at all.
    pub(crate) fn has_io(&self) -> bool {
        false
    }
}

impl DriverGuard<'_> {
    /// One turn: block until an I/O event, a notification, the nearest timer deadline or
    /// `max_wait` (whichever comes first; `None` = no limit but the timers), dispatch the events,
    /// then fire the expired timers. Returns how many timers fired.
    pub(crate) fn turn(&mut self, max_wait: Option<Duration>) -> usize {
        let driver = self.driver;
        let timeout = driver.timers.begin_wait(max_wait);
        let skip_poll = timeout == Some(Duration::ZERO) && !driver.has_io();
        if !skip_poll {
            self.events.clear();
            match driver.poller.wait(&mut self.events, timeout) {
                Ok(_) => {
                    // Collected first: dispatch may need `&mut self` once it has state.
                    let ready: Vec<Event> = self.events.iter().collect();
                    for event in ready {
                        self.dispatch(event);
                    }
                }
                Err(err) => {
                    // Should never happen with a healthy epoll fd. Sleep a little rather than
                    // turning a broken poller into a busy loop.
                    tracing::error!(%err, "spool: poller wait failed");
                    std::thread::sleep(
                        timeout
                            .unwrap_or(Duration::from_millis(10))
                            .min(Duration::from_millis(10)),
                    );
                }
            }
        }
        driver.timers.end_wait();
        driver.timers.fire_expired(Instant::now())
    }

    /// Dispatches one I/O event to the source registered under `event.key`. No sources exist
    /// yet: this is the reactor's hook (see the module docs).
    fn dispatch(&mut self, event: Event) {
        tracing::trace!(
            key = event.key,
            "spool: I/O event with no registered source"
        );
    }
}
