//! Step 3: N threads share the one channel.
//!
//! Steps 1 and 2 run every task on one thread: one core, however many the machine has, and a
//! task that blocks (a `thread::sleep`, a long computation) holds up every other task. Here the
//! same loop runs on [`workers`] threads, each with a clone of the channel's receiving end —
//! flume's channel is multi-consumer, so each runnable goes to exactly one of them.
//!
//! That is the whole change. It buys parallelism, and a blocking task now holds up one thread
//! of N. Its price: every spawn and every wake goes through the one shared channel, whose lock
//! all threads fight over, and a woken task lands on whichever thread receives first — rarely
//! the one whose cache holds its data. Step 4 gives each worker a queue of its own.

use std::future::Future;
use std::panic::catch_unwind;
use std::sync::LazyLock;
use std::thread;

use async_task::{Runnable, Task};

pub use crate::common::{block_on, workers, yield_now};
pub use crate::step2::{sleep, Sleep};

/// The workers' names: `step3-0`, `step3-1`, …
pub const THREAD: &str = "step3";

/// Spawns `future` on the shared channel and returns its handle.
pub fn spawn<F, T>(future: F) -> Task<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    static QUEUE: LazyLock<flume::Sender<Runnable>> = LazyLock::new(|| {
        let (tx, rx) = flume::unbounded::<Runnable>();
        for i in 0..workers() {
            let rx = rx.clone();
            thread::Builder::new()
                .name(format!("{THREAD}-{i}"))
                .spawn(move || {
                    while let Ok(runnable) = rx.recv() {
                        let _ = catch_unwind(|| runnable.run());
                    }
                })
                .expect("the OS refused to start a worker thread");
        }
        tx
    });

    let schedule = |runnable| QUEUE.send(runnable).expect("the workers are gone");
    let (runnable, task) = async_task::spawn(future, schedule);
    runnable.schedule();
    task
}
