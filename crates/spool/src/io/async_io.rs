//! [`Async<T>`]: any non-blocking file descriptor, made awaitable.
//!
//! The whole trick of async I/O fits in [`Async::poll_io`]: try the operation; if the kernel says
//! `WouldBlock`, clear the source's readiness (unless an event arrived meanwhile, see
//! `io/scheduled.rs`) and wait for the next edge; else return what the operation
//! returned. [`TcpListener`](crate::net::TcpListener) and [`TcpStream`](crate::net::TcpStream)
//! are this, plus the socket calls.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;
use std::task::{ready, Context, Poll};

use super::registration::Registration;
use super::scheduled::{Direction, ReadyEvent, READABLE, WRITABLE};

/// A non-blocking I/O source registered with the runtime's reactor (smol's `Async`, tokio's
/// `AsyncFd`): run reads and writes on it that wait for readiness instead of blocking.
///
/// The source must already be in non-blocking mode (`set_nonblocking(true)` on std's types):
/// an operation that blocked would block the worker thread. It is registered with the reactor
/// of the runtime the calling thread is in (else the default runtime), once, edge-triggered,
/// and deregistered when the `Async` is dropped, before the source is closed. `T::as_fd` must
/// keep returning the same descriptor for as long as it is registered.
///
/// ```
/// use std::io::Read;
/// use std::os::unix::net::UnixStream;
/// use spool::io::Async;
///
/// let (a, mut b) = UnixStream::pair()?;
/// a.set_nonblocking(true)?;
/// let rt = spool::Runtime::new()?;
/// let n = rt.block_on(async {
///     let a = Async::new(a)?;
///     std::thread::spawn(move || std::io::Write::write_all(&mut b, b"hello"));
///     let mut buf = [0u8; 16];
///     a.read_with(|mut s| s.read(&mut buf)).await // waits for the data, no thread blocked
/// })?;
/// assert_eq!(n, 5);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct Async<T: AsFd> {
    registration: Registration<T>,
}

impl<T: AsFd> Async<T> {
    /// Registers `io` (in non-blocking mode) with the current runtime's reactor.
    ///
    /// # Errors
    ///
    /// If the poller refuses the descriptor (not pollable, e.g. a regular file) or the runtime
    /// has shut down.
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_nonblocking(true)?;
    /// let rt = spool::Runtime::new()?;
    /// let _guard = rt.handle().enter(); // register with `rt`
    /// let listener = spool::io::Async::new(listener)?;
    /// # drop(listener);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new(io: T) -> io::Result<Self> {
        // Optimistic: the first operation tries the syscall straight away.
        Self::with_readiness(io, READABLE | WRITABLE)
    }

    /// Registers with the given initial readiness (a connecting socket starts with none).
    pub(crate) fn with_readiness(io: T, initial: usize) -> io::Result<Self> {
        Ok(Async {
            registration: Registration::new(io, initial)?,
        })
    }

    /// Registers `io` with the same reactor as `self` (an accepted connection goes where its
    /// listener is, whichever thread accepts it), optimistically ready.
    pub(crate) fn sibling<U: AsFd>(&self, io: U) -> io::Result<Async<U>> {
        Ok(Async {
            registration: Registration::with_driver(
                io,
                READABLE | WRITABLE,
                self.registration.driver().clone(),
            )?,
        })
    }

    /// The source.
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_nonblocking(true)?;
    /// let listener = spool::io::Async::new(listener)?;
    /// println!("listening on {}", listener.get_ref().local_addr()?);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn get_ref(&self) -> &T {
        self.registration.get_ref()
    }

    /// Deregisters the source from the reactor and returns it (still non-blocking).
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_nonblocking(true)?;
    /// let listener = spool::io::Async::new(listener)?.into_inner();
    /// # drop(listener);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn into_inner(self) -> T {
        self.registration.into_inner()
    }

    /// Runs the read-side operation `op` until it does not return `WouldBlock`, waiting for the
    /// source to become readable in between. `op` may be called several times.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_nonblocking(true)?;
    /// let addr = listener.local_addr()?;
    /// let listener = spool::io::Async::new(listener)?;
    /// std::thread::spawn(move || std::net::TcpStream::connect(addr));
    /// let (_stream, peer) = listener.read_with(|l| l.accept()).await?;
    /// println!("{peer} connected");
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_read_with(cx, &mut op)).await
    }

    /// Runs the write-side operation `op` until it does not return `WouldBlock`, waiting for the
    /// source to become writable in between. `op` may be called several times.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let (a, _b) = UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// let a = spool::io::Async::new(a)?;
    /// let n = a.write_with(|mut s| s.write(b"ping")).await?;
    /// assert_eq!(n, 4);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_write_with(cx, &mut op)).await
    }

    /// The poll form of [`read_with`](Self::read_with), for implementing `poll_*` traits.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::os::unix::net::UnixStream;
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let (a, mut b) = UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// let a = spool::io::Async::new(a)?;
    /// std::io::Write::write_all(&mut b, b"x")?;
    /// let mut buf = [0u8; 1];
    /// let n = std::future::poll_fn(|cx| a.poll_read_with(cx, |mut s| s.read(&mut buf))).await?;
    /// assert_eq!(n, 1);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Read, op)
    }

    /// The poll form of [`write_with`](Self::write_with), for implementing `poll_*` traits.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let (a, _b) = UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// let a = spool::io::Async::new(a)?;
    /// let n = std::future::poll_fn(|cx| a.poll_write_with(cx, |mut s| s.write(b"y"))).await?;
    /// assert_eq!(n, 1);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Write, op)
    }

    /// Waits until the source is (believed) ready in `direction`; the event is handed back to
    /// [`clear`](Self::clear) after a `WouldBlock`. Spends the cooperative budget.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        // Every socket operation passes here: it spends the task's cooperative budget
        // (`task/coop.rs`), and gives the unit back if it has to wait.
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let ready = self.registration.poll_ready(cx, direction);
        if ready.is_pending() {
            crate::task::coop::refund();
        }
        ready
    }

    /// Clears the readiness `event` reported (unless a newer event arrived).
    pub(crate) fn clear(&self, event: ReadyEvent) {
        self.registration.clear_readiness(event);
    }

    /// A stream read into a buffer of `len` bytes: [`poll_io`](Self::poll_io) for reads, plus
    /// the short-read rule (see `io/scheduled.rs`): `0 < n < len` bytes read means the receive
    /// queue is drained, so readiness is cleared right away (unless the peer has closed its side),
    /// sparing the next read the syscall that would return `WouldBlock`. Only for stream sockets,
    /// where a read takes everything queued up to `len`; 0 (end of stream) clears nothing.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        mut op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let event = ready!(self.poll_ready(cx, Direction::Read))?;
            match op(self.get_ref()) {
                Ok(n) => {
                    if n > 0 && n < len {
                        self.registration.clear_after_short_read(event);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.clear(event),
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }

    /// Readiness-driven I/O: try `op` while the source is ready; on `WouldBlock`, clear and wait.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = ready!(self.poll_ready(cx, direction))?;
            match op(self.get_ref()) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.clear(event),
                result => return Poll::Ready(result),
            }
        }
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}
