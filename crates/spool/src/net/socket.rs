//! [`TcpSocket`]: a TCP socket configured before it listens or connects.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use super::{TcpListener, TcpStream};

/// A TCP socket not yet listening or connected, for the options that must be set before
/// (`SO_REUSEPORT` for one listener per worker, buffer sizes, binding a client to a source
/// address). [`listen`](Self::listen) makes it a [`TcpListener`], [`connect`](Self::connect)
/// a [`TcpStream`].
///
/// ```
/// use spool::net::TcpSocket;
///
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let socket = TcpSocket::new_v4()?;
/// socket.set_reuseaddr(true)?;
/// socket.set_reuseport(true)?; // another socket may bind the same port: the kernel balances
/// socket.bind("127.0.0.1:0".parse().unwrap())?;
/// let listener = socket.listen(1024)?;
/// let client = TcpSocket::new_v4()?.connect(listener.local_addr()?).await?;
/// let (_server, peer) = listener.accept().await?;
/// assert_eq!(peer, client.local_addr()?);
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    socket: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    ///
    /// ```
    /// let socket = spool::net::TcpSocket::new_v4()?;
    /// # drop(socket);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new_v4() -> io::Result<TcpSocket> {
        Self::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    ///
    /// ```
    /// let socket = spool::net::TcpSocket::new_v6()?;
    /// # drop(socket);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new_v6() -> io::Result<TcpSocket> {
        Self::new(Domain::IPV6)
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        Ok(TcpSocket { socket })
    }

    /// Sets `SO_REUSEADDR`: bind a port whose old connections linger in `TIME_WAIT`.
    ///
    /// ```
    /// let socket = spool::net::TcpSocket::new_v4()?;
    /// socket.set_reuseaddr(true)?;
    /// assert!(socket.reuseaddr()?);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_reuseaddr(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_address(reuse)
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// ```
    /// assert!(!spool::net::TcpSocket::new_v4()?.reuseaddr()?);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.socket.reuse_address()
    }

    /// Sets `SO_REUSEPORT`: several sockets (of the same user) may bind the same address and
    /// port; the kernel spreads incoming connections over the listeners.
    ///
    /// ```
    /// let socket = spool::net::TcpSocket::new_v4()?;
    /// socket.set_reuseport(true)?;
    /// assert!(socket.reuseport()?);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_reuseport(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_port(reuse)
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// ```
    /// assert!(!spool::net::TcpSocket::new_v4()?.reuseport()?);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn reuseport(&self) -> io::Result<bool> {
        self.socket.reuse_port()
    }

    /// Sets `SO_RCVBUF` (Linux doubles the value asked for, for its bookkeeping).
    ///
    /// ```
    /// let socket = spool::net::TcpSocket::new_v4()?;
    /// socket.set_recv_buffer_size(64 * 1024)?;
    /// assert!(socket.recv_buffer_size()? >= 64 * 1024);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_recv_buffer_size(size as usize)
    }

    /// `SO_RCVBUF`.
    ///
    /// ```
    /// assert!(spool::net::TcpSocket::new_v4()?.recv_buffer_size()? > 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.socket
            .recv_buffer_size()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Sets `SO_SNDBUF` (Linux doubles the value asked for).
    ///
    /// ```
    /// let socket = spool::net::TcpSocket::new_v4()?;
    /// socket.set_send_buffer_size(64 * 1024)?;
    /// assert!(socket.send_buffer_size()? >= 64 * 1024);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_send_buffer_size(size as usize)
    }

    /// `SO_SNDBUF`.
    ///
    /// ```
    /// assert!(spool::net::TcpSocket::new_v4()?.send_buffer_size()? > 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.socket
            .send_buffer_size()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Binds to `addr` (port 0: the kernel picks one).
    ///
    /// ```
    /// let socket = spool::net::TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.socket.bind(&addr.into())
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an address that is not IPv4 or IPv6 (never, for a TCP socket).
    ///
    /// ```
    /// let socket = spool::net::TcpSocket::new_v6()?;
    /// socket.bind("[::1]:0".parse().unwrap())?;
    /// assert!(socket.local_addr()?.is_ipv6());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an IP socket address"))
    }

    /// Listens, with `backlog` pending connections queued at most, and registers the listener
    /// with the current runtime's reactor.
    ///
    /// ```
    /// let socket = spool::net::TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?;
    /// let listener = socket.listen(128)?;
    /// # drop(listener);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        self.socket
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        TcpListener::from_std(self.socket.into())
    }

    /// Connects to `addr` and waits for the handshake, without blocking a thread.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::connect`]'s, with the address in the message.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let listener = spool::net::TcpListener::bind("127.0.0.1:0")?;
    /// let socket = spool::net::TcpSocket::new_v4()?;
    /// socket.bind("127.0.0.1:0".parse().unwrap())?; // choose the source address
    /// let stream = socket.connect(listener.local_addr()?).await?;
    /// # drop(stream);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_socket(self.socket, addr)
            .await
            .map_err(|err| super::addr::annotate(err, "cannot connect to", addr))
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}
