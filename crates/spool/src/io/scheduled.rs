//! [`ScheduledIo`]: what the reactor knows about one source — is it readable, is it writable,
//! and which task waits for each.
//!
//! # Readiness is a hint, kept until an operation says otherwise
//!
//! Sources are registered edge-triggered (why, and why the reactor asks for `EPOLLRDHUP`: the
//! module docs of [`crate::io`]), so the reactor remembers the state between edges: an event sets
//! a bit here, and the bit stays set until an operation proves the source drained — a
//! `WouldBlock` ([`ScheduledIo::clear_readiness`]), or a short stream read while the peer has not
//! closed (`READ_CLOSED` unset, [`ScheduledIo::clear_after_short_read`]). A read that returns 0
//! clears nothing: end-of-stream is sticky, every later read returns 0 at once.
//!
//! # The lost-wakeup race, and the tick
//!
//! Clearing is racy: a task reads, gets `WouldBlock`, and clears `READABLE` — but data may have
//! arrived *between* the read and the clear, and its edge already set the bit. Clearing it then
//! would throw away the only notification the kernel will send: the task would wait forever with
//! data in the socket. tokio's answer, used here: the word holding the bits also holds a
//! **tick**, a counter the reactor bumps on every event. A task remembers the tick it saw when it
//! found the source ready ([`ReadyEvent`]); [`ScheduledIo::clear_readiness`] clears only if the
//! tick is still the same (a compare-and-swap). If an event came in between, the tick moved, the
//! bit stays set, and the task simply tries the operation once more.
//!
//! # Wakers
//!
//! One reader and one writer waker per source (a socket is read by one task and written by one
//! task at a time; two concurrent readers of the same socket would take turns being woken, as in
//! tokio's `PollEvented`). They live behind a mutex that is uncontended in practice: the reactor
//! takes it once per event, the task once per `Pending`. The reactor sets the bits *before*
//! taking the lock, the task registers its waker and re-reads the bits *under* it, so one of the
//! two always sees the other (`src/tests/loom_io.rs` checks it).

use std::io;
use std::task::{Context, Poll, Waker};

use crate::loom::{lock, AtomicUsize, Mutex, Ordering};

/// The source can be read (or accepted from) without blocking, as far as we know.
pub(crate) const READABLE: usize = 0b001;
/// The source can be written without blocking, as far as we know.
pub(crate) const WRITABLE: usize = 0b010;
/// The runtime shut down: no event will ever come again.
const SHUTDOWN: usize = 0b100;
/// The peer closed its write side (`EPOLLRDHUP`), or the socket hung up or failed: reads will
/// reach the end (or the error) and no further read edge may come. Sticky. A short read must not
/// clear `READABLE` once this is set.
pub(crate) const READ_CLOSED: usize = 0b1000;
const READY_MASK: usize = READABLE | WRITABLE | SHUTDOWN | READ_CLOSED;
/// The tick lives above the readiness bits; 16 bits of it (it only has to differ between an
/// observation and the clear that follows it, a few microseconds later).
const TICK_SHIFT: u32 = 16;
const TICK_MASK: usize = 0xFFFF;

/// Which half of a source an operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Read, receive, accept.
    Read,
    /// Write, send, connect.
    Write,
}

impl Direction {
    fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// "The source was ready in this direction at this tick": what a task must hand back to
/// [`ScheduledIo::clear_readiness`] after a `WouldBlock`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadyEvent {
    tick: usize,
    ready: usize,
}

#[derive(Debug, Default)]
struct Waiters {
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// Readiness and waiters of one registered source.
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    /// `tick << TICK_SHIFT | READ_CLOSED? | SHUTDOWN? | WRITABLE? | READABLE?`
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
}

fn tick_of(word: usize) -> usize {
    (word >> TICK_SHIFT) & TICK_MASK
}

fn shutdown_error() -> io::Error {
    io::Error::other("the spool runtime this I/O source belongs to has shut down")
}

impl ScheduledIo {
    /// A source with the given readiness bits already set. New sockets start optimistic
    /// (`READABLE | WRITABLE`): the first operation simply tries the syscall, which saves a
    /// round trip through the reactor for a connection whose request is already waiting; a
    /// `WouldBlock` clears the guess. A connecting socket starts with nothing (it must wait for
    /// its first writable edge).
    pub(crate) fn new(initial: usize) -> Self {
        ScheduledIo {
            readiness: AtomicUsize::new(initial & (READABLE | WRITABLE)),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// Reactor side: an event made the source `ready` (`READABLE`, `WRITABLE` or both, plus
    /// `READ_CLOSED` when the peer closed its side). Sets the bits, moves the tick, and hands the
    /// wakers waiting for those directions to `wake` (the caller wakes them after releasing its
    /// own locks).
    pub(crate) fn set_readiness(&self, ready: usize, mut wake: impl FnMut(Waker)) {
        let ready = ready & (READABLE | WRITABLE | READ_CLOSED);
        let mut current = self.readiness.load(Ordering::Acquire);
        loop {
            let tick = (tick_of(current) + 1) & TICK_MASK;
            let next = (tick << TICK_SHIFT) | (current & READY_MASK) | ready;
            match self.readiness.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let mut waiters = lock(&self.waiters);
        if ready & READABLE != 0 {
            if let Some(waker) = waiters.reader.take() {
                wake(waker);
            }
        }
        if ready & WRITABLE != 0 {
            if let Some(waker) = waiters.writer.take() {
                wake(waker);
            }
        }
    }

    /// Reactor side: the runtime shut down. Every operation now fails, and both waiters are
    /// handed to `wake` so that they find out.
    pub(crate) fn shutdown(&self, mut wake: impl FnMut(Waker)) {
        self.readiness.fetch_or(SHUTDOWN, Ordering::AcqRel);
        let mut waiters = lock(&self.waiters);
        for waker in [waiters.reader.take(), waiters.writer.take()]
            .into_iter()
            .flatten()
        {
            wake(waker);
        }
    }

    /// Task side: is the source ready in `direction`? If not, the task's waker is stored and
    /// the next event for that direction wakes it.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        // Fast path, no lock: ready already (the common case under load).
        if let Some(ready) = Self::check(self.readiness.load(Ordering::Acquire), direction) {
            return Poll::Ready(ready);
        }
        let mut waiters = lock(&self.waiters);
        let slot = match direction {
            Direction::Read => &mut waiters.reader,
            Direction::Write => &mut waiters.writer,
        };
        match slot {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        // Re-check under the lock: an event that arrived after the load above may have found no
        // waker to wake. It set its bits before taking this lock, so we see them now.
        match Self::check(self.readiness.load(Ordering::Acquire), direction) {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }

    fn check(word: usize, direction: Direction) -> Option<io::Result<ReadyEvent>> {
        if word & SHUTDOWN != 0 {
            return Some(Err(shutdown_error()));
        }
        let ready = word & direction.mask();
        (ready != 0).then(|| {
            Ok(ReadyEvent {
                tick: tick_of(word),
                ready,
            })
        })
    }

    /// Task side: an operation returned `WouldBlock` after `event` said the source was ready.
    /// Clears that readiness, unless an event arrived since (the tick moved): then the bit
    /// stays, and the caller will simply try again.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.clear_unless(event, 0);
    }

    /// Task side: a stream read after `event` returned fewer bytes than asked, but not 0: the
    /// receive queue is drained. Clears `READABLE` like a `WouldBlock` would (saving the `read`
    /// that would have returned it), except when the peer has closed its side (`READ_CLOSED`):
    /// then the end of the stream is waiting behind the data and no edge will announce it, so
    /// the bit stays and the next read returns 0.
    pub(crate) fn clear_after_short_read(&self, event: ReadyEvent) {
        self.clear_unless(event, READ_CLOSED);
    }

    /// Clears `event`'s bits if the tick has not moved and none of the `keep_if` bits is set.
    fn clear_unless(&self, event: ReadyEvent, keep_if: usize) {
        let mut current = self.readiness.load(Ordering::Acquire);
        while tick_of(current) == event.tick && current & keep_if == 0 {
            match self.readiness.compare_exchange_weak(
                current,
                current & !event.ready,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Task side, no waiting: the readiness event for `direction` if it is set now (an error
    /// after shutdown counts as ready: the operation will fail on its own).
    pub(crate) fn ready_now(&self, direction: Direction) -> Option<ReadyEvent> {
        match Self::check(self.readiness.load(Ordering::Acquire), direction)? {
            Ok(event) => Some(event),
            Err(_) => Some(ReadyEvent {
                tick: usize::MAX,
                ready: 0,
            }),
        }
    }

    /// Whether `direction`'s bit is set now (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_ready(&self, direction: Direction) -> bool {
        self.readiness.load(Ordering::Acquire) & direction.mask() != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize as StdAtomic, Ordering::SeqCst};
    use std::sync::Arc;
    use std::task::Wake;

    #[derive(Default)]
    struct CountingWaker(StdAtomic);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn clear_is_skipped_when_an_event_arrived_in_between() {
        let io = ScheduledIo::new(READABLE);
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let seen = match io.poll_ready(&mut cx, Direction::Read) {
            Poll::Ready(Ok(event)) => event,
            other => panic!("expected ready, got {other:?}"),
        };
        // The read returned WouldBlock, but an edge came in before the clear.
        io.set_readiness(READABLE, drop);
        io.clear_readiness(seen);
        assert!(io.is_ready(Direction::Read), "the newer event must survive");
        // Without an event in between, the clear happens, and the task waits.
        let seen = match io.poll_ready(&mut cx, Direction::Read) {
            Poll::Ready(Ok(event)) => event,
            other => panic!("expected ready, got {other:?}"),
        };
        io.clear_readiness(seen);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
        // An event for the other direction does not wake the reader.
        io.set_readiness(WRITABLE, |w| w.wake());
        assert_eq!(counter.0.load(SeqCst), 0);
        io.set_readiness(READABLE, |w| w.wake());
        assert_eq!(counter.0.load(SeqCst), 1);
    }

    fn ready_now(io: &ScheduledIo, cx: &mut Context<'_>) -> ReadyEvent {
        match io.poll_ready(cx, Direction::Read) {
            Poll::Ready(Ok(event)) => event,
            other => panic!("expected ready, got {other:?}"),
        }
    }

    #[test]
    fn a_short_read_clears_readable_unless_the_peer_closed() {
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        let mut cx = Context::from_waker(&waker);
        // Data only: a short read proves the socket drained.
        let io = ScheduledIo::new(0);
        io.set_readiness(READABLE, drop);
        io.clear_after_short_read(ready_now(&io, &mut cx));
        assert!(!io.is_ready(Direction::Read));
        // Data and FIN in one edge: the bit must survive, the next read finds the EOF.
        io.set_readiness(READABLE | READ_CLOSED, drop);
        let seen = ready_now(&io, &mut cx);
        io.clear_after_short_read(seen);
        assert!(io.is_ready(Direction::Read), "EOF waiting behind the data");
        // READ_CLOSED is sticky: a later data-only edge does not reset it.
        io.set_readiness(READABLE, drop);
        io.clear_after_short_read(ready_now(&io, &mut cx));
        assert!(io.is_ready(Direction::Read));
        // A WouldBlock is authoritative (a source that is not a stream, say).
        io.clear_readiness(ready_now(&io, &mut cx));
        assert!(!io.is_ready(Direction::Read));
    }

    #[test]
    fn a_short_read_racing_with_an_edge_keeps_readable() {
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        let mut cx = Context::from_waker(&waker);
        let io = ScheduledIo::new(READABLE | WRITABLE);
        let seen = ready_now(&io, &mut cx);
        // The FIN's edge is dispatched between the short read and the clear.
        io.set_readiness(READABLE | READ_CLOSED, drop);
        io.clear_after_short_read(seen);
        assert!(io.is_ready(Direction::Read));
    }

    #[test]
    fn shutdown_fails_waiters_and_new_polls() {
        let io = ScheduledIo::new(0);
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(io.poll_ready(&mut cx, Direction::Write).is_pending());
        io.shutdown(|w| w.wake());
        assert_eq!(counter.0.load(SeqCst), 1);
        assert!(matches!(
            io.poll_ready(&mut cx, Direction::Read),
            Poll::Ready(Err(_))
        ));
    }
}
