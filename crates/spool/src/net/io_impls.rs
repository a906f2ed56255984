//! The read and write paths every stream socket shares ([`TcpStream`](super::TcpStream),
//! [`UnixStream`](super::UnixStream) and their halves), and the trait impls built on them.
//!
//! A stream is an [`Async`] socket; the operations are socket2's `recv`/`send`/`sendmsg` on its
//! descriptor, so one path serves TCP and Unix sockets. The short-read and short-write rules
//! that spare a syscall are [`Async::poll_read_stream`] and [`Async::poll_write_stream`]'s.

use std::io::{self, IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::task::{Context, Poll};

use socket2::SockRef;

use crate::io::Async;

/// A connected stream socket: its registration, and how to half-close it.
pub(crate) trait StreamSocket {
    /// The std socket inside.
    type Inner: AsFd;

    /// The registered socket.
    fn async_io(&self) -> &Async<Self::Inner>;

    /// Reads into `buf`, waiting for data (a short read clears readiness, unless the peer has
    /// closed: see `io/scheduled.rs`).
    fn poll_read_priv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.async_io()
            .poll_read_stream(cx, buf.len(), |io| (&*SockRef::from(io)).read(buf))
    }

    /// Reads into possibly uninitialised memory, with no zeroing (the tokio adapter).
    #[cfg_attr(not(feature = "tokio-io"), allow(dead_code))]
    fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.async_io()
            .poll_read_stream(cx, len, |io| SockRef::from(io).recv(buf))
    }

    /// One `readv`-style receive into several buffers.
    fn poll_read_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.async_io()
            .poll_read_stream(cx, len, |io| (&*SockRef::from(io)).read_vectored(bufs))
    }

    /// Writes from `buf` (a short write clears readiness: the send buffer is full).
    fn poll_write_priv(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.async_io()
            .poll_write_stream(cx, buf.len(), |io| SockRef::from(io).send(buf))
    }

    /// One `sendmsg(2)` for several buffers (hyper's headers + body in one syscall).
    fn poll_write_vectored_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.async_io()
            .poll_write_stream(cx, len, |io| SockRef::from(io).send_vectored(bufs))
    }

    /// Half-closes: the peer reads end-of-file, this side can still read.
    fn shutdown_write(&self) -> io::Result<()> {
        match SockRef::from(self.async_io().get_ref()).shutdown(Shutdown::Write) {
            // Already shut down, or the peer reset the connection: nothing left to close.
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
    }
}

/// futures-io's `AsyncRead` for a [`StreamSocket`] type (and, with the `tokio-io` feature,
/// tokio's).
macro_rules! impl_async_read {
    ($($ty:ty),+ $(,)?) => {$(
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::io_impls::StreamSocket::poll_read_priv(&*self, cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::io_impls::StreamSocket::poll_read_vectored_priv(&*self, cx, bufs)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                $crate::io::tokio_io::poll_read_buf(&*self, cx, buf)
            }
        }
    )+};
}

/// futures-io's `AsyncWrite` for a [`StreamSocket`] type (and, with the `tokio-io` feature,
/// tokio's). Nothing is buffered, so flushing is a no-op; closing half-closes.
macro_rules! impl_async_write {
    ($($ty:ty),+ $(,)?) => {$(
        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::io_impls::StreamSocket::poll_write_priv(&*self, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::io_impls::StreamSocket::poll_write_vectored_priv(&*self, cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready($crate::net::io_impls::StreamSocket::shutdown_write(&*self))
            }
        }

        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::io_impls::StreamSocket::poll_write_priv(&*self, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::io_impls::StreamSocket::poll_write_vectored_priv(&*self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready($crate::net::io_impls::StreamSocket::shutdown_write(&*self))
            }
        }
    )+};
}

/// The halves of a stream type `$stream` (which must implement [`StreamSocket`]), defined in
/// the calling module: `ReadHalf`/`WriteHalf` borrow it (`split`), `OwnedReadHalf`/
/// `OwnedWriteHalf` share it through an `Arc` (`into_split`). Dropping an owned write half
/// half-closes the stream, as tokio's does.
macro_rules! stream_halves {
    ($stream:ident, $name:literal) => {
        #[doc = concat!("The reading half of a borrowed [`", $name, "`], from [`", $name, "::split`].")]
        ///
        /// Reads with futures-io's `AsyncRead` (and tokio's, with the `tokio-io` feature).
        #[derive(Debug)]
        pub struct ReadHalf<'a>(pub(crate) &'a $stream);

        #[doc = concat!("The writing half of a borrowed [`", $name, "`], from [`", $name, "::split`].")]
        ///
        /// Writes with futures-io's `AsyncWrite` (and tokio's, with the `tokio-io` feature);
        /// closing it half-closes the stream.
        #[derive(Debug)]
        pub struct WriteHalf<'a>(pub(crate) &'a $stream);

        #[doc = concat!("The reading half of a [`", $name, "`], from [`", $name, "::into_split`]: a task of its own may own it.")]
        #[derive(Debug)]
        pub struct OwnedReadHalf(pub(crate) std::sync::Arc<$stream>);

        #[doc = concat!("The writing half of a [`", $name, "`], from [`", $name, "::into_split`].")]
        ///
        /// Dropping it half-closes the stream (`shutdown(Write)`): the peer reads end-of-file.
        #[derive(Debug)]
        pub struct OwnedWriteHalf(pub(crate) std::sync::Arc<$stream>, pub(crate) bool);

        impl Drop for OwnedWriteHalf {
            fn drop(&mut self) {
                if self.1 {
                    let _ = $crate::net::io_impls::StreamSocket::shutdown_write(&*self.0);
                }
            }
        }

        impl OwnedReadHalf {
            /// Puts the two halves back together, if they came from the same stream (the
            /// write half then does not half-close it).
            ///
            /// # Errors
            ///
            /// The two halves, handed back, when they belong to different streams.
            pub fn reunite(self, write: OwnedWriteHalf) -> Result<$stream, (OwnedReadHalf, OwnedWriteHalf)> {
                if !std::sync::Arc::ptr_eq(&self.0, &write.0) {
                    return Err((self, write));
                }
                let OwnedReadHalf(stream) = self;
                let mut write = write;
                write.1 = false; // the stream goes back whole: no half-close
                drop(write);
                Ok(std::sync::Arc::try_unwrap(stream)
                    .expect("reunite: both halves were given up, so no other reference is left"))
            }
        }

        impl $crate::net::io_impls::StreamSocket for ReadHalf<'_> {
            type Inner = <$stream as $crate::net::io_impls::StreamSocket>::Inner;
            fn async_io(&self) -> &$crate::io::Async<Self::Inner> {
                self.0.async_io()
            }
        }
        impl $crate::net::io_impls::StreamSocket for WriteHalf<'_> {
            type Inner = <$stream as $crate::net::io_impls::StreamSocket>::Inner;
            fn async_io(&self) -> &$crate::io::Async<Self::Inner> {
                self.0.async_io()
            }
        }
        impl $crate::net::io_impls::StreamSocket for OwnedReadHalf {
            type Inner = <$stream as $crate::net::io_impls::StreamSocket>::Inner;
            fn async_io(&self) -> &$crate::io::Async<Self::Inner> {
                self.0.async_io()
            }
        }
        impl $crate::net::io_impls::StreamSocket for OwnedWriteHalf {
            type Inner = <$stream as $crate::net::io_impls::StreamSocket>::Inner;
            fn async_io(&self) -> &$crate::io::Async<Self::Inner> {
                self.0.async_io()
            }
        }

        $crate::net::io_impls::impl_async_read!(ReadHalf<'_>, OwnedReadHalf);
        $crate::net::io_impls::impl_async_write!(WriteHalf<'_>, OwnedWriteHalf);
    };
}

pub(crate) use {impl_async_read, impl_async_write, stream_halves};
