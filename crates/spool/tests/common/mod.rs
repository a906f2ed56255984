//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset; `pub` for the tests

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

pub mod cpu;

/// Runs a test body on a current-thread runtime and on 1, 2 and 4 workers (tokio's `rt_test!`):
/// each gets its own `#[test]`. `multi_thread_only;` first leaves out the current-thread case,
/// for bodies that need tasks to run while no thread is in `block_on`.
#[macro_export]
macro_rules! rt_test {
    (multi_thread_only; $(#[$meta:meta])* fn $name:ident($rt:ident) $body:block) => {
        $crate::rt_test!(@multi $(#[$meta])* fn $name($rt) $body {});
    };
    ($(#[$meta:meta])* fn $name:ident($rt:ident) $body:block) => {
        $crate::rt_test!(@multi $(#[$meta])* fn $name($rt) $body {
            #[test]
            $(#[$meta])*
            fn current_thread() {
                common::watchdog(stringify!($name), move || body(common::rt_current_thread()));
            }
        });
    };
    (@multi $(#[$meta:meta])* fn $name:ident($rt:ident) $body:block { $($extra:tt)* }) => {
        mod $name {
            $($extra)*
            #[allow(unused_imports)]
            use super::*;
            fn body($rt: spool::Runtime) $body
            #[test]
            $(#[$meta])*
            fn one_worker() {
                common::watchdog(stringify!($name), move || body(common::rt(1)));
            }
            #[test]
            $(#[$meta])*
            fn two_workers() {
                common::watchdog(stringify!($name), move || body(common::rt(2)));
            }
            #[test]
            $(#[$meta])*
            fn four_workers() {
                common::watchdog(stringify!($name), move || body(common::rt(4)));
            }
        }
    };
}

/// A runtime with `workers` workers.
pub fn rt(workers: usize) -> spool::Runtime {
    spool::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("runtime")
}

/// A current-thread runtime.
pub fn rt_current_thread() -> spool::Runtime {
    spool::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

/// Runs `f` on its own thread and fails the test if it takes more than 60 s (a hang), passing
/// its panic through otherwise.
pub fn watchdog<F: FnOnce() + Send + 'static>(name: &str, f: F) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => thread.join().expect("test thread"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: hung for 60 s"),
    }
}

/// Counts drops of the values it hands out.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

pub struct Tracked(Arc<AtomicUsize>);

impl DropCounter {
    pub fn track(&self) -> Tracked {
        Tracked(self.0.clone())
    }
    pub fn drops(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A one-shot signal that can be set from any thread (a plain thread, say) and awaited.
#[derive(Clone, Default)]
pub struct Signal(Arc<Mutex<(bool, Option<Waker>)>>);

impl Signal {
    pub fn set(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub fn wait(&self) -> SignalWait {
        SignalWait(self.clone())
    }
}

pub struct SignalWait(Signal);

impl Future for SignalWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = (self.0).0.lock().unwrap();
        if state.0 {
            Poll::Ready(())
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// CPU time (user + system) of the whole process so far.
pub fn process_cpu() -> Duration {
    cpu::CpuTime::now().total()
}
