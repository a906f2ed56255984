//! Graceful shutdown: tell every open connection to finish, then wait, but not forever.
//!
//! hyper-util's [`GracefulShutdown`] does the telling and the waiting: on shutdown each
//! connection finishes its in-flight requests (HTTP/1 closes after the current response, HTTP/2
//! sends GOAWAY and lets open streams complete). It needs only `tokio::sync::watch`, which works
//! on any runtime. What it does not do is give up: [`Drain`] adds the deadline
//! (`--shutdown-timeout`), after which the remaining connections are closed.
//!
//! Stopping the accept loop, and so refusing new connections, is the host's job and comes first
//! (see [`crate::host::serve`]); the OS signals that start it all are host-specific too
//! (e.g. [`crate::host::tokio::shutdown_signal`]).

use std::time::Duration;

use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown, Watcher};
use tokio::sync::watch;

use crate::rt::{race, First, Runtime};

/// Logs that a shutdown signal (`"SIGINT"`, `"SIGTERM"`) arrived, under this module's target
/// (`server::shutdown`) whichever host caught it: the Spool host borrows the tokio host's
/// signal handling, and its log should not claim to come from tokio.
pub fn log_signal(name: &str) {
    tracing::info!("received {name}, shutting down");
}

/// Tracks every open connection so they can be drained at shutdown.
#[derive(Debug)]
pub struct Drain {
    graceful: GracefulShutdown,
    /// Flipped to `true` when the deadline passes: connections still open then are dropped.
    /// Its receiver count doubles as the number of connections still open.
    force_close: watch::Sender<bool>,
    /// Flipped to `true` when the drain begins: connections not yet serving HTTP (still in their
    /// TLS handshake) have nothing in flight, and are dropped at once.
    draining: watch::Sender<bool>,
}

/// How a [`Drain::drain`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every connection finished on its own before the deadline.
    Drained,
    /// The deadline passed; this many connections were still open and were closed.
    ForcedClose(usize),
}

/// One connection's link to its [`Drain`], created by [`Drain::watch`].
#[derive(Debug)]
pub struct ConnWatch {
    watcher: Watcher,
    force_close: watch::Receiver<bool>,
    draining: watch::Receiver<bool>,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    /// A drain with no connections yet.
    pub fn new() -> Self {
        Drain {
            graceful: GracefulShutdown::new(),
            force_close: watch::Sender::new(false),
            draining: watch::Sender::new(false),
        }
    }

    /// Registers a connection. Call it before spawning the connection's task, so a connection
    /// accepted just before shutdown is still waited for.
    pub fn watch(&self) -> ConnWatch {
        ConnWatch {
            watcher: self.graceful.watcher(),
            force_close: self.force_close.subscribe(),
            draining: self.draining.subscribe(),
        }
    }

    /// The number of connections registered and not yet finished.
    pub fn open_connections(&self) -> usize {
        self.force_close.receiver_count()
    }

    /// Asks every connection to finish gracefully and waits for them, for at most `timeout`;
    /// then closes whatever is left (waiting at most one more second for that to happen).
    pub async fn drain(self, timeout: Duration, runtime: &dyn Runtime) -> DrainOutcome {
        let Drain {
            graceful,
            force_close,
            draining,
        } = self;
        // Nobody may be listening (no connection open): ignore that.
        let _ = draining.send(true);
        match race(graceful.shutdown(), runtime.sleep(timeout)).await {
            First::Left(()) => DrainOutcome::Drained,
            First::Right(()) => {
                let open = force_close.receiver_count();
                // Nobody may be listening any more (the last connection just ended): ignore that.
                let _ = force_close.send(true);
                // Each connection task drops its connection the next time it runs; give them a
                // moment so that "run returned" means "sockets closed".
                let _ = race(force_close.closed(), runtime.sleep(Duration::from_secs(1))).await;
                DrainOutcome::ForcedClose(open)
            }
        }
    }
}

impl ConnWatch {
    /// Runs `work` that comes before serving (the TLS handshake), unless the drain begins
    /// first: then returns `None`, and the connection, which has no request in flight yet,
    /// should just be dropped.
    pub async fn before_serving<F: std::future::Future>(&mut self, work: F) -> Option<F::Output> {
        // `wait_for` also returns (with an error) if the `Drain` is gone; treat that as "drop".
        match race(work, self.draining.wait_for(|&draining| draining)).await {
            First::Left(output) => Some(output),
            First::Right(_) => None,
        }
    }

    /// Runs `conn` to completion, starting its graceful shutdown when the drain begins.
    ///
    /// Returns `None` if the connection was still open at the deadline and was dropped (which
    /// closes its socket), else the connection's own result.
    pub async fn watch<C: GracefulConnection>(self, conn: C) -> Option<C::Output> {
        let ConnWatch {
            watcher,
            mut force_close,
            draining: _,
        } = self;
        // `wait_for` also returns (with an error) if the `Drain` is gone; treat that as "close".
        let outcome = race(watcher.watch(conn), force_close.wait_for(|&forced| forced)).await;
        match outcome {
            First::Left(output) => Some(output),
            First::Right(_) => None,
        }
    }
}
