//! The thread's runtime context: "which runtime am I in, and am I one of its workers?", in one
//! thread-local (tokio's `runtime/context.rs`).
//!
//! The context holds:
//!
//! - **the current handle**: set on workers, on blocking threads, and inside
//!   [`Runtime::block_on`](crate::Runtime::block_on) / [`Handle::enter`](crate::Handle::enter).
//!   [`spool::spawn`](crate::spawn), [`spool::spawn_blocking`](crate::spawn_blocking), timers and
//!   sockets look here first and fall back to the default runtime ([`with_handle`], [`driver`]),
//!   so library code never needs a handle passed around;
//! - **the worker**: on a worker thread, that worker's `Local` (queue, LIFO slot, deferred list),
//!   which the schedule function reaches to keep a task woken on a worker on that worker
//!   (`Shared::schedule`, `scheduler/mod.rs`). One access per schedule.
//! - **the cooperative budget** of the task being polled (`task/coop.rs`), read and spent by
//!   Spool's leaf futures through [`with_budget`].
//!
//! It is one struct so that it can grow without another thread-local or another look-up helper
//! (the cooperative budget is one field here, as in tokio's `Context`), set and restored by a
//! guard like [`EnterGuard`]. Every field is reached through the functions of this module only.
//! A current-thread runtime's `block_on` thread is a worker here like any other (its core and
//! its `!Send` local tasks live in the worker's `Local`), and [`clock_now`] reads the current
//! runtime's clock, which may be paused.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use super::Handle;
use crate::driver::Driver;
use crate::scheduler::Local;
use crate::task::coop::Budget;

struct Context {
    /// The runtime this thread is in.
    handle: RefCell<Option<Handle>>,
    /// This thread's worker, on a worker thread.
    worker: RefCell<Option<Rc<Local>>>,
    /// What is left of the cooperative budget of the task being polled (`task/coop.rs`).
    budget: Cell<Budget>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            handle: RefCell::new(None),
            worker: RefCell::new(None),
            budget: Cell::new(Budget::unconstrained()),
        }
    };
}

/// Restores the previous context when dropped.
#[derive(Debug)]
#[must_use = "the runtime context is left when the guard is dropped"]
pub struct EnterGuard {
    previous: Option<Handle>,
    /// `!Send`: the guard must be dropped on the thread that entered.
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Makes `handle` the calling thread's current runtime until the guard drops.
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let previous = CONTEXT
        .try_with(|cx| cx.handle.borrow_mut().replace(handle))
        .ok()
        .flatten();
    EnterGuard {
        previous,
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CONTEXT.try_with(|cx| *cx.handle.borrow_mut() = previous);
    }
}

/// Leaves a worker's context (handle and worker) when dropped.
pub(crate) struct WorkerGuard {
    _handle: EnterGuard,
}

/// Makes the calling thread worker `local` of `handle`'s runtime until the guard drops.
pub(crate) fn enter_worker(handle: Handle, local: Rc<Local>) -> WorkerGuard {
    let _ = CONTEXT.try_with(|cx| *cx.worker.borrow_mut() = Some(local));
    WorkerGuard {
        _handle: enter(handle),
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|cx| cx.worker.borrow_mut().take());
    }
}

/// Runs `f` with the current runtime's handle, else the default runtime's (started if needed).
///
/// `f` runs while the thread-local is borrowed: it must not enter or leave a runtime context,
/// nor run user code (creating a task is fine; scheduling it is not: that may drop it).
pub(crate) fn with_handle<R>(f: impl FnOnce(&Handle) -> R) -> R {
    let mut f = Some(f);
    let result = CONTEXT
        .try_with(|cx| {
            let handle = cx.handle.borrow();
            let handle = handle.as_ref()?;
            f.take().map(|f| f(handle))
        })
        .ok()
        .flatten();
    match (result, f) {
        (Some(result), _) => result,
        // No current runtime (or the thread-local is gone, at thread exit): the default one.
        (None, Some(f)) => f(super::default::handle()),
        (None, None) => unreachable!("with_handle: the closure was taken, so it returned"),
    }
}

/// The current runtime's handle, if any.
pub(crate) fn current() -> Option<Handle> {
    CONTEXT
        .try_with(|cx| cx.handle.borrow().clone())
        .ok()
        .flatten()
}

/// The driver (timers, I/O) of the current runtime, else the default runtime's: the one path
/// from a timer or a socket to its driver.
pub(crate) fn driver() -> Arc<Driver> {
    with_handle(|handle| handle.shared.driver().clone())
}

/// Now on the current runtime's clock (`time/clock.rs`); the real clock outside any runtime
/// (the default runtime's clock is never paused, so it is not started for this). Only read once
/// some clock was paused: until then `time::clock::now` does not look for the runtime at all.
#[cold]
#[inline(never)]
pub(crate) fn clock_now() -> std::time::Instant {
    CONTEXT
        .try_with(|cx| {
            cx.handle
                .borrow()
                .as_ref()
                .map(|handle| handle.shared.driver().timers().clock().now())
        })
        .ok()
        .flatten()
        .unwrap_or_else(std::time::Instant::now)
}

/// This thread's worker, if it is a worker of some Spool runtime.
pub(crate) fn worker() -> Option<Rc<Local>> {
    CONTEXT
        .try_with(|cx| cx.worker.borrow().clone())
        .ok()
        .flatten()
}

/// Whether the calling thread is a worker of the runtime `shared`.
pub(crate) fn is_worker_of(shared: &Arc<crate::scheduler::Shared>) -> bool {
    CONTEXT
        .try_with(|cx| {
            cx.worker
                .borrow()
                .as_ref()
                .is_some_and(|local| local.is_worker_of(shared))
        })
        .unwrap_or(false)
}

/// Runs `f` with this thread's worker, if it is one, without cloning it. `f` runs while the
/// thread-local is borrowed: it must not enter or leave a context, nor run user code.
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&Local>) -> R) -> R {
    let mut f = Some(f);
    let result = CONTEXT.try_with(|cx| {
        let f = f.take().expect("called once");
        f(cx.worker.borrow().as_deref())
    });
    match (result, f) {
        (Ok(result), _) => result,
        // The thread-local is gone (thread exit): not a worker.
        (Err(_), Some(f)) => f(None),
        (Err(_), None) => unreachable!("with_worker: try_with failed after calling the closure"),
    }
}

/// Whether the calling thread is a worker of some Spool runtime.
pub(crate) fn is_worker() -> bool {
    CONTEXT
        .try_with(|cx| cx.worker.borrow().is_some())
        .unwrap_or(false)
}

/// Runs `f` on the thread's cooperative budget (`task/coop.rs`); `None` if the thread-local is
/// gone (thread exit).
#[inline]
pub(crate) fn with_budget<R>(f: impl FnOnce(&Cell<Budget>) -> R) -> Option<R> {
    CONTEXT.try_with(|cx| f(&cx.budget)).ok()
}
