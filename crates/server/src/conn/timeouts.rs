//! A connection's header-read and idle timeouts, and the [`Activity`] they read.
//!
//! The service ([`crate::service`]) records each request's start and end in the connection's
//! [`Activity`]; [`Timeouts`] reads it whenever its timer fires (the rules are in the
//! [`crate::conn`] docs).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::metrics::{Limit, Metrics};
use crate::rt::{BoxFuture, Runtime};
use crate::shutdown::GuardAction;

/// One connection's header-read and idle timeouts (see the module docs), checked against its
/// [`Activity`] whenever its single timer fires.
///
/// One timer per connection, re-armed at the nearest deadline; activity never moves a
/// deadline earlier (a request only pushes the idle deadline later, and the first request ends
/// the header-read one), so a timer armed for the nearest deadline never fires too late.
pub(super) struct Timeouts {
    activity: Arc<Activity>,
    header_read: Option<Duration>,
    idle: Option<Duration>,
    runtime: Arc<dyn Runtime>,
    metrics: Arc<Metrics>,
    timer: Option<BoxFuture<()>>,
}

impl Timeouts {
    /// The guard of a connection whose requests are recorded in `activity`, counting its hits
    /// in `metrics`; `None`: that timeout is off.
    pub(super) fn new(
        activity: Arc<Activity>,
        header_read: Option<Duration>,
        idle: Option<Duration>,
        runtime: Arc<dyn Runtime>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Timeouts {
            activity,
            header_read,
            idle,
            runtime,
            metrics,
            timer: None,
        }
    }

    /// `Ready` when a timeout has passed; else `Pending`, with a timer armed to look again.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<GuardAction> {
        loop {
            if let Some(timer) = &mut self.timer {
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.timer = None;
            }
            let wait = match self.check() {
                Err(action) => return Poll::Ready(action),
                Ok(None) => return Poll::Pending,
                Ok(Some(wait)) => wait,
            };
            self.timer = Some(self.runtime.sleep(wait));
        }
    }

    /// A passed timeout's action, or how long until the next one may pass (`None`: never).
    fn check(&self) -> Result<Option<Duration>, GuardAction> {
        let mut next: Option<Duration> = None;
        let mut sooner = |wait: Duration| next = Some(next.map_or(wait, |n| n.min(wait)));
        if let Some(limit) = self.header_read {
            if self.activity.requests() == 0 {
                let age = self.activity.age();
                if age >= limit {
                    self.metrics.record_limit(Limit::HeaderReadTimeout);
                    return Err(GuardAction::Close);
                }
                sooner(limit - age);
            }
        }
        if let Some(limit) = self.idle {
            if self.activity.in_flight() == 0 {
                let idle = self.activity.idle_for();
                if idle >= limit {
                    self.metrics.record_limit(Limit::IdleTimeout);
                    tracing::debug!(idle = ?limit, "connection idle: shutting it down");
                    return Err(GuardAction::Shutdown);
                }
                sooner(limit - idle);
            } else {
                // Busy: look again a whole idle period from now at the earliest.
                sooner(limit);
            }
        }
        Ok(next)
    }
}

/// What a connection's requests have done, for its timeouts ([`crate::conn`]): whether one has
/// arrived yet, how many are in flight, and when the last one started or ended.
///
/// One per connection, shared between the connection's task and its service; all atomics, as
/// HTTP/2 requests run on tasks of their own.
#[derive(Debug)]
pub(crate) struct Activity {
    /// What `last` counts from.
    opened: Instant,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds from `opened` to the last request's start or end.
    last_ms: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

impl Activity {
    /// A connection opened now, with no request yet.
    pub(crate) fn new() -> Self {
        Activity {
            opened: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    /// Requests whose headers have arrived so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Acquire)
    }

    /// How long since the connection was accepted.
    pub(crate) fn age(&self) -> Duration {
        self.opened.elapsed()
    }

    /// Requests being handled now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// How long since a request last started or ended (since the connection opened if none).
    pub(crate) fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Acquire));
        self.opened.elapsed().saturating_sub(last)
    }

    fn touch(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(now, Ordering::AcqRel);
    }

    /// Records a request's start; the guard records its end when dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::AcqRel);
        self.touch();
        InFlight(Arc::clone(self))
    }
}

/// One request in flight on a connection; see [`Activity::request_started`].
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // Touch first: a check that sees zero in flight must also see this end time.
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
