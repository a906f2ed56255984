//! The chapter's hyper service, grown into a small real server, and its hosting.
//!
//! It answers HTTP/1.1 and HTTP/2 (with prior knowledge, as `curl --http2-prior-knowledge`
//! speaks it) on one port, through hyper-util's protocol-sniffing auto builder — or, with the
//! TLS flags, HTTPS with HTTP/2 or HTTP/1.1 agreed by ALPN, as browsers need; serves the routes
//! in [`service`]; logs one line per request; and shuts down gracefully.
//!
//! The crate is split so the service never learns which runtime hosts it:
//!
//! - [`service`]: the routes. They need a timer and a blocking pool, which they get through
//!   the runtime-neutral [`Runtime`] trait.
//! - [`conn`]: one connection, generic over the byte stream, executor and timer, with the
//!   limits and timeouts hyper does not enforce itself (a silent or slow client, an idle one).
//! - [`host`]: the accept loop (with `--max-connections`) and shutdown sequence, written
//!   once; [`host::tokio`] runs it on tokio, [`host::spool`] on Spool's own runtime
//!   (`spool serve --runtime spool`).
//! - [`metrics`]: the counters served at `/metrics`, in Prometheus' text format.
//! - [`tls`]: the TLS settings and a rustls handshake over any hyper I/O, so every host gets
//!   HTTPS from the same code.
//! - [`shutdown`]: draining open connections with a deadline.
//! - [`config`]: every setting, with its default (also the `spool serve` flags).
//!
//! # Example
//!
//! Serve on 127.0.0.1:3000 until Ctrl-C:
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> Result<(), server::Error> {
//!     let config = server::Config::default();
//!     let listener = server::bind(config.addr).await?;
//!     server::run(listener, config, server::shutdown_signal()?).await
//! }
//! ```
#![warn(
    missing_docs,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

pub mod config;
pub mod conn;
pub mod host;
pub mod metrics;
pub mod rt;
pub mod service;
pub mod shutdown;
pub mod tls;

use std::io;
use std::net::SocketAddr;

pub use config::{Config, RuntimeKind};
pub use host::tokio::{bind, run, shutdown_signal};
pub use rt::Runtime;

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound (address in use, permission denied, ...).
    #[error("cannot listen on {addr}: {}", lowercase_first(source))]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// Why the OS refused.
        source: io::Error,
    },
    /// The listening socket's own address could not be read.
    #[error("cannot read the listening socket's address: {}", lowercase_first(.0))]
    LocalAddr(#[source] io::Error),
    /// The SIGINT/SIGTERM handlers could not be installed.
    #[error("cannot install the signal handlers: {}", lowercase_first(.0))]
    Signals(#[source] io::Error),
    /// The TLS flags are inconsistent, or their files cannot be used (a usage error: the
    /// binary exits with code 2 for it, as for any other bad flag).
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// OS messages start with a capital ("Address already in use"); mid-sentence they read better
/// in lower case, as Rust error messages conventionally are.
fn lowercase_first(error: &io::Error) -> String {
    let message = error.to_string();
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => message,
    }
}
