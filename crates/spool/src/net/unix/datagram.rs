//! [`UnixDatagram`]: Unix datagram sockets through the reactor.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::io::Async;

/// A Unix datagram socket: bound to a path, unbound, or one of a connected pair.
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let (a, b) = spool::net::UnixDatagram::pair()?;
/// a.send(b"one datagram").await?;
/// let mut buf = [0u8; 32];
/// let n = b.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"one datagram");
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    io: Async<std::os::unix::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to `path` (creating the socket file, which the caller removes: see
    /// [`crate::net::unix`]).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("spool-doc-dgram-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let socket = spool::net::UnixDatagram::bind(&path)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        let socket = std::os::unix::net::UnixDatagram::bind(path).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("cannot bind to {}: {err}", path.display()),
            )
        })?;
        UnixDatagram::from_std(socket)
    }

    /// Two connected sockets (`socketpair(2)`).
    ///
    /// ```
    /// let (a, b) = spool::net::UnixDatagram::pair()?;
    /// # drop((a, b));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// A socket bound to no path: it can send to bound sockets (and, once connected, receive
    /// their answers).
    ///
    /// ```
    /// let socket = spool::net::UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// Wraps a std socket (switched to non-blocking mode).
    ///
    /// ```
    /// let socket = spool::net::UnixDatagram::from_std(std::os::unix::net::UnixDatagram::unbound()?)?;
    /// # drop(socket);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            io: Async::new(socket)?,
        })
    }

    /// Sets the default peer for [`send`](Self::send) and [`recv`](Self::recv) (Unix sockets
    /// connect at once: nothing to wait for).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("spool-doc-dconn-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = spool::net::UnixDatagram::bind(&path)?;
    /// let client = spool::net::UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// # drop(server);
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.io.get_ref().connect(path)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let (a, _b) = spool::net::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"abc").await?, 3);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|socket| socket.send(buf)).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let (a, b) = spool::net::UnixDatagram::pair()?;
    /// a.send(b"abc").await?;
    /// assert_eq!(b.recv(&mut [0u8; 8]).await?, 3);
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|socket| socket.recv(buf)).await
    }

    /// Sends one datagram to the socket bound at `path`.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let path = std::env::temp_dir().join(format!("spool-doc-dsend-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = spool::net::UnixDatagram::bind(&path)?;
    /// let client = spool::net::UnixDatagram::unbound()?;
    /// client.send_to(b"hello", &path).await?;
    /// let (n, _from) = server.recv_from(&mut [0u8; 8]).await?;
    /// assert_eq!(n, 5);
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        self.io.write_with(|socket| socket.send_to(buf, path)).await
    }

    /// Receives one datagram; returns its length and the sender's address.
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// let (a, b) = spool::net::UnixDatagram::pair()?;
    /// a.send(b"x").await?;
    /// let (n, from) = b.recv_from(&mut [0u8; 8]).await?;
    /// assert_eq!(n, 1);
    /// assert!(from.is_unnamed());
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|socket| socket.recv_from(buf)).await
    }

    /// This socket's address.
    ///
    /// ```
    /// let socket = spool::net::UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.as_pathname().is_none());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// ```
    /// let (a, _b) = spool::net::UnixDatagram::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}
