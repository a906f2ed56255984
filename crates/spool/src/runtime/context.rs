//! "Which runtime am I in?": a thread-local handle, set on workers, blocking threads and inside
//! [`Runtime::block_on`](crate::Runtime::block_on) / [`Handle::enter`](crate::Handle::enter).
//!
//! [`spool::spawn`](crate::spawn) and [`spool::time::sleep`](crate::time::sleep) look here first
//! and fall back to the default runtime, so library code never needs a handle passed around.

use std::cell::RefCell;

use super::Handle;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
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
    let previous = CURRENT
        .try_with(|current| current.borrow_mut().replace(handle))
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
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

/// Runs `f` with the current runtime's handle, if any.
///
/// `f` runs while the thread-local is borrowed: it must not enter or leave a runtime context
/// (creating a task is fine: it runs no user code).
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    let result = CURRENT.try_with(|current| f.take().map(|f| f(current.borrow().as_ref())));
    match (result, f) {
        (Ok(Some(result)), _) => result,
        (_, Some(f)) => f(None),
        // `f` was taken, so the closure ran and returned `Some`.
        (_, None) => unreachable!("with_current: closure consumed without a result"),
    }
}

/// The current runtime's handle, if any.
pub(crate) fn current() -> Option<Handle> {
    CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
}
