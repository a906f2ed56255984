//! The runtime's clock: the real one, or a paused one that moves only when told (tests).
//!
//! Every deadline in the timer heap is a point on the *runtime's* time line, and
//! everything that compares against them (a `Sleep`'s poll, the driver's turn,
//! [`Instant::now`](crate::time::Instant::now) inside the runtime) reads this clock:
//!
//! - **never paused** (every multi-thread runtime, most current-thread ones): the time line is
//!   the real one; `now` is `std::time::Instant::now()` behind one relaxed load;
//! - **paused** ([`time::pause`](crate::time::pause), `Builder::start_paused`): `now` stands
//!   still; [`time::advance`](crate::time::advance) moves it forward, and so does the worker when
//!   it would otherwise wait in the driver with nothing to run (*auto-advance*: the clock jumps to
//!   the next timer, which then fires at once: `worker.rs`, `ParkSite::sleep`);
//! - **resumed**: it runs again at real speed from where it stood (the time spent paused is
//!   skipped: `now = base_virtual + (real_now - base_real)`).
//!
//! Only current-thread runtimes may pause (as tokio's): with one thread, "no task can run" is a
//! fact the worker sees in its own queue when it is about to park.
//!
//! # What a clock read costs
//!
//! Every `sleep` reads the clock when it is created (its deadline) and when it is first polled,
//! so the read must cost what `std::time::Instant::now()` costs and no more (issue 12: the timer
//! rows must not get slower). Two flags make it so, both set by [`Clock::pause`] and never
//! cleared:
//!
//! 1. [`now`], the read of [`time::Instant::now`](crate::time::Instant::now), which does not know
//!    its runtime: while no clock *in the process* was ever paused (the `ANY_EVER_PAUSED` static),
//!    every runtime's clock is the real one, so it returns `std::time::Instant::now()` behind one
//!    relaxed load, without finding the runtime (a thread-local, a `RefCell` borrow, the
//!    handle's driver: about 40 instructions). Once any clock was paused (a test binary),
//!    it asks the thread's runtime (`runtime::context::clock_now`).
//! 2. [`Clock::now`], for code that holds the runtime's driver (a registered `Sleep`, the
//!    driver's turn): while *this* clock was never paused, the real time behind one relaxed load.
//!
//! Relaxed is enough: a clock is paused on its runtime's own thread (`time::pause`) or before
//! the runtime runs (`Builder::start_paused`), and whatever reads it later is ordered after the
//! pause, by program order or by the hand-off that brought it the runtime or its task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Some runtime's clock in this process was paused once (step 1 of the module doc).
static ANY_EVER_PAUSED: AtomicBool = AtomicBool::new(false);

/// Now on the calling thread's runtime's clock (step 1 of the module doc): the real time while
/// no clock in the process was ever paused.
#[inline]
pub(crate) fn now() -> Instant {
    if !ANY_EVER_PAUSED.load(Ordering::Relaxed) {
        return Instant::now();
    }
    crate::runtime::context::clock_now()
}

#[derive(Debug)]
struct State {
    paused: bool,
    /// The runtime's time at `base_real`.
    base_virtual: Instant,
    /// When the clock last started running (or was created).
    base_real: Instant,
}

/// One runtime's clock.
#[derive(Debug)]
pub(crate) struct Clock {
    /// Never paused: `now` is the real time, without the lock.
    ever_paused: AtomicBool,
    state: Mutex<State>,
}

impl Clock {
    /// A clock that starts at `now` (the real time), never earlier: no reading is before it.
    pub(crate) fn new(now: Instant) -> Self {
        Clock {
            ever_paused: AtomicBool::new(false),
            state: Mutex::new(State {
                paused: false,
                base_virtual: now,
                base_real: now,
            }),
        }
    }

    /// The runtime's current time (step 2 of the module doc).
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        if !self.ever_paused.load(Ordering::Relaxed) {
            return Instant::now();
        }
        self.now_paused()
    }

    /// [`Clock::now`] of a clock that was paused once: out of line, so that the check above
    /// inlines into its callers.
    #[cold]
    #[inline(never)]
    fn now_paused(&self) -> Instant {
        Self::now_locked(&crate::loom::std_lock(&self.state))
    }

    fn now_locked(state: &State) -> Instant {
        if state.paused {
            state.base_virtual
        } else {
            state.base_virtual + Instant::now().saturating_duration_since(state.base_real)
        }
    }

    /// Stops the clock (no-op if stopped).
    pub(crate) fn pause(&self) {
        let mut state = crate::loom::std_lock(&self.state);
        state.base_virtual = Self::now_locked(&state);
        state.paused = true;
        ANY_EVER_PAUSED.store(true, Ordering::Relaxed);
        self.ever_paused.store(true, Ordering::Relaxed);
    }

    /// Starts the clock again from where it stands (no-op if running).
    pub(crate) fn resume(&self) {
        let mut state = crate::loom::std_lock(&self.state);
        if state.paused {
            state.base_real = Instant::now();
            state.paused = false;
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.ever_paused.load(Ordering::Relaxed) && crate::loom::std_lock(&self.state).paused
    }

    /// Moves a paused clock forward by `by`. Returns `false` (and does nothing) if it runs.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        let mut state = crate::loom::std_lock(&self.state);
        if !state.paused {
            return false;
        }
        state.base_virtual = state
            .base_virtual
            .checked_add(by)
            .unwrap_or(state.base_virtual);
        true
    }

    /// Moves a paused clock forward to `to`, if that is later than now (auto-advance).
    pub(crate) fn advance_to(&self, to: Instant) {
        let mut state = crate::loom::std_lock(&self.state);
        if state.paused && to > state.base_virtual {
            state.base_virtual = to;
        }
    }
}
