//! loom model of the parker (`scheduler/park.rs`): an `unpark` racing with a `park` — on the
//! condvar or inside the driver — is never lost.
//!
//! The driver is modelled by a fake poller whose `wait` blocks until `notify` (as `epoll_wait`
//! with no timer would) and whose notification is sticky (as the driver's mio waker is: its
//! eventfd's edge stays in epoll's ready list until a wait collects it).

use ::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use ::loom::sync::Arc;
use ::loom::thread;

use super::FakePoller;

use crate::scheduler::park::Parker;

#[test]
fn unpark_wakes_a_condvar_park() {
    ::loom::model(|| {
        let parker = Arc::new(Parker::new());
        let p = parker.clone();
        let unparker = thread::spawn(move || p.unpark(|| unreachable!("not in the driver")));
        if !parker.try_consume_notification() {
            parker.park_condvar();
        }
        unparker.join().unwrap();
    });
}

#[test]
fn unpark_wakes_a_driver_park() {
    ::loom::model(|| {
        let parker = Arc::new(Parker::new());
        let poller = Arc::new(FakePoller::default());
        let (p, q) = (parker.clone(), poller.clone());
        let unparker = thread::spawn(move || p.unpark(|| q.notify()));
        if !parker.try_consume_notification() {
            parker.park_driver(|| poller.wait());
        }
        unparker.join().unwrap();
    });
}

#[test]
fn a_consumed_notification_does_not_satisfy_the_next_park() {
    // Notifications are a token, not a count: the second park needs a second unpark, issued
    // after the first park returned (the driver path first, then the condvar path).
    ::loom::model(|| {
        let parker = Arc::new(Parker::new());
        let poller = Arc::new(FakePoller::default());
        let first_done = Arc::new(AtomicBool::new(false));
        let (p, q, f) = (parker.clone(), poller.clone(), first_done.clone());
        let unparker = thread::spawn(move || {
            p.unpark(|| q.notify());
            while !f.load(SeqCst) {
                thread::yield_now();
            }
            p.unpark(|| q.notify());
        });
        if !parker.try_consume_notification() {
            parker.park_driver(|| poller.wait());
        }
        first_done.store(true, SeqCst);
        if !parker.try_consume_notification() {
            parker.park_condvar();
        }
        unparker.join().unwrap();
    });
}
