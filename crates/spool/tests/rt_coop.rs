//! The cooperative budget (`task/coop.rs`): on one worker, a task that always finds its work
//! ready (an end-of-stream socket, `consume_budget` in a loop) does not starve a sleeper; the
//! budget makes Spool's futures yield, and `unconstrained` opts out.

#[macro_use]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::AsyncReadExt;

/// How long a spinning task runs at most, so that a test without the budget ends (and fails).
const SPIN_CAP: Duration = Duration::from_secs(5);
/// The sleeper's bound: 20 ms asked, generous against a loaded machine, far below `SPIN_CAP`.
const SLEEP_BOUND: Duration = Duration::from_secs(2);

/// On one worker: spawns `spinner`, then a task sleeping 20 ms; returns how long the sleep took
/// and how many rounds the spinner made.
fn sleeper_beside<S, Fut>(spinner: S) -> (Duration, u64)
where
    S: FnOnce(Arc<AtomicBool>) -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    let rt = common::rt(1);
    let stop = Arc::new(AtomicBool::new(false));
    let spin = rt.spawn(spinner(stop.clone()));
    // Timed from its spawn: without the budget it is not even polled until the spinner stops.
    let start = Instant::now();
    let sleeper = rt.spawn(async move {
        spool::time::sleep(Duration::from_millis(20)).await;
        start.elapsed()
    });
    let slept = rt.block_on(sleeper).unwrap();
    stop.store(true, Ordering::SeqCst);
    let rounds = rt.block_on(spin).unwrap();
    (slept, rounds)
}

fn stop_or_cap(stop: &AtomicBool, start: Instant) -> bool {
    stop.load(Ordering::SeqCst) || start.elapsed() > SPIN_CAP
}

#[test]
fn a_task_reading_an_always_ready_socket_does_not_starve_a_sleeper() {
    common::watchdog("socket", || {
        let (slept, rounds) = sleeper_beside(|stop| async move {
            let listener = spool::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let client = std::net::TcpStream::connect(addr).unwrap();
            let (mut stream, _) = listener.accept().await.unwrap();
            drop(client); // end of stream: every read now returns 0 at once
            let mut buf = [0u8; 64];
            let start = Instant::now();
            let mut rounds = 0;
            while !stop_or_cap(&stop, start) {
                assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
                rounds += 1;
            }
            rounds
        });
        assert!(rounds > 0);
        assert!(
            slept < SLEEP_BOUND,
            "a 20 ms sleep took {slept:?} beside a task reading a ready socket"
        );
    });
}

#[test]
fn a_task_looping_on_consume_budget_does_not_starve_a_sleeper() {
    common::watchdog("consume_budget", || {
        let (slept, rounds) = sleeper_beside(|stop| async move {
            let start = Instant::now();
            let mut rounds = 0;
            while !stop_or_cap(&stop, start) {
                spool::task::consume_budget().await;
                rounds += 1;
            }
            rounds
        });
        assert!(rounds > 0);
        assert!(
            slept < SLEEP_BOUND,
            "a 20 ms sleep took {slept:?} beside a task looping on consume_budget"
        );
    });
}

/// Counts the polls of the future it wraps.
struct CountPolls<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        self.inner.as_mut().poll(cx)
    }
}

/// The polls a task needed to run `future` to completion.
fn polls_of<F: Future<Output = ()> + Send + 'static>(rt: &spool::Runtime, future: F) -> usize {
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = CountPolls {
        inner: Box::pin(future),
        polls: polls.clone(),
    };
    rt.block_on(rt.spawn(counted)).unwrap();
    polls.load(Ordering::SeqCst)
}

const UNITS: usize = 1000;
/// `UNITS` ready operations need at least this many polls of `BUDGET` units.
const MIN_POLLS: usize = UNITS / spool::task::BUDGET as usize;

rt_test! {
    fn consume_budget_yields_every_budget_and_unconstrained_never(rt) {
        let constrained = polls_of(&rt, async {
            for _ in 0..UNITS {
                spool::task::consume_budget().await;
            }
        });
        assert!(constrained >= MIN_POLLS, "{constrained} polls for {UNITS} units");
        let free = polls_of(&rt, spool::task::unconstrained(async {
            for _ in 0..UNITS {
                spool::task::consume_budget().await;
            }
        }));
        assert_eq!(free, 1, "unconstrained: one poll");
    }
}

rt_test! {
    fn ready_joins_and_elapsed_sleeps_spend_the_budget(rt) {
        let tasks: Vec<_> = (0..UNITS).map(|_| rt.spawn(async {})).collect();
        let handles: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
        // Waited for inside `block_on`: on a current-thread runtime tasks run only there.
        rt.block_on(async {
            while !handles.iter().all(|h| h.is_finished()) {
                spool::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let joins = polls_of(&rt, async move {
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert!(joins >= MIN_POLLS, "{joins} polls for {UNITS} ready joins");
        let sleeps = polls_of(&rt, async {
            for _ in 0..UNITS {
                spool::time::sleep(Duration::ZERO).await;
            }
        });
        assert!(sleeps >= MIN_POLLS, "{sleeps} polls for {UNITS} elapsed sleeps");
    }
}

rt_test! {
    fn waiting_does_not_spend_the_budget(rt) {
        // One poll that finds a far sleep not ready 1000 times (each unit given back), then
        // spends one unit: it is still there, so the task needs no second poll.
        let polls = polls_of(&rt, async {
            let mut far = std::pin::pin!(spool::time::sleep(Duration::from_secs(60)));
            std::future::poll_fn(|cx| {
                for _ in 0..UNITS {
                    assert!(far.as_mut().poll(cx).is_pending());
                }
                Poll::Ready(())
            })
            .await;
            spool::task::consume_budget().await;
        });
        assert_eq!(polls, 1, "a sleep that waits must not spend the budget");
    }
}

#[test]
fn a_current_thread_block_on_future_gets_a_fresh_budget_and_gives_it_back() {
    common::watchdog("block_on_budget", || {
        let rt = common::rt_current_thread();
        // A task that ends with its budget spent: without a fresh budget before each poll of
        // `block_on`'s future, the future would inherit 0 and every Spool future in it would
        // pend forever.
        let main_polls = Arc::new(AtomicUsize::new(0));
        let future = CountPolls {
            inner: Box::pin(async {
                spool::spawn(async {
                    for _ in 0..spool::task::BUDGET {
                        spool::task::consume_budget().await;
                    }
                })
                .await
                .unwrap();
                for _ in 0..UNITS {
                    spool::time::sleep(Duration::ZERO).await;
                }
            }),
            polls: main_polls.clone(),
        };
        rt.block_on(future);
        assert!(
            main_polls.load(Ordering::SeqCst) >= MIN_POLLS,
            "the future is budgeted"
        );
        // Out of `block_on`, the thread has no budget again: nothing is refused.
        let free_polls = Arc::new(AtomicUsize::new(0));
        spool::block_on(CountPolls {
            inner: Box::pin(async {
                for _ in 0..UNITS {
                    spool::task::consume_budget().await;
                }
            }),
            polls: free_polls.clone(),
        });
        assert_eq!(
            free_polls.load(Ordering::SeqCst),
            1,
            "budget left behind by block_on"
        );
    });
}
