//! [`UnixListener`]: a listening Unix socket whose `accept` waits on the reactor.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{ready, Context, Poll};

use super::UnixStream;
use crate::io::Async;

/// A Unix socket listening for connections on a path.
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let path = std::env::temp_dir().join(format!("spool-doc-listener-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let listener = spool::net::UnixListener::bind(&path)?;
/// let client = spool::spawn({
///     let path = path.clone();
///     async move { spool::net::UnixStream::connect(path).await.map(drop) }
/// });
/// let (_stream, _peer) = listener.accept().await?;
/// client.await.unwrap()?;
/// std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug)]
pub struct UnixListener {
    io: Async<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Creates the socket file at `path`, listens on it and registers the listener with the
    /// current runtime's reactor. The file stays after the listener is dropped (see
    /// [`crate::net::unix`]).
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the file exists; the OS error otherwise, with the path in the message.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("spool-doc-bind-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = spool::net::UnixListener::bind(&path)?;
    /// let again = spool::net::UnixListener::bind(&path).unwrap_err();
    /// assert_eq!(again.kind(), std::io::ErrorKind::AddrInUse);
    /// # drop(listener);
    /// std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let listener = std::os::unix::net::UnixListener::bind(path).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("cannot listen on {}: {err}", path.display()),
            )
        })?;
        UnixListener::from_std(listener)
    }

    /// Wraps a std listener (switched to non-blocking mode), registering it with the current
    /// runtime's reactor.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("spool-doc-lstd-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    /// let listener = spool::net::UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path)?)?;
    /// # drop(listener);
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: Async::new(listener)?,
        })
    }

    /// Waits for a connection; returns it with the peer's address (usually unnamed).
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let path = std::env::temp_dir().join(format!("spool-doc-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = spool::net::UnixListener::bind(&path)?;
    /// let _client = std::os::unix::net::UnixStream::connect(&path)?;
    /// let (_stream, peer) = listener.accept().await?;
    /// assert!(peer.is_unnamed());
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](Self::accept).
    ///
    /// ```
    /// # let rt = spool::Runtime::new()?;
    /// # rt.block_on(async {
    /// # let path = std::env::temp_dir().join(format!("spool-doc-paccept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = spool::net::UnixListener::bind(&path)?;
    /// let _client = std::os::unix::net::UnixStream::connect(&path)?;
    /// let (_stream, _) = std::future::poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(()) })?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (stream, peer) = ready!(self.io.poll_read_with(cx, |listener| listener.accept()))?;
        let registered = stream
            .set_nonblocking(true)
            .and_then(|()| self.io.sibling(stream));
        Poll::Ready(registered.map(|io| (UnixStream::from_async(io), peer)))
    }

    /// The address (path) the listener is bound to.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("spool-doc-laddr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = spool::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}
