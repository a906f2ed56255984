//! Step 2: a real timer. The queue is step 1's; the sleep is new.
//!
//! Step 1's `AsyncSleep` kept its task running by waking itself on every poll. Here a sleeping
//! task leaves two things with a timer — its **deadline** and its **waker** — and returns
//! `Pending` without waking anyone. Nothing is scheduled, the channel empties, and the queue
//! thread blocks in `recv`. One timer thread keeps every pending deadline in order
//! (`BTreeMap<(deadline, id), Waker>`) and parks until the first one (`Condvar::wait_timeout`);
//! when it passes, it calls that waker once and the task is polled once more, now ready.
//!
//! The cost of a sleep drops from a core for its whole length to two polls and a thread
//! wake-up. Registering a deadline earlier than all the others notifies the condvar, so that
//! the timer thread re-computes how long to wait; dropping a [`Sleep`] removes its entry.
//!
//! Steps 3 to 7 keep this timer unchanged; step 8 keeps it too, next to the I/O reactor.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::catch_unwind;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, LazyLock, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use async_task::{Runnable, Task};

use crate::common::lock;
pub use crate::common::{block_on, yield_now};

/// The name of the queue's one thread.
pub const THREAD: &str = "step2";

/// Spawns `future` on the queue (step 1's, unchanged) and returns its handle.
pub fn spawn<F, T>(future: F) -> Task<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    static QUEUE: LazyLock<flume::Sender<Runnable>> = LazyLock::new(|| {
        let (tx, rx) = flume::unbounded::<Runnable>();
        thread::Builder::new()
            .name(THREAD.to_owned())
            .spawn(move || {
                while let Ok(runnable) = rx.recv() {
                    let _ = catch_unwind(|| runnable.run());
                }
            })
            .expect("the OS refused to start the queue thread");
        tx
    });

    let schedule = |runnable| QUEUE.send(runnable).expect("the queue thread is gone");
    let (runnable, task) = async_task::spawn(future, schedule);
    runnable.schedule();
    task
}

/// A deadline's place in the timer: when, and a number that makes equal deadlines distinct.
type Key = (Instant, u64);

/// The pending deadlines, first first, and the condvar the timer thread waits on.
struct Timer {
    deadlines: Mutex<BTreeMap<Key, Waker>>,
    changed: Condvar,
}

/// The process's timer; its thread starts with the first sleep that has to wait.
static TIMER: LazyLock<&'static Timer> = LazyLock::new(|| {
    let timer: &'static Timer = Box::leak(Box::new(Timer {
        deadlines: Mutex::new(BTreeMap::new()),
        changed: Condvar::new(),
    }));
    thread::Builder::new()
        .name("step-timer".to_owned())
        .spawn(move || timer.run())
        .expect("the OS refused to start the timer thread");
    timer
});

impl Timer {
    /// The timer thread: wake every task whose deadline has passed, then wait until the next
    /// deadline (or until a new first deadline arrives).
    fn run(&self) {
        let mut deadlines = lock(&self.deadlines);
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while let Some(entry) = deadlines.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            if !due.is_empty() {
                // Wake outside the lock: a wake may schedule, and a poll may sleep again.
                drop(deadlines);
                due.into_iter().for_each(Waker::wake);
                deadlines = lock(&self.deadlines);
                continue;
            }
            deadlines = match deadlines.keys().next() {
                Some(&(first, _)) => match self.changed.wait_timeout(deadlines, first - now) {
                    Ok((deadlines, _)) => deadlines,
                    Err(poisoned) => poisoned.into_inner().0,
                },
                None => self
                    .changed
                    .wait(deadlines)
                    .unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

/// Sleeps for `duration`: registers a deadline and a waker with the timer, and waits.
pub fn sleep(duration: Duration) -> Sleep {
    Sleep {
        deadline: Instant::now() + duration,
        key: None,
    }
}

/// The future returned by [`sleep`]: a deadline, and its entry in the timer once polled.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    key: Option<Key>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(key) = self.key.take() {
                lock(&TIMER.deadlines).remove(&key);
            }
            return Poll::Ready(());
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let deadline = self.deadline;
        let key = *self
            .key
            .get_or_insert_with(|| (deadline, NEXT.fetch_add(1, Ordering::Relaxed)));
        let mut deadlines = lock(&TIMER.deadlines);
        let first = deadlines.keys().next().map_or(true, |first| key <= *first);
        deadlines.insert(key, cx.waker().clone());
        if first {
            TIMER.changed.notify_one();
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&TIMER.deadlines).remove(&key);
        }
    }
}
