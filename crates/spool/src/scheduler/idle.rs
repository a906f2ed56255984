//! Who is searching, who is parked: the bookkeeping that decides whether a wake-up is needed.
//!
//! Waking a parked worker is the most expensive thing a scheduler does on a small machine: a futex
//! wake to another core costs about a hundred times the syscall itself (figures in
//! `docs/design.md`, "Scheduler"). So a new task must wake a worker *only when no other worker is
//! already about to find it*. This module is tokio's answer (its `runtime/scheduler/multi_thread/idle.rs`), written for
//! Spool:
//!
//! - A worker that ran out of local work and goes looking in other queues is **searching**. At most
//!   half the workers search at once (more would only fight over the same few tasks).
//! - Whoever schedules a task from outside a worker (or pushes a stealable task) calls
//!   [`Idle::worker_to_notify`]: it wakes a sleeper *only if nobody is searching* and somebody is
//!   parked. A searching worker will find the task anyway; waking another would be wasted.
//! - A woken worker starts in the searching state, so a burst of `n` spawns wakes one worker, not
//!   `n`: until that one finds work, `num_searching > 0` silences the other notifications.
//! - **The last searcher to find work wakes another** ([`Idle::transition_worker_from_searching`]
//!   returns `true`): there may be more work behind the task it found, and no one else is looking.
//! - **The last searcher to give up re-checks every queue** ([`Idle::transition_worker_to_parked`]
//!   returns `true`): a task pushed while it was searching was not announced (a searcher existed),
//!   so it must not be left behind.
//!
//! Both counters live in one `AtomicUsize` so that "nobody searching and somebody parked" is a
//! single read. The list of sleepers is a small `Vec` behind a mutex, touched only on the slow
//! paths (park, wake). The pusher's side is "push the task, then read the state"; the parker's side
//! is "update the state, then read the queues": both are `SeqCst` read-modify-writes, so at least
//! one of them sees the other and no task is stranded.
//!
//! A worker's side of it (search, find work, park, wake) is [`IdleWorker`]: the worker loop
//! (`worker.rs`) drives it with the real queues and driver, and the loom model
//! (`src/tests/loom_idle.rs`) drives the same code with a counter for a queue.

use super::park::Parker;
use crate::loom::{lock, AtomicUsize, Mutex, Ordering::SeqCst};

/// Bits of the state word that count searching workers; the rest count unparked workers.
const SEARCH_BITS: u32 = 16;
const SEARCH_MASK: usize = (1 << SEARCH_BITS) - 1;
const ONE_UNPARKED: usize = 1 << SEARCH_BITS;

fn num_searching(state: usize) -> usize {
    state & SEARCH_MASK
}

fn num_unparked(state: usize) -> usize {
    state >> SEARCH_BITS
}

/// Searching/parked bookkeeping for the workers of one runtime.
#[derive(Debug)]
pub(crate) struct Idle {
    /// `num_unparked << 16 | num_searching`.
    state: AtomicUsize,
    /// Indices of parked workers. Its length is always `num_workers - num_unparked` (both change
    /// under this lock).
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

impl Idle {
    /// Every worker starts unparked and not searching.
    pub(crate) fn new(num_workers: usize) -> Self {
        assert!(num_workers < SEARCH_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << SEARCH_BITS),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    /// `true` when a new task should wake somebody: nobody is searching and somebody sleeps.
    ///
    /// `fetch_add(0)` rather than `load`: it is the read half of the pusher's "push, then read"
    /// and must not be reordered before the push (a StoreLoad barrier; a plain load is not one).
    fn notify_should_wakeup(&self) -> bool {
        let state = self.state.fetch_add(0, SeqCst);
        num_searching(state) == 0 && num_unparked(state) < self.num_workers
    }

    /// Picks a parked worker to wake for new work, and counts it as unparked and searching
    /// *before* it runs, so that concurrent notifications see a searcher and stay quiet.
    ///
    /// `prefer` says which sleepers are cheaper to wake: the scheduler prefers a worker parked on
    /// its condvar over the one waiting in the driver, so the driver keeps firing timers.
    pub(crate) fn worker_to_notify(&self, prefer: impl Fn(usize) -> bool) -> Option<usize> {
        if !self.notify_should_wakeup() {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        // Re-check under the lock: another notifier may have taken the last sleeper meanwhile.
        if !self.notify_should_wakeup() {
            return None;
        }
        let pos = match sleepers.iter().rposition(|&w| prefer(w)) {
            Some(pos) => pos,
            None => sleepers.len().checked_sub(1)?,
        };
        let worker = sleepers.swap_remove(pos);
        self.state.fetch_add(ONE_UNPARKED | 1, SeqCst);
        Some(worker)
    }

    /// A worker out of local work asks to search. Refused when half the workers already search.
    pub(crate) fn transition_worker_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * num_searching(state) >= self.num_workers {
            return false;
        }
        // Several workers may pass the check at once and slightly exceed the half: harmless, it
        // only bounds wasted effort.
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// A searching worker found a task. Returns `true` if it was the last searcher: the caller
    /// must then wake another worker, since nobody else is looking for the work that may follow.
    pub(crate) fn transition_worker_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        num_searching(prev) == 1
    }

    /// A worker is about to park. Returns `true` if it was the last searcher: the caller must
    /// then re-check every queue (a task may have arrived unannounced while it searched).
    pub(crate) fn transition_worker_to_parked(&self, worker: usize, is_searching: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let dec = ONE_UNPARKED | usize::from(is_searching);
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(worker);
        is_searching && num_searching(prev) == 1
    }

    /// A parked worker woke up with work of its own (timers it fired, say) without having been
    /// picked by [`worker_to_notify`](Self::worker_to_notify). Returns `true` if it was still in
    /// the sleepers list (it is now unparked, *not* searching); `false` if a notifier picked it
    /// meanwhile (it was already counted as unparked and searching).
    pub(crate) fn unpark_worker_by_id(&self, worker: usize) -> bool {
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&w| w == worker) {
            Some(pos) => {
                sleepers.swap_remove(pos);
                self.state.fetch_add(ONE_UNPARKED, SeqCst);
                true
            }
            None => false,
        }
    }

    /// Whether `worker` is still in the sleepers list (a spurious wake-up if it woke anyway).
    pub(crate) fn is_parked(&self, worker: usize) -> bool {
        lock(&self.sleepers).contains(&worker)
    }

    /// `(searching, unparked)` right now, for metrics and tests.
    #[allow(dead_code)] // used by metrics; not by every build that includes this file
    pub(crate) fn snapshot(&self) -> (usize, usize) {
        let state = self.state.load(SeqCst);
        (num_searching(state), num_unparked(state))
    }
}

/// What a worker's side of the protocol needs from the scheduler around it.
pub(crate) trait Site {
    /// Whether the runtime is shutting down (a parked worker then returns).
    fn is_shutdown(&self) -> bool;
    /// Wakes one parked worker if one is needed (`Idle::worker_to_notify`, then its parker).
    fn notify_parked(&self);
    /// Whether a queue other workers can take from (injection queue, stealable deques) has a
    /// task.
    fn has_shared_work(&self) -> bool;
    /// Whether this worker's own queue (LIFO slot included) has a task.
    fn has_local_work(&self) -> bool;
    /// Whether this worker's stealable deque has a task.
    fn has_stealable_work(&self) -> bool;
    /// Sleeps once on `parker`: in the driver if it is free, else on the condvar.
    fn sleep(&self, parker: &Parker);
    /// Counts one turn of the park loop (the `parks` metric).
    fn count_park(&self) {}
}

/// One worker's place in the protocol: its index and whether it is searching.
#[derive(Debug)]
pub(crate) struct IdleWorker {
    index: usize,
    searching: bool,
}

impl IdleWorker {
    /// Worker `index`, unparked and not searching.
    pub(crate) fn new(index: usize) -> Self {
        IdleWorker {
            index,
            searching: false,
        }
    }

    /// Out of local work: may this worker look in other queues? Refused when half the workers
    /// already search (a worker that is searching already may go on).
    pub(crate) fn try_search(&mut self, idle: &Idle) -> bool {
        if !self.searching {
            if !idle.transition_worker_to_searching() {
                return false;
            }
            self.searching = true;
        }
        true
    }

    /// About to run a task: a searcher stops searching, and the last searcher to find work
    /// wakes another (there may be more, and nobody else is looking).
    /// `notify_parked`: the scheduler's [`Site::notify_parked`].
    pub(crate) fn found_work(&mut self, idle: &Idle, notify_parked: impl FnOnce()) {
        if self.searching {
            self.searching = false;
            if idle.transition_worker_from_searching() {
                notify_parked();
            }
        }
    }

    /// Parks until there is work for this worker (or shutdown). The last searcher to give up
    /// re-checks the shared queues first. Returns on waking with tasks of its own (fired
    /// timers, I/O: then it is unparked and not searching, unless a notifier picked it
    /// meanwhile) or when picked by a notifier (then it searches).
    pub(crate) fn park(&mut self, idle: &Idle, parker: &Parker, site: &impl Site) {
        if idle.transition_worker_to_parked(self.index, self.searching) && site.has_shared_work() {
            // A task pushed meanwhile was not announced to anybody (a searcher existed).
            site.notify_parked();
        }
        self.searching = false;
        while !site.is_shutdown() {
            site.count_park();
            if !parker.try_consume_notification() {
                site.sleep(parker);
            }
            if site.has_local_work() {
                // Timers fired in the driver woke tasks onto this queue: run them. If a notifier
                // picked this worker meanwhile, it counted us as searching.
                self.searching = !idle.unpark_worker_by_id(self.index);
                if site.has_stealable_work() {
                    site.notify_parked();
                }
                return;
            }
            if !idle.is_parked(self.index) {
                // Picked by a notifier: new work somewhere; we start as a searcher.
                self.searching = true;
                return;
            }
            // Spurious (a timer fired for another runtime's thread, a stale notification).
        }
    }
}
