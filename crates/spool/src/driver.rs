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
//! # The I/O reactor
//!
//! Sockets are added to the same poller ([`crate::io`]), so that the same single wait covers
//! sockets, timers and wake-ups:
//!
//! 1. The driver keeps the table of sources (`io/sources.rs`: a slab of `ScheduledIo`, readiness
//!    bits + reader and writer wakers). Registering a source inserts into it and adds the fd to
//!    the poller once, edge-triggered, with the slab index (+ a generation) as its key.
//! 2. [`Driver::has_io`] is `true` while sources are registered, so that zero-timeout
//!    maintenance turns really poll the kernel (they skip the syscall while there are none).
//! 3. [`DriverGuard::turn`] hands the events to the table, which sets readiness and collects the
//!    wakers into a buffer kept across turns; they are woken once the table's lock is released.
//!    The turn runs on a worker thread, so the woken tasks go to that worker's own queue, exactly
//!    like fired timers: an I/O event costs no cross-thread wake-up.

use std::io;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::task::Waker;
use std::time::{Duration, Instant};

use polling::{Events, Poller};

use crate::io::sources::Sources;
use crate::time::timers::{TimerKey, TimerQueue};

/// Poller + timers of one runtime.
#[derive(Debug)]
pub(crate) struct Driver {
    poller: Poller,
    timers: TimerQueue,
    sources: Sources,
    /// Held by whoever turns the driver; `try_lock` decides who waits in it.
    turn: Mutex<TurnBuffers>,
}

/// What a turn fills and empties, kept between turns so that a turn allocates nothing.
#[derive(Debug)]
struct TurnBuffers {
    events: Events,
    wakers: Vec<Waker>,
}

/// The right to turn the driver, held by one thread at a time.
#[derive(Debug)]
pub(crate) struct DriverGuard<'a> {
    driver: &'a Driver,
    buffers: MutexGuard<'a, TurnBuffers>,
}

impl Driver {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Driver {
            poller: Poller::new()?,
            timers: TimerQueue::new(),
            sources: Sources::default(),
            turn: Mutex::new(TurnBuffers {
                events: Events::new(),
                wakers: Vec::new(),
            }),
        })
    }

    /// Takes the driver if nobody holds it.
    pub(crate) fn try_lock(&self) -> Option<DriverGuard<'_>> {
        let buffers = match self.turn.try_lock() {
            Ok(buffers) => buffers,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(DriverGuard {
            driver: self,
            buffers,
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

    /// The poller, for registering sources (`io/registration.rs`).
    pub(crate) fn poller(&self) -> &Poller {
        &self.poller
    }

    /// The table of registered I/O sources.
    pub(crate) fn sources(&self) -> &Sources {
        &self.sources
    }

    /// Whether any I/O source is registered. When none is, a zero-timeout turn need not enter
    /// the kernel at all.
    pub(crate) fn has_io(&self) -> bool {
        self.sources.len() > 0
    }

    /// The runtime is shutting down: every I/O operation still waiting (or started later) fails
    /// with an error instead of waiting for a turn that will never come.
    pub(crate) fn shutdown_io(&self) {
        let mut wakers = Vec::new();
        self.sources.shutdown(&mut wakers);
        for waker in wakers {
            waker.wake();
        }
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
            self.buffers.events.clear();
            match driver.poller.wait(&mut self.buffers.events, timeout) {
                Ok(_) => self.dispatch(),
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

    /// Hands the turn's events to the sources and wakes their waiters. The wakers are collected
    /// under the sources' lock and woken after it is released: a wake-up may drop a task (at
    /// shutdown), whose sockets then deregister, which takes that lock.
    fn dispatch(&mut self) {
        let TurnBuffers { events, wakers } = &mut *self.buffers;
        if events.is_empty() {
            return;
        }
        self.driver.sources.dispatch(events.iter(), wakers);
        for waker in wakers.drain(..) {
            waker.wake();
        }
    }
}
