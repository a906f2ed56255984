//! The timer structure: an ordered map of `(deadline, id) → waker`, and the hand-off with the
//! thread waiting in the driver.
//!
//! A sleeping task costs one entry here and nothing else: no thread spins, no task re-polls
//! itself. The driver asks [`TimerQueue::begin_wait`] for the nearest deadline, blocks in the
//! poller until then, and [`TimerQueue::fire_expired`] wakes whatever is due.
//!
//! The map is a `BTreeMap<(Instant, u64), Waker>` (async-io's choice): `O(log n)` insert and
//! remove, the next deadline is the first key, and the expired prefix splits off in one call.
//! tokio uses a hierarchical wheel (6 × 64 slots, 1 ms) that makes insert/remove `O(1)` but
//! rounds deadlines to the millisecond; with the tens of thousands of timers a small server holds,
//! the map is simple, exact to the nanosecond, and not the bottleneck.
//!
//! **The hand-off.** A timer may be inserted (from any thread) while the driver's holder is
//! already blocked with a timeout computed from the old nearest deadline. If the new deadline is
//! earlier, the holder must be woken to recompute. The queue records what the holder is waiting
//! for (`Waiting`) under the same lock as the map, so an insert knows exactly when to call the
//! poller's `notify()`, and calls it once: after notifying, the state says nobody waits, so the
//! inserts that follow stay quiet until the holder computes a new timeout.
//! `src/tests/loom_timer.rs` checks that no expired timer is missed.

use std::collections::BTreeMap;
use std::mem;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::clock::Clock;
use crate::loom::{lock, Mutex};

/// Identifies one registered timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey {
    deadline: Instant,
    id: u64,
}

/// What the driver's holder is blocked on.
#[derive(Debug, Clone, Copy)]
enum Waiting {
    /// Nobody is blocked (or the holder was already notified).
    No,
    /// Blocked until this instant.
    Until(Instant),
    /// Blocked with no timeout.
    Forever,
}

#[derive(Debug)]
struct Inner {
    map: BTreeMap<TimerKey, Waker>,
    next_id: u64,
    waiting: Waiting,
}

/// The timers of one runtime.
#[derive(Debug)]
pub(crate) struct TimerQueue {
    inner: Mutex<Inner>,
    /// The time line of the deadlines (`clock.rs`).
    clock: Clock,
}

impl TimerQueue {
    pub(crate) fn new() -> Self {
        TimerQueue {
            inner: Mutex::new(Inner {
                map: BTreeMap::new(),
                next_id: 0,
                waiting: Waiting::No,
            }),
            clock: Clock::new(),
        }
    }

    /// The runtime's clock, which every deadline here is measured on.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The nearest deadline, if any timer is registered.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        lock(&self.inner)
            .map
            .first_key_value()
            .map(|(key, _)| key.deadline)
    }

    /// Wakes the timers that are due now (after the clock was advanced). Returns how many.
    pub(crate) fn fire_due(&self) -> usize {
        self.fire_expired(self.clock.now())
    }

    /// Registers `waker` to be woken at `deadline`. Returns the key and whether the driver's
    /// holder must be notified (it waits for a later deadline than this one).
    pub(crate) fn insert(&self, deadline: Instant, waker: Waker) -> (TimerKey, bool) {
        let mut inner = lock(&self.inner);
        let key = TimerKey {
            deadline,
            id: inner.next_id,
        };
        inner.next_id += 1;
        inner.map.insert(key, waker);
        let notify = match inner.waiting {
            Waiting::No => false,
            Waiting::Forever => true,
            Waiting::Until(until) => deadline < until,
        };
        if notify {
            // The holder will wake and recompute; later inserts need not notify again.
            inner.waiting = Waiting::No;
        }
        (key, notify)
    }

    /// Replaces the waker of a registered timer. `false` if it already fired (or was removed).
    pub(crate) fn update(&self, key: TimerKey, waker: &Waker) -> bool {
        match lock(&self.inner).map.get_mut(&key) {
            Some(slot) => {
                slot.clone_from(waker);
                true
            }
            None => false,
        }
    }

    /// Deregisters a timer (a dropped or reset `Sleep`). A no-op if it already fired.
    pub(crate) fn remove(&self, key: TimerKey) {
        let waker = lock(&self.inner).map.remove(&key);
        // Dropped outside the lock: dropping a waker can run arbitrary scheduler code.
        drop(waker);
    }

    /// The timers' part of a driver turn: computes the timeout (up to the nearest deadline, at
    /// most `max_wait`, `None` = no limit), runs `wait` with it (the poller's wait), then fires
    /// the expired timers. Returns how many fired. `DriverGuard::turn` is this with
    /// `epoll_wait`; the loom model runs it with a fake poller.
    pub(crate) fn wait(
        &self,
        max_wait: Option<Duration>,
        wait: impl FnOnce(Option<Duration>),
    ) -> usize {
        let timeout = self.begin_wait(max_wait);
        wait(timeout);
        self.end_wait();
        self.fire_expired(self.clock.now())
    }

    /// The driver's holder is about to block for at most `max_wait` (`None`: no limit). Returns
    /// the timeout to block with: up to the nearest deadline, `Some(ZERO)` if one has passed.
    fn begin_wait(&self, max_wait: Option<Duration>) -> Option<Duration> {
        let mut inner = lock(&self.inner);
        let now = self.clock.now();
        let to_next = inner
            .map
            .first_key_value()
            .map(|(key, _)| key.deadline.saturating_duration_since(now));
        let timeout = match (to_next, max_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        inner.waiting = match timeout {
            None => Waiting::Forever,
            Some(t) if t.is_zero() => Waiting::No,
            Some(t) => now.checked_add(t).map_or(Waiting::Forever, Waiting::Until),
        };
        timeout
    }

    /// The driver's holder stopped blocking.
    fn end_wait(&self) {
        lock(&self.inner).waiting = Waiting::No;
    }

    /// Wakes every timer whose deadline is at or before `now`. Returns how many fired.
    fn fire_expired(&self, now: Instant) -> usize {
        let expired = {
            let mut inner = lock(&self.inner);
            match inner.map.first_key_value() {
                Some((first, _)) if first.deadline <= now => {}
                _ => return 0,
            }
            let later = inner.map.split_off(&TimerKey {
                deadline: now,
                id: u64::MAX,
            });
            mem::replace(&mut inner.map, later)
        };
        // Woken outside the lock: a wake schedules a task, which may register a timer.
        let fired = expired.len();
        for (_, waker) in expired {
            waker.wake();
        }
        fired
    }

    /// Removes every timer without waking it (runtime shutdown). The wakers are dropped outside
    /// the lock.
    pub(crate) fn clear(&self) {
        let all = mem::take(&mut lock(&self.inner).map);
        drop(all);
    }

    /// How many timers are registered.
    pub(crate) fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }
}
