//! tokio's I/O traits on Spool's streams (feature `tokio-io`), with no tokio runtime involved.
//!
//! `tokio::io::AsyncRead` and `AsyncWrite` are plain traits: nothing in them needs tokio's
//! reactor. Implemented on [`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream) and their halves, they let the crates written against
//! them — tokio-rustls, tokio-util's codecs, hyper-util's `TokioIo` — run on Spool sockets:
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! # let rt = spool::Runtime::new()?;
//! # rt.block_on(async {
//! let (mut a, mut b) = spool::net::UnixStream::pair()?;
//! a.write_all(b"tokio's traits, Spool's reactor").await?;
//! AsyncWriteExt::shutdown(&mut a).await?; // the inherent `shutdown(how)` is std's, not this
//! let mut text = String::new();
//! b.read_to_string(&mut text).await?;
//! assert_eq!(text, "tokio's traits, Spool's reactor");
//! # std::io::Result::Ok(()) })?;
//! # std::io::Result::Ok(())
//! ```
//!
//! Reads go straight into the caller's `ReadBuf`, initialised or not (`recv(2)` writes the
//! bytes; nothing is zeroed first). What still needs a tokio *runtime* is what tokio's own
//! types do: `tokio::time`, `tokio::net`, `tokio::spawn`.

use std::io;
use std::task::{ready, Context, Poll};

use tokio::io::ReadBuf;

use crate::net::io_impls::StreamSocket;

/// tokio's `poll_read` for a stream socket: one `recv` into the unfilled part of `buf`.
pub(crate) fn poll_read_buf(
    stream: &impl StreamSocket,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: `unfilled_mut` requires that no byte of the slice is de-initialised through it;
    // `recv` only writes bytes into it (socket2 takes `&mut [MaybeUninit<u8>]`, so no `&mut [u8]`
    // over uninitialised memory is formed).
    let unfilled = unsafe { buf.unfilled_mut() };
    let n = ready!(stream.poll_read_uninit(cx, unfilled))?;
    // SAFETY: `recv` returned `n`: it initialised the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}
