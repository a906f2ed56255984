//! A TLS stream over any [`hyper::rt::Read`] + [`hyper::rt::Write`]: rustls's
//! [`ServerConnection`] (a state machine that only moves bytes between buffers) driven by the
//! connection's own async I/O.
//!
//! Written here, rather than taken from tokio-rustls or futures-rustls, because those two are
//! tied to tokio's and futures' I/O traits: hyper's traits are what every host already hands
//! the server, so one adapter serves the tokio host and the Spool host alike. It follows the
//! same plan as theirs:
//!
//! - *Bridging.* rustls reads and writes through `std::io::Read`/`Write`; `SyncIo` turns the
//!   async I/O into those for the duration of one poll, with `Poll::Pending` mapped to
//!   `WouldBlock` (and the waker already registered by the inner poll).
//! - *Reading.* Hand out plaintext rustls already decrypted; when there is none, read more TLS
//!   records from the socket and process them (possibly several rounds: a record may carry no
//!   application data, e.g. a TLS 1.3 key update).
//!   Reading never writes, except the final alert when the peer broke the protocol.
//! - *Writing.* First push out what rustls already has queued — a write is accepted only once
//!   the queue is empty, so a slow reader holds back the writer instead of growing a buffer —
//!   then encrypt the new bytes and try to send them at once.
//! - *Closing.* `poll_shutdown` sends `close_notify`, flushes it, then shuts the socket's write
//!   side. A peer's TCP EOF without `close_notify` counts as a plain EOF: HTTP frames its own
//!   messages, so hyper still notices a truncated one.

use std::future::poll_fn;
use std::io::{self, BufRead as _, Write as _};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use rustls::ServerConnection;

/// A server-side TLS connection over the byte stream `IO`, readable and writable by hyper.
///
/// Made by [`super::TlsAcceptor::accept`], which runs the handshake first.
#[derive(Debug)]
pub(crate) struct TlsStream<IO> {
    io: IO,
    conn: ServerConnection,
    /// `close_notify` has been queued; queue it once only.
    close_notify_queued: bool,
}

impl<IO> TlsStream<IO>
where
    IO: Read + Write + Unpin,
{
    /// Runs the server side of the handshake on `io` and returns the stream once it is done.
    ///
    /// Fails if the peer closes the connection first (`UnexpectedEof`), sends something that
    /// is not an acceptable TLS handshake (`InvalidData`, after sending it the alert), or the
    /// socket fails. There is no timeout here: the caller adds one.
    pub(crate) async fn handshake(io: IO, conn: ServerConnection) -> io::Result<Self> {
        let mut stream = TlsStream {
            io,
            conn,
            close_notify_queued: false,
        };
        poll_fn(|cx| stream.poll_handshake(cx)).await?;
        Ok(stream)
    }

    /// The protocol agreed by ALPN (e.g. `b"h2"`), if the client offered one we accept.
    pub(crate) fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            // The server's flights (ServerHello..., then session tickets) go out first: the
            // client waits for them before it sends anything more.
            ready!(self.poll_write_tls(cx))?;
            if !self.conn.is_handshaking() {
                return Pin::new(&mut self.io).poll_flush(cx);
            }
            if ready!(self.poll_read_tls(cx))? == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the client closed the connection during the TLS handshake",
                )));
            }
        }
    }

    /// Reads TLS records from the socket into rustls, and processes them. `Ok(0)` is EOF.
    fn poll_read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let read = self.conn.read_tls(&mut SyncIo {
            io: &mut self.io,
            cx,
        });
        let n = match read {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(error) => return Poll::Ready(Err(error)),
        };
        if let Err(error) = self.conn.process_new_packets() {
            // rustls has queued an alert that tells the peer why; try to send it, but the
            // error to report is the TLS one, whatever happens to the alert.
            let _ = self.poll_write_tls(cx);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, error)));
        }
        Poll::Ready(Ok(n))
    }

    /// Writes everything rustls has queued to the socket; `Pending` until the socket took it all.
    fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let written = self.conn.write_tls(&mut SyncIo {
                io: &mut self.io,
                cx,
            });
            match written {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Shared by `poll_write` and `poll_write_vectored`: `encrypt` hands bytes to rustls.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        mut encrypt: impl FnMut(&mut ServerConnection) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        // Only an empty queue takes new bytes (back-pressure), and then rustls accepts up to
        // its buffer limit (64 KiB) at once, so `n` is 0 only when the caller passed nothing.
        ready!(self.poll_write_tls(cx))?;
        let n = encrypt(&mut self.conn)?;
        // Send now if the socket takes it; if it is full, the bytes wait in rustls for the
        // next write or flush (which hyper always does before waiting on the peer).
        if let Poll::Ready(Err(error)) = self.poll_write_tls(cx) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(n))
    }
}

impl<IO> Read for TlsStream<IO>
where
    IO: Read + Write + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let mut reader = this.conn.reader();
            match reader.fill_buf() {
                Ok(chunk) => {
                    // Empty means the peer sent close_notify: a clean end of stream.
                    let n = chunk.len().min(buf.remaining());
                    buf.put_slice(&chunk[..n]);
                    reader.consume(n);
                    return Poll::Ready(Ok(()));
                }
                // TCP EOF without close_notify: see the module docs for why this is an EOF.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
            // No plaintext yet: read more records. Reading never writes (what rustls queues
            // meanwhile, e.g. a key-update answer, leaves with the next write or flush), so a
            // reader and a writer in two tasks never take each other's wake-ups.
            // 0 (EOF) is not returned here: the next `fill_buf` reports it as above.
            ready!(this.poll_read_tls(cx))?;
        }
    }
}

impl<IO> Write for TlsStream<IO>
where
    IO: Read + Write + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |conn| conn.writer().write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |conn| conn.writer().write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        // rustls encrypts several slices into one record; that beats one record per slice.
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.writer().flush()?;
        ready!(this.poll_write_tls(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_notify_queued {
            this.conn.send_close_notify();
            this.close_notify_queued = true;
        }
        ready!(this.poll_write_tls(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// The async I/O as `std::io::Read` + `Write`, for one poll: `Pending` becomes `WouldBlock`.
struct SyncIo<'a, 'b, IO> {
    io: &'a mut IO,
    cx: &'a mut Context<'b>,
}

impl<IO: Read + Unpin> io::Read for SyncIo<'_, '_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut *self.io).poll_read(self.cx, buf.unfilled()) {
            Poll::Ready(Ok(())) => Ok(buf.filled().len()),
            Poll::Ready(Err(error)) => Err(error),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<IO: Write + Unpin> io::Write for SyncIo<'_, '_, IO> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match Pin::new(&mut *self.io).poll_flush(self.cx) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}
