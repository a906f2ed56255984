//! [`TcpStream`]: a connected socket, read and written through the reactor.

use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::task::{ready, Poll};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::io_impls::{impl_async_read, impl_async_write, stream_halves, StreamSocket};

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
    /// The connect never blocks a thread: a host name is resolved on the blocking pool (see
    /// [`lookup_host`](super::lookup_host)), then each address gets a non-blocking
    /// `connect(2)` and a wait for the socket to become writable.
    ///
    /// # Errors
    ///
    /// The last address's error, with its [`io::ErrorKind`] kept (`ConnectionRefused` when
    /// nothing listens there, `TimedOut`, …) and the address added to its message; the
    /// resolver's error for a name it does not know.
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
    pub async fn connect<A>(addr: A) -> io::Result<TcpStream>
    where
        A: ToSocketAddrs + Send + 'static,
    {
        let mut last = None;
        for addr in super::addr::resolve(addr).await? {
            match Self::connect_addr(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => last = Some(super::addr::annotate(err, "cannot connect to", addr)),
            }
        }
        Err(last.unwrap_or_else(|| super::addr::no_address("cannot connect")))
    }

    /// Connects `socket` (non-blocking, already configured) to `addr` and waits for the
    /// handshake to finish.
    pub(crate) async fn connect_socket(socket: Socket, addr: SocketAddr) -> io::Result<TcpStream> {
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

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        Self::connect_socket(socket, addr).await
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

    /// Receives into `buf` without taking the bytes off the socket's queue (`MSG_PEEK`): the
    /// next read returns them again. Waits for data; `Ok(0)` at end of stream.
    ///
    /// ```
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let listener = spool::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = spool::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// client.write_all(b"GET /").await?;
    /// let mut first = [0u8; 3];
    /// let n = server.peek(&mut first).await?;
    /// assert_eq!(&first[..n], &b"GET"[..n]);
    /// let mut all = [0u8; 5];
    /// server.read_exact(&mut all).await?; // still there
    /// assert_eq!(&all, b"GET /");
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        // Never the short-read rule: a peek leaves the data where it is.
        self.io.read_with(|stream| stream.peek(buf)).await
    }

    /// Sets the IP time-to-live of outgoing packets (`IP_TTL`).
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// stream.set_ttl(42)?;
    /// assert_eq!(stream.ttl()?, 42);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing packets.
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// assert!(stream.ttl()? > 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Sets `SO_LINGER`: with `Some(d)`, closing waits up to `d` for unsent data to go out
    /// (`Some(ZERO)`: close at once with a reset); `None`, the default, closes in the background.
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// use std::time::Duration;
    /// stream.set_linger(Some(Duration::ZERO))?; // drop = RST, no TIME_WAIT
    /// assert_eq!(stream.linger()?, Some(Duration::ZERO));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_linger(linger)
    }

    /// The `SO_LINGER` setting.
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// assert_eq!(stream.linger()?, None);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        SockRef::from(self.io.get_ref()).linger()
    }

    /// Splits the stream into a reading and a writing half that borrow it, for reading and
    /// writing at once in one task (`futures_lite::future::zip`, `select`).
    ///
    /// ```
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let listener = spool::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let mut client = spool::net::TcpStream::connect(listener.local_addr()?).await?;
    /// # let (mut server, _) = listener.accept().await?;
    /// let (mut reader, mut writer) = server.split();
    /// client.write_all(b"echo").await?;
    /// let mut buf = [0u8; 4];
    /// reader.read_exact(&mut buf).await?;
    /// writer.write_all(&buf).await?;
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Splits the stream into halves that own it (an `Arc` inside), so that a reader task and
    /// a writer task can each hold one. Dropping the write half half-closes the stream;
    /// [`OwnedReadHalf::reunite`] puts them back together.
    ///
    /// ```
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let listener = spool::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let client = spool::net::TcpStream::connect(listener.local_addr()?).await?;
    /// # let (mut server, _) = listener.accept().await?;
    /// let (_reader, mut writer) = client.into_split();
    /// let writing = spool::spawn(async move { writer.write_all(b"bye").await }); // then dropped: FIN
    /// let mut echoed = Vec::new();
    /// server.read_to_end(&mut echoed).await?;
    /// writing.await.unwrap()?;
    /// assert_eq!(echoed, b"bye");
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

    /// Deregisters the socket from the reactor and returns it as a std stream, still in
    /// non-blocking mode (as tokio's does; `set_nonblocking(false)` for blocking use).
    ///
    /// ```
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let stream = spool::net::TcpStream::from_std(std::net::TcpStream::connect(listener.local_addr()?)?)?;
    /// let std_stream = stream.into_std()?;
    /// std_stream.set_nonblocking(false)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(self.io.into_inner())
    }

    /// The socket's async wrapper (for the hyper adapters' zero-copy read).
    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    pub(crate) fn io(&self) -> &Async<std::net::TcpStream> {
        &self.io
    }
}

impl StreamSocket for TcpStream {
    type Inner = std::net::TcpStream;
    fn async_io(&self) -> &Async<std::net::TcpStream> {
        &self.io
    }
}

impl StreamSocket for &TcpStream {
    type Inner = std::net::TcpStream;
    fn async_io(&self) -> &Async<std::net::TcpStream> {
        &self.io
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl_async_read!(TcpStream, &TcpStream);
impl_async_write!(TcpStream, &TcpStream);

stream_halves!(TcpStream, "TcpStream");
