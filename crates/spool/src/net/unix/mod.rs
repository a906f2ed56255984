//! Unix domain sockets: [`UnixListener`] and [`UnixStream`] (byte streams, the same I/O traits
//! as [`TcpStream`](super::TcpStream)) and [`UnixDatagram`], on the reactor.
//!
//! A socket bound to a path leaves a file there, which stays after the socket is closed: as
//! with std's, **removing it is the caller's job** (before binding again: `bind` fails with
//! `AddrInUse` while the file exists, even when nobody listens). The halves of a
//! [`UnixStream`] are in this module ([`ReadHalf`], [`OwnedReadHalf`], …).
//!
//! ```
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//! use spool::net::{UnixListener, UnixStream};
//!
//! let dir = std::env::temp_dir().join(format!("spool-doc-unix-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("echo.sock");
//! let _ = std::fs::remove_file(&path); // a file left by an earlier run
//! # let rt = spool::Runtime::new()?;
//! rt.block_on(async {
//!     let listener = UnixListener::bind(&path)?;
//!     let mut client = UnixStream::connect(&path).await?;
//!     let (mut server, _) = listener.accept().await?;
//!     client.write_all(b"over a file").await?;
//!     let mut buf = [0u8; 11];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"over a file");
//!     std::io::Result::Ok(())
//! })?;
//! std::fs::remove_file(&path)?; // ours to clean up
//! # std::io::Result::Ok(())
//! ```

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use stream::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, UnixStream, WriteHalf};
