//! A connection's header-read, idle and send timeouts, and the [`Activity`] they read.
//!
//! The service ([`crate::service`]) records each request's start and end in the connection's
//! [`Activity`], and [`super::progress`] the sending of its responses; [`Timeouts`] reads it
//! whenever its timer fires (the rules are in the [`crate::conn`] docs).
//!
//! # The clock
//!
//! [`Activity`] counts in whole milliseconds of the kernel's *coarse* monotonic clock
//! ([`coarse_ms`]: the time as of the last scheduler tick, 1–4 ms old), not in [`Instant`](std::time::Instant)s.
//! It records several moments per request (a request's start or end, a response's start, a
//! body's chunks), and the timeouts it serves are seconds long: a tick's resolution is far
//! below what they can notice, while a coarse read costs a quarter of a precise one (~5 ns and
//! ~30 instructions against ~20 ns and, with its conversion to milliseconds, ~150). Every time
//! an `Activity` records or compares comes from that one clock, so the ages it reports are
//! consistent with each other; a guard timer that fires on the precise clock may find the
//! coarse one a tick short of the deadline, and then re-arms for that tick. Request durations
//! (metrics, the access line) are the service's, on [`Instant`](std::time::Instant).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
use std::time::Instant;

use crate::metrics::{Limit, Metrics};
use crate::rt::{BoxFuture, Runtime};
use crate::shutdown::GuardAction;

/// One connection's header-read, idle and send timeouts (see the module docs), checked
/// against its [`Activity`] whenever its single timer fires.
///
/// One timer per connection, re-armed at the nearest deadline; activity never moves a
/// deadline earlier (a request only pushes the idle deadline later, and the first request ends
/// the header-read one), so a timer armed for the nearest deadline never fires too late. The
/// one exception is a response that starts while nothing was owed: its send deadline is
/// `--send-timeout` after its start, and the timer, armed at most a send timeout ahead while
/// nothing is owed, sees it at most one send timeout late.
pub(super) struct Timeouts {
    activity: Arc<Activity>,
    header_read: Option<Duration>,
    idle: Option<Duration>,
    send: Option<Duration>,
    /// The idle timeout asked for a graceful shutdown already: not again (the send timeout
    /// still watches the responses that shutdown waits for).
    idle_fired: bool,
    runtime: Arc<dyn Runtime>,
    metrics: Arc<Metrics>,
    timer: Option<BoxFuture<()>>,
    /// What the timer wakes (see [`Timeouts::poll`]), and the waker made of it.
    wake: Arc<TimerWake>,
    timer_waker: Waker,
    /// The task's waker last handed to `wake`.
    task: Option<Waker>,
}

/// The waker the guard's timer is polled with: it notes that the timer fired, then wakes the
/// connection's task.
#[derive(Debug, Default)]
struct TimerWake {
    /// The timer woke it (or was just armed) and must be polled.
    fired: AtomicBool,
    /// The connection's task; locked only when it changes and when the timer fires.
    task: Mutex<Option<Waker>>,
}

impl Wake for TimerWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = task.as_ref() {
            task.wake_by_ref();
        }
    }
}

impl Timeouts {
    /// The guard of a connection whose requests are recorded in `activity`, counting its hits
    /// in `metrics`; `None`: that timeout is off.
    pub(super) fn new(
        activity: Arc<Activity>,
        header_read: Option<Duration>,
        idle: Option<Duration>,
        send: Option<Duration>,
        runtime: Arc<dyn Runtime>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let wake = Arc::new(TimerWake::default());
        Timeouts {
            activity,
            header_read,
            idle,
            send,
            idle_fired: false,
            runtime,
            metrics,
            timer: None,
            timer_waker: Waker::from(Arc::clone(&wake)),
            wake,
            task: None,
        }
    }

    /// `Ready` when a timeout has passed; else `Pending`, with a timer armed to look again.
    ///
    /// This runs on every poll of the connection, several per request, while the timer fires
    /// once in seconds. So the timer is polled with a waker of its own ([`TimerWake`]), which
    /// notes that it fired: other polls look at that flag only, not at the timer (polling
    /// the runtime's sleep re-registers its waker, ~130 instructions a request).
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<GuardAction> {
        if !self
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(cx.waker()))
        {
            let task = cx.waker().clone();
            *self
                .wake
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task.clone());
            self.task = Some(task);
        }
        loop {
            if let Some(timer) = &mut self.timer {
                // A load first: the flag is mostly clear, and a swap is a locked write on
                // every poll of the connection.
                if !self.wake.fired.load(Ordering::Acquire)
                    || !self.wake.fired.swap(false, Ordering::AcqRel)
                {
                    return Poll::Pending;
                }
                let mut timer_cx = Context::from_waker(&self.timer_waker);
                if timer.as_mut().poll(&mut timer_cx).is_pending() {
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
            // Polled once now, so that it registers its waker.
            self.wake.fired.store(true, Ordering::Release);
        }
    }

    /// A passed timeout's action, or how long until the next one may pass (`None`: never).
    fn check(&mut self) -> Result<Option<Duration>, GuardAction> {
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
            } else if self.activity.is_http1() {
                if self.activity.awaits_request() {
                    let quiet = self.activity.quiet_for();
                    if quiet >= limit {
                        self.metrics.record_limit(Limit::HeaderReadTimeout);
                        return Err(GuardAction::Close);
                    }
                    sooner(limit - quiet);
                } else {
                    // Busy: the next request's headers are not awaited before a whole
                    // header-read period from now.
                    sooner(limit);
                }
            }
        }
        if let Some(limit) = self.send {
            match self.activity.stalled_for() {
                Some(stalled) if stalled >= limit => {
                    self.metrics.record_limit(Limit::SendTimeout);
                    return Err(GuardAction::Abort);
                }
                Some(stalled) => sooner(limit - stalled),
                // Nothing owed: look again a whole send timeout from now at the latest.
                None => sooner(limit),
            }
        }
        if let (Some(limit), false) = (self.idle, self.idle_fired) {
            if self.activity.in_flight() == 0 && self.activity.sending() == 0 {
                let idle = self.activity.idle_for();
                if idle >= limit {
                    self.idle_fired = true;
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
/// arrived yet, how many are in flight, and when the last one started or ended; and whether it
/// owes its client a response, and when it last sent some ([`super::progress`]).
///
/// One per connection, shared between the connection's task and its service; all atomics, as
/// HTTP/2 requests run on tasks of their own.
#[derive(Debug)]
pub(crate) struct Activity {
    /// When the connection was accepted, on [`coarse_ms`]' clock: what the other times count
    /// from.
    opened: u64,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds from `opened` to the last request's start or end.
    last_ms: AtomicU64,
    /// Response bodies alive ([`super::progress::SentBody`]).
    sending: AtomicUsize,
    /// The last write returned `Pending`, and none has succeeded since.
    write_blocked: AtomicBool,
    /// Milliseconds from `opened` to the last progress in sending (see [`super::progress`]).
    progress_ms: AtomicU64,
    /// A request came as HTTP/1.x: the next request's headers are awaited once the last
    /// response is out ([`crate::conn`]'s header-read rule).
    http1: AtomicBool,
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
            opened: coarse_ms(),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            sending: AtomicUsize::new(0),
            write_blocked: AtomicBool::new(false),
            progress_ms: AtomicU64::new(0),
            http1: AtomicBool::new(false),
        }
    }

    /// Requests whose headers have arrived so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Acquire)
    }

    /// How long since the connection was accepted.
    pub(crate) fn age(&self) -> Duration {
        Duration::from_millis(self.now_ms())
    }

    /// Requests being handled now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// How long since a request last started or ended, or a response last progressed (since
    /// the connection opened if none): [`Activity::quiet_for`].
    pub(crate) fn idle_for(&self) -> Duration {
        self.quiet_for()
    }

    /// Whether the connection's requests are HTTP/1.x (known from its first request on).
    pub(crate) fn is_http1(&self) -> bool {
        self.http1.load(Ordering::Relaxed)
    }

    /// Whether the connection waits for its client's next request: none in flight, and no
    /// response owed (no body alive, no write blocked).
    pub(crate) fn awaits_request(&self) -> bool {
        self.in_flight() == 0 && self.stalled_for().is_none()
    }

    /// How long since a request last started or ended, or the connection last got bytes of a
    /// response through, whichever is later: the time the client has had to send its next
    /// request's headers.
    pub(crate) fn quiet_for(&self) -> Duration {
        let last = self
            .last_ms
            .load(Ordering::Acquire)
            .max(self.progress_ms.load(Ordering::Acquire));
        Duration::from_millis(self.now_ms().saturating_sub(last))
    }

    /// Milliseconds from `opened` to now, on the coarse clock (see the module docs).
    fn now_ms(&self) -> u64 {
        coarse_ms().saturating_sub(self.opened)
    }

    fn touch(&self, at_ms: u64) {
        self.last_ms.fetch_max(at_ms, Ordering::AcqRel);
    }

    fn touch_progress(&self, at_ms: u64) {
        self.progress_ms.fetch_max(at_ms, Ordering::AcqRel);
    }

    /// Response bodies being sent now.
    pub(crate) fn sending(&self) -> usize {
        self.sending.load(Ordering::Acquire)
    }

    /// Records a response's start, `at_ms` ([`Activity::request_answered`] or
    /// [`InFlight::end`] return it: the request's end is the response's start); the guard
    /// records its progress and its end.
    pub(crate) fn response_started(self: &Arc<Self>, at_ms: u64) -> Sending {
        self.touch_progress(at_ms);
        self.sending.fetch_add(1, Ordering::AcqRel);
        Sending(Arc::clone(self))
    }

    /// A write got bytes through: the client reads. Progress only once every body has been
    /// handed over (see [`super::progress`]), and only when the write before was blocked: a
    /// write that follows a successful one follows it at once (hyper writes until the socket
    /// is full or its buffer empty), so the last progress recorded (the body's last chunk,
    /// or the last unblocking write) is at most that moment older, and no clock is read for
    /// the one write most responses take.
    pub(crate) fn wrote(&self) {
        if self.write_blocked.swap(false, Ordering::AcqRel) && self.sending() == 0 {
            self.touch_progress(self.now_ms());
        }
    }

    /// A write returned `Pending`: the client is not reading (yet).
    pub(crate) fn write_blocked(&self) {
        self.write_blocked.store(true, Ordering::Release);
    }

    /// How long the connection has owed its client bytes without sending any; `None` when it
    /// owes nothing.
    pub(crate) fn stalled_for(&self) -> Option<Duration> {
        let owed = self.sending() > 0 || self.write_blocked.load(Ordering::Acquire);
        owed.then(|| {
            let last = self.progress_ms.load(Ordering::Acquire);
            Duration::from_millis(self.now_ms().saturating_sub(last))
        })
    }

    /// Records a request that starts now; the guard records its end ([`InFlight::end`], or
    /// when dropped). `http1`: the request came as HTTP/1.x.
    pub(crate) fn request_started(self: &Arc<Self>, http1: bool) -> InFlight {
        if http1 {
            self.http1.store(true, Ordering::Relaxed);
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::AcqRel);
        self.touch(self.now_ms());
        InFlight {
            activity: Arc::clone(self),
            ended: false,
        }
    }

    /// Records a request answered at once, now: started and ended in one go, never seen in
    /// flight. `http1`: the request came as HTTP/1.x. Returns now in the milliseconds
    /// [`Activity::response_started`] takes.
    pub(crate) fn request_answered(&self, http1: bool) -> u64 {
        if http1 {
            self.http1.store(true, Ordering::Relaxed);
        }
        let at_ms = self.now_ms();
        // Touch first: a check that sees this request must also see its end time.
        self.touch(at_ms);
        self.requests.fetch_add(1, Ordering::AcqRel);
        at_ms
    }
}

/// One request in flight on a connection; see [`Activity::request_started`].
#[derive(Debug)]
pub(crate) struct InFlight {
    activity: Arc<Activity>,
    /// [`InFlight::end`] recorded the end already.
    ended: bool,
}

impl InFlight {
    /// Records the request's end, now; returns it in the milliseconds
    /// [`Activity::response_started`] takes.
    pub(crate) fn end(mut self) -> u64 {
        self.ended = true;
        let at_ms = self.activity.now_ms();
        self.record_end(at_ms);
        at_ms
    }

    fn record_end(&self, at_ms: u64) {
        // Touch first: a check that sees zero in flight must also see this end time.
        self.activity.touch(at_ms);
        self.activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // Cancelled (the future dropped before it ended): the end is now.
        if !self.ended {
            self.record_end(self.activity.now_ms());
        }
    }
}

/// One response body being sent on a connection; see [`Activity::response_started`].
#[derive(Debug)]
pub(crate) struct Sending(Arc<Activity>);

impl Sending {
    /// A piece of the body was handed over to be sent.
    pub(crate) fn progress(&self) {
        self.0.touch_progress(self.0.now_ms());
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        // No clock read: the end of a body is its last chunk's progress (or the response's
        // start, for an empty one), recorded already, and what idleness counts from
        // ([`Activity::quiet_for`]). That record comes before this decrement, so a check that
        // sees nothing owed sees it too.
        self.0.sending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Milliseconds on the kernel's coarse monotonic clock (see the module docs), from an
/// arbitrary start (the boot, on Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_ms() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable `timespec`, and CLOCK_MONOTONIC_COARSE is a clock
    // every Linux since 2.6.32 has. It cannot fail then; were it to, `now` stays 0 and the
    // connection's ages read 0, which only delays its timeouts.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let millis = u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000_000;
    secs.saturating_mul(1000).saturating_add(millis)
}

/// Milliseconds on the monotonic clock since the first call (no coarse clock here).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}
