//! The cooperative budget (tokio's "coop"): a task that always finds its work ready still yields.
//!
//! # The problem
//!
//! A task yields only by returning `Pending`, and it returns `Pending` only when something it
//! awaits is not ready. A task reading a socket that always has data (a fast peer, or a socket
//! at end-of-stream: every read returns 0 at once) never sees `Pending`, so it keeps its worker
//! forever: the other tasks queued there, the timers it would fire on its maintenance tick, the
//! I/O events it would dispatch, all wait. On a one-worker runtime nothing else runs at all.
//!
//! # The mechanism
//!
//! 1. Each poll of a task gets a **budget** of [`BUDGET`] (128, tokio's value) units, held in
//!    the thread's runtime context (`runtime/context.rs`, the one thread-local). The scheduler
//!    sets it right before it runs a task ([`set_task_budget`], in `scheduler/worker.rs`): one
//!    thread-local write per poll, and no restore, because a worker thread polls nothing but
//!    tasks. (Setting and restoring it around each poll inside the task's own future cost
//!    about 40 more instructions per spawn-and-join: measured, and left out.) A scheduler that
//!    also polls a `block_on` future on the same thread must set the budget before that poll
//!    too, or the leftover of the last task's budget would throttle it.
//! 2. Spool's own leaf futures spend one unit each time they are about to report progress:
//!    socket readiness (every read, write, accept, connect: `io::Async::poll_ready`), [`Sleep`],
//!    a [`Task`] join (and so [`JoinSet::join_next`]), and [`consume_budget`]. A leaf that then
//!    finds nothing ready gives its unit back: waiting is not work. A leaf whose readiness check
//!    is a cheap read with no side effect may look first and spend only once it is ready
//!    ([`Sleep`]: a clock read), which ends the same way with one thread-local access per
//!    completion instead of two per poll.
//! 3. When the budget is spent, the leaf does not look at its resource: it wakes its task and
//!    returns `Pending`. The wake comes while the task is running, so the scheduler treats it as
//!    a yield (`scheduler/worker.rs`, "Yielding: defer, do not requeue"): the task runs again
//!    once the others had their turn, with a fresh budget.
//! 4. On a thread that does not run tasks (inside a multi-thread runtime's `block_on`, a
//!    blocking-pool thread, a plain thread) there is no budget: nothing is ever refused. A
//!    current-thread runtime's `block_on` thread runs tasks: its own future gets a fresh budget
//!    before each poll like a task, and the thread's budget is put back as it was when
//!    `block_on` returns ([`save_budget`]). [`unconstrained`] removes the budget for one future,
//!    for code that must not be interrupted (at the price of the starvation above).
//!
//! # The numbers
//!
//! 128 units is roughly 128 ready socket operations (each a syscall, ~1 µs) or 128 ready joins
//! per poll: a forced yield every ~0.1 ms of solid I/O, small enough for fairness, large enough
//! that the yield (one trip through the deferred list) is noise next to the work. The driver is
//! still turned while only such tasks run: a worker turns it (zero timeout: due timers fire, I/O
//! events are dispatched) every `MAINTENANCE_INTERVAL` (61) ticks, and a forced yield ends a
//! tick, so a timer is at most ~61 × 128 operations late behind a task that is always ready
//! (`tests/rt_coop.rs` checks that a 20 ms sleeper wakes while such a task runs). The cost of
//! the check on the fast path is one thread-local read-modify-write per leaf that is ready, and
//! a set and a restore per task poll: `docs/benchmarks.md`, "Cooperative budget".
//!
//! [`Sleep`]: crate::time::Sleep
//! [`Task`]: crate::Task
//! [`JoinSet::join_next`]: crate::task::JoinSet::join_next

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::runtime::context;

/// Units of budget per task poll (tokio's value).
pub const BUDGET: u8 = 128;

/// The budget left in the current poll: `None` when unconstrained (outside a task, or inside
/// [`unconstrained`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget(Option<u8>);

impl Budget {
    /// No budget: nothing is refused.
    pub(crate) const fn unconstrained() -> Self {
        Budget(None)
    }
}

/// Restores the budget that was in place before [`unconstrained`] (or [`save_budget`]'s
/// caller) changed it, when dropped.
#[must_use = "the budget is restored when the guard drops"]
pub(crate) struct ResetGuard(Option<Budget>);

impl Drop for ResetGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some(previous) = self.0 {
            context::with_budget(|budget| budget.set(previous));
        }
    }
}

/// Step 1: a fresh budget for the poll of a task. Every scheduler loop calls it right before
/// it runs a task (`Runnable::run`).
#[inline]
pub(crate) fn set_task_budget() {
    context::with_budget(|budget| budget.set(Budget(Some(BUDGET))));
}

/// For a scheduler loop that runs on a thread which also runs other code (a current-thread
/// runtime's `block_on`): the thread's budget as it was, restored when the guard drops, so that
/// the last poll's leftover does not follow the caller out of the loop.
pub(crate) fn save_budget() -> ResetGuard {
    ResetGuard(context::with_budget(|budget| budget.get()))
}

/// Steps 2 and 3: spends one unit, or, when none is left, wakes the task and returns `Pending`.
/// A caller that then finds its resource not ready calls [`refund`].
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let allowed = context::with_budget(|budget| match budget.get().0 {
        None => true,
        Some(0) => false,
        Some(left) => {
            budget.set(Budget(Some(left - 1)));
            true
        }
    });
    // No context (thread-local gone at thread exit): no budget.
    if allowed.unwrap_or(true) {
        Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Gives back the unit [`poll_proceed`] took, when the resource turned out not to be ready.
#[inline]
pub(crate) fn refund() {
    context::with_budget(|budget| {
        if let Budget(Some(left)) = budget.get() {
            budget.set(Budget(Some(left.saturating_add(1).min(BUDGET))));
        }
    });
}

/// Spends one unit of the task's budget, yielding first if it is spent.
///
/// For a loop that does work without awaiting any of Spool's futures (computing, or draining a
/// channel that is always full): awaiting this in the loop lets the rest of the worker run
/// every [`BUDGET`] iterations, and costs almost nothing otherwise (unlike
/// [`yield_now`](crate::yield_now), which yields every time).
///
/// ```
/// let rt = spool::Runtime::new()?;
/// let sum = rt.block_on(rt.spawn(async {
///     let mut sum = 0u64;
///     for i in 0..10_000u64 {
///         spool::task::consume_budget().await;
///         sum += i;
///     }
///     sum
/// }));
/// assert_eq!(sum, Ok(49_995_000));
/// # std::io::Result::Ok(())
/// ```
pub async fn consume_budget() {
    std::future::poll_fn(poll_proceed).await
}

pin_project_lite::pin_project! {
    /// A future that runs without a cooperative budget: [`unconstrained`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Unconstrained<F> {
        #[pin]
        future: F,
    }
}

/// Runs `future` without the cooperative budget: Spool's futures inside it never yield because
/// of it (see the module doc for what that risks).
///
/// ```
/// let rt = spool::Runtime::new()?;
/// let n = rt.block_on(rt.spawn(spool::task::unconstrained(async {
///     for _ in 0..1_000 {
///         spool::task::consume_budget().await; // never yields in here
///     }
///     1_000
/// })));
/// assert_eq!(n, Ok(1_000));
/// # std::io::Result::Ok(())
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let previous = context::with_budget(|budget| budget.replace(Budget::unconstrained()));
        let _reset = ResetGuard(previous);
        self.project().future.poll(cx)
    }
}
