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
//!
//! The drain runs in two steps ([`Drain::drain`]):
//!
//! 1. **Draining**, for [`DRAIN_GRACE`]: connections still in their TLS handshake are dropped,
//!    and every HTTP/1 response carries `Connection: close`, so a busy keep-alive client closes
//!    after its current answer and opens its next connection elsewhere (the new instance, with
//!    `--reuse-port`, or another upstream), rather than racing the server's close with a new
//!    request on the old connection.
//! 2. **Closing**: every connection is asked to finish gracefully (HTTP/1 closes once its
//!    response is written or at once if idle; HTTP/2 sends GOAWAY and finishes open streams),
//!    and whatever is still open at `--shutdown-timeout` is closed.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown, Watcher};
use tokio::sync::watch;

use crate::rt::{race, BoxFuture, First, Runtime};
use crate::Error;

/// How long the first step of the drain (see the module docs) lasts, at most: long enough for a
/// busy keep-alive client to get one more answer and its `Connection: close`.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_millis(300);

/// A future that completes on the first SIGINT (Ctrl-C) or SIGTERM, on any runtime.
///
/// Called inside a Spool runtime (in its [`spool::Handle::enter`] context, as the binary does
/// for `--runtime spool`), it listens with [`spool::signal`]: the signals arrive through that
/// runtime's reactor, and the process runs no tokio runtime at all. Elsewhere it borrows
/// tokio's signal handling, on a small thread of its own running a single-threaded tokio
/// runtime, and the future is a `tokio::sync::oneshot` receiver, which works on any runtime,
/// or none. Either way the handlers are installed before this returns, so a signal that
/// arrives while the server is still starting is not lost.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, Error> {
    let signal: BoxFuture<()> = if spool::Handle::try_current().is_ok() {
        Box::pin(spool_signal()?)
    } else {
        Box::pin(tokio_signal()?)
    };
    Ok(signal)
}

/// SIGINT or SIGTERM through the current Spool runtime's reactor.
fn spool_signal() -> Result<impl Future<Output = ()> + Send + 'static, Error> {
    use spool::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(Error::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(Error::Signals)?;
    Ok(async move {
        let name = match race(interrupt.recv(), terminate.recv()).await {
            First::Left(_) => "SIGINT",
            First::Right(_) => "SIGTERM",
        };
        tracing::info!("received {name}, shutting down");
    })
}

/// SIGINT or SIGTERM through tokio's signal handling, on a thread of its own.
fn tokio_signal() -> Result<impl Future<Output = ()> + Send + 'static, Error> {
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
    /// TLS handshake) have nothing in flight, and are dropped at once; HTTP/1 responses carry
    /// `Connection: close`.
    draining: watch::Sender<bool>,
    /// Flipped to `true` after [`DRAIN_GRACE`]: connections shut down gracefully.
    closing: watch::Sender<bool>,
}

/// What has happened to a [`Drain`]'s channels, as plain flags: cheap to read on every poll of
/// a connection, where polling the channels' futures would cost a lock each.
#[derive(Debug, Default)]
struct Stop {
    /// `draining` was sent on or dropped.
    draining: AtomicBool,
    /// `closing` was sent on or dropped.
    closing: AtomicBool,
    /// `force_close` was sent on or dropped.
    forced: AtomicBool,
}

impl Drop for Drain {
    fn drop(&mut self) {
        // The senders go with this struct: the watches must look at their channels.
        self.stop.draining.store(true, Ordering::Release);
        self.stop.closing.store(true, Ordering::Release);
        self.stop.forced.store(true, Ordering::Release);
    }
}

/// Whether the drain has begun ([`ConnWatch::draining`]), read from the flag set before the
/// channel is sent on: every response asks, and a flag is one load where the channel's `borrow`
/// takes its lock (and a receiver's clone and drop two atomic counts).
#[derive(Debug, Clone)]
pub(crate) struct Draining(Arc<Stop>);

impl Draining {
    /// `true` once the drain has begun (or its [`Drain`] is gone).
    pub(crate) fn get(&self) -> bool {
        self.0.draining.load(Ordering::Acquire)
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
    closing: watch::Receiver<bool>,
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
            closing: watch::Sender::new(false),
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
            closing: self.closing.subscribe(),
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
            closing,
            stop,
            ..
        } = &self;
        let started = std::time::Instant::now();
        stop.draining.store(true, Ordering::Release);
        // Nobody may be listening (no connection open): ignore these sends' errors.
        let _ = draining.send(true);
        // Step 1; it ends early once every connection has closed.
        let grace = DRAIN_GRACE.min(timeout / 2);
        let _ = race(force_close.closed(), runtime.sleep(grace)).await;
        stop.closing.store(true, Ordering::Release);
        let _ = closing.send(true);
        let left = timeout.saturating_sub(started.elapsed());
        match race(graceful.shutdown(), runtime.sleep(left)).await {
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
    /// Whether the drain has begun: HTTP/1 responses should then say `Connection: close`.
    pub(crate) fn draining(&self) -> Draining {
        Draining(Arc::clone(&self.stop))
    }

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
            mut closing,
            ..
        } = self;
        let _counted = watcher;
        let mut conn = std::pin::pin!(conn);
        // `wait_for` also returns (with an error) if the `Drain` is gone; treat that as
        // "drain" and "close" respectively.
        let mut drain_begun = std::pin::pin!(closing.wait_for(|&closing| closing));
        let mut forced = std::pin::pin!(force_close.wait_for(|&forced| forced));
        let mut shutting_down = false;
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
                && (fresh || stop.closing.load(Ordering::Acquire))
                && drain_begun.as_mut().poll(cx).is_ready();
            // Still polled after a shutdown began: the send timeout watches the responses a
            // graceful shutdown waits for.
            match guard(cx) {
                Poll::Pending => {}
                Poll::Ready(GuardAction::Close) => return Poll::Ready(Watched::TimedOut),
                Poll::Ready(GuardAction::Abort) => {
                    // One more poll writes the GOAWAY where the socket still takes bytes; then
                    // the connection is dropped whatever it had left to send.
                    if !shutting_down {
                        conn.as_mut().graceful_shutdown();
                    }
                    let _ = conn.as_mut().poll(cx);
                    return Poll::Ready(Watched::Stalled);
                }
                Poll::Ready(GuardAction::Shutdown) => shut_down_now |= !shutting_down,
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
    /// The client stopped taking the response (`--send-timeout`): send GOAWAY if the socket
    /// still takes it (HTTP/2), then drop the connection.
    Abort,
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
    /// The guard asked for [`GuardAction::Abort`]: dropped.
    Stalled,
}
