//! The blocking pool: threads for work that would otherwise block a worker.
//!
//! [`spawn_blocking`](crate::spawn_blocking) runs a closure on a separate thread and gives back a
//! [`Task`](crate::Task) of its result, so async code can `await` CPU-heavy or blocking work
//! without holding a worker (the chapter's advice, and the lab's "CPU-heavy handlers" experiment).
//!
//! The closure becomes an async-task cell like any task (so it gets a `Task` handle, a spawn
//! site, and panics caught into `JoinError::Panicked`), whose schedule function pushes it on this
//! pool's queue instead of a worker's. The pool is tokio's design: one mutex-protected queue and a
//! condvar; a job wakes an idle thread if there is one, else starts a new thread up to the cap
//! (default 512), else waits in the queue. An idle thread retires after the keep-alive (default
//! 10 s), so a burst does not leave hundreds of threads behind. Threads are cheap next to the
//! work they host, so growth is on demand (figures: `docs/design.md`, "Blocking pool").
//!
//! Shutdown drops the closures that have not started (their tasks report
//! `JoinError::Cancelled`) and waits for the running ones, within the runtime's shutdown timeout.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::{Arc, Condvar, Mutex};
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
    queue: VecDeque<Runnable>,
    threads: usize,
    idle: usize,
    /// Wake-ups handed to idle threads and not yet claimed (each one already left `idle`).
    tokens: usize,
    shutdown: bool,
    next_thread: usize,
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
    work: Condvar,
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
                work: Condvar::new(),
                exited: Condvar::new(),
                max_threads,
                keep_alive,
                thread_name,
                stack_size,
            }),
        }
    }

    /// The schedule function of blocking tasks: queue the job, then wake or start a thread.
    /// `context`: the runtime its threads run in (they enter it, so that `spool::spawn` in a
    /// blocking closure spawns there).
    pub(crate) fn schedule(&self, runnable: Runnable, context: &Handle) {
        let mut state = lock(&self.inner.state);
        if state.shutdown {
            drop(state);
            drop(runnable); // cancelled: its Task reports JoinError::Cancelled
            return;
        }
        state.queue.push_back(runnable);
        if state.idle > 0 {
            state.idle -= 1;
            state.tokens += 1;
            self.inner.work.notify_one();
        } else if state.threads < self.inner.max_threads {
            state.threads += 1;
            let index = state.next_thread;
            state.next_thread += 1;
            drop(state);
            self.start_thread(index, context);
        }
        // Otherwise every thread is busy and the cap is reached: the job waits in the queue.
    }

    fn start_thread(&self, index: usize, context: &Handle) {
        let inner = self.inner.clone();
        let handle = context.clone();
        let mut builder =
            std::thread::Builder::new().name(format!("{}-blocking-{index}", inner.thread_name));
        if let Some(size) = inner.stack_size {
            builder = builder.stack_size(size);
        }
        if let Err(err) = builder.spawn(move || {
            let _context = context::enter(handle);
            inner.run();
        }) {
            tracing::error!(%err, "spool: cannot start a blocking thread");
            let mut state = lock(&self.inner.state);
            state.threads -= 1;
            // With no thread at all the queued jobs would wait forever: drop them (cancelled).
            if state.threads == 0 {
                let queue = std::mem::take(&mut state.queue);
                drop(state);
                drop(queue);
            }
        }
    }

    pub(crate) fn counts(&self) -> Counts {
        let state = lock(&self.inner.state);
        Counts {
            threads: state.threads,
            idle: state.idle,
            queued: state.queue.len(),
        }
    }

    /// Drops queued jobs, then waits (up to `timeout`, `None` = forever) for running ones.
    /// Returns whether every thread exited in time.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let queue = {
            let mut state = lock(&self.inner.state);
            state.shutdown = true;
            std::mem::take(&mut state.queue)
        };
        self.inner.work.notify_all();
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
    /// A blocking thread's loop: run jobs, wait for more, retire when idle too long.
    fn run(&self) {
        let mut state = lock(&self.state);
        'outer: loop {
            while let Some(job) = state.queue.pop_front() {
                drop(state);
                // The job's panics are caught inside (TaskFuture); this catches its destructor's.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()));
                state = lock(&self.state);
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let idle_until = Instant::now() + self.keep_alive;
            loop {
                let now = Instant::now();
                let timeout = idle_until.saturating_duration_since(now);
                state = self
                    .work
                    .wait_timeout(state, timeout)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
                if state.tokens > 0 {
                    // A scheduler already moved us out of `idle` when it handed out the token.
                    state.tokens -= 1;
                    continue 'outer;
                }
                if state.shutdown {
                    state.idle -= 1;
                    break 'outer;
                }
                if Instant::now() >= idle_until {
                    state.idle -= 1;
                    if state.queue.is_empty() {
                        break 'outer;
                    }
                    continue 'outer;
                }
                // Spurious wake-up: keep waiting.
            }
        }
        state.threads -= 1;
        drop(state);
        self.exited.notify_all();
    }
}
