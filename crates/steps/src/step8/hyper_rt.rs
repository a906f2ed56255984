//! hyper on step 8: the four things hyper 1.x asks of a runtime, each a few lines over what
//! step 8 already has — `Read` and `Write` on [`TcpStream`] (the reactor's `poll_io`, as for
//! the plain reads and writes), `Executor` ([`spawn`] + detach) and `Timer` (step 2's
//! [`sleep`]).

use std::future::Future;
use std::io::{self, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use super::{sleep, spawn, Sleep, TcpStream, READ, WRITE};

impl hyper::rt::Read for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(self.0.poll_io(READ, cx, |s| {
            // SAFETY: `recv` only writes bytes into the slice, never de-initialises any
            // (socket2 takes `MaybeUninit`, so no `&mut [u8]` to uninitialised memory exists).
            socket2::SockRef::from(s).recv(unsafe { buf.as_mut() })
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
        self.0.poll_io(WRITE, cx, |mut s| s.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.io.shutdown(std::net::Shutdown::Write))
    }
}

/// hyper's `Executor`: each future hyper hands over becomes a detached task.
#[derive(Debug, Clone, Copy, Default)]
pub struct HyperExecutor;

impl<F: Future<Output: Send> + Send + 'static> hyper::rt::Executor<F> for HyperExecutor {
    fn execute(&self, future: F) {
        spawn(future).detach();
    }
}

/// hyper's `Timer`: step 2's [`sleep`] (a `Sleep` is already `Send + Sync + Unpin`).
#[derive(Debug, Clone, Copy, Default)]
pub struct HyperTimer;

impl hyper::rt::Sleep for Sleep {}

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(sleep(deadline.saturating_duration_since(Instant::now())))
    }
}
