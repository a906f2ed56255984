//! The timer structure: a binary heap of deadlines beside a slab of wakers, and the hand-off with
//! the thread waiting in the driver.
//!
//! A sleeping task costs one entry here and nothing else: no thread spins, no task re-polls
//! itself. The driver asks [`TimerQueue::begin_wait`] for the nearest deadline, blocks in the
//! poller until then, and [`TimerQueue::fire_expired`] wakes whatever is due.
//!
//! **The structure.** A registered timer is a waker in a `Slab` (insert and remove in constant
//! time, the index is the timer's `slot`) and its key `(deadline, slot, id)` in a min-heap of
//! deadlines (`BinaryHeap`): the nearest deadline is the top, a fire pops the due keys in
//! deadline order, and an insert is a push, which on average moves the new key up a level or
//! two whatever the heap's size. The deadline is exact: nanoseconds since the queue was made
//! (`origin`), a `u64` (compares in one instruction where an `Instant` takes a few).
//! tokio uses a hierarchical wheel (6 × 64 slots, 1 ms): constant-time too, but it rounds
//! deadlines to the millisecond, which the driver's sub-millisecond timers (`driver.rs`) could
//! not keep. This replaced a `BTreeMap<(deadline, id), Waker>` (async-io's choice), whose insert
//! among 10 000 timers searched and shifted nodes for ~720 instructions, against ~100 for a push
//! and a slab insert (`docs/benchmarks.md`, "The timer rows in instructions").
//!
//! 1. **Removal** (a dropped `Sleep`, a cancelled timeout) takes the waker out of the slab at
//!    once, so the task is not kept alive, and leaves its key in the heap, *stale*: a heap
//!    cannot remove from the middle cheaply. Stale keys are skipped (and dropped) when they reach
//!    the top. Two rules keep them few: a removed key that is the top (a timeout armed and
//!    cancelled while no other timer is nearer, the common case of a request timeout) is popped
//!    at once; and when stale keys outnumber the live timers by more than `STALE_SLACK`, the heap
//!    is compacted (`retain`, linear, so constant per removal amortised). So the heap never holds
//!    more than twice the live timers plus the slack.
//! 2. **Keys** are 16 bytes, because a `Sleep` holds one and is moved around (a `Sleep` of more
//!    than 64 bytes is moved by a call to `memcpy`): the slot and the insert's number (`id`, a
//!    wrapping `u32`) in 32 bits each. A key names its timer if the slab entry at its slot has
//!    the same `id` *and* the same deadline: a stale key (in the heap, or a `Sleep`'s) could only
//!    be mistaken for a later timer that got the same slot exactly 2³² inserts later with the
//!    same deadline to the nanosecond.
//!
//! **The hand-off.** A timer may be inserted (from any thread) while the driver's holder is
//! already blocked with a timeout computed from the old nearest deadline. If the new deadline is
//! earlier, the holder must be woken to recompute. The queue records what the holder is waiting
//! for (`Waiting`) under the same lock as the heap, so an insert knows exactly when to call the
//! poller's `notify()`, and calls it once: after notifying, the state says nobody waits, so the
//! inserts that follow stay quiet until the holder computes a new timeout.
//! `src/tests/loom_timer.rs` checks that no expired timer is missed.
//!
//! **A fired timer's `Sleep` takes no lock and reads no clock.** [`TimerQueue::fire_expired`]
//! records how far it has fired (`fired_until`, nanoseconds since `origin`, only ever raised, on
//! every turn), under the lock and after taking out every timer due by then; and
//! [`TimerQueue::insert`] refuses, under the same lock, a deadline at or before the mark (the
//! timer is due: the `Sleep` completes). So no registered timer is ever at or before the mark,
//! and a registered `Sleep` whose deadline is at or before it ([`TimerQueue::has_fired`]) knows
//! that it was fired and its entry is gone: it completes with one relaxed load. A stale (lower)
//! value only sends the `Sleep` the slow way (it stays pending, or `update` finds no entry and
//! it polls again); and the poll that follows a fire's wake sees the new mark, as the wake's
//! hand-off of the task orders it after the fire. So the mark needs no ordering of its own
//! (relaxed, outside the loom model).

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::mem;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use slab::Slab;

use super::clock::Clock;
use crate::loom::{lock, Mutex};

/// Identifies one registered timer. 16 bytes, as a `Sleep` holds one and is moved around
/// (module doc, "Keys").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    /// The deadline, in nanoseconds since the queue's `origin` (module doc).
    at: u64,
    /// Where its waker is in the slab.
    slot: u32,
    /// The insert's number (wrapping): tells this timer from a later one in the same slot.
    id: u32,
}

/// A timer's place in the heap, ordered by `(at, id)`, earliest first (`BinaryHeap` is a
/// max-heap, so the comparison is reversed). It may be stale: its timer was removed since and
/// the entry waits to be skipped (module doc, "Removal").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Due(TimerKey);

impl Ord for Due {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.0.at, other.0.id).cmp(&(self.0.at, self.0.id))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

/// A registered timer's waker, in the slab.
#[derive(Debug)]
struct Entry {
    at: u64,
    id: u32,
    waker: Waker,
}

impl Entry {
    /// Whether this entry is `key`'s timer (module doc, "Keys").
    fn is(&self, key: TimerKey) -> bool {
        self.id == key.id && self.at == key.at
    }
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
    /// Every registered timer's deadline, and stale ones (at most `STALE_SLACK` more than
    /// twice the live ones).
    heap: BinaryHeap<Due>,
    /// The registered timers' wakers.
    timers: Slab<Entry>,
    next_id: u32,
    waiting: Waiting,
}

/// The heap may hold this many stale entries beyond as many as there are live timers before
/// it is compacted (module doc, "Removal").
const STALE_SLACK: usize = 64;

impl Inner {
    fn is_registered(&self, key: TimerKey) -> bool {
        self.timers
            .get(key.slot as usize)
            .is_some_and(|entry| entry.is(key))
    }

    /// The earliest registered timer, skipping (and dropping) stale heap entries on the way.
    fn first(&mut self) -> Option<TimerKey> {
        while let Some(&Due(key)) = self.heap.peek() {
            if self.is_registered(key) {
                return Some(key);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes `key`'s timer out, if it is registered.
    fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        if !self.is_registered(key) {
            return None;
        }
        let entry = self.timers.remove(key.slot as usize);
        if self.heap.peek() == Some(&Due(key)) {
            // The earliest one (a cancelled timeout is often the newest and only timer): out at
            // once, no stale entry left.
            self.heap.pop();
        } else if self.heap.len() > 2 * self.timers.len() + STALE_SLACK {
            let timers = &self.timers;
            self.heap.retain(|&Due(key)| {
                timers
                    .get(key.slot as usize)
                    .is_some_and(|entry| entry.is(key))
            });
        }
        Some(entry.waker)
    }
}

/// The timers of one runtime.
#[derive(Debug)]
pub(crate) struct TimerQueue {
    inner: Mutex<Inner>,
    /// The time line of the deadlines (`clock.rs`).
    clock: Clock,
    /// What `fired_until` counts from.
    origin: Instant,
    /// Every deadline up to `origin` + this many nanoseconds was fired by `fire_expired`, and
    /// none is registered (module doc: "A fired timer's `Sleep` takes no lock"). Written under
    /// the lock only.
    fired_until: AtomicU64,
}

impl TimerQueue {
    pub(crate) fn new() -> Self {
        // The clock never reads earlier than this, so no deadline that matters is either.
        let origin = Instant::now();
        TimerQueue {
            inner: Mutex::new(Inner {
                heap: BinaryHeap::new(),
                timers: Slab::new(),
                next_id: 0,
                waiting: Waiting::No,
            }),
            clock: Clock::new(origin),
            origin,
            fired_until: AtomicU64::new(0),
        }
    }

    /// `at` as nanoseconds since `origin` (0 before it, saturating 584 years after it).
    fn since_origin(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The instant `since_origin` turned into `at`.
    fn instant_at(&self, at: u64) -> Instant {
        let after = Duration::from_nanos(at);
        self.origin
            .checked_add(after)
            .unwrap_or(self.origin + Duration::from_secs(86_400 * 365 * 30))
    }

    /// The runtime's clock, which every deadline here is measured on.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The nearest deadline, if any timer is registered.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        lock(&self.inner).first().map(|key| self.instant_at(key.at))
    }

    /// Wakes the timers that are due now (after the clock was advanced). Returns how many.
    pub(crate) fn fire_due(&self) -> usize {
        self.fire_expired(self.clock.now(), &mut Vec::new())
    }

    /// Registers `waker` to be woken at `deadline`. Returns the key and whether the driver's
    /// holder must be notified (it waits for a later deadline than this one); `None` if a fire
    /// already went past `deadline` (the timer is due: nothing is registered).
    pub(crate) fn insert(&self, deadline: Instant, waker: Waker) -> Option<(TimerKey, bool)> {
        let at = self.since_origin(deadline);
        let mut inner = lock(&self.inner);
        if at <= self.fired_until.load(Ordering::Relaxed) {
            drop(inner);
            drop(waker);
            return None;
        }
        let id = inner.next_id;
        inner.next_id = id.wrapping_add(1);
        let slot = inner.timers.insert(Entry { at, id, waker });
        let slot = u32::try_from(slot).expect("spool: fewer than 2^32 timers at once");
        let key = TimerKey { at, slot, id };
        inner.heap.push(Due(key));
        let notify = match inner.waiting {
            Waiting::No => false,
            Waiting::Forever => true,
            Waiting::Until(until) => deadline < until,
        };
        if notify {
            // The holder will wake and recompute; later inserts need not notify again.
            inner.waiting = Waiting::No;
        }
        Some((key, notify))
    }

    /// Replaces the waker of a registered timer. `false` if it already fired (or was removed).
    pub(crate) fn update(&self, key: TimerKey, waker: &Waker) -> bool {
        match lock(&self.inner).timers.get_mut(key.slot as usize) {
            Some(entry) if entry.is(key) => {
                entry.waker.clone_from(waker);
                true
            }
            _ => false,
        }
    }

    /// Deregisters a timer (a dropped or reset `Sleep`). A no-op if it already fired.
    pub(crate) fn remove(&self, key: TimerKey) {
        let waker = lock(&self.inner).remove(key);
        // Dropped outside the lock: dropping a waker can run arbitrary scheduler code.
        drop(waker);
    }

    /// Whether `key`'s timer was fired (module doc: then its entry is gone, and this reads no
    /// lock). `false` may be stale; `true` is not.
    pub(crate) fn has_fired(&self, key: TimerKey) -> bool {
        key.at <= self.fired_until.load(Ordering::Relaxed)
    }

    /// The timers' part of a driver turn: computes the timeout (up to the nearest deadline, at
    /// most `max_wait`, `None` = no limit), runs `wait` with it (the poller's wait), then fires
    /// the expired timers, through `wakers` (empty, kept by the caller so that its capacity
    /// is reused from turn to turn). Returns how many fired. `DriverGuard::turn` is this with
    /// `epoll_wait`; the loom model runs it with a fake poller.
    pub(crate) fn wait(
        &self,
        max_wait: Option<Duration>,
        wakers: &mut Vec<Waker>,
        wait: impl FnOnce(Option<Duration>),
    ) -> usize {
        let timeout = self.begin_wait(max_wait);
        wait(timeout);
        self.end_wait();
        self.fire_expired(self.clock.now(), wakers)
    }

    /// The driver's holder is about to block for at most `max_wait` (`None`: no limit). Returns
    /// the timeout to block with: up to the nearest deadline, `Some(ZERO)` if one has passed.
    fn begin_wait(&self, max_wait: Option<Duration>) -> Option<Duration> {
        let mut inner = lock(&self.inner);
        let now = self.clock.now();
        let to_next = inner
            .first()
            .map(|key| self.instant_at(key.at).saturating_duration_since(now));
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

    /// Wakes every timer whose deadline is at or before `now`, collecting their wakers in
    /// `expired` (left empty). Returns how many fired.
    fn fire_expired(&self, now: Instant, expired: &mut Vec<Waker>) -> usize {
        let now = self.since_origin(now);
        {
            let mut inner = lock(&self.inner);
            while let Some(&Due(key)) = inner.heap.peek() {
                if key.at > now {
                    break;
                }
                inner.heap.pop();
                if inner.is_registered(key) {
                    expired.push(inner.timers.remove(key.slot as usize).waker);
                }
            }
            // Nothing at or before `now` is registered any more (and `insert` refuses such a
            // deadline from here on): the mark may move up to `now`.
            if now > self.fired_until.load(Ordering::Relaxed) {
                self.fired_until.store(now, Ordering::Relaxed);
            }
        }
        // Woken outside the lock: a wake schedules a task, which may register a timer.
        let fired = expired.len();
        for waker in expired.drain(..) {
            waker.wake();
        }
        fired
    }

    /// Removes every timer without waking it (runtime shutdown). The wakers are dropped outside
    /// the lock.
    pub(crate) fn clear(&self) {
        let all = {
            let mut inner = lock(&self.inner);
            inner.heap.clear();
            mem::take(&mut inner.timers)
        };
        drop(all);
    }

    /// How many timers are registered.
    pub(crate) fn len(&self) -> usize {
        lock(&self.inner).timers.len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::time::Duration;

    use super::TimerQueue;

    /// Counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn remove_takes_an_unfired_timer_and_a_fire_refuses_later_inserts_before_its_mark() {
        let timers = TimerQueue::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let now = timers.clock().now();
        let ms = Duration::from_millis(1);
        let waker = || Waker::from(count.clone());

        // Not fired yet (a `Sleep` that saw its deadline before the driver did): removed.
        let (early, _) = timers.insert(now + ms, waker()).unwrap();
        assert!(!timers.has_fired(early));
        timers.remove(early);
        assert_eq!(timers.len(), 0);

        // Fired: the entry is gone already, and removing it changes nothing.
        let (fired, _) = timers.insert(now + ms, waker()).unwrap();
        assert_eq!(timers.fire_expired(now + 2 * ms, &mut Vec::new()), 1);
        assert!(timers.has_fired(fired));
        timers.remove(fired);
        assert_eq!((timers.len(), count.0.load(Ordering::SeqCst)), (0, 1));

        // A deadline the fire went past is refused: it is due, nothing is registered.
        assert!(timers.insert(now + ms, waker()).is_none());
        assert_eq!(timers.len(), 0);

        // A later deadline than the mark is registered, and removed again.
        let (later, _) = timers.insert(now + 3 * ms, waker()).unwrap();
        assert!(!timers.has_fired(later));
        timers.remove(later);
        assert_eq!(timers.len(), 0);
        assert_eq!(timers.fire_expired(now + 4 * ms, &mut Vec::new()), 0);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn fires_in_deadline_order_and_skips_removed_timers() {
        let timers = TimerQueue::new();
        let now = timers.clock().now();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Push(u64, Arc<std::sync::Mutex<Vec<u64>>>);
        impl Wake for Push {
            fn wake(self: Arc<Self>) {
                self.1.lock().unwrap().push(self.0);
            }
        }
        // 300 timers at shuffled deadlines; two in three are removed before the fire, which
        // leaves stale heap entries behind (and compacts them past the slack).
        let mut keys = Vec::new();
        for i in 0..300u64 {
            let at = now + Duration::from_micros(1 + (i * 7919) % 300);
            let (key, _) = timers
                .insert(at, Waker::from(Arc::new(Push(i, order.clone()))))
                .unwrap();
            keys.push((i, at, key));
        }
        for (i, _, key) in &keys {
            if i % 3 != 0 {
                timers.remove(*key);
                timers.remove(*key); // a second removal is a no-op
            }
        }
        assert_eq!(timers.len(), 100);
        let first = keys
            .iter()
            .filter(|(i, ..)| i % 3 == 0)
            .map(|(_, at, _)| *at)
            .min();
        assert_eq!(timers.next_deadline(), first);
        let half = now + Duration::from_micros(150);
        let due = keys
            .iter()
            .filter(|(i, at, _)| i % 3 == 0 && *at <= half)
            .count();
        assert_eq!(timers.fire_expired(half, &mut Vec::new()), due);
        assert_eq!(
            timers.fire_expired(now + Duration::from_millis(1), &mut Vec::new()),
            100 - due
        );
        let fired = order.lock().unwrap().clone();
        let mut expected: Vec<_> = keys.iter().filter(|(i, ..)| i % 3 == 0).collect();
        expected.sort_by_key(|(i, at, _)| (*at, *i));
        assert_eq!(fired, expected.iter().map(|(i, ..)| *i).collect::<Vec<_>>());
        assert_eq!((timers.len(), timers.next_deadline()), (0, None));
    }
}
