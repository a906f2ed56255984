//! The synchronisation primitives of the hand-written concurrent parts: `std`'s, or loom's under
//! `--cfg loom` (tokio's `src/loom/` pattern).
//!
//! The idle/searching bookkeeping (`scheduler/idle.rs`), the parker (`scheduler/park.rs`), the
//! timer hand-off (`time/timers.rs`) and the readiness word of a source (`io/scheduled.rs`) are
//! the parts of Spool written by hand with atomics, mutexes and condvars. They import their
//! primitives from here instead of `std`, so that `RUSTFLAGS="--cfg loom"` builds the library
//! with loom's, and the models in `src/tests/loom_*.rs` run that very code under every
//! interleaving loom explores:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
//!     cargo test -p spool --release --lib
//! ```
//!
//! Everything else (crossbeam's deques, async-task's cell, the poller, the blocking pool, the
//! registry) is somebody else's tested code or not modelled, and keeps `std`'s types under loom
//! too, locked with [`std_lock`].

#[cfg(loom)]
mod mocked;
#[cfg(not(loom))]
mod std;

#[cfg(loom)]
pub(crate) use self::mocked::*;
#[cfg(not(loom))]
pub(crate) use self::std::*;

/// Locks `mutex`, ignoring poisoning.
///
/// Spool's own critical sections never run user code, so a poisoned lock can only come from a
/// panic in Spool itself while the data was in a consistent state (every section here is a few
/// plain assignments). Carrying on is safer than taking every worker down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(::std::sync::PoisonError::into_inner)
}

/// [`lock`] for the `std` mutexes of the parts loom does not model (blocking pool, registry,
/// span buffers): those keep `std` types even under `--cfg loom`.
pub(crate) fn std_lock<T>(mutex: &::std::sync::Mutex<T>) -> ::std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(::std::sync::PoisonError::into_inner)
}
