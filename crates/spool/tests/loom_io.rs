//! loom model of a source's readiness (`src/io/scheduled.rs`): the reactor's "data arrived"
//! (set readiness, wake the waiter) against the task's "try to read; on WouldBlock clear
//! readiness; wait" never loses a wake-up.
//!
//! The socket is an atomic byte count; the task's read takes everything or says `WouldBlock`.
//! The dangerous interleaving is data arriving *after* the task's read found nothing but
//! *before* it clears readiness: without the tick, the clear would erase the only event and the
//! task would wait forever (loom reports the deadlock).
#![cfg(loom)]

#[allow(dead_code)]
#[path = "../src/loom.rs"]
mod loom;
#[allow(dead_code)]
#[path = "../src/io/scheduled.rs"]
mod scheduled;

use std::task::{Context, Poll, Wake, Waker};

use ::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use ::loom::sync::{Arc, Condvar, Mutex};
use ::loom::thread;

use scheduled::{Direction, ScheduledIo, READABLE, WRITABLE};

/// A waker that a plain (loom) thread can block on.
#[derive(Default)]
struct Notify {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Wake for Notify {
    fn wake(self: std::sync::Arc<Self>) {
        *self.woken.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

impl Notify {
    fn wait(&self) {
        let mut woken = self.woken.lock().unwrap();
        while !*woken {
            woken = self.cv.wait(woken).unwrap();
        }
        *woken = false;
    }
}

/// The task's side: read until it got the byte, waiting on the waker whenever not ready.
fn read_until_data(io: &ScheduledIo, data: &AtomicUsize) {
    let notify = std::sync::Arc::new(Notify::default());
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        match io.poll_ready(&mut cx, Direction::Read) {
            Poll::Ready(Ok(event)) => {
                if data.swap(0, SeqCst) > 0 {
                    return; // read it
                }
                io.clear_readiness(event); // WouldBlock
            }
            Poll::Ready(Err(err)) => panic!("{err}"),
            Poll::Pending => notify.wait(),
        }
    }
}

/// The reactor's side: data arrives, then its edge is dispatched.
fn deliver(io: &ScheduledIo, data: &AtomicUsize, ready: usize) {
    data.fetch_add(1, SeqCst);
    let mut wakers = Vec::new();
    io.set_readiness(ready, |waker| wakers.push(waker));
    for waker in wakers {
        waker.wake();
    }
}

#[test]
fn an_edge_racing_with_the_clear_is_not_lost() {
    ::loom::model(|| {
        // Optimistic start: the task's first read races with the arrival.
        let io = Arc::new(ScheduledIo::new(READABLE | WRITABLE));
        let data = Arc::new(AtomicUsize::new(0));
        let reactor = {
            let (io, data) = (io.clone(), data.clone());
            thread::spawn(move || deliver(&io, &data, READABLE))
        };
        read_until_data(&io, &data);
        reactor.join().unwrap();
    });
}

#[test]
fn an_error_event_wakes_the_reader_too() {
    ::loom::model(|| {
        let io = Arc::new(ScheduledIo::new(0));
        let data = Arc::new(AtomicUsize::new(0));
        let reactor = {
            let (io, data) = (io.clone(), data.clone());
            // EPOLLERR/EPOLLHUP arrive as "readable and writable".
            thread::spawn(move || deliver(&io, &data, READABLE | WRITABLE))
        };
        read_until_data(&io, &data);
        reactor.join().unwrap();
    });
}
