//! The blocking pool: threads for work that would otherwise block a worker.
//!
//! [`spawn_blocking`](crate::spawn_blocking) runs a closure on a separate thread and gives back a
//! [`Task`](crate::Task) of its result, so async code can `await` CPU-heavy or blocking work
//! without holding a worker (the chapter's advice, and the lab's "CPU-heavy handlers" experiment).
//!
//! The closure becomes an async-task cell like any task (so it gets a `Task` handle, a spawn
//! site, and panics caught into `JoinError::Panicked`), whose schedule function queues it on this
//! pool instead of a worker. The rules:
//!
//! 1. **No job waits while a thread could run it** (tokio's rule). A job goes into the pool's
//!    queue (one mutex for the queue and the counts). Every thread takes jobs from the queue
//!    until it is empty before it goes idle, so each queued job needs one thread on its way to
//!    the queue: the pool counts those (`waking`: popped off the idle list or started, not yet
//!    at the queue), and a job that finds more queued jobs than threads on their way wakes an
//!    idle thread, else starts a new thread (up to the cap, default 512), else waits for a busy
//!    one. A thread already awake may take the job first; the one woken for it then takes the
//!    next job, or finds the queue empty and parks again, and the next job needs no wake-up.
//!    Threads are cheap next to the work they host, so growth is on demand (figures:
//!    `docs/design.md`, "Blocking pool").
//! 2. **At most one wake-up per job, for one thread, after the lock is released.** Each idle
//!    thread parks itself (`std::thread::park_timeout`, a futex of its own); the scheduler pops
//!    the most recently idle thread off the idle list under the lock, and unparks it once the
//!    lock is released. With one shared condvar notified under the lock, the woken thread ran
//!    into the mutex the scheduler still held and went back to sleep on it: two sleeps and two
//!    wake-ups per call (`docs/benchmarks.md`, "`spawn_blocking`: one wake-up per call"). The
//!    most recently idle thread first keeps a steady load on the fewest threads, and leaves the
//!    others idle long enough to retire.
//! 3. **Idle threads retire after the keep-alive** (default 10 s), so a burst does not leave
//!    hundreds of threads behind. Whether a parked thread was popped is what the idle list
//!    says, not how its park returned: a thread whose keep-alive has passed exits only if it is
//!    still on the list (else a scheduler popped it at that moment for a queued job, and it
//!    stays to run the queue); a park that ends early (spuriously, or by the late unpark of
//!    such a pop, arriving while the thread is on the list again) leaves it parking on.
//! 4. **Shutdown** drops the queued closures (their tasks report `JoinError::Cancelled`), wakes
//!    the idle threads, which see the flag and exit, and waits for the running ones, within the
//!    runtime's shutdown timeout; a job scheduled afterwards is dropped at once.

use std::collections::VecDeque;
use std::panic::Location;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
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
    /// Jobs not yet taken by a thread (rule 1).
    queue: VecDeque<Runnable>,
    /// Idle threads, each parked on its own parker, the most recently idle last (rule 2).
    idle: Vec<Arc<Sleeper>>,
    /// Threads popped off `idle` or started, that have not yet taken the lock: each will
    /// drain the queue (rule 1).
    waking: usize,
    threads: usize,
    shutdown: bool,
    next_thread: usize,
}

impl State {
    /// Takes the most recently idle thread off the idle list; the caller unparks it.
    fn pop_idle(&mut self) -> Option<Arc<Sleeper>> {
        let sleeper = self.idle.pop()?;
        sleeper.listed.store(false, Relaxed);
        self.waking += 1;
        Some(sleeper)
    }
}

/// A blocking thread, as the idle list holds it.
#[derive(Debug)]
struct Sleeper {
    thread: std::thread::Thread,
    /// On the idle list. Read and written under the pool's lock only (hence `Relaxed`): it
    /// tells a thread whose park returned whether a scheduler popped it (rule 3).
    listed: AtomicBool,
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

    /// The schedule function of blocking tasks: queue the job, then wake an idle thread for
    /// it, else start one (rules 1 and 2). `context`: the runtime its threads run in (they
    /// enter it, so that `spool::spawn` in a blocking closure spawns there).
    pub(crate) fn schedule(&self, runnable: Runnable, context: &Handle) {
        let mut state = lock(&self.inner.state);
        if state.shutdown {
            drop(state);
            drop(runnable); // cancelled: its Task reports JoinError::Cancelled
            return;
        }
        state.queue.push_back(runnable);
        if state.queue.len() <= state.waking {
            // A thread on its way to the queue takes this job: no wake-up needed.
        } else if let Some(sleeper) = state.pop_idle() {
            drop(state);
            // After the unlock: the woken thread's first step is to take the lock.
            sleeper.thread.unpark();
        } else if state.threads < self.inner.max_threads {
            state.threads += 1;
            state.waking += 1;
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
            state.waking -= 1;
            if state.queue.len() > state.waking {
                if let Some(sleeper) = state.pop_idle() {
                    // A thread went idle meanwhile: it takes the job.
                    drop(state);
                    sleeper.thread.unpark();
                } else if state.threads == 0 {
                    // With no thread at all the queued jobs would wait forever: drop them
                    // (cancelled). Otherwise a busy thread takes them when it finishes.
                    let queue = std::mem::take(&mut state.queue);
                    drop(state);
                    drop(queue);
                }
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
            let idle: Vec<_> = std::iter::from_fn(|| state.pop_idle()).collect();
            (std::mem::take(&mut state.queue), idle)
        };
        for sleeper in idle {
            sleeper.thread.unpark();
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
    /// A blocking thread's loop (rules 1 to 3): run queued jobs, then park idle until popped,
    /// and retire when idle for the keep-alive.
    fn run(&self) {
        let me = Arc::new(Sleeper {
            thread: std::thread::current(),
            listed: AtomicBool::new(false),
        });
        let mut state = lock(&self.state);
        state.waking -= 1; // started with a job to find (rule 1)
        'run: loop {
            while let Some(job) = state.queue.pop_front() {
                drop(state);
                run_job(job);
                state = lock(&self.state);
            }
            if state.shutdown {
                break;
            }
            me.listed.store(true, Relaxed);
            state.idle.push(me.clone());
            drop(state);
            let idle_until = Instant::now() + self.keep_alive;
            loop {
                std::thread::park_timeout(idle_until.saturating_duration_since(Instant::now()));
                state = lock(&self.state);
                if !me.listed.load(Relaxed) {
                    // Popped: a job is queued, or the pool shuts down.
                    state.waking -= 1;
                    continue 'run;
                }
                if Instant::now() >= idle_until {
                    // Idle for the keep-alive and nobody popped us: retire.
                    if let Some(at) = state.idle.iter().rposition(|s| Arc::ptr_eq(s, &me)) {
                        state.idle.remove(at);
                    }
                    break 'run;
                }
                // A spurious wake-up, or the late unpark of an earlier pop (rule 3): still
                // idle, park on.
                drop(state);
            }
        }
        state.threads -= 1;
        drop(state);
        self.exited.notify_all();
    }
}

/// Runs one job. Its panics are caught inside (`TaskFuture`); this catches its destructor's.
fn run_job(job: Runnable) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()));
}
