//! The driver: the one place an idle runtime waits, for I/O and for its timers at once.
//!
//! A [`mio::Poll`] (epoll on Linux) plus the [`TimerQueue`]. A worker with nothing to do
//! tries to take the driver ([`Driver::try_lock`]); if it gets it, it blocks in
//! `poll.poll(timeout = nearest timer deadline)` ([`DriverGuard::turn`]), so a runtime full of
//! sleeping tasks costs no CPU at all until the first deadline. On return it dispatches I/O events
//! and fires the expired timers, whose tasks land on its own queue. The other idle workers sleep
//! on their condvars (see `scheduler/park.rs`).
//!
//! Waking the holder is [`Driver::unpark`]: a [`mio::Waker`], an eventfd in the same epoll.
//! `wake()` is one `write(2)`; the event it raises stays in epoll's ready list until an
//! `epoll_wait` collects it, so a notification sent before the wait starts still makes it return
//! at once (it is sticky, `src/tests/loom_park.rs` relies on it). The eventfd is never read: every
//! write raises a new edge anyway (mio resets the counter in the rare case it would overflow).
//!
//! # Sub-millisecond timers: a timerfd in the same epoll
//!
//! `epoll_wait` takes its timeout in milliseconds, and mio rounds it *up* (a 0.3 ms wait becomes
//! 1 ms, never a 0 ms busy loop): on its own, a timer fires up to a millisecond late, and a
//! `sleep(300 µs)` takes 1.1 ms. So the driver also owns a **timerfd** (`CLOCK_MONOTONIC`, the
//! clock of `std::time::Instant`), registered in the same epoll under its own token:
//!
//! 1. before a blocking wait whose timeout has a sub-millisecond part, while at most
//!    [`PRECISE_TIMERS_MAX`] timers are registered, the turn arms the timerfd for exactly that
//!    timeout (`timerfd_settime`, nanosecond resolution), unless it is already armed for that
//!    instant;
//! 2. it then waits in `epoll_wait` as before, with the rounded-up timeout as a backstop: the
//!    timerfd's expiry is an event that ends the wait on time (the kernel's hrtimer; the
//!    thread's timer slack, 50 µs by default, is the remaining lateness);
//! 3. its event is ignored by the dispatch, like the waker's; the timerfd is never read (each
//!    expiry raises a new edge, as the eventfd's writes do), and a stale expiry costs at most
//!    one extra turn that fires nothing.
//!
//! Why the limit on the number of timers: a precise wake-up per deadline is what a program with a
//! few sleeps wants, but thousands of timers spread over a few milliseconds (a server's
//! timeouts, the `timers_fire` benchmark) would then cost one turn per deadline, where the
//! millisecond rounding fires them in batches, one turn per millisecond (as tokio's 1 ms wheel
//! does); with the timerfd on for them, `timers_fire` took about 2× as long. Past the limit the
//! driver goes back to that batching, and the lateness to up to a millisecond.
//!
//! Whole-millisecond timeouts, zero-timeout maintenance turns and waits without timers arm
//! nothing: a busy runtime pays no syscall for this, a blocking turn pays at most one
//! `timerfd_settime` (~1 µs, next to the wait and the wake-up it ends). The alternative,
//! `epoll_pwait2` (a `timespec` timeout, Linux 5.11), would save that syscall, but mio does not
//! call it and calling it ourselves means giving up mio's `Poll` for a hand-written epoll loop
//! (and `unsafe`); the figures, Spool beside tokio, are in `docs/benchmarks.md`, "Timer
//! precision" (`examples/timer_precision.rs`). If the timerfd cannot be created, the driver
//! falls back to millisecond timeouts.
//!
//! Busy workers must still fire due timers: every `MAINTENANCE_INTERVAL` ticks a worker try-locks
//! the driver and turns it with a zero timeout (maintenance, `scheduler/worker.rs`).
//!
//! # The I/O reactor
//!
//! Sockets are added to the same poller ([`crate::io`]), so that the same single wait covers
//! sockets, timers and wake-ups (why edge-triggered, and why `EPOLLRDHUP`: [`crate::io`]):
//!
//! 1. The driver keeps the table of sources (`io/sources.rs`: a slab of `ScheduledIo`, readiness
//!    bits + reader and writer wakers). Registering a source inserts into it and adds the fd to
//!    the poller once, with the slab index (+ a generation) as its key (mio's `Token`).
//! 2. [`Driver::has_io`] is `true` while sources are registered, so that zero-timeout
//!    maintenance turns really poll the kernel (they skip the syscall while there are none).
//! 3. [`DriverGuard::turn`] translates each event into readiness bits (`READABLE`, `WRITABLE`,
//!    and `READ_CLOSED` when the peer shut down its write side) and hands them to the table,
//!    which sets them and collects the wakers into a buffer kept across turns; they are woken
//!    once the table's lock is released.
//!    The turn runs on a worker thread, so the woken tasks go to that worker's own queue, exactly
//!    like fired timers: an I/O event costs no cross-thread wake-up.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::task::Waker;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Registry, Token};

use crate::io::scheduled::{READABLE, READ_CLOSED, WRITABLE};
use crate::io::sources::Sources;
use crate::time::timers::{TimerKey, TimerQueue};

/// The key of the driver's own waker; source keys never take it (`io/sources.rs`).
const WAKE_TOKEN: Token = Token(usize::MAX);
/// The key of the driver's timerfd; the top bit is never set in a source key either.
const TIMER_TOKEN: Token = Token(usize::MAX - 1);

/// Up to this many registered timers, the driver wakes at each deadline to the microsecond (the
/// timerfd); beyond, it batches them by the millisecond (module doc).
pub(crate) const PRECISE_TIMERS_MAX: usize = 64;

/// The key of the signal pipe ([`crate::signal`]); source keys never take it either.
const SIGNAL_TOKEN: Token = Token(usize::MAX - 2);

/// Events collected per `epoll_wait` (more stay in epoll's ready list for the next turn).
const EVENTS_CAPACITY: usize = 1024;

/// Poller + timers of one runtime.
#[derive(Debug)]
pub(crate) struct Driver {
    /// Adds and removes sources without the turn's lock (a `dup` of the `Poll`'s epoll fd).
    registry: Registry,
    /// Interrupts the wait (an eventfd in the same epoll).
    waker: mio::Waker,
    timers: TimerQueue,
    sources: Sources,
    /// This driver's duplicate of the signal pipe's read end, registered under `SIGNAL_TOKEN`
    /// by the first `Signal` created on this runtime ([`Driver::enable_signals`]).
    signals: Mutex<Option<std::os::unix::net::UnixStream>>,
    /// `signals` is set: turns must poll the kernel even with no source registered.
    signals_enabled: AtomicBool,
    /// Held by whoever turns the driver; `try_lock` decides who waits in it.
    turn: Mutex<TurnBuffers>,
}

/// What a turn fills and empties, kept between turns so that a turn allocates nothing — and the
/// `Poll` itself, which only the holder of the turn may wait on (`Poll::poll` takes `&mut`).
#[derive(Debug)]
struct TurnBuffers {
    poll: Poll,
    events: Events,
    wakers: Vec<Waker>,
    /// The fired timers' wakers, likewise.
    timer_wakers: Vec<Waker>,
    /// The sub-millisecond timer (module doc), `None` if it could not be created.
    timer_fd: Option<OwnedFd>,
    /// The instant it is armed for, if any.
    armed: Option<Instant>,
}

/// Creates the driver's timerfd and registers it in `registry` (module doc, step 1).
fn new_timer_fd(registry: &Registry) -> io::Result<OwnedFd> {
    use rustix::time::{timerfd_create, TimerfdClockId, TimerfdFlags};
    let fd = timerfd_create(
        TimerfdClockId::Monotonic,
        TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
    )?;
    registry.register(
        &mut mio::unix::SourceFd(&fd.as_raw_fd()),
        TIMER_TOKEN,
        mio::Interest::READABLE,
    )?;
    Ok(fd)
}

/// Arms `fd` to expire once, `after` from now.
fn arm_timer_fd(fd: &OwnedFd, after: Duration) -> io::Result<()> {
    use rustix::time::{timerfd_settime, Itimerspec, TimerfdTimerFlags, Timespec};
    let value = Itimerspec {
        it_interval: Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: Timespec {
            tv_sec: after.as_secs().try_into().unwrap_or(i64::MAX),
            // Never all zero: that would disarm it.
            tv_nsec: after.subsec_nanos().max(1).into(),
        },
    };
    timerfd_settime(fd.as_fd(), TimerfdTimerFlags::empty(), &value)?;
    Ok(())
}

/// The right to turn the driver, held by one thread at a time.
#[derive(Debug)]
pub(crate) struct DriverGuard<'a> {
    driver: &'a Driver,
    buffers: MutexGuard<'a, TurnBuffers>,
}

impl Driver {
    pub(crate) fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKE_TOKEN)?;
        let timer_fd = match new_timer_fd(poll.registry()) {
            Ok(fd) => Some(fd),
            Err(err) => {
                tracing::warn!(%err, "spool: no timerfd, timers keep a millisecond resolution");
                None
            }
        };
        Ok(Driver {
            registry,
            waker,
            timers: TimerQueue::new(),
            sources: Sources::default(),
            signals: Mutex::new(None),
            signals_enabled: AtomicBool::new(false),
            turn: Mutex::new(TurnBuffers {
                poll,
                events: Events::with_capacity(EVENTS_CAPACITY),
                wakers: Vec::new(),
                timer_wakers: Vec::new(),
                timer_fd,
                armed: None,
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
        if let Err(err) = self.waker.wake() {
            tracing::error!(%err, "spool: failed to wake the poller");
        }
    }

    /// Registers a timer; wakes the holder if this deadline comes before the one it waits for.
    /// `None`: a fire already went past `deadline`, nothing was registered (the timer is due).
    pub(crate) fn insert_timer(&self, deadline: Instant, waker: Waker) -> Option<TimerKey> {
        let (key, notify) = self.timers.insert(deadline, waker)?;
        if notify {
            self.unpark();
        }
        Some(key)
    }

    pub(crate) fn timers(&self) -> &TimerQueue {
        &self.timers
    }

    /// The poller's registry, for registering sources (`io/registration.rs`).
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The table of registered I/O sources.
    pub(crate) fn sources(&self) -> &Sources {
        &self.sources
    }

    /// Whether any I/O source is registered. When none is, a zero-timeout turn need not enter
    /// the kernel at all.
    pub(crate) fn has_io(&self) -> bool {
        self.sources.len() > 0 || self.signals_enabled.load(Ordering::Acquire)
    }

    /// Watches the process's signal pipe in this driver's poller, once (step 2 of
    /// [`crate::signal`]'s delivery). A byte already in the pipe is reported at once: epoll
    /// checks the readiness of a descriptor when it is added.
    pub(crate) fn enable_signals(&self) -> io::Result<()> {
        if self.signals_enabled.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut signals = crate::loom::std_lock(&self.signals);
        if signals.is_none() {
            let receiver = crate::signal::receiver()?;
            self.registry.register(
                &mut mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&receiver)),
                SIGNAL_TOKEN,
                mio::Interest::READABLE,
            )?;
            *signals = Some(receiver);
            self.signals_enabled.store(true, Ordering::Release);
        }
        Ok(())
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
        // The wakes of this turn come after its wait: dated afresh (`stats.rs`, rule 2), and
        // no later wake reuses their date.
        crate::stats::reset_turn_clock();
        let driver = self.driver;
        let mut timer_wakers = std::mem::take(&mut self.buffers.timer_wakers);
        let fired = driver.timers.wait(max_wait, &mut timer_wakers, |timeout| {
            if timeout == Some(Duration::ZERO) && !driver.has_io() {
                return; // nothing could be ready: skip the syscall
            }
            let TurnBuffers {
                poll,
                events,
                timer_fd,
                armed,
                ..
            } = &mut *self.buffers;
            if let (Some(fd), Some(t)) = (timer_fd.as_ref(), timeout) {
                // Step 1 of the module doc: only a sub-millisecond remainder needs it.
                if t.subsec_nanos() % 1_000_000 != 0 && driver.timers.len() <= PRECISE_TIMERS_MAX {
                    let target = Instant::now() + t;
                    // Already armed for (about) this instant, and not later: keep it.
                    let keep = armed
                        .is_some_and(|at| at <= target && target - at < Duration::from_micros(2));
                    if !keep {
                        match arm_timer_fd(fd, t) {
                            Ok(()) => *armed = Some(target),
                            Err(err) => tracing::error!(%err, "spool: timerfd_settime failed"),
                        }
                    }
                }
            }
            match poll.poll(events, timeout) {
                Ok(()) => self.dispatch(),
                // A signal cut the wait short: a turn with no events (the caller loops anyway).
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
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
        });
        crate::stats::reset_turn_clock();
        self.buffers.timer_wakers = timer_wakers;
        fired
    }

    /// Hands the turn's events to the sources and wakes their waiters. The wakers are collected
    /// under the sources' lock and woken after it is released: a wake-up may drop a task (at
    /// shutdown), whose sockets then deregister, which takes that lock.
    fn dispatch(&mut self) {
        let TurnBuffers { events, wakers, .. } = &mut *self.buffers;
        if events.is_empty() {
            return;
        }
        let mut signalled = false;
        let ready = events
            .iter()
            .filter(|event| {
                signalled |= event.token() == SIGNAL_TOKEN;
                let token = event.token();
                token != WAKE_TOKEN && token != TIMER_TOKEN && token != SIGNAL_TOKEN
            })
            .map(|event| (event.token().0, readiness_of(event)));
        self.driver.sources.dispatch(ready, wakers);
        if signalled {
            if let Some(receiver) = &*crate::loom::std_lock(&self.driver.signals) {
                crate::signal::broadcast(receiver, |waker| wakers.push(waker));
            }
        }
        for waker in wakers.drain(..) {
            waker.wake();
        }
    }
}

/// An epoll event as readiness bits.
///
/// An error (`EPOLLERR`) or a hang-up (`EPOLLHUP`) wakes both directions: the operation that
/// follows returns the error or the end of the stream. `READ_CLOSED` is set when the peer shut
/// down its write side (`EPOLLRDHUP`), on a hang-up and on an error: in each case no further
/// read edge may come (why that matters: [`crate::io`]).
fn readiness_of(event: &mio::event::Event) -> usize {
    let closed = event.is_read_closed() || event.is_error();
    let mut ready = 0;
    if closed {
        ready |= READABLE | READ_CLOSED;
    } else if event.is_readable() {
        ready |= READABLE;
    }
    if event.is_writable() || event.is_write_closed() || event.is_error() {
        ready |= WRITABLE;
    }
    ready
}

#[cfg(all(test, not(loom)))]
impl Driver {
    /// Waits once, without dispatching; returns how many source events came (tests).
    pub(crate) fn wait_for_test(&self, timeout: Duration) -> usize {
        let mut guard = self.try_lock().expect("the driver is free in this test");
        let TurnBuffers { poll, events, .. } = &mut *guard.buffers;
        poll.poll(events, Some(timeout)).unwrap();
        events
            .iter()
            .filter(|event| event.token() != WAKE_TOKEN && event.token() != TIMER_TOKEN)
            .count()
    }
}
