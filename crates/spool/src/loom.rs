//! The synchronisation primitives of the hand-written concurrent parts, swappable for loom's.
//!
//! The idle/searching bookkeeping ([`crate::scheduler::idle`]), the parker
//! ([`crate::scheduler::park`]) and the timer hand-off ([`crate::time::timers`]) are the parts of
//! Spool written by hand with atomics, mutexes and condvars. They import their primitives from
//! here instead of `std`, so that `RUSTFLAGS="--cfg loom"` replaces them with loom's, and the
//! models in `tests/loom_*.rs` can explore every interleaving of them.
//!
//! Everything else (crossbeam's deques, async-task's cell, the poller) is somebody else's tested
//! code and keeps using `std` directly.

#[cfg(loom)]
#[allow(unused_imports)] // each loom test includes this file with a subset of the modules
pub(crate) use ::loom::sync::{
    atomic::{AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};
#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poisoning.
///
/// Spool's own critical sections never run user code, so a poisoned lock can only come from a
/// panic in Spool itself while the data was in a consistent state (every section here is a few
/// plain assignments). Carrying on is safer than taking every worker down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// [`lock`] for the `std` mutexes of the parts loom does not model (blocking pool, registry,
/// span buffers): those keep `std` types even under `--cfg loom`.
#[allow(dead_code)] // unused when this file is compiled into a loom test
pub(crate) fn std_lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
