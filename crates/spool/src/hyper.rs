//! hyper on Spool (feature `hyper`): what hyper needs from a runtime, supplied by this one.
//!
//! hyper 1.x owns no runtime. It asks for four things, as traits in `hyper::rt`:
//!
//! | hyper needs | Spool's answer |
//! |---|---|
//! | `Executor` (HTTP/2 runs each stream, and each connection's background work, as a task) | [`SpoolExecutor`]: [`spool::spawn`](crate::spawn) + detach |
//! | `Timer` + `Sleep` (header-read timeout, HTTP/2 keep-alive) | [`SpoolTimer`]: [`time::sleep`](crate::time::sleep), whose [`Sleep`](crate::time::Sleep) is `hyper::rt::Sleep` and is reset in place |
//! | `Read` + `Write` (the connection's bytes) | implemented on [`TcpStream`] itself: a zero-copy read into hyper's buffer, `writev` for vectored writes |
//!
//! ```
//! use std::convert::Infallible;
//! use http_body_util::Full;
//! use hyper::{body::Bytes, server::conn::http1, service::service_fn, Request, Response};
//! use spool::hyper::SpoolTimer;
//! use spool::net::{TcpListener, TcpStream};
//!
//! let rt = spool::Runtime::new()?;
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     spool::spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         let hello = service_fn(|_req: Request<hyper::body::Incoming>| async {
//!             Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("Hello, World!"))))
//!         });
//!         let conn = http1::Builder::new().timer(SpoolTimer::new()).serve_connection(stream, hello);
//!         conn.await.map_err(std::io::Error::other)
//!     })
//!     .detach();
//!
//!     // A plain HTTP/1.1 exchange, by hand.
//!     use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await?;
//!     let mut response = String::new();
//!     client.read_to_string(&mut response).await?;
//!     assert!(response.starts_with("HTTP/1.1 200 OK") && response.ends_with("Hello, World!"));
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Executor, ReadBufCursor, Sleep, Timer};

use crate::net::io_impls::StreamSocket as _;
use crate::net::TcpStream;

/// hyper's [`Executor`] on Spool: each future hyper hands over becomes a detached task of the
/// runtime the caller is in (a connection's task spawns its HTTP/2 streams onto its own worker's
/// queue: no cross-thread hand-off).
///
/// ```
/// use hyper::rt::Executor;
/// let rt = spool::Runtime::new()?;
/// let (tx, rx) = std::sync::mpsc::channel();
/// rt.block_on(async move { spool::hyper::SpoolExecutor::new().execute(async move { tx.send(42).unwrap() }) });
/// assert_eq!(rx.recv().unwrap(), 42);
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SpoolExecutor(());

impl SpoolExecutor {
    /// An executor spawning on the current runtime (the default runtime outside any).
    ///
    /// ```
    /// let executor = spool::hyper::SpoolExecutor::new();
    /// # drop(executor);
    /// ```
    pub fn new() -> Self {
        SpoolExecutor(())
    }
}

impl<F> Executor<F> for SpoolExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        crate::spawn(future).detach();
    }
}

/// hyper's [`Timer`] on Spool: the runtime's own timers, no thread of their own.
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// let timer = spool::hyper::SpoolTimer::new();
/// spool::block_on(timer.sleep(Duration::from_millis(5)));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SpoolTimer(());

impl SpoolTimer {
    /// A timer using the timers of the runtime each sleep is first polled in.
    ///
    /// ```
    /// let mut builder = hyper::server::conn::http1::Builder::new();
    /// builder
    ///     .timer(spool::hyper::SpoolTimer::new())
    ///     .header_read_timeout(std::time::Duration::from_secs(10));
    /// ```
    pub fn new() -> Self {
        SpoolTimer(())
    }
}

impl Timer for SpoolTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(crate::time::sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(crate::time::sleep_until(deadline.into()))
    }

    /// Moves the deadline in place (hyper resets its header-read timer on every request of a
    /// keep-alive connection: no new allocation for it).
    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<crate::time::Sleep>() {
            Some(ours) => ours.get_mut().reset(new_deadline.into()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// `Send + Sync + Future<Output = ()>`: a Spool sleep is what hyper calls a `Sleep`.
impl Sleep for crate::time::Sleep {}

impl hyper::rt::Read for TcpStream {
    /// Reads straight into hyper's (possibly uninitialised) buffer: `recv(2)` through socket2,
    /// which takes `&mut [MaybeUninit<u8>]`, so no byte is zeroed or copied on the way.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let io = self.io();
        // A short read clears readiness (unless the peer closed): see `TcpStream::poll_read_priv`.
        let len = buf.remaining();
        let n = ready!(io.poll_read_stream(cx, len, |stream| {
            // SAFETY: `as_mut` requires that we do not de-initialise bytes through the slice:
            // `recv` only ever writes bytes into it (and socket2's signature takes
            // `MaybeUninit`, so no `&mut [u8]` to uninitialised memory is ever formed).
            let unfilled = unsafe { buf.as_mut() };
            socket2::SockRef::from(stream).recv(unfilled)
        }))?;
        // SAFETY: `recv` returned `n`: it initialised the first `n` bytes of the unfilled part.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(std::net::Shutdown::Write))
    }

    /// `true`: hyper then queues headers and body as separate buffers and hands them over in one
    /// `writev(2)`, instead of copying them into one buffer first.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_priv(cx, bufs)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    #[test]
    fn spool_sleep_is_send_and_sync() {
        fn assert_sleep<T: hyper::rt::Sleep>() {}
        assert_sleep::<crate::time::Sleep>();
    }
}
