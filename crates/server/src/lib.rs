//! The chapter's hyper service, grown into a small real server, on tokio or on Spool.
//!
//! It answers HTTP/1.1 and HTTP/2 (with prior knowledge, as `curl --http2-prior-knowledge`
//! speaks it) on one port — or, with the TLS flags, HTTPS with HTTP/2 or HTTP/1.1 agreed by
//! ALPN, as browsers need — logs one line per request, and shuts down gracefully.
//!
//! The whole surface is here: a [`Config`] (also the `spool serve` flags), one function per
//! host that starts serving and returns once a shutdown future resolves and the connections are
//! drained ([`serve_on_tokio`], [`serve_on_spool`]; per-core mode, [`Config::per_core`]:
//! [`serve_on_tokio`] again, [`serve_per_core_on_spool`]), the SIGINT/SIGTERM future they are usually
//! given ([`shutdown_signal`]), and the [`Error`] they return. How the crate is built inside
//! (accept loop, connections, service, routes) is in `docs/architecture.md`.
//!
//! # Example
//!
//! Serve on 127.0.0.1:3000 on tokio until Ctrl-C:
//!
//! ```no_run
//! fn main() -> Result<(), server::Error> {
//!     let shutdown = server::shutdown_signal()?;
//!     server::serve_on_tokio(server::Config::default(), shutdown, |addr| {
//!         println!("listening on {addr}");
//!     })
//! }
//! ```
#![warn(
    missing_docs,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

mod config;
mod conn;
mod host;
pub mod log;
mod metrics;
mod routes;
mod rt;
mod service;
mod shutdown;
mod tls;
mod validate;

use std::io;
use std::net::SocketAddr;

pub use config::{Config, RuntimeKind, DEFAULT_MAX_BODY};
pub use host::spool::{serve_on_spool, serve_per_core_on_spool};
pub use host::tokio::serve_on_tokio;
pub use shutdown::shutdown_signal;
pub use tls::TlsError;

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
    /// The tokio runtime could not be started.
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(#[source] io::Error),
    /// The task running the accept loop on Spool ended without finishing (it panicked).
    #[error("the server task failed: {0}")]
    Task(#[source] spool::JoinError),
    /// The TLS flags are inconsistent, or their files cannot be used (a usage error: the
    /// binary exits with code 2 for it, as for any other bad flag).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Settings that cannot be used together (e.g. `--per-core` with fewer `--max-connections`
    /// than cores): a usage error, exit code 2 in the binary.
    #[error("{0}")]
    Usage(String),
    /// One core of a per-core server ([`Config::per_core`]) could not start, or failed.
    #[error("per-core server, core {core}: {message}")]
    Core {
        /// The core's index, as in `spool_connections_accepted_total{core}`.
        core: usize,
        /// What went wrong.
        message: String,
    },
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
