//! [`JoinSet`]: a group of tasks awaited in the order they finish (tokio's `JoinSet`).
//!
//! The set owns a [`Task`] per member, in a slab. Polling every member on every
//! [`join_next`](JoinSet::join_next) would cost O(members) per call, so each member is polled
//! with a waker of its own, which records the member's key in the set's *ready list* and wakes
//! whoever waits in `join_next`:
//!
//! 1. a new member starts in the ready list (it has never been polled, so no waker is
//!    registered with its task yet);
//! 2. `join_next` stores its caller's waker, takes the ready list, and polls those members only,
//!    each with its own waker; the first that is finished is removed and returned, and the keys
//!    it did not reach go back to the list;
//! 3. when a member's task finishes, async-task wakes the member's waker: step 2 runs again.
//!
//! A member's waker is one allocation per spawn into the set (tokio's set allocates one too).
//! A key may be reused after its member left; a stale wake-up then costs one spurious poll of
//! the new member, never a lost one. Dropping the set drops its `Task`s, which cancels them.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use super::{AbortHandle, JoinError, Task};
use crate::loom::std_lock as lock;

/// A set of tasks, awaited in the order they complete.
///
/// ```
/// use std::time::Duration;
/// use spool::task::JoinSet;
///
/// let rt = spool::Runtime::new()?;
/// rt.block_on(async {
///     let mut set = JoinSet::new();
///     for ms in [100u64, 0, 50] {
///         set.spawn(async move {
///             spool::time::sleep(Duration::from_millis(ms)).await;
///             ms
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(result) = set.join_next().await {
///         order.push(result.unwrap());
///     }
///     assert_eq!(order, [0, 50, 100]);
/// });
/// # std::io::Result::Ok(())
/// ```
pub struct JoinSet<T> {
    members: Slab<Member<T>>,
    shared: Arc<Shared>,
}

struct Member<T> {
    task: Task<T>,
    waker: Waker,
    flag: Arc<MemberWaker>,
}

/// The ready list and the waiter, shared with the members' wakers.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    ready: VecDeque<usize>,
    waiter: Option<Waker>,
}

struct MemberWaker {
    key: usize,
    /// The key is in the ready list: further wake-ups add nothing.
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for MemberWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let waiter = {
            let mut state = lock(&self.shared.state);
            state.ready.push_back(self.key);
            state.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set = spool::task::JoinSet::<()>::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> Self {
        JoinSet {
            members: Slab::new(),
            shared: Arc::default(),
        }
    }

    /// The number of tasks in the set (finished ones count until [`join_next`] returns them).
    ///
    /// [`join_next`]: JoinSet::join_next
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut set = spool::task::JoinSet::new();
    ///     set.spawn(async {});
    ///     assert_eq!(set.len(), 1);
    ///     set.join_next().await;
    ///     assert_eq!(set.len(), 0);
    /// });
    /// # std::io::Result::Ok(())
    /// ```
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set has no tasks.
    ///
    /// ```
    /// assert!(spool::task::JoinSet::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds an already spawned task to the set (step 1 of the module doc).
    fn insert(&mut self, task: Task<T>) -> AbortHandle {
        let abort = task.abort_handle();
        let entry = self.members.vacant_entry();
        let key = entry.key();
        let flag = Arc::new(MemberWaker {
            key,
            queued: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        let waker = Waker::from(flag.clone());
        entry.insert(Member { task, waker, flag });
        lock(&self.shared.state).ready.push_back(key);
        abort
    }

    /// Aborts every task in the set ([`Task::abort`]); they stay in it until [`join_next`]
    /// returns them (as `Err(JoinError::Cancelled)`, or their output if they had completed).
    ///
    /// [`join_next`]: JoinSet::join_next
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut set = spool::task::JoinSet::new();
    ///     set.spawn(std::future::pending::<()>());
    ///     set.abort_all();
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// });
    /// # std::io::Result::Ok(())
    /// ```
    pub fn abort_all(&mut self) {
        for (_, member) in &self.members {
            member.task.abort();
        }
    }

    /// Lets every task of the set run on without it, and empties the set.
    ///
    /// ```
    /// let mut set = spool::task::JoinSet::new();
    /// set.spawn(async {});
    /// set.detach_all();
    /// assert!(set.is_empty());
    /// ```
    pub fn detach_all(&mut self) {
        for member in self.members.drain() {
            member.task.detach();
        }
        lock(&self.shared.state).ready.clear();
    }

    /// Waits for the next task to finish and returns its result; `None` once the set is empty.
    ///
    /// Cancel-safe: dropping the future before it completes loses no result.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut set = spool::task::JoinSet::new();
    ///     set.spawn(async { 1 });
    ///     assert_eq!(set.join_next().await, Some(Ok(1)));
    ///     assert_eq!(set.join_next().await, None);
    /// });
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The poll behind [`join_next`](JoinSet::join_next) (step 2 of the module doc), for a
    /// hand-written future.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.members.is_empty() {
            return Poll::Ready(None);
        }
        // Each member is a join: polling it spends the cooperative budget (`task/coop.rs`),
        // which may make it return `Pending` after waking us; we are then polled again.
        let mut ready = {
            let mut state = lock(&self.shared.state);
            match &state.waiter {
                Some(waiter) if waiter.will_wake(cx.waker()) => {}
                _ => state.waiter = Some(cx.waker().clone()),
            }
            std::mem::take(&mut state.ready)
        };
        while let Some(key) = ready.pop_front() {
            let Some(member) = self.members.get_mut(key) else {
                continue; // a stale key: its member already left
            };
            // Cleared before the poll: a wake-up during or after it queues the key again.
            member.flag.queued.store(false, Ordering::Release);
            let mut member_cx = Context::from_waker(&member.waker);
            if let Poll::Ready(result) = Pin::new(&mut member.task).poll(&mut member_cx) {
                self.members.remove(key);
                if !ready.is_empty() {
                    // The keys not reached go first next time (the list may have grown).
                    let mut state = lock(&self.shared.state);
                    ready.append(&mut state.ready);
                    state.ready = ready;
                }
                return Poll::Ready(Some(result));
            }
        }
        Poll::Pending
    }

    /// Aborts every task and waits until each is gone; the set is then empty.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// rt.block_on(async {
    ///     let mut set = spool::task::JoinSet::new();
    ///     for _ in 0..3 {
    ///         set.spawn(std::future::pending::<()>());
    ///     }
    ///     set.shutdown().await;
    ///     assert!(set.is_empty());
    /// });
    /// # std::io::Result::Ok(())
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns `future` on the current runtime (else the default one, as [`spawn`](crate::spawn))
    /// and adds it to the set. The returned handle aborts it without removing it.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let mut set = spool::task::JoinSet::new();
    /// rt.block_on(async {
    ///     set.spawn(async { "done" });
    ///     assert_eq!(set.join_next().await, Some(Ok("done")));
    /// });
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(crate::spawn(future))
    }

    /// Spawns `future` on the runtime of `handle` and adds it to the set.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let mut set = spool::task::JoinSet::new();
    /// set.spawn_on(async { 5 }, rt.handle());
    /// assert_eq!(rt.block_on(set.join_next()), Some(Ok(5)));
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &crate::Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(future))
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns a `!Send` `future` on the calling thread ([`spawn_local`](crate::spawn_local):
    /// inside a current-thread runtime's `block_on` or a task of any runtime) and adds it to
    /// the set. The returned handle aborts it without removing it.
    ///
    /// # Panics
    ///
    /// Where [`spawn_local`](crate::spawn_local) panics: on a thread that runs no tasks.
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let rt = spool::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut set = spool::task::JoinSet::new();
    ///     for i in 0..3 {
    ///         let shared = Rc::new(i); // !Send
    ///         set.spawn_local(async move { *shared * 10 });
    ///     }
    ///     let mut results = Vec::new();
    ///     while let Some(result) = set.join_next().await {
    ///         results.push(result.unwrap());
    ///     }
    ///     results.sort();
    ///     assert_eq!(results, [0, 10, 20]);
    /// });
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.insert(crate::spawn_local(future))
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}
