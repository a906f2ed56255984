//! [`UnixStream`]: a connected Unix stream socket, read and written through the reactor.

use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::task::{ready, Poll};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::io::scheduled::Direction;
use crate::io::Async;
use crate::net::io_impls::{impl_async_read, impl_async_write, stream_halves, StreamSocket};

/// A Unix stream connection: the same I/O traits as [`TcpStream`](crate::net::TcpStream)
/// (futures-io's, tokio's with the `tokio-io` feature), on `UnixStream` and `&UnixStream`.
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let (mut a, mut b) = spool::net::UnixStream::pair()?;
/// a.write_all(b"ping").await?;
/// let mut buf = [0u8; 4];
/// b.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct UnixStream {
    io: Async<std::os::unix::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket listening at `path`, without blocking a thread.
    ///
    /// # Errors
    ///
    /// `NotFound` when no socket file is there, `ConnectionRefused` when nobody listens on it,
    /// with the path in the message.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let err = spool::net::UnixStream::connect("/nonexistent/spool.sock").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let annotate = |err: io::Error| {
            io::Error::new(
                err.kind(),
                format!("cannot connect to {}: {err}", path.display()),
            )
        };
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        let address = SockAddr::unix(path).map_err(annotate)?;
        let in_progress = match socket.connect(&address) {
            Ok(()) => false,
            Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => true,
            Err(err) => return Err(annotate(err)),
        };
        let io = Async::with_readiness(
            std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(socket)),
            if in_progress {
                0
            } else {
                crate::io::scheduled::READABLE | crate::io::scheduled::WRITABLE
            },
        )?;
        if in_progress {
            poll_fn(|cx| {
                ready!(io.poll_ready(cx, Direction::Write))?;
                Poll::Ready(match io.get_ref().take_error() {
                    Ok(Some(err)) | Err(err) => Err(err),
                    Ok(None) => Ok(()),
                })
            })
            .await
            .map_err(annotate)?;
        }
        Ok(UnixStream { io })
    }

    /// Two connected streams (`socketpair(2)`), registered with the current runtime's reactor.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let (a, b) = spool::net::UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed() && b.local_addr()?.is_unnamed());
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a connected std stream (switched to non-blocking mode), registering it with the
    /// current runtime's reactor.
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = spool::net::UnixStream::from_std(a)?;
    /// # drop(a);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            io: Async::new(stream)?,
        })
    }

    /// Wraps a socket already registered (an accepted one).
    pub(crate) fn from_async(io: Async<std::os::unix::net::UnixStream>) -> UnixStream {
        UnixStream { io }
    }

    /// Deregisters the socket and returns it as a std stream (still non-blocking).
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = spool::net::UnixStream::from_std(a)?.into_std()?;
    /// a.set_nonblocking(false)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(self.io.into_inner())
    }

    /// This end's address.
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = spool::net::UnixStream::from_std(a)?;
    /// assert!(a.local_addr()?.is_unnamed());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address (for a connection to a listener: its path).
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = spool::net::UnixStream::from_std(a)?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down the read half, the write half or both.
    ///
    /// ```
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = spool::net::UnixStream::from_std(a)?;
    /// a.shutdown(std::net::Shutdown::Write)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Halves that borrow the stream (see [`TcpStream::split`](crate::net::TcpStream::split)).
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let (mut a, _b) = spool::net::UnixStream::pair()?;
    /// let (_reader, _writer) = a.split();
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Halves that own the stream; dropping the write half half-closes it (see
    /// [`TcpStream::into_split`](crate::net::TcpStream::into_split)).
    ///
    /// ```
    /// use futures_lite::AsyncReadExt;
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let (a, mut b) = spool::net::UnixStream::pair()?;
    /// let (_reader, writer) = a.into_split();
    /// drop(writer); // FIN
    /// let mut rest = Vec::new();
    /// assert_eq!(b.read_to_end(&mut rest).await?, 0);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let shared = Arc::new(self);
        (
            OwnedReadHalf(Arc::clone(&shared)),
            OwnedWriteHalf(shared, true),
        )
    }
}

impl StreamSocket for UnixStream {
    type Inner = std::os::unix::net::UnixStream;
    fn async_io(&self) -> &Async<Self::Inner> {
        &self.io
    }
}

impl StreamSocket for &UnixStream {
    type Inner = std::os::unix::net::UnixStream;
    fn async_io(&self) -> &Async<Self::Inner> {
        &self.io
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl_async_read!(UnixStream, &UnixStream);
impl_async_write!(UnixStream, &UnixStream);

stream_halves!(UnixStream, "UnixStream");
