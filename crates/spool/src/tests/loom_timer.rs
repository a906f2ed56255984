//! loom model of the timer hand-off (`time/timers.rs`): a timer registered from another
//! thread while the driver's holder computes its timeout or blocks is never missed — either the
//! holder sees it when computing the timeout, or the insert notifies the poller.
//!
//! The driver's holder runs the timers' real part of a turn (`TimerQueue::wait`, which
//! `DriverGuard::turn` runs around `epoll_wait`), with a fake poller whose `wait` blocks until
//! `notify` (a positive timeout is treated as "may block forever": loom has no clock, and that is
//! the worst case). If the hand-off loses the timer, the holder blocks
//! forever and loom reports the deadlock.

use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use ::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use ::loom::sync::Arc;
use ::loom::thread;

use super::FakePoller;

use crate::time::timers::TimerQueue;

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

/// `DriverGuard::turn(None)`, with the fake poller in place of `epoll_wait`.
fn turn(timers: &TimerQueue, poller: &FakePoller) {
    timers.wait(None, &mut Vec::new(), |timeout| {
        if timeout != Some(Duration::ZERO) {
            poller.wait();
        }
    });
}

fn model(with_far_timer: bool) {
    ::loom::model(move || {
        let timers = Arc::new(TimerQueue::new());
        let poller = Arc::new(FakePoller::default());
        if with_far_timer {
            // The holder will wait "until" this one: an earlier insert must still notify.
            let far = std::sync::Arc::new(Flag(AtomicBool::new(false)));
            timers.insert(Instant::now() + Duration::from_secs(3600), Waker::from(far));
        }
        let fired = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let (t, p, f) = (timers.clone(), poller.clone(), fired.clone());
        let inserter = thread::spawn(move || {
            // Already due: the holder must not sleep past it.
            match t.insert(Instant::now(), Waker::from(f.clone())) {
                Some((_, true)) => p.notify(),
                Some((_, false)) => {}
                // A fire went past it already: it is due, as if fired.
                None => f.0.store(true, SeqCst),
            }
        });
        while !fired.0.load(SeqCst) {
            turn(&timers, &poller);
        }
        inserter.join().unwrap();
    });
}

#[test]
fn timer_inserted_during_a_forever_wait_is_fired() {
    model(false);
}

#[test]
fn earlier_timer_interrupts_a_timed_wait() {
    model(true);
}
