//! The chapter's own async task queue, kept as the book wrote it (section "Implementing our own
//! async task queue"), so that readers recognise it.
//!
//! Two pieces:
//!
//! - [`spawn_task`]: wraps a future in an `async_task` task. Its *schedule* function sends the
//!   task's `Runnable` down a `flume` channel; one thread, started the first time anything is
//!   spawned, receives runnables and runs each one (one poll of the future) inside
//!   `catch_unwind`, so a panicking task cannot kill the queue.
//! - [`AsyncSleep`]: a future that is ready once its duration has passed, and until then asks to
//!   be polled again *immediately* by calling `cx.waker().wake_by_ref()`.
//!
//! # Why it burns a whole core
//!
//! Waking a task here means "schedule it": `wake_by_ref` calls the schedule function, which puts
//! the runnable straight back on the channel. The queue thread receives it at once and polls it
//! again; `AsyncSleep` looks at the clock, sees it is not time yet, wakes itself again, and so
//! on — millions of times a second, for as long as the sleep lasts. Nothing ever *waits*: the
//! channel is never empty, so `recv` never blocks, and the thread runs at 100% CPU doing nothing
//! useful. (Three sleeping tasks share that one core in turn, which is why they still finish
//! together.) A real timer instead stores the deadline and the waker, lets the thread block, and
//! wakes the task once when the deadline comes — Spool's `time::sleep` does that.
//!
//! The one change from the book: the queue thread is given a name, "chapter-queue", so that it
//! can be told apart in the lab's timelines and in `top -H`.

use std::future::Future;
use std::panic::catch_unwind;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use async_task::{Runnable, Task};

/// The name of the thread that runs the queue's tasks.
pub const QUEUE_THREAD: &str = "chapter-queue";

/// Spawns a future on the chapter's one-thread queue and returns its handle.
///
/// The handle is a future of the task's output: `futures_lite::future::block_on(task)` waits
/// for it. Dropping the handle cancels the task (`async_task`'s rule), so keep it.
///
/// ```
/// let task = lab::chapter_queue::spawn_task(async { 1 + 1 });
/// assert_eq!(futures_lite::future::block_on(task), 2);
/// ```
pub fn spawn_task<F, T>(future: F) -> Task<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    // The queue: the sending end of a channel whose receiving end lives in one thread. `LazyLock`
    // starts the thread the first time a task is spawned, and the static keeps it for the rest
    // of the process (the book's `Lazy`).
    static QUEUE: LazyLock<flume::Sender<Runnable>> = LazyLock::new(|| {
        let (tx, rx) = flume::unbounded::<Runnable>();
        thread::Builder::new()
            .name(QUEUE_THREAD.to_owned())
            .spawn(move || {
                // `recv` blocks while the channel is empty — the only place this thread can
                // rest. A busy-sleeping task makes sure it never is.
                while let Ok(runnable) = rx.recv() {
                    // One poll of one task. A panic inside it is caught here so that the queue
                    // thread, shared by every task, survives it.
                    let _ = catch_unwind(|| runnable.run());
                }
            })
            .expect("the OS refused to start the chapter's queue thread");
        tx
    });

    // Waking the task calls this: put it back on the queue. The receiver lives as long as the
    // process (the thread never leaves its loop), so `send` cannot fail.
    let schedule = |runnable| {
        QUEUE
            .send(runnable)
            .expect("the chapter's queue thread is gone")
    };
    let (runnable, task) = async_task::spawn(future, schedule);
    // Schedule the first poll; after that the task is polled again only when woken.
    runnable.schedule();
    task
}

/// The chapter's sleep: ready once `duration` has passed since it was created, and until then
/// wakes itself on every poll — so it is polled, and burns CPU, the whole time. What *not* to do.
#[derive(Debug)]
pub struct AsyncSleep {
    start_time: Instant,
    duration: Duration,
}

impl AsyncSleep {
    /// A sleep of `duration`, starting now (when the future is created, not first polled).
    pub fn new(duration: Duration) -> Self {
        Self {
            start_time: Instant::now(),
            duration,
        }
    }
}

impl Future for AsyncSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let elapsed_time = self.start_time.elapsed();
        if elapsed_time >= self.duration {
            Poll::Ready(())
        } else {
            // "Poll me again" — right now. On the chapter's queue this re-sends the task down
            // the channel, and the queue thread polls it again at once: a busy loop.
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;

    #[test]
    fn a_panicking_task_does_not_kill_the_queue() {
        // The panic is caught by the queue thread; the task ends without an output, which a
        // `fallible` handle reports as `None`.
        let bad = spawn_task(async { panic!("a task's panic, caught by the queue") });
        assert_eq!(block_on(bad.fallible()), None::<()>);
        assert_eq!(block_on(spawn_task(async { 7 })), 7);
    }

    #[test]
    fn async_sleep_waits_at_least_its_duration() {
        let start = Instant::now();
        block_on(spawn_task(AsyncSleep::new(Duration::from_millis(20))));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
