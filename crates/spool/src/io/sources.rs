//! The reactor's table of registered sources: a slab of [`ScheduledIo`], looked up by the key the
//! poller hands back with each event (mio's `Token`, epoll's `data.u64`).
//!
//! The key given to `epoll_ctl` is `generation << INDEX_BITS | slab index`. The index finds the
//! entry in O(1); the generation is there because slab slots are reused. A source may be
//! deregistered while the driver's holder is between `epoll_wait` and dispatch, holding an event
//! for it; if a new source took the same slot meanwhile, that stale event must not be delivered
//! to the newcomer. With the generation in the key, dispatch sees the mismatch and drops it.
//!
//! Dispatch takes the table's lock once per turn, not once per event, and moves the wakers into
//! a buffer the driver reuses: no allocation per event, and no task is woken while a lock is held
//! (waking can drop a task, whose I/O objects then deregister, which takes this lock).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use slab::Slab;

use super::scheduled::ScheduledIo;
use crate::loom::std_lock;

/// Low bits of a key: the slab index (up to 2^32 sources on 64-bit targets, 2^20 on 32-bit).
const INDEX_BITS: u32 = if usize::BITS >= 64 { 32 } else { 20 };
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// High bits: the generation, one bit short of the top so a key is never `usize::MAX` (the
/// driver's waker uses that one, [`crate::driver`]).
const GENERATION_MASK: usize = usize::MAX >> (INDEX_BITS + 1);

#[derive(Debug)]
struct Entry {
    generation: usize,
    io: Arc<ScheduledIo>,
}

#[derive(Debug, Default)]
struct Table {
    slab: Slab<Entry>,
    next_generation: usize,
    shutdown: bool,
}

/// The sources of one driver.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    table: Mutex<Table>,
    /// `slab.len()`, readable without the lock (`Driver::has_io`, metrics).
    count: AtomicUsize,
}

impl Sources {
    /// Adds a source with `initial` readiness; returns its poller key and its state.
    pub(crate) fn insert(&self, initial: usize) -> io::Result<(usize, Arc<ScheduledIo>)> {
        let mut table = std_lock(&self.table);
        if table.shutdown {
            return Err(io::Error::other(
                "the spool runtime has shut down; no new I/O sources can be registered",
            ));
        }
        let generation = table.next_generation;
        table.next_generation = (generation + 1) & GENERATION_MASK;
        let io = Arc::new(ScheduledIo::new(initial));
        let entry = table.slab.vacant_entry();
        let index = entry.key();
        if index > INDEX_MASK {
            return Err(io::Error::other("too many I/O sources registered"));
        }
        entry.insert(Entry {
            generation,
            io: io.clone(),
        });
        self.count.fetch_add(1, Relaxed);
        Ok(((generation << INDEX_BITS) | index, io))
    }

    /// Removes the source registered under `key` (a no-op if it is not there).
    pub(crate) fn remove(&self, key: usize) {
        let removed = {
            let mut table = std_lock(&self.table);
            let index = key & INDEX_MASK;
            match table.slab.get(index) {
                Some(entry) if entry.generation == key >> INDEX_BITS => {
                    self.count.fetch_sub(1, Relaxed);
                    Some(table.slab.remove(index))
                }
                _ => None,
            }
        };
        // Its wakers (if any) are dropped outside the lock.
        drop(removed);
    }

    /// Sources registered now.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Relaxed)
    }

    /// Applies a turn's events, each a `(key, readiness bits)` pair (the driver translates the
    /// poller's flags, see `Driver::dispatch`): sets readiness and collects the wakers to wake
    /// into `wakers`. Events for keys no longer registered (stale generations) are dropped.
    pub(crate) fn dispatch(
        &self,
        events: impl Iterator<Item = (usize, usize)>,
        wakers: &mut Vec<Waker>,
    ) {
        let table = std_lock(&self.table);
        for (key, ready) in events {
            let index = key & INDEX_MASK;
            let entry = match table.slab.get(index) {
                Some(entry) if entry.generation == key >> INDEX_BITS => entry,
                _ => continue,
            };
            if ready != 0 {
                entry.io.set_readiness(ready, |waker| wakers.push(waker));
            }
        }
    }

    /// The runtime shut down: fail every source's pending and future operations, refuse new
    /// sources, and collect every waiter into `wakers`.
    pub(crate) fn shutdown(&self, wakers: &mut Vec<Waker>) {
        let mut table = std_lock(&self.table);
        table.shutdown = true;
        for (_, entry) in table.slab.iter() {
            entry.io.shutdown(|waker| wakers.push(waker));
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::super::scheduled::{READABLE, WRITABLE};
    use super::*;

    #[test]
    fn a_stale_event_does_not_reach_the_slot_s_next_owner() {
        let sources = Sources::default();
        let (old_key, _old) = sources.insert(0).unwrap();
        sources.remove(old_key);
        let (new_key, new) = sources.insert(0).unwrap();
        assert_eq!(old_key & INDEX_MASK, new_key & INDEX_MASK, "slot reused");
        assert_ne!(old_key, new_key, "but under a new generation");
        let mut wakers = Vec::new();
        sources.dispatch(std::iter::once((old_key, READABLE | WRITABLE)), &mut wakers);
        assert!(!new.is_ready(super::super::scheduled::Direction::Read));
        sources.dispatch(std::iter::once((new_key, READABLE | WRITABLE)), &mut wakers);
        assert!(new.is_ready(super::super::scheduled::Direction::Read));
        assert_eq!(sources.len(), 1);
        sources.remove(new_key);
        sources.remove(new_key); // twice: a no-op
        assert_eq!(sources.len(), 0);
    }
}
