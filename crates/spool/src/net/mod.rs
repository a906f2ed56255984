//! TCP: [`TcpListener`] and [`TcpStream`], std's sockets in non-blocking mode on the reactor.
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
//! Reads and writes go through the [`futures_io::AsyncRead`] / [`futures_io::AsyncWrite`] traits
//! (the runtime-neutral ones that futures, smol and async-std use; `futures-lite` and `futures`
//! provide `read_exact`, `write_all` and friends on top), for `TcpStream` and for `&TcpStream`,
//! so that one task can read while another writes. With the `hyper` feature, `TcpStream` also
//! implements `hyper::rt::Read` and `hyper::rt::Write`.
//!
//! Each socket is registered with the reactor of the runtime it is created in (the runtime the
//! calling thread is in, else the default runtime; an accepted connection, with its listener's)
//! and deregistered when dropped.

mod listener;
mod stream;

pub use listener::TcpListener;
pub use stream::TcpStream;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Runs `f` on each address `addr` resolves to until one succeeds; returns the last error (with
/// its `ErrorKind` kept and the address added to the message) if none does.
fn each_addr<T>(
    addr: impl ToSocketAddrs,
    what: &str,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(err) => last = Some(io::Error::new(err.kind(), format!("{what} {addr}: {err}"))),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what}: the address resolved to no socket address"),
        )
    }))
}
