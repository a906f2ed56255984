//! Signals as futures, delivered through the reactor: [`ctrl_c`], and [`unix::signal`] for any
//! signal (tokio's `tokio::signal` shape).
//!
//! ```no_run
//! # let rt = spool::Runtime::new()?;
//! rt.block_on(async {
//!     spool::signal::ctrl_c().await?;
//!     println!("Ctrl-C: shutting down");
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```
//!
//! # How a signal reaches a task
//!
//! A signal handler may do almost nothing: only async-signal-safe calls, no lock, no
//! allocation, no waker (waking may lock and allocate). So delivery is split in two:
//!
//! 1. **In the handler** (installed once per signal number through signal-hook-registry, which
//!    chains to any handler installed before): mark the signal pending (an atomic store) and
//!    write one byte to a process-wide non-blocking pipe. A full pipe is fine: a byte already
//!    waits there.
//! 2. **In the reactor.** The first [`Signal`](unix::Signal) created in a runtime registers a duplicate of
//!    the pipe's read end with that runtime's poller, under a key of its own
//!    (`driver.rs`). The pipe's edge wakes the worker parked in `epoll_wait` like any socket;
//!    its turn drains the pipe and *broadcasts*: each pending signal's generation is bumped and
//!    every listener waiting for it is woken. Any runtime with a listener may do the broadcast;
//!    the listeners are process-wide, so each one gets each signal whichever runtime saw it.
//!
//! A listener remembers the generation it has seen: [`Signal::recv`](unix::Signal::recv) completes once for any
//! number of deliveries since the last `recv` (signals coalesce, as the kernel's do).
//!
//! Installing a handler is for the life of the process: once a [`Signal`](unix::Signal) for SIGINT has been
//! created, Ctrl-C no longer kills the process even after the `Signal` is dropped (as with
//! tokio).

mod registry;
pub mod unix;

use std::io;

/// Completes at the next SIGINT (Ctrl-C) after it is first polled.
///
/// The handler is installed at the first poll, so a Ctrl-C before that still kills the
/// process; to catch one that comes while the program starts, create a
/// [`unix::signal`]`(SignalKind::interrupt())` early and `recv` on it later.
///
/// # Errors
///
/// If the handler cannot be installed or the runtime's poller refuses the signal pipe.
///
/// ```no_run
/// # let rt = spool::Runtime::new()?;
/// rt.block_on(async {
///     let server = spool::spawn(async { /* serve */ });
///     spool::signal::ctrl_c().await?;
///     drop(server); // cancel it
///     std::io::Result::Ok(())
/// })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut signal = unix::signal(unix::SignalKind::interrupt())?;
    match signal.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other("the signal listener was closed")),
    }
}

pub(crate) use registry::{broadcast, receiver};
