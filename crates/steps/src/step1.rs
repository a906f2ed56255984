//! Step 1: the chapter's task queue, as the book wrote it.
//!
//! - [`spawn_task`] wraps a future in an `async_task` task whose *schedule* function sends its
//!   `Runnable` down one `flume` channel. One thread, started the first time anything is
//!   spawned (`LazyLock`, the book's `Lazy`), receives runnables and runs each — one poll —
//!   inside `catch_unwind`, so a panicking task cannot kill the queue.
//! - [`AsyncSleep`] is ready once its duration has passed, and until then wakes itself on every
//!   poll: "poll me again, now".
//!
//! Waking means "send the runnable down the channel again", so a sleeping task is re-sent and
//! re-polled millions of times a second: the channel is never empty, `recv` never blocks, and
//! the one thread burns a whole core for as long as anything sleeps. Step 2 fixes that.
//!
//! A panic is caught by the worker; the task's handle then has no output, and awaiting it
//! panics in the awaiter (async-task's rule for a task that ended without one).
//!
//! Changes from the book: the thread is named (`step1`) for timelines and `top -H`, and the
//! module offers the names every step offers ([`spawn`], [`sleep`], [`block_on`], [`yield_now`]).

use std::future::Future;
use std::panic::catch_unwind;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use async_task::{Runnable, Task};

pub use crate::common::{block_on, yield_now};
pub use spawn_task as spawn;

/// The name of the queue's one thread.
pub const THREAD: &str = "step1";

/// Spawns `future` on the queue and returns its handle; dropping the handle cancels the task.
pub fn spawn_task<F, T>(future: F) -> Task<T>
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

/// The chapter's sleep: ready once `duration` has passed since it was created, and until then
/// wakes itself on every poll — so it is polled, and burns CPU, the whole time.
#[derive(Debug)]
pub struct AsyncSleep {
    start_time: Instant,
    duration: Duration,
}

impl AsyncSleep {
    /// A sleep of `duration`, starting now.
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
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// This step's sleep: the chapter's [`AsyncSleep`].
pub fn sleep(duration: Duration) -> AsyncSleep {
    AsyncSleep::new(duration)
}
