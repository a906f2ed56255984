//! loom model of a source's readiness (`io/scheduled.rs`): the reactor's "data arrived"
//! (set readiness, wake the waiter) against the task's "try to read; on WouldBlock clear
//! readiness; wait" never loses a wake-up.
//!
//! The socket is an atomic byte count; the task's read takes everything or says `WouldBlock`.
//! The dangerous interleaving is data arriving *after* the task's read found nothing but
//! *before* it clears readiness: without the tick, the clear would erase the only event and the
//! task would wait forever (loom reports the deadlock).
//!
//! The stream models add the short-read rule: a read that returned data (fewer bytes than its
//! buffer) clears readiness without waiting for a `WouldBlock` — unless the peer's FIN has been
//! reported (`READ_CLOSED`): a FIN arriving with the data comes in the same edge, and clearing
//! then would leave the reader waiting for an end of stream that no edge will announce.

use std::task::{Context, Poll, Wake, Waker};

use ::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use ::loom::sync::{Arc, Condvar, Mutex};
use ::loom::thread;

use crate::io::scheduled::{Direction, ScheduledIo, READABLE, READ_CLOSED, WRITABLE};

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

/// A stream socket's receive side as one word (a `recv` sees data and FIN atomically):
/// `bytes << 1 | fin`.
const FIN: usize = 1;
const BYTE: usize = 2;

/// The task's side of a stream: read until the end of the stream, clearing readiness after a
/// short read (every read is short: the buffer is larger than anything sent) unless the peer
/// closed. Returns the bytes read.
fn read_to_end(io: &ScheduledIo, socket: &AtomicUsize) -> usize {
    let notify = std::sync::Arc::new(Notify::default());
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    let mut total = 0;
    loop {
        match io.poll_ready(&mut cx, Direction::Read) {
            Poll::Ready(Ok(event)) => {
                // recv: takes the queued bytes, leaves the FIN (EOF is sticky).
                let word = socket.fetch_and(FIN, SeqCst);
                let bytes = word / BYTE;
                if bytes > 0 {
                    total += bytes;
                    io.clear_after_short_read(event); // a short read
                } else if word & FIN != 0 {
                    return total; // read returned 0
                } else {
                    io.clear_readiness(event); // WouldBlock
                }
            }
            Poll::Ready(Err(err)) => panic!("{err}"),
            Poll::Pending => notify.wait(),
        }
    }
}

/// The reactor's side: `arrival` lands in the socket, then its edge is dispatched, with
/// `READ_CLOSED` when the FIN is in the socket by then (epoll reports the state at `epoll_wait`).
fn arrive(io: &ScheduledIo, socket: &AtomicUsize, arrival: usize) {
    let word = socket.fetch_add(arrival, SeqCst) + arrival;
    let ready = if word & FIN != 0 {
        READABLE | READ_CLOSED
    } else {
        READABLE
    };
    let mut wakers = Vec::new();
    io.set_readiness(ready, |waker| wakers.push(waker));
    for waker in wakers {
        waker.wake();
    }
}

#[test]
fn a_fin_arriving_with_the_data_is_not_lost_by_a_short_read() {
    ::loom::model(|| {
        // An accepted socket starts optimistic; data and FIN come in one segment, one edge.
        let io = Arc::new(ScheduledIo::new(READABLE | WRITABLE));
        let socket = Arc::new(AtomicUsize::new(0));
        let reactor = {
            let (io, socket) = (io.clone(), socket.clone());
            thread::spawn(move || arrive(&io, &socket, BYTE | FIN))
        };
        assert_eq!(read_to_end(&io, &socket), 1);
        reactor.join().unwrap();
    });
}

#[test]
fn data_then_a_separate_fin_both_reach_the_reader() {
    ::loom::model(|| {
        let io = Arc::new(ScheduledIo::new(READABLE | WRITABLE));
        let socket = Arc::new(AtomicUsize::new(0));
        let reactor = {
            let (io, socket) = (io.clone(), socket.clone());
            thread::spawn(move || {
                arrive(&io, &socket, BYTE);
                arrive(&io, &socket, FIN);
            })
        };
        assert_eq!(read_to_end(&io, &socket), 1);
        reactor.join().unwrap();
    });
}
