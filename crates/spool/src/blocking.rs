//! The blocking pool: threads for work that would otherwise block a worker.
//!
//! [`spawn_blocking`](crate::spawn_blocking) runs a closure on a separate thread and gives back a
//! [`Task`](crate::Task) of its result, so async code can `await` CPU-heavy or blocking work
//! without holding a worker (the chapter's advice, and the lab's "CPU-heavy handlers" experiment).
//!
//! The closure becomes an async-task cell like any task (so it gets a `Task` handle, a spawn
//! site, and panics caught into `JoinError::Panicked`), whose schedule function hands it to this
//! pool instead of a worker. The rules:
//!
//! 1. **No job waits while a thread could run it** (tokio's rule). A job goes to an idle thread
//!    if there is one, else to a new thread (up to the cap, default 512), else to the queue,
//!    which busy threads drain before they go idle. Threads are cheap next to the work they
//!    host, so growth is on demand (figures: `docs/design.md`, "Blocking pool").
//! 2. **One wake-up per job, aimed at one thread.** Each idle thread waits on its own slot (a
//!    mutex and condvar of its own); the scheduler pops the most recently idle thread off the
//!    idle list under the pool's lock, then, with that lock released, puts the job in its slot
//!    and notifies it after unlocking the slot. The woken thread finds its job in its slot, so
//!    it never queues behind the pool's lock, which the scheduler may still hold for the next
//!    job: with one shared condvar it did, and each call cost two sleeps and two wake-ups
//!    instead of one (`docs/benchmarks.md`, "Blocking pool hand-off"). Most recently idle first
//!    keeps a steady load on the fewest threads, so the others reach their keep-alive.
//! 3. **Idle threads retire after the keep-alive** (default 10 s), so a burst does not leave
//!    hundreds of threads behind. A thread whose wait times out takes itself off the idle list
//!    under the pool's lock; if it is no longer there, a scheduler took it at that moment and
//!    its job is on the way: it waits for it.
//! 4. **Shutdown** drops the queued closures (their tasks report `JoinError::Cancelled`), tells
//!    the idle threads to exit through their slots, and waits for the running ones, within the
//!    runtime's shutdown timeout; a job scheduled afterwards is dropped at once.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::loom::std_lock as lock;
use crate::runtime::{context, Handle};
use crate::task::{Runnable, Task, TaskFuture, TaskMeta};

/// Default cap on blocking threads ([`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads)).
pub const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;
/// Default idle time before a blocking thread exits ([`Builder::blocking_keep_alive`](crate::Builder::blocking_keep_alive)).
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct State {
    /// Jobs that found every thread busy and the cap reached (rule 1).
    queue: VecDeque<Runnable>,
    /// Idle threads, each parked on its slot, the most recently idle last (rule 2).
    idle: Vec<Arc<Slot>>,
    threads: usize,
    shutdown: bool,
    next_thread: usize,
}

/// What an idle thread is handed (rule 2).
#[derive(Debug, Default)]
struct SlotState {
    job: Option<Runnable>,
    shutdown: bool,
    /// The thread waits on `Slot::wake`: whoever fills the slot must notify it.
    parked: bool,
}

/// One thread's mailbox: a scheduler that took the thread off the idle lists puts its job here.
#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    wake: Condvar,
}

/// What a slot gave its thread.
enum Handed {
    Job(Runnable),
    Shutdown,
}

impl Slot {
    /// Hands `job` (or the shutdown, `None`) to the slot's thread, waking it if it is parked.
    fn fill(&self, job: Option<Runnable>) {
        let mut state = lock(&self.state);
        match job {
            Some(job) => state.job = Some(job),
            None => state.shutdown = true,
        }
        let parked = state.parked;
        drop(state);
        // Notified after the unlock, so that the woken thread does not block on our mutex.
        if parked {
            self.wake.notify_one();
        }
    }

    /// Takes what the slot was given, if anything.
    fn take(state: &mut SlotState) -> Option<Handed> {
        if let Some(job) = state.job.take() {
            Some(Handed::Job(job))
        } else if state.shutdown {
            Some(Handed::Shutdown)
        } else {
            None
        }
    }

    /// Waits until the slot is filled or `until` passes (`None`: no limit).
    fn wait(&self, until: Option<Instant>) -> Option<Handed> {
        let mut state = lock(&self.state);
        loop {
            if let Some(handed) = Self::take(&mut state) {
                return Some(handed);
            }
            state.parked = true;
            state = match until {
                None => self
                    .wake
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(until) => {
                    let now = Instant::now();
                    if now >= until {
                        state.parked = false;
                        return None;
                    }
                    self.wake
                        .wait_timeout(state, until - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
            state.parked = false;
        }
    }
}

/// Counts for metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) threads: usize,
    pub(crate) idle: usize,
    pub(crate) queued: usize,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    thread_name: String,
    stack_size: Option<usize>,
}

/// Creates the task of a blocking closure on `handle`'s pool, without scheduling it (the caller
/// schedules the returned `Runnable` outside any borrow of the context: that may drop it).
pub(crate) fn create_task<F, T>(
    handle: &Handle,
    f: F,
    location: &'static Location<'static>,
) -> (Runnable, Task<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // The schedule function holds a handle: the pool's threads enter its context.
    let handle = handle.clone();
    let schedule = move |runnable: Runnable| handle.shared.blocking().schedule(runnable, &handle);
    let (runnable, task) = async_task::Builder::new()
        .metadata(TaskMeta::new(location, false))
        .spawn(move |_| TaskFuture::new(async move { f() }, None), schedule);
    (runnable, Task::new(task, None))
}

/// A runtime's blocking pool.
#[derive(Debug)]
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

impl BlockingPool {
    pub(crate) fn new(
        max_threads: usize,
        keep_alive: Duration,
        thread_name: String,
        stack_size: Option<usize>,
    ) -> Self {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::default(),
                exited: Condvar::new(),
                max_threads,
                keep_alive,
                thread_name,
                stack_size,
            }),
        }
    }

    /// The schedule function of blocking tasks: hand the job to an idle thread, else start a
    /// thread with it, else queue it (rule 1). `context`: the runtime its threads run in (they
    /// enter it, so that `spool::spawn` in a blocking closure spawns there).
    pub(crate) fn schedule(&self, runnable: Runnable, context: &Handle) {
        let mut state = lock(&self.inner.state);
        if state.shutdown {
            drop(state);
            drop(runnable); // cancelled: its Task reports JoinError::Cancelled
            return;
        }
        if let Some(slot) = state.idle.pop() {
            drop(state);
            slot.fill(Some(runnable));
        } else if state.threads < self.inner.max_threads {
            state.threads += 1;
            let index = state.next_thread;
            state.next_thread += 1;
            drop(state);
            self.start_thread(index, runnable, context);
        } else {
            // Every thread is busy and the cap is reached: the job waits in the queue.
            state.queue.push_back(runnable);
        }
    }

    /// Starts a thread whose first job is `first` (already counted in `threads`).
    fn start_thread(&self, index: usize, first: Runnable, context: &Handle) {
        let inner = self.inner.clone();
        let handle = context.clone();
        // The first job travels in the thread's slot, so that a failed start can take it back.
        let slot = Arc::new(Slot::default());
        lock(&slot.state).job = Some(first);
        let thread_slot = slot.clone();
        let mut builder =
            std::thread::Builder::new().name(format!("{}-blocking-{index}", inner.thread_name));
        if let Some(size) = inner.stack_size {
            builder = builder.stack_size(size);
        }
        if let Err(err) = builder.spawn(move || {
            let _context = context::enter(handle);
            inner.run(&thread_slot);
        }) {
            tracing::error!(%err, "spool: cannot start a blocking thread");
            let job = lock(&slot.state).job.take();
            let mut state = lock(&self.inner.state);
            state.threads -= 1;
            let Some(job) = job else { return };
            if let Some(idle) = state.idle.pop() {
                // A thread went idle meanwhile: it takes the job.
                drop(state);
                idle.fill(Some(job));
            } else if state.threads > 0 && !state.shutdown {
                // Every other thread is busy: the first to finish takes it.
                state.queue.push_back(job);
            } else {
                // With no thread at all the job would wait forever: drop it (cancelled).
                drop(state);
                drop(job);
            }
        }
    }

    pub(crate) fn counts(&self) -> Counts {
        let state = lock(&self.inner.state);
        Counts {
            threads: state.threads,
            idle: state.idle.len(),
            queued: state.queue.len(),
        }
    }

    /// Drops queued jobs, tells idle threads to exit, then waits (up to `timeout`, `None` =
    /// forever) for the running ones. Returns whether every thread exited in time.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let (queue, idle) = {
            let mut state = lock(&self.inner.state);
            state.shutdown = true;
            (
                std::mem::take(&mut state.queue),
                std::mem::take(&mut state.idle),
            )
        };
        for slot in idle {
            slot.fill(None);
        }
        drop(queue);
        let mut state = lock(&self.inner.state);
        while state.threads > 0 {
            match deadline {
                None => {
                    state = self
                        .inner
                        .exited
                        .wait(state)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    state = self
                        .inner
                        .exited
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
        true
    }
}

impl Inner {
    /// A blocking thread's loop (rules 1 and 3): run the job in its slot, then the queued ones, then
    /// wait idle for the next, and retire when idle for the keep-alive.
    fn run(&self, slot: &Arc<Slot>) {
        let mut handed = slot.wait(None);
        let mut state = loop {
            let Some(Handed::Job(job)) = handed else {
                break lock(&self.state); // shut down, or idle for the keep-alive
            };
            run_job(job);
            let mut state = lock(&self.state);
            while !state.shutdown {
                let Some(job) = state.queue.pop_front() else {
                    break;
                };
                drop(state);
                run_job(job);
                state = lock(&self.state);
            }
            if state.shutdown {
                break state;
            }
            handed = self.idle(state, slot);
        };
        state.threads -= 1;
        drop(state);
        self.exited.notify_all();
    }

    /// Waits idle until this thread's slot is filled; `None` once the keep-alive passed.
    fn idle<'a>(&'a self, mut state: MutexGuard<'a, State>, slot: &Arc<Slot>) -> Option<Handed> {
        state.idle.push(slot.clone());
        drop(state);
        if let Some(handed) = slot.wait(Some(Instant::now() + self.keep_alive)) {
            return Some(handed);
        }
        let mut state = lock(&self.state);
        match state.idle.iter().rposition(|s| Arc::ptr_eq(s, slot)) {
            Some(at) => {
                state.idle.remove(at);
                None // retire
            }
            None => {
                // A scheduler took us off the list just now and is filling the slot.
                drop(state);
                slot.wait(None)
            }
        }
    }
}

/// Runs one job. Its panics are caught inside (`TaskFuture`); this catches its destructor's.
fn run_job(job: Runnable) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()));
}
