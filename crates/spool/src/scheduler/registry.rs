//! The runtime's list of live tasks, so that shutdown can reach every one of them.
//!
//! A task that is scheduled sits in a queue, where shutdown finds it. A task that is *waiting*
//! sits nowhere: its cell is referenced only by wakers held in some timer, channel or socket —
//! possibly by itself, or by a task handle that will never be awaited again. For "dropping the
//! runtime drops every pending future" to hold, the runtime needs its own reference to each task.
//!
//! The registry keeps one waker per live task (tokio keeps an intrusive "owned tasks" list for the
//! same reason). At shutdown the scheduler first refuses new work (every `schedule` drops the
//! `Runnable`, which drops the future), then wakes every registered waker: each task is
//! scheduled one last time and dropped. A task removes itself when its future is dropped.
//!
//! Spawning and completing cost one short uncontended lock each: the registry is sharded by task
//! id, so concurrent spawns from different workers rarely meet on the same mutex.
//!
//! Each entry also points at the task's metadata (its id, spawn site and statistics, `stats.rs`)
//! so that [`Registry::snapshot`] can read every live task without waking it. The pointer is
//! valid while the entry is there: the entry's waker keeps the task's allocation (metadata
//! included) alive, and the entry is removed under the same shard lock the reader holds.

use std::ptr::NonNull;
use std::sync::{Arc, Mutex};
use std::task::Waker;

use crossbeam_utils::CachePadded;
use slab::Slab;

use crate::loom::std_lock as lock;
use crate::stats::TaskSnapshot;
use crate::task::TaskMeta;

/// A pointer to a live task's metadata, kept beside its waker (see the module docs).
#[derive(Debug)]
pub(crate) struct MetaRef(NonNull<TaskMeta>);

impl MetaRef {
    pub(crate) fn new(meta: &TaskMeta) -> Self {
        MetaRef(NonNull::from(meta))
    }
}

// SAFETY: `MetaRef` is only dereferenced as a shared reference to `TaskMeta`, which is `Sync`
// (plain data and atomics), while the waker stored beside it keeps the task alive.
unsafe impl Send for MetaRef {}

#[derive(Debug, Default)]
struct Shard {
    /// `(task id, waker, metadata)`: the id guards against a key reused after a shutdown drained
    /// the slab.
    tasks: Slab<(u64, Waker, MetaRef)>,
    spawned: u64,
}

/// Live tasks of one runtime.
#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

/// A task's entry; removes it when dropped (held inside the task's future).
#[derive(Debug)]
pub(crate) struct RegistryGuard {
    registry: Arc<Registry>,
    shard: usize,
    key: usize,
    id: u64,
}

impl Registry {
    pub(crate) fn new(workers: usize) -> Self {
        let shards = (workers * 4).next_power_of_two();
        Registry {
            shards: (0..shards)
                .map(|_| CachePadded::new(Mutex::default()))
                .collect(),
        }
    }

    /// Registers the task `id`: `make` receives the guard to store in the task's future and
    /// returns whatever it built along with the task's waker and metadata.
    pub(crate) fn register<R>(
        self: &Arc<Self>,
        id: u64,
        make: impl FnOnce(RegistryGuard) -> (R, Waker, MetaRef),
    ) -> R {
        let shard = (id as usize) & (self.shards.len() - 1);
        let mut guard = lock(&self.shards[shard]);
        let entry = guard.tasks.vacant_entry();
        let key = entry.key();
        let (built, waker, meta) = make(RegistryGuard {
            registry: self.clone(),
            shard,
            key,
            id,
        });
        entry.insert((id, waker, meta));
        guard.spawned += 1;
        built
    }

    /// Takes every registered waker (shutdown). Wake them after this returns, outside any lock.
    pub(crate) fn drain(&self) -> Vec<Waker> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            all.extend(lock(shard).tasks.drain().map(|(_, waker, _)| waker));
        }
        all
    }

    /// Every live task's statistics, shard by shard (each shard's lock held while it is read).
    pub(crate) fn snapshot(&self) -> Vec<TaskSnapshot> {
        let now = crate::stats::now();
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            all.reserve(shard.tasks.len());
            for (_, (_, _, meta)) in shard.tasks.iter() {
                // SAFETY: the entry is in the slab and we hold its shard's lock, so its waker
                // keeps the task's allocation, and with it the metadata, alive (module docs).
                let meta = unsafe { meta.0.as_ref() };
                all.push(TaskSnapshot::read(meta.id, meta.location, &meta.stats, now));
            }
        }
        all.sort_by_key(|t| t.id);
        all
    }

    /// `(spawned, alive)` over all shards.
    pub(crate) fn counts(&self) -> (u64, usize) {
        self.shards.iter().fold((0, 0), |(spawned, alive), shard| {
            let shard = lock(shard);
            (spawned + shard.spawned, alive + shard.tasks.len())
        })
    }
}

impl Drop for RegistryGuard {
    fn drop(&mut self) {
        let removed = {
            let mut shard = lock(&self.registry.shards[self.shard]);
            match shard.tasks.get(self.key) {
                Some((id, _, _)) if *id == self.id => Some(shard.tasks.remove(self.key)),
                _ => None,
            }
        };
        // Our own waker: dropped outside the lock.
        drop(removed);
    }
}
