//! [`Registration`]: a source owned together with its place in the poller, so that it is
//! always removed from the poller *before* it is closed.
//!
//! Why the order matters: epoll tracks the *open file*, not the fd number. An fd closed while
//! registered stays in the interest list as long as another fd — a `dup`, a forked child's
//! copy — points to the same open file, and keeps producing events for a key we may have given
//! to somebody else since. mio's `Registry::register` is safe (a stray event is a logic error, not
//! memory unsafety, and the generation in our keys filters it, see `sources.rs`), but the rule is
//! still kept by construction here: a `Registration` *owns* its source, the only way to drop the
//! source is to drop (or unwrap) the registration, and both deregister it first.
//!
//! Registration happens once per source, for both directions (mio always registers `EPOLLET`;
//! `Interest::READABLE` adds `EPOLLIN | EPOLLRDHUP`, `WRITABLE` adds `EPOLLOUT`; why: the module
//! docs of [`crate::io`]): after that no `epoll_ctl` is ever needed again.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::scheduled::{Direction, ReadyEvent, ScheduledIo};
use crate::driver::Driver;

/// A source registered with a runtime's driver. Deregisters on drop.
#[derive(Debug)]
pub(crate) struct Registration<T: AsFd> {
    /// Always `Some`, except during `into_inner` and `drop`.
    io: Option<T>,
    key: usize,
    state: Arc<ScheduledIo>,
    driver: Arc<Driver>,
}

impl<T: AsFd> Registration<T> {
    /// Registers `io` (which must be in non-blocking mode) with the driver of the current
    /// runtime (else the default runtime's), with `initial` readiness bits.
    pub(crate) fn new(io: T, initial: usize) -> io::Result<Self> {
        Self::with_driver(io, initial, crate::runtime::context::driver())
    }

    /// Registers `io` with `driver`: the one `epoll_ctl(ADD)` of its life.
    pub(crate) fn with_driver(io: T, initial: usize, driver: Arc<Driver>) -> io::Result<Self> {
        let (key, state) = driver.sources().insert(initial)?;
        // `io` moves into the `Registration` built below and nothing else owns it; it is handed
        // out only by reference (`get_ref`) or through `into_inner`, which deregisters it first,
        // and `Drop` deregisters it before dropping it. If the add fails, nothing was registered
        // and `io` is dropped here unregistered.
        let added = driver.registry().register(
            &mut SourceFd(&io.as_fd().as_raw_fd()),
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(err) = added {
            driver.sources().remove(key);
            return Err(err);
        }
        Ok(Registration {
            io: Some(io),
            key,
            state,
            driver,
        })
    }

    /// The driver the source is registered with.
    pub(crate) fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    /// The source.
    pub(crate) fn get_ref(&self) -> &T {
        self.io
            .as_ref()
            .expect("Registration: source taken (only into_inner/drop take it)")
    }

    /// The source, mutably.
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.io
            .as_mut()
            .expect("Registration: source taken (only into_inner/drop take it)")
    }

    /// Deregisters and returns the source.
    pub(crate) fn into_inner(mut self) -> T {
        self.deregister()
            .expect("Registration: source taken (only into_inner/drop take it)")
    }

    /// See [`ScheduledIo::poll_ready`].
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.state.poll_ready(cx, direction)
    }

    /// See [`ScheduledIo::ready_now`].
    pub(crate) fn ready_now(&self, direction: Direction) -> Option<ReadyEvent> {
        self.state.ready_now(direction)
    }

    /// See [`ScheduledIo::clear_readiness`].
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.state.clear_readiness(event);
    }

    /// See [`ScheduledIo::clear_after_short_read`].
    pub(crate) fn clear_after_short_read(&self, event: ReadyEvent) {
        self.state.clear_after_short_read(event);
    }

    /// Deletes the source from the poller and the table, and hands it back (still open).
    fn deregister(&mut self) -> Option<T> {
        let io = self.io.take()?;
        let deleted = self
            .driver
            .registry()
            .deregister(&mut SourceFd(&io.as_fd().as_raw_fd()));
        if let Err(err) = deleted {
            // Cannot happen for a source we registered and still own; if it does, the source is
            // still closed after this (the kernel then drops it from the interest list itself
            // unless the fd was duplicated), and its stale events are filtered by generation.
            tracing::warn!(%err, "spool: failed to remove an I/O source from the poller");
        }
        self.driver.sources().remove(self.key);
        Some(io)
    }
}

impl<T: AsFd> Drop for Registration<T> {
    fn drop(&mut self) {
        // Deleted from the poller first, closed (dropped) second.
        drop(self.deregister());
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The invariant registration keeps, observed from the kernel's side: after the
    /// registration is dropped, its socket is no longer in the epoll interest list, even though a
    /// duplicate fd keeps the socket itself open (epoll tracks the open file, not the fd: a close
    /// without `EPOLL_CTL_DEL` would leave it there, reporting events).
    #[test]
    fn dropping_deletes_the_source_before_closing_it() {
        let driver = Arc::new(Driver::new().unwrap());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let duplicate = listener.try_clone().unwrap(); // dup(2): the socket outlives our fd
        let registration = Registration::with_driver(listener, 0, driver.clone()).unwrap();
        assert_eq!(driver.sources().len(), 1);

        // Registered: a pending connection produces an event.
        let _first = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(driver.wait_for_test(Duration::from_secs(5)), 1);

        drop(registration);
        assert_eq!(driver.sources().len(), 0);
        // Make the (still open) socket readable again: nothing may be reported any more.
        drop(duplicate.accept().unwrap());
        let _second = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(
            driver.wait_for_test(Duration::from_millis(100)),
            0,
            "the dropped source is still registered"
        );
    }
}
