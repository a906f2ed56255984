//! Graceful shutdown: tell every open connection to finish, then wait, but not forever.
//!
//! hyper-util's [`GracefulShutdown`] does the telling and the waiting: on shutdown each
//! connection finishes its in-flight requests (HTTP/1 closes after the current response, HTTP/2
//! sends GOAWAY and lets open streams complete). It needs only `tokio::sync::watch`, which works
//! on any runtime. What it does not do is give up: [`Drain`] adds the deadline
//! (`--shutdown-timeout`), after which the remaining connections are closed.
//!
//! Stopping the accept loop, and so refusing new connections, is the host's job and comes first
//! (see [`crate::host::serve`]). What usually starts it all is [`shutdown_signal`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown, Watcher};
use tokio::sync::watch;

use crate::rt::{race, First, Runtime};
use crate::Error;

/// A future that completes on the first SIGINT (Ctrl-C) or SIGTERM, on any runtime.
///
/// Spool has no signal handling of its own, so this borrows tokio's, on a small thread of its
/// own running a single-threaded tokio runtime; the future it returns is a
/// `tokio::sync::oneshot` receiver, which works on any runtime, or none. The handlers are
/// installed before this returns, so a signal that arrives while the server is still starting
/// is not lost.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, Error> {
    use tokio::signal::unix::{signal, SignalKind};
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(Error::Signals)?;
    let (mut interrupt, mut terminate) = {
        let _guard = signals.enter();
        let interrupt = signal(SignalKind::interrupt()).map_err(Error::Signals)?;
        let terminate = signal(SignalKind::terminate()).map_err(Error::Signals)?;
        (interrupt, terminate)
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("spool-signals".to_owned())
        .spawn(move || {
            let name = signals.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => "SIGINT",
                    _ = terminate.recv() => "SIGTERM",
                }
            });
            tracing::info!("received {name}, shutting down");
            let _ = tx.send(());
        })
        .map_err(Error::Signals)?;
    Ok(async move {
        let _ = rx.await;
    })
}

/// Tracks every open connection so they can be drained at shutdown.
///
/// Dropping it (at the end of [`Drain::drain`], or without draining) ends the watch of every
/// connection still open: each sees its channels closed, and is closed.
#[derive(Debug)]
pub(crate) struct Drain {
    graceful: GracefulShutdown,
    /// Set before each channel below is sent on (or dropped), so a connection's watch can look
    /// at the channels only when something happened ([`ConnWatch::watch`]).
    stop: Arc<Stop>,
    /// Flipped to `true` when the deadline passes: connections still open then are dropped.
    /// Its receiver count doubles as the number of connections still open.
    force_close: watch::Sender<bool>,
    /// Flipped to `true` when the drain begins: connections not yet serving HTTP (still in their
    /// TLS handshake) have nothing in flight, and are dropped at once.
    draining: watch::Sender<bool>,
}

/// What has happened to a [`Drain`]'s channels, as plain flags: cheap to read on every poll of
/// a connection, where polling the channels' futures would cost a lock each.
#[derive(Debug, Default)]
struct Stop {
    /// `draining` was sent on or dropped.
    draining: AtomicBool,
    /// `force_close` was sent on or dropped.
    forced: AtomicBool,
}

impl Drop for Drain {
    fn drop(&mut self) {
        // The senders go with this struct: the watches must look at their channels.
        self.stop.draining.store(true, Ordering::Release);
        self.stop.forced.store(true, Ordering::Release);
    }
}

/// How a [`Drain::drain`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrainOutcome {
    /// Every connection finished on its own before the deadline.
    Drained,
    /// The deadline passed; this many connections were still open and were closed.
    ForcedClose(usize),
}

/// One connection's link to its [`Drain`], created by [`Drain::watch`].
#[derive(Debug)]
pub(crate) struct ConnWatch {
    watcher: Watcher,
    stop: Arc<Stop>,
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
    pub(crate) fn new() -> Self {
        Drain {
            graceful: GracefulShutdown::new(),
            stop: Arc::default(),
            force_close: watch::Sender::new(false),
            draining: watch::Sender::new(false),
        }
    }

    /// Registers a connection. Call it before spawning the connection's task, so a connection
    /// accepted just before shutdown is still waited for.
    pub(crate) fn watch(&self) -> ConnWatch {
        ConnWatch {
            watcher: self.graceful.watcher(),
            stop: Arc::clone(&self.stop),
            force_close: self.force_close.subscribe(),
            draining: self.draining.subscribe(),
        }
    }

    /// The number of connections registered and not yet finished.
    pub(crate) fn open_connections(&self) -> usize {
        self.force_close.receiver_count()
    }

    /// Asks every connection to finish gracefully and waits for them, for at most `timeout`;
    /// then closes whatever is left (waiting at most one more second for that to happen).
    pub(crate) async fn drain(mut self, timeout: Duration, runtime: &dyn Runtime) -> DrainOutcome {
        let graceful = std::mem::take(&mut self.graceful);
        let Drain {
            force_close,
            draining,
            stop,
            ..
        } = &self;
        stop.draining.store(true, Ordering::Release);
        // Nobody may be listening (no connection open): ignore that.
        let _ = draining.send(true);
        match race(graceful.shutdown(), runtime.sleep(timeout)).await {
            First::Left(()) => DrainOutcome::Drained,
            First::Right(()) => {
                let open = force_close.receiver_count();
                stop.forced.store(true, Ordering::Release);
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
    pub(crate) async fn before_serving<F: std::future::Future>(
        &mut self,
        work: F,
    ) -> Option<F::Output> {
        // `wait_for` also returns (with an error) if the `Drain` is gone; treat that as "drop".
        match race(work, self.draining.wait_for(|&draining| draining)).await {
            First::Left(output) => Some(output),
            First::Right(_) => None,
        }
    }

    /// Runs `conn` to completion, starting its graceful shutdown when the drain begins, or when
    /// `guard` (the connection's own timeouts, see [`crate::conn`]) asks for it.
    ///
    /// hyper-util's `Watcher::watch` does the first half of this, but only for the drain; the
    /// loop is written out so that a timeout can ask for the same graceful shutdown (HTTP/2:
    /// GOAWAY, in-flight streams complete) or for an immediate close. The watcher is still held
    /// until the connection ends: [`GracefulShutdown`] counts connections by it.
    pub(crate) async fn watch<C, G>(self, conn: C, mut guard: G) -> Watched<C::Output>
    where
        C: GracefulConnection,
        G: FnMut(&mut Context<'_>) -> Poll<GuardAction>,
    {
        let ConnWatch {
            watcher,
            stop,
            mut force_close,
            mut draining,
        } = self;
        let _counted = watcher;
        let mut conn = std::pin::pin!(conn);
        // `wait_for` also returns (with an error) if the `Drain` is gone; treat that as
        // "drain" and "close" respectively.
        let mut drain_begun = std::pin::pin!(draining.wait_for(|&draining| draining));
        let mut forced = std::pin::pin!(force_close.wait_for(|&forced| forced));
        let mut shutting_down = false;
        let mut guarding = true;
        // The waker the channels' futures hold. While it is the one this poll is given, they
        // need polling only once their flag in `stop` says something was sent (each poll of
        // them takes the channel's lock); a new waker must be handed to them.
        let mut registered: Option<Waker> = None;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = conn.as_mut().poll(cx) {
                return Poll::Ready(Watched::Finished(output));
            }
            let fresh = !registered
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()));
            if fresh {
                registered = Some(cx.waker().clone());
            }
            if (fresh || stop.forced.load(Ordering::Acquire)) && forced.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Watched::ForcedClose);
            }
            let mut shut_down_now = !shutting_down
                && (fresh || stop.draining.load(Ordering::Acquire))
                && drain_begun.as_mut().poll(cx).is_ready();
            if guarding {
                match guard(cx) {
                    Poll::Pending => {}
                    Poll::Ready(GuardAction::Close) => return Poll::Ready(Watched::TimedOut),
                    Poll::Ready(GuardAction::Shutdown) => {
                        guarding = false;
                        shut_down_now |= !shutting_down;
                    }
                }
            }
            if shut_down_now {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
                // The connection must be polled again to act on it (write GOAWAY, close).
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await
    }
}

/// What a connection's guard (its own timeouts) asks [`ConnWatch::watch`] to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GuardAction {
    /// Finish gracefully: HTTP/1 closes once idle, HTTP/2 sends GOAWAY and lets open streams end.
    Shutdown,
    /// Drop the connection now (it has nothing in flight worth finishing).
    Close,
}

/// How [`ConnWatch::watch`] ended.
#[derive(Debug)]
pub(crate) enum Watched<T> {
    /// The connection ended by itself (perhaps after a graceful shutdown); its result.
    Finished(T),
    /// Still open at the shutdown deadline: dropped, which closes its socket.
    ForcedClose,
    /// The guard asked for [`GuardAction::Close`]: dropped.
    TimedOut,
}
