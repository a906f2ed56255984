//! The runtime's list of live tasks, so that shutdown can reach every one of them.
//!
//! A task that is scheduled sits in a queue, where shutdown finds it. A task that is *waiting*
//! sits nowhere: its cell is referenced only by wakers held in some timer, channel or socket —
//! possibly by itself, or by a task handle that will never be awaited again. For "dropping the
//! runtime drops every pending future" to hold, the runtime needs its own reference to each task.
//!
//! The registry keeps one entry per live task (tokio keeps an intrusive "owned tasks" list for the
//! same reason). At shutdown the scheduler first refuses new work (every `schedule` drops the
//! `Runnable`, which drops the future), then wakes every registered task: each is scheduled one
//! last time and dropped. A task removes itself when its future is dropped.
//!
//! Spawning and completing cost one short uncontended lock each: the registry is sharded by task
//! id, so concurrent spawns from different workers rarely meet on the same mutex.
//!
//! # Who keeps whom alive
//!
//! A task's allocation (its header with the metadata, its schedule function, its future) lives
//! while a reference to it does: a `Runnable`, a waker, its handle. async-task frees a waiting
//! task that nothing can wake any more (no waker, no `Runnable`, its handle detached) *without
//! dropping its future*; for "dropping the runtime drops every pending future" such a task must
//! stay alive until shutdown. Every atomic read-modify-write on the spawn path costs a few dozen
//! cycles (it waits for the stores before it), so the references are placed where they are
//! needed and no more:
//!
//! 1. **The entry holds a plain pointer to its task** ([`TaskRef`]), and the task is alive
//!    while its entry is in the slab: the entry is removed, under the shard's lock, by the
//!    task's own future as it is dropped ([`RegistryGuard`]); until then the task is either
//!    scheduled or running (a `Runnable` exists) or, from its first `Pending` on, holds a waker
//!    of itself (`TaskFuture`'s `keep_alive`, dropped after the guard). So whoever finds the
//!    entry under that lock finds the task alive, and takes a waker there when it must wake it
//!    later, outside the lock (an abort, the shutdown's drain). A task that completes in its
//!    first poll never takes a reference for this at all.
//! 2. **The guard and the task's handle point at the registry without owning it.** The
//!    registry belongs to the runtime's `Shared`, which every task holds until its allocation
//!    is freed (in its metadata, `TaskMeta::runtime`, or in the schedule function of a local
//!    task): the guard is dropped with the future, which async-task always does before it frees
//!    the task (if it drops it at all), and the handle ([`TaskEntry`], in `Task`) holds a
//!    reference to the task. An [`AbortHandle`](crate::task::AbortHandle), which may outlive
//!    both, owns an `Arc` of the registry ([`EntryRef`]), taken only when asked for.
//!
//! Before, the entry held a waker (a count taken at every spawn, given back at the end) and the
//! guard and handle each an `Arc` (two more of each): 6 locked instructions per task, now 0 for
//! a task that never waits and 2 for one that does. `examples/current_thread_profile` measures
//! it in `docs/benchmarks.md`, "Current-thread rows".
//!
//! # Abort
//!
//! The same entry is how [`Task::abort`](crate::Task::abort) reaches a task without owning it:
//! an [`AbortHandle`](crate::task::AbortHandle) names the entry (runtime, slab key, task id),
//! and aborting
//!
//! 1. marks the entry `aborted` and counts it in `aborts_pending`, under the shard's lock;
//! 2. wakes the entry's waker, outside the lock, so that a waiting task is scheduled;
//! 3. at its next poll the task's `TaskFuture` sees `aborts_pending != 0`, looks its entry up,
//!    and completes with `JoinError::Cancelled` without polling the user's future, which
//!    async-task then drops at once (before the awaiter is told);
//! 4. removing the entry (the future dropped) takes it out of `aborts_pending`.
//!
//! A spawn pays nothing for this: no allocation, no reference count, and the per-poll check is
//! one relaxed load of a counter that is zero unless an abort is in flight. A task that
//! completed before its abort is not found (its entry is gone) and keeps its output.
//!
//! The entry's task pointer also reaches the task's metadata (its id, spawn site and
//! statistics, `stats.rs`), so that [`Registry::snapshot`] reads every live task without waking
//! it, under the same shard lock (rule 1 above).

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use crossbeam_utils::CachePadded;
use slab::Slab;

use crate::loom::std_lock as lock;
use crate::stats::TaskSnapshot;
use crate::task::Runnable;

/// A live task, reached without a reference count of its own (module docs, rule 1): the
/// pointer async-task's `Runnable::into_raw` gives, valid while the task's entry is in the slab.
#[derive(Debug)]
pub(crate) struct TaskRef(NonNull<()>);

// SAFETY: a `TaskRef` is only used, under its shard's lock, to read the task's metadata (`Sync`:
// plain data and atomics) and to take a waker (`Send + Sync`), which any thread may do.
unsafe impl Send for TaskRef {}

impl TaskRef {
    /// The pointer to `runnable`'s task, and `runnable` back.
    pub(crate) fn of(runnable: Runnable) -> (Runnable, TaskRef) {
        let ptr = runnable.into_raw();
        // SAFETY: `ptr` comes from `into_raw` just above, and becomes the one `Runnable` again.
        (unsafe { Runnable::from_raw(ptr) }, TaskRef(ptr))
    }

    /// Runs `f` on a stand-in `Runnable` of the task, which is never run nor dropped: how
    /// async-task lets one read a task's metadata and make its waker from its pointer.
    ///
    /// # Safety
    ///
    /// The task's allocation must be alive: its entry is in the slab and the caller holds the
    /// shard's lock (module docs, rule 1).
    unsafe fn with<R>(&self, f: impl FnOnce(&Runnable) -> R) -> R {
        // SAFETY: the pointer came from `into_raw` (`of`) and the task is alive (the caller's
        // contract); `ManuallyDrop` keeps the stand-in from cancelling or releasing the task.
        let runnable = ManuallyDrop::new(unsafe { Runnable::from_raw(self.0) });
        f(&runnable)
    }

    /// A waker of the task (one reference count), to wake it once the lock is released.
    ///
    /// # Safety
    ///
    /// As for [`with`](Self::with).
    unsafe fn waker(&self) -> Waker {
        // SAFETY: the caller's contract.
        unsafe { self.with(Runnable::waker) }
    }
}

#[derive(Debug, Default)]
struct Shard {
    tasks: Slab<Entry>,
    spawned: u64,
}

#[derive(Debug)]
struct Entry {
    /// The task id, which guards against a key reused by another task (after this one finished,
    /// or a shutdown drained the slab), and in its top bit [`ABORTED`]: kept in one word so that
    /// an entry stays small (the slab is touched by every spawn).
    tagged_id: u64,
    /// The task (its metadata, read by [`Registry::snapshot`]; its waker, taken by an abort and
    /// by the shutdown's drain).
    task: TaskRef,
}

/// Set in `Entry::tagged_id` once an abort is requested. Task ids count up from 1 and never
/// reach it.
const ABORTED: u64 = 1 << 63;

impl Entry {
    fn is(&self, id: u64) -> bool {
        self.tagged_id & !ABORTED == id
    }

    fn aborted(&self) -> bool {
        self.tagged_id & ABORTED != 0
    }
}

/// Live tasks of one runtime.
#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// Entries marked `aborted`: while zero (nearly always), a poll's abort check is this load.
    aborts_pending: AtomicUsize,
}

/// Names one task's entry and owns a reference to its registry: what an `AbortHandle` holds.
#[derive(Debug, Clone)]
pub(crate) struct EntryRef {
    /// `None` for a task with no entry (a blocking task).
    registry: Option<Arc<Registry>>,
    key: usize,
    id: u64,
}

/// Names one task's entry from inside the task's handle (`Task`), whose reference to the task
/// keeps the registry alive (module docs, rule 2): no reference count of its own. Made only by
/// [`Registry::register`], for the handle of the task it registers.
#[derive(Debug)]
pub(crate) struct TaskEntry {
    /// `None` for a task with no entry (a blocking task).
    registry: Option<NonNull<Registry>>,
    key: usize,
    id: u64,
}

// SAFETY: it only reads the registry (`Sync`) through a shared reference.
unsafe impl Send for TaskEntry {}
// SAFETY: as for `Send`.
unsafe impl Sync for TaskEntry {}

/// A task's entry; removes it when dropped (held inside the task's future). Its registry
/// outlives it (module docs, rule 2); its shard is the id's.
#[derive(Debug)]
pub(crate) struct RegistryGuard {
    registry: NonNull<Registry>,
    key: usize,
    id: u64,
}

// SAFETY: as for `TaskEntry`: the registry is `Sync` and only read through `&`.
unsafe impl Send for RegistryGuard {}

impl Registry {
    pub(crate) fn new(workers: usize) -> Self {
        let shards = (workers * 4).next_power_of_two();
        Registry {
            shards: (0..shards)
                .map(|_| CachePadded::new(Mutex::default()))
                .collect(),
            aborts_pending: AtomicUsize::new(0),
        }
    }

    fn shard(&self, id: u64) -> &Mutex<Shard> {
        &self.shards[(id as usize) & (self.shards.len() - 1)]
    }

    /// Registers the task `id`: `make` receives the guard to store in the task's future and
    /// returns whatever it built along with the task ([`TaskRef::of`]). Also returns the
    /// entry's name, for the task's handle.
    ///
    /// The caller makes sure that the task holds the runtime this registry belongs to until
    /// its allocation is freed (module docs, rule 2): `Shared::create_task` and
    /// `create_local_task` do.
    pub(crate) fn register<R>(
        self: &Arc<Self>,
        id: u64,
        make: impl FnOnce(RegistryGuard) -> (R, TaskRef),
    ) -> (R, TaskEntry) {
        // From `Arc::as_ptr`, whose pointer may become an `Arc` again (`TaskEntry::to_owned`).
        let registry = NonNull::new(Arc::as_ptr(self).cast_mut()).expect("an Arc is not null");
        let mut shard = lock(self.shard(id));
        let entry = shard.tasks.vacant_entry();
        let key = entry.key();
        let (built, task) = make(RegistryGuard { registry, key, id });
        entry.insert(Entry {
            tagged_id: id,
            task,
        });
        shard.spawned += 1;
        drop(shard);
        (
            built,
            TaskEntry {
                registry: Some(registry),
                key,
                id,
            },
        )
    }

    /// Takes every registered task out, as wakers (shutdown). Wake them after this returns,
    /// outside any lock.
    pub(crate) fn drain(&self) -> Vec<Waker> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            for entry in shard.tasks.drain() {
                if entry.aborted() {
                    self.aborts_pending.fetch_sub(1, Ordering::Relaxed);
                }
                // SAFETY: the entry was in the slab until this call, which holds the shard's
                // lock: its task is alive (module docs, rule 1).
                all.push(unsafe { entry.task.waker() });
            }
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
            for (_, entry) in shard.tasks.iter() {
                // SAFETY: the entry is in the slab and we hold its shard's lock (rule 1).
                let task = unsafe {
                    entry.task.with(|runnable| {
                        let meta = runnable.metadata();
                        TaskSnapshot::read(meta.id, meta.location, (&meta.poll, &meta.stats), now)
                    })
                };
                all.push(task);
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

    /// Steps 1 and 2 of an abort (module doc) of the task `id` at `key`. Nothing happens if
    /// the task is gone.
    fn abort(&self, key: usize, id: u64) {
        let waker = {
            let mut shard = lock(self.shard(id));
            match shard.tasks.get_mut(key) {
                Some(entry) if entry.is(id) && !entry.aborted() => {
                    entry.tagged_id |= ABORTED;
                    self.aborts_pending.fetch_add(1, Ordering::Relaxed);
                    // SAFETY: the entry is in the slab and we hold its shard's lock (rule 1).
                    Some(unsafe { entry.task.waker() })
                }
                _ => None,
            }
        };
        // Outside the lock: scheduling may run the task's destructor, which removes the entry.
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the future of task `id` at `key` is gone.
    fn is_finished(&self, key: usize, id: u64) -> bool {
        let shard = lock(self.shard(id));
        !matches!(shard.tasks.get(key), Some(entry) if entry.is(id))
    }
}

impl EntryRef {
    /// Steps 1 and 2 of an abort (module doc). Nothing happens if the task is gone.
    pub(crate) fn abort(&self) {
        if let Some(registry) = &self.registry {
            registry.abort(self.key, self.id);
        }
    }

    /// Whether the task's future is gone (completed, cancelled or dropped); `false` for a task
    /// without an entry.
    pub(crate) fn is_finished(&self) -> bool {
        self.registry
            .as_ref()
            .is_some_and(|registry| registry.is_finished(self.key, self.id))
    }
}

impl TaskEntry {
    /// The name of a task that has no entry: aborting it does nothing.
    pub(crate) fn untracked(id: u64) -> Self {
        TaskEntry {
            registry: None,
            key: 0,
            id,
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    fn registry(&self) -> Option<&Registry> {
        // SAFETY: this lives in the handle of its task, which holds the runtime, and with it
        // the registry, alive (module docs, rule 2).
        self.registry.map(|registry| unsafe { &*registry.as_ptr() })
    }

    /// Steps 1 and 2 of an abort (module doc). Nothing happens if the task is gone.
    pub(crate) fn abort(&self) {
        if let Some(registry) = self.registry() {
            registry.abort(self.key, self.id);
        }
    }

    /// A name of the same entry that owns a reference to the registry: for an `AbortHandle`,
    /// which may outlive the task's handle and the task.
    pub(crate) fn to_owned(&self) -> EntryRef {
        let registry = self.registry.map(|registry| {
            let ptr = registry.as_ptr().cast_const();
            // SAFETY: the registry lives in an `Arc` (the runtime's, `Shared::registry`, from
            // which `register` was called) that is alive (see `registry()`); one more strong
            // count is taken for the `Arc` made here.
            unsafe {
                Arc::increment_strong_count(ptr);
                Arc::from_raw(ptr)
            }
        });
        EntryRef {
            registry,
            key: self.key,
            id: self.id,
        }
    }
}

impl RegistryGuard {
    fn registry(&self) -> &Registry {
        // SAFETY: the guard lives in its task's future, and the task holds the runtime (and
        // with it the registry) until after its future is dropped (module docs, rule 2).
        unsafe { self.registry.as_ref() }
    }

    /// Step 3 of an abort (module doc): whether this task was asked to stop.
    /// Inlined: every poll of every task makes this check, and it is nearly always one load.
    #[inline]
    pub(crate) fn abort_requested(&self) -> bool {
        self.registry().aborts_pending.load(Ordering::Relaxed) != 0 && self.is_aborted()
    }

    #[cold]
    fn is_aborted(&self) -> bool {
        let shard = lock(self.registry().shard(self.id));
        matches!(shard.tasks.get(self.key), Some(entry) if entry.is(self.id) && entry.aborted())
    }
}

impl Drop for RegistryGuard {
    fn drop(&mut self) {
        let registry = self.registry();
        let removed = {
            let mut shard = lock(registry.shard(self.id));
            match shard.tasks.get(self.key) {
                Some(entry) if entry.is(self.id) => Some(shard.tasks.remove(self.key)),
                _ => None,
            }
        };
        if removed.is_some_and(|entry| entry.aborted()) {
            // Step 4.
            registry.aborts_pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
