//! loom model of the timer hand-off (`src/time/timers.rs`): a timer registered from another
//! thread while the driver's holder computes its timeout or blocks is never missed — either the
//! holder sees it when computing the timeout, or the insert notifies the poller.
//!
//! The driver's holder is modelled as `src/driver.rs`'s `turn`, with a fake poller whose `wait`
//! blocks until `notify` (a positive timeout is treated as "may block forever": loom has no
//! clock, and that is the worst case). If the hand-off loses the timer, the holder blocks
//! forever and loom reports the deadlock.
#![cfg(loom)]

#[allow(dead_code)]
#[path = "../src/loom.rs"]
mod loom;
#[allow(dead_code)]
#[path = "../src/time/timers.rs"]
mod timers;

use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use ::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use ::loom::sync::{Arc, Condvar, Mutex};
use ::loom::thread;

use timers::TimerQueue;

#[derive(Default)]
struct FakePoller {
    notified: Mutex<bool>,
    cv: Condvar,
}

impl FakePoller {
    fn wait(&self) {
        let mut notified = self.notified.lock().unwrap();
        while !*notified {
            notified = self.cv.wait(notified).unwrap();
        }
        *notified = false;
    }

    fn notify(&self) {
        *self.notified.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

/// `DriverGuard::turn(None)`.
fn turn(timers: &TimerQueue, poller: &FakePoller) {
    let timeout = timers.begin_wait(None);
    if timeout != Some(Duration::ZERO) {
        poller.wait();
    }
    timers.end_wait();
    timers.fire_expired(Instant::now());
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
            let (_, notify) = t.insert(Instant::now(), Waker::from(f));
            if notify {
                p.notify();
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
