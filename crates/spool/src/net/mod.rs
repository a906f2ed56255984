//! Networking on the reactor: TCP ([`TcpListener`], [`TcpStream`], [`TcpSocket`]), UDP
//! ([`UdpSocket`]), Unix sockets ([`UnixListener`], [`UnixStream`], [`UnixDatagram`]) and name
//! resolution ([`lookup_host`]); std's sockets in non-blocking mode.
//!
//! ```
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use spool::net::{TcpListener, TcpStream};
//!
//! let rt = spool::Runtime::new()?;
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     let server = spool::spawn(async move {
//!         let (mut stream, _peer) = listener.accept().await?;
//!         let mut buf = [0u8; 5];
//!         stream.read_exact(&mut buf).await?;
//!         stream.write_all(&buf).await?; // echo
//!         std::io::Result::Ok(())
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut echoed = [0u8; 5];
//!     client.read_exact(&mut echoed).await?;
//!     assert_eq!(&echoed, b"hello");
//!     server.await.unwrap()
//! })?;
//! # std::io::Result::Ok(())
//! ```
//!
//! Streams are read and written through the [`futures_io::AsyncRead`] /
//! [`futures_io::AsyncWrite`] traits (the runtime-neutral ones that futures, smol and async-std
//! use; `futures-lite` and `futures` provide `read_exact`, `write_all` and friends on top), for
//! `TcpStream` and for `&TcpStream`, so that one task can read while another writes; with the
//! `tokio-io` feature also through tokio's `AsyncRead`/`AsyncWrite` (no tokio runtime needed:
//! tokio-rustls, tokio-util's codecs and hyper-util's `TokioIo` then run on Spool sockets).
//! With the `hyper` feature, `TcpStream` also implements `hyper::rt::Read` and `hyper::rt::Write`.
//!
//! Each socket is registered with the reactor of the runtime it is created in (the runtime the
//! calling thread is in, else the default runtime; an accepted connection, with its listener's)
//! and deregistered when dropped.
//!
//! Binding is synchronous (it never waits for the network); every address argument that may
//! be a host name and is awaited (`connect`, `send_to`) is resolved on the blocking pool, never
//! on a worker (why, and what counts as "already an address": [`lookup_host`]).

mod addr;
pub(crate) mod io_impls;
mod listener;
mod socket;
mod stream;
mod udp;
pub mod unix;

pub use addr::lookup_host;
pub use listener::TcpListener;
pub use socket::TcpSocket;
pub use stream::TcpStream;
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// The halves of a [`TcpStream`] ([`TcpStream::split`], [`TcpStream::into_split`]).
pub mod tcp {
    pub use super::stream::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
}

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr` here (a synchronous bind) and runs `f` on each address until one succeeds.
fn each_addr<T>(
    addr: impl ToSocketAddrs,
    what: &str,
    f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    addr::first_ok(addr.to_socket_addrs()?, what, f)
}
