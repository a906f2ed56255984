//! [`UdpSocket`]: datagrams through the reactor.

use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{Context, Poll};

use crate::io::scheduled::Direction;
use crate::io::Async;

/// A UDP socket.
///
/// Each `send*` is one datagram, each `recv*` takes one (the rest of a datagram larger than
/// the buffer is dropped, as with `recv(2)`). Readiness is per socket, so one task may receive
/// while another sends; several tasks receiving on one socket each get different datagrams.
///
/// ```
/// use spool::net::UdpSocket;
///
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// a.send_to(b"ping", b.local_addr()?).await?;
/// let mut buf = [0u8; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: Async<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` and registers the socket with the current runtime's reactor.
    ///
    /// Synchronous, like [`TcpListener::bind`](super::TcpListener::bind) (and for the same
    /// reason: binding never waits for the network; pass an address, not a name that needs a
    /// DNS query).
    ///
    /// # Errors
    ///
    /// The OS error for the last address tried, its kind kept and the address in its message.
    ///
    /// ```
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let socket = super::each_addr(addr, "cannot bind to", std::net::UdpSocket::bind)?;
        UdpSocket::from_std(socket)
    }

    /// Wraps a std socket, switching it to non-blocking mode and registering it with the
    /// current runtime's reactor.
    ///
    /// ```
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let socket = spool::net::UdpSocket::from_std(std_socket)?;
    /// # drop(socket);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: Async::new(socket)?,
        })
    }

    /// Deregisters the socket and returns it as a std socket (still non-blocking).
    ///
    /// ```
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?.into_std()?;
    /// socket.set_nonblocking(false)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(self.io.into_inner())
    }

    /// Sets the default peer: [`send`](Self::send) goes there, and only its datagrams are
    /// received from then on (the kernel drops other senders'). A host name is resolved on the
    /// blocking pool; the first address that the socket accepts is used.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let server = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let client = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// client.connect(server.local_addr()?).await?;
    /// client.send(b"hi").await?;
    /// assert_eq!(client.peer_addr()?, server.local_addr()?);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn connect<A>(&self, addr: A) -> io::Result<()>
    where
        A: ToSocketAddrs + Send + 'static,
    {
        let addrs = super::addr::resolve(addr).await?;
        super::addr::first_ok(addrs, "cannot connect to", |addr| {
            self.io.get_ref().connect(addr)
        })
    }

    /// Sends `buf` to the connected peer; returns the bytes sent.
    ///
    /// # Errors
    ///
    /// `NotConnected` without [`connect`](Self::connect); `ConnectionRefused` when an earlier
    /// datagram got an ICMP "port unreachable" back.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let server = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// # let client = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// client.connect(server.local_addr()?).await?;
    /// assert_eq!(client.send(b"four").await?, 4);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|socket| socket.send(buf)).await
    }

    /// Receives one datagram from the connected peer into `buf`.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let a = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?).await?;
    /// b.connect(a.local_addr()?).await?;
    /// a.send(b"x").await?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv(&mut buf).await?, 1);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|socket| socket.recv(buf)).await
    }

    /// Sends `buf` to `target` (a host name is resolved on the blocking pool, then the
    /// datagram goes to its first address).
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let n = socket.send_to(b"to myself", socket.local_addr()?).await?;
    /// assert_eq!(n, 9);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn send_to<A>(&self, buf: &[u8], target: A) -> io::Result<usize>
    where
        A: ToSocketAddrs + Send + 'static,
    {
        let target = super::addr::resolve(target)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| super::addr::no_address("cannot send"))?;
        self.io
            .write_with(|socket| socket.send_to(buf, target))
            .await
    }

    /// Receives one datagram into `buf`; returns its length and its sender.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.send_to(b"echo", socket.local_addr()?).await?;
    /// let mut buf = [0u8; 8];
    /// let (n, from) = socket.recv_from(&mut buf).await?;
    /// assert_eq!((n, from), (4, socket.local_addr()?));
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|socket| socket.recv_from(buf)).await
    }

    /// Like [`recv_from`](Self::recv_from), but the datagram stays queued: the next receive
    /// returns it again.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.send_to(b"twice", socket.local_addr()?).await?;
    /// let mut buf = [0u8; 8];
    /// let (n, _) = socket.peek_from(&mut buf).await?;
    /// let (m, _) = socket.recv_from(&mut buf).await?;
    /// assert_eq!((n, m), (5, 5));
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|socket| socket.peek_from(buf)).await
    }

    /// The poll form of [`recv_from`](Self::recv_from), for libraries that implement traits
    /// (quinn's `AsyncUdpSocket`, say).
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.send_to(b"p", socket.local_addr()?).await?;
    /// let mut buf = [0u8; 4];
    /// let (n, _) = std::future::poll_fn(|cx| socket.poll_recv_from(cx, &mut buf)).await?;
    /// assert_eq!(n, 1);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_read_with(cx, |socket| socket.recv_from(buf))
    }

    /// The poll form of [`send_to`](Self::send_to), to an address already resolved.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let to = socket.local_addr()?;
    /// let n = std::future::poll_fn(|cx| socket.poll_send_to(cx, b"p", to)).await?;
    /// assert_eq!(n, 1);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_write_with(cx, |socket| socket.send_to(buf, target))
    }

    /// Waits until a datagram may be waiting (then receive with
    /// [`try_recv_from`](Self::try_recv_from), which clears the readiness when there was none
    /// after all).
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.send_to(b"r", socket.local_addr()?).await?;
    /// let mut buf = [0u8; 4];
    /// loop {
    ///     socket.readable().await?;
    ///     match socket.try_recv_from(&mut buf) {
    ///         Ok((n, _)) => break assert_eq!(n, 1),
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Read).map_ok(drop)).await
    }

    /// Waits until the socket may accept a datagram (then send with
    /// [`try_send_to`](Self::try_send_to)).
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.writable().await?;
    /// socket.try_send_to(b"w", socket.local_addr()?)?;
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.io.poll_ready(cx, Direction::Write).map_ok(drop)).await
    }

    /// Receives a datagram if one is queued, without waiting: `WouldBlock` if none is (the
    /// socket's readiness is then cleared, so [`readable`](Self::readable) waits for the next).
    ///
    /// ```
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let err = socket.try_recv_from(&mut [0u8; 4]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .try_io(Direction::Read, |socket| socket.recv_from(buf))
    }

    /// Sends a datagram if the socket accepts it now: `WouldBlock` if its buffer is full.
    ///
    /// ```
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.try_send_to(b"now", socket.local_addr()?)?, 3);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .try_io(Direction::Write, |socket| socket.send_to(buf, target))
    }

    /// This end's address.
    ///
    /// ```
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address (`NotConnected` before [`connect`](Self::connect)).
    ///
    /// ```
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`: may send to a broadcast address.
    ///
    /// ```
    /// let socket = spool::net::UdpSocket::bind("0.0.0.0:0")?;
    /// socket.set_broadcast(true)?;
    /// assert!(socket.broadcast()?);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    ///
    /// ```
    /// assert!(!spool::net::UdpSocket::bind("127.0.0.1:0")?.broadcast()?);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address `interface`
    /// (`UNSPECIFIED`: the kernel's choice).
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// let socket = spool::net::UdpSocket::bind("0.0.0.0:0")?;
    /// # // Hosts without a multicast route refuse it: that is the OS's answer, not a bug.
    /// # if socket.join_multicast_v4(Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::LOCALHOST).is_ok() {
    /// socket.leave_multicast_v4(Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::LOCALHOST)?;
    /// # }
    /// # std::io::Result::Ok(())
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// let socket = spool::net::UdpSocket::bind("0.0.0.0:0")?;
    /// // Never joined: the kernel says so.
    /// assert!(socket.leave_multicast_v4(Ipv4Addr::new(239, 9, 9, 9), Ipv4Addr::UNSPECIFIED).is_err());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Sets the IP time-to-live of outgoing datagrams.
    ///
    /// ```
    /// let socket = spool::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_ttl(7)?;
    /// assert_eq!(socket.ttl()?, 7);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing datagrams.
    ///
    /// ```
    /// assert!(spool::net::UdpSocket::bind("127.0.0.1:0")?.ttl()? > 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}
