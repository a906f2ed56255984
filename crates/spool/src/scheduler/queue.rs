//! A worker's own run queue: a LIFO slot in front of a bounded FIFO deque that others steal from.
//!
//! The chapter's queue was one flume channel: every task, from anywhere, went through the same
//! locked list to the same thread. Here each worker owns a queue that only it pushes to and pops
//! from (no lock: crossbeam-deque's Chase-Lev deque, FIFO flavour), and that other workers may
//! steal from through a [`crossbeam_deque::Stealer`].
//!
//! **The LIFO slot.** A task woken (or spawned) by the task that is running now usually needs the
//! data that task just touched: running it next, while that data is still in the cache, is the
//! biggest single win of tokio's scheduler for message-passing code. So a task scheduled from a
//! worker goes into the slot, and the slot's previous occupant goes to the back of the deque. The
//! slot is not stealable (tokio made it stealable once and reverted it; the issues and figures are
//! in `docs/design.md`, "Scheduler"). To keep two tasks that wake each other from starving the queue, the worker polls
//! at most [`MAX_LIFO_POLLS`] slot tasks in a row.
//!
//! **Bounded.** The deque grows without limit by itself; a worker whose queue passes
//! [`LOCAL_QUEUE_CAPACITY`] moves the older half to the shared injection queue in one go (tokio's
//! overflow rule), where idle workers can take them without stealing.
//!
//! **One worker.** On a one-worker runtime (current-thread, or `worker_threads(1)`) nobody steals,
//! and the deque's `pop` (a locked read-modify-write) buys nothing: the FIFO part is then a plain
//! `VecDeque` (`own`), unbounded as tokio's current-thread queue; the deque only receives batches
//! from the injection queue.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use crossbeam_deque::{Injector, Worker};

use crate::task::Runnable;

/// Tasks a worker keeps locally before spilling half to the injection queue (tokio: 256).
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 256;

/// LIFO-slot polls in a row before the worker goes back to its FIFO queue (tokio: 3).
pub(crate) const MAX_LIFO_POLLS: u32 = 3;

/// crossbeam-deque's first (and smallest) buffer. Past it the deque doubles its buffer, and
/// below a quarter of a larger one it halves it again: each time a new allocation, a copy and
/// the old buffer handed to the epoch collector. A worker of a hundred yielders that moved them
/// all from its deferred list at once paid that twice per round (`yield_many` at 2 workers:
/// `docs/benchmarks.md`), so the deferred list is moved over in slices that fit (`worker.rs`).
pub(crate) const DEQUE_MIN_CAP: usize = 64;

/// One worker's queue; lives on the worker's thread only.
pub(crate) struct LocalQueue {
    lifo: Cell<Option<Runnable>>,
    deque: Worker<Runnable>,
    /// A one-worker runtime's FIFO (see the module docs); `None` with several workers.
    own: Option<RefCell<VecDeque<Runnable>>>,
}

impl LocalQueue {
    /// `alone`: the runtime has this one worker only.
    pub(crate) fn new(deque: Worker<Runnable>, alone: bool) -> Self {
        LocalQueue {
            lifo: Cell::new(None),
            deque,
            own: alone.then(|| RefCell::new(VecDeque::new())),
        }
    }

    /// Puts `task` in the LIFO slot; returns `true` if that pushed a previous occupant onto the
    /// stealable deque (there is now work another worker could take).
    pub(crate) fn push_lifo(&self, task: Runnable, injector: &Injector<Runnable>) -> bool {
        match self.lifo.replace(Some(task)) {
            Some(prev) => {
                self.push_back(prev, injector);
                true
            }
            None => false,
        }
    }

    /// Appends `task` to the deque, spilling half of it to `injector` when full.
    pub(crate) fn push_back(&self, task: Runnable, injector: &Injector<Runnable>) {
        if let Some(own) = &self.own {
            own.borrow_mut().push_back(task);
            return;
        }
        if self.deque.len() >= LOCAL_QUEUE_CAPACITY {
            for _ in 0..LOCAL_QUEUE_CAPACITY / 2 {
                match self.deque.pop() {
                    Some(old) => injector.push(old),
                    None => break,
                }
            }
        }
        self.deque.push(task);
    }

    pub(crate) fn take_lifo(&self) -> Option<Runnable> {
        self.lifo.take()
    }

    pub(crate) fn pop(&self) -> Option<Runnable> {
        if let Some(own) = &self.own {
            if let Some(task) = own.borrow_mut().pop_front() {
                return Some(task);
            }
        }
        self.deque.pop()
    }

    /// How many tasks can be pushed before the deque must grow its buffer: up to
    /// [`DEQUE_MIN_CAP`] (unbounded with one worker, whose FIFO is the `VecDeque`).
    pub(crate) fn room_without_growing(&self) -> usize {
        if self.own.is_some() {
            return usize::MAX;
        }
        DEQUE_MIN_CAP.saturating_sub(self.deque.len())
    }

    pub(crate) fn deque(&self) -> &Worker<Runnable> {
        &self.deque
    }

    /// Whether the deque (the stealable part) has tasks.
    pub(crate) fn has_stealable(&self) -> bool {
        !self.deque.is_empty()
    }

    /// Whether anything is queued, LIFO slot included.
    pub(crate) fn has_tasks(&self) -> bool {
        let lifo = self.lifo.take();
        let has = lifo.is_some();
        self.lifo.set(lifo);
        has || !self.deque.is_empty()
            || self
                .own
                .as_ref()
                .is_some_and(|own| !own.borrow().is_empty())
    }
}
