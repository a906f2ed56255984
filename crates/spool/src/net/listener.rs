//! [`TcpListener`]: a listening socket whose `accept` waits on the reactor.

use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{ready, Context, Poll};

use socket2::{Domain, Protocol, Socket, Type};

use super::TcpStream;
use crate::io::Async;

/// Pending connections the kernel queues before `accept` takes them. std uses 128, which a
/// load test with a few hundred connections opening at once overflows (the overflow is dropped
/// SYNs and one-second retransmits); tokio's and Go's listeners use 1024 too.
const BACKLOG: i32 = 1024;

/// A TCP socket listening for connections.
///
/// ```
/// use spool::net::{TcpListener, TcpStream};
///
/// let rt = spool::Runtime::new()?;
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let client = spool::spawn(async move { TcpStream::connect(addr).await.map(drop) });
///     let (_stream, peer) = listener.accept().await?;
///     client.await.unwrap()?;
///     println!("accepted {peer}");
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct TcpListener {
    io: Async<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` and listens (backlog 1024, `SO_REUSEADDR` as std sets it, so a restarted
    /// server can bind while old connections linger in `TIME_WAIT`).
    ///
    /// Synchronous, unlike tokio's: binding never waits for the network. Resolving `addr` may
    /// (a host name goes through the system resolver), so pass a resolved address, or call it in
    /// [`spawn_blocking`](crate::spawn_blocking), when the name is not local.
    ///
    /// # Errors
    ///
    /// The OS error for the first address that failed last, with its [`io::ErrorKind`] kept
    /// (`AddrInUse`, `PermissionDenied`, …) and the address in its message.
    ///
    /// ```
    /// let listener = spool::net::TcpListener::bind("127.0.0.1:0")?;
    /// let taken = listener.local_addr()?;
    /// let err = spool::net::TcpListener::bind(taken).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// assert!(err.to_string().contains(&taken.to_string()));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let listener = super::each_addr(addr, "cannot listen on", |addr| {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_reuse_address(true)?;
            socket.bind(&addr.into())?;
            socket.listen(BACKLOG)?;
            Ok(std::net::TcpListener::from(socket))
        })?;
        TcpListener::from_std(listener)
    }

    /// Wraps a listener bound elsewhere (with std, or inherited), switching it to non-blocking
    /// mode and registering it with the current runtime's reactor.
    ///
    /// ```
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let listener = spool::net::TcpListener::from_std(std_listener)?;
    /// # drop(listener);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: Async::new(listener)?,
        })
    }

    /// Waits for a connection; returns it with the peer's address.
    ///
    /// # Errors
    ///
    /// What `accept(2)` returns, unchanged (`raw_os_error` included, so that callers can tell a
    /// connection reset before it was accepted from running out of file descriptors).
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let listener = spool::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// std::thread::spawn(move || std::net::TcpStream::connect(addr));
    /// let (stream, peer) = listener.accept().await?;
    /// assert_eq!(stream.peer_addr()?, peer);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](Self::accept).
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let listener = spool::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// std::thread::spawn(move || std::net::TcpStream::connect(addr));
    /// let (_stream, _peer) = std::future::poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, peer) = ready!(self.io.poll_read_with(cx, |listener| listener.accept()))?;
        // accept(2) does not pass O_NONBLOCK on to the new socket on Linux.
        let registered = stream
            .set_nonblocking(true)
            .and_then(|()| self.io.sibling(stream));
        Poll::Ready(registered.map(|io| (TcpStream::from_async(io), peer)))
    }

    /// The address the socket is bound to (with the real port after binding port 0).
    ///
    /// ```
    /// let listener = spool::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert_ne!(listener.local_addr()?.port(), 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}
