//! [`TcpStream`]: a connected socket, read and written through the reactor.

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use socket2::{Domain, Protocol, Socket, Type};

use crate::io::scheduled::Direction;
use crate::io::Async;

/// A TCP connection.
///
/// Read and write it with [`futures_io::AsyncRead`] / [`futures_io::AsyncWrite`] (through
/// `futures-lite`'s or `futures`' extension traits), on `TcpStream` or on `&TcpStream`: a
/// reader task and a writer task can share one stream.
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// use spool::net::{TcpListener, TcpStream};
///
/// let rt = spool::Runtime::new()?;
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let client = spool::spawn(async move {
///         let mut stream = TcpStream::connect(addr).await?;
///         stream.write_all(b"ping").await?;
///         stream.shutdown(std::net::Shutdown::Write)?; // "that's all I'll send"
///         let mut reply = String::new();
///         stream.read_to_string(&mut reply).await?;
///         std::io::Result::Ok(reply)
///     });
///     let (mut stream, _) = listener.accept().await?;
///     let mut request = Vec::new();
///     stream.read_to_end(&mut request).await?; // ends at the client's half-close
///     stream.write_all(b"pong").await?;
///     drop(stream);
///     assert_eq!(client.await.unwrap()?, "pong");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct TcpStream {
    io: Async<std::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn.
    ///
    /// The connect itself never blocks a thread (a non-blocking `connect(2)`, then a wait for
    /// the socket to become writable); resolving a host name does (see
    /// [`TcpListener::bind`](super::TcpListener::bind)).
    ///
    /// # Errors
    ///
    /// The last address's error, with its [`io::ErrorKind`] kept (`ConnectionRefused` when
    /// nothing listens there, `TimedOut`, …) and the address added to its message.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?; // bound, then closed
    /// let err = spool::net::TcpStream::connect(closed).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match Self::connect_addr(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => {
                    last = Some(io::Error::new(
                        err.kind(),
                        format!("cannot connect to {addr}: {err}"),
                    ));
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot connect: the address resolved to no socket address",
            )
        }))
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(err) => return Err(err),
        }
        // Registered with no readiness: "writable" must come from the kernel, when the
        // handshake has finished (or failed: an error wakes both directions).
        let io = Async::with_readiness(std::net::TcpStream::from(socket), 0)?;
        poll_fn(|cx| loop {
            let event = ready!(io.poll_ready(cx, Direction::Write))?;
            if let Some(err) = io.get_ref().take_error()? {
                return Poll::Ready(Err(err)); // ECONNREFUSED, ETIMEDOUT, …
            }
            match io.get_ref().peer_addr() {
                Ok(_) => return Poll::Ready(Ok(())),
                // Not connected yet after all (a spurious edge): wait for the next one.
                Err(err) if err.kind() == io::ErrorKind::NotConnected => io.clear(event),
                Err(err) => return Poll::Ready(Err(err)),
            }
        })
        .await?;
        Ok(TcpStream { io })
    }

    /// Wraps a connected std stream, switching it to non-blocking mode and registering it with
    /// the current runtime's reactor.
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr()?)?;
    /// let stream = spool::net::TcpStream::from_std(std_stream)?;
    /// # drop(stream);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
            io: Async::new(stream)?,
        })
    }

    /// Wraps a socket already registered (an accepted one).
    pub(crate) fn from_async(io: Async<std::net::TcpStream>) -> TcpStream {
        TcpStream { io }
    }

    /// This end's address.
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// assert!(stream.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `TCP_NODELAY`: send small segments at once instead of waiting (Nagle's algorithm)
    /// to merge them. Servers that write whole responses want it on.
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// assert!(!stream.nodelay()?); // off by default, as in std
    /// # std::io::Result::Ok(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Shuts down the read half, the write half or both. `Shutdown::Write` is the half-close:
    /// the peer reads end-of-file while this side can still read its answer.
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// stream.shutdown(std::net::Shutdown::Write)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Reads into `buf`, waiting for data.
    ///
    /// Like writes, a short read (fewer bytes than `buf` holds) clears the readable state at
    /// once: the socket is drained, and the `read` that would return `WouldBlock` is skipped. The
    /// exception is a peer that has shut down its write side (the reactor learns it from
    /// `EPOLLRDHUP`): its FIN may have come with the data, in the same edge, so the state stays
    /// readable and the next read returns 0 (see `io/scheduled.rs`).
    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_read_stream(cx, buf.len(), |mut stream| stream.read(buf))
    }

    fn poll_read_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.io
            .poll_read_stream(cx, len, |mut stream| stream.read_vectored(bufs))
    }

    /// Runs a write that was asked to send `len` bytes. A short write means the send buffer
    /// is full: readiness is cleared right away (saving the `write` that would return
    /// `WouldBlock`), and the kernel reports the next edge when space frees up.
    pub(crate) fn poll_write_op(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        mut op: impl FnMut(&std::net::TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let event = ready!(self.io.poll_ready(cx, Direction::Write))?;
            match op(self.io.get_ref()) {
                Ok(n) => {
                    if n > 0 && n < len {
                        self.io.clear(event);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.io.clear(event),
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }

    pub(crate) fn poll_write_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_op(cx, buf.len(), |mut stream| stream.write(buf))
    }

    /// One `writev(2)` for several buffers (hyper's headers + body in one syscall).
    pub(crate) fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.poll_write_op(cx, len, |mut stream| stream.write_vectored(bufs))
    }

    /// The socket's async wrapper (for the hyper adapters' zero-copy read).
    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    pub(crate) fn io(&self) -> &Async<std::net::TcpStream> {
        &self.io
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// The `AsyncRead`/`AsyncWrite` impls, written once for `TcpStream` and `&TcpStream`.
macro_rules! impl_async_io {
    ($ty:ty) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_priv(cx, buf)
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_vectored_priv(cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_priv(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_vectored_priv(cx, bufs)
            }

            /// Nothing is buffered: every write is a syscall.
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Half-closes (`shutdown(Write)`): the peer reads end-of-file.
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.shutdown(Shutdown::Write))
            }
        }
    };
}

impl_async_io!(TcpStream);
impl_async_io!(&TcpStream);
