//! A program written against tokio's runtime API, compiled against Spool by renaming `tokio::`
//! to `spool::` (and nothing else): the main/test macros, `Builder`, `spawn`, `spawn_blocking`,
//! `spawn_local` on a current-thread runtime, `JoinHandle` (with `abort`, `AbortHandle`,
//! `is_cancelled`), `JoinSet` (`spawn`, `spawn_local`, `join_next`, `abort_all`, `shutdown`),
//! `timeout`, `interval`, `Instant` and the paused test clock.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use spool::task::{AbortHandle, JoinHandle, JoinSet};
use spool::time::{interval, sleep, timeout, Instant};

#[spool::main(worker_threads = 2)]
async fn fan_out() -> u64 {
    let handles: Vec<JoinHandle<u64>> = (0..10u64)
        .map(|i| {
            spool::spawn(async move {
                sleep(Duration::from_millis(i)).await;
                i * i
            })
        })
        .collect();
    let mut total = 0;
    for handle in handles {
        total += handle.await.unwrap();
    }
    total + spool::task::spawn_blocking(|| 1000).await.unwrap()
}

#[spool::main(flavor = "current_thread")]
async fn local_counter() -> usize {
    let counter = Rc::new(RefCell::new(0usize));
    let mut handles = Vec::new();
    for _ in 0..50 {
        let counter = counter.clone();
        handles.push(spool::task::spawn_local(async move {
            spool::task::yield_now().await;
            *counter.borrow_mut() += 1;
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let n = *counter.borrow();
    n
}

#[test]
fn main_macros_spawn_and_spawn_local() {
    assert_eq!(fan_out(), 285 + 1000);
    assert_eq!(local_counter(), 50);
}

#[test]
fn a_builder_runtime_like_tokios() {
    let rt = spool::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let from_thread = std::thread::spawn(move || handle.spawn(async { 7 }))
        .join()
        .unwrap();
    assert_eq!(rt.block_on(from_thread).unwrap(), 7);
    let panicked = rt.block_on(rt.spawn(async { panic!("oops") }));
    assert!(panicked.unwrap_err().is_panic());

    let rt = spool::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let h = spool::runtime::Handle::current();
        assert_eq!(h.spawn(async { 1 }).await.unwrap(), 1);
    });
}

#[spool::test]
async fn timeout_and_interval() {
    assert!(
        timeout(Duration::from_millis(10), sleep(Duration::from_secs(5)))
            .await
            .is_err()
    );
    assert_eq!(
        timeout(Duration::from_secs(5), async { 3 }).await.unwrap(),
        3
    );

    let start = Instant::now();
    let mut ticker = interval(Duration::from_millis(5));
    ticker.tick().await; // the first tick is immediate
    ticker.tick().await;
    ticker.tick().await;
    assert!(start.elapsed() >= Duration::from_millis(10));
}

#[spool::test(start_paused = true)]
async fn paused_clock() {
    let start = Instant::now();
    let slow = async {
        sleep(Duration::from_secs(3600)).await;
        "done"
    };
    assert!(timeout(Duration::from_secs(60), slow).await.is_err());
    assert_eq!(start.elapsed(), Duration::from_secs(60));

    let sleeper = spool::spawn(sleep(Duration::from_secs(30)));
    spool::time::advance(Duration::from_secs(29)).await;
    assert!(!sleeper.is_finished());
    spool::time::advance(Duration::from_secs(1)).await;
    assert!(sleeper.is_finished());
    sleeper.await.unwrap();

    let mut ticker = spool::time::interval_at(Instant::now(), Duration::from_secs(10));
    let first = ticker.tick().await;
    let second = ticker.tick().await;
    assert_eq!(second - first, Duration::from_secs(10));
}

#[spool::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_test() {
    let handles: Vec<_> = (0..100).map(|i| spool::spawn(async move { i })).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.unwrap();
    }
    assert_eq!(sum, 4950);
}

#[spool::test]
async fn abort_a_join_handle_and_an_abort_handle() {
    let handle: JoinHandle<()> = spool::spawn(async {
        sleep(Duration::from_secs(3600)).await;
    });
    handle.abort();
    let err = handle.await.unwrap_err();
    assert!(err.is_cancelled());
    assert!(!err.is_panic());

    let handle = spool::spawn(std::future::pending::<()>());
    let abort: AbortHandle = handle.abort_handle();
    assert!(!abort.is_finished());
    abort.abort();
    assert!(handle.await.unwrap_err().is_cancelled());
    assert!(abort.is_finished());

    // Aborting a finished task keeps its output.
    let done = spool::spawn(async { 5 });
    while !done.is_finished() {
        spool::task::yield_now().await;
    }
    done.abort();
    assert_eq!(done.await.unwrap(), 5);
}

#[spool::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_set_in_completion_order_then_abort_all() {
    let mut set = JoinSet::new();
    // The deadlines are fixed before any task runs: a deadline taken at each task's first poll
    // would let a descheduled test thread (a loaded machine) put two of them out of order.
    let start = Instant::now();
    for i in (0..5u64).rev() {
        set.spawn(async move {
            spool::time::sleep_until(start + Duration::from_millis(30 * i)).await;
            i
        });
    }
    let mut order = Vec::new();
    while let Some(result) = set.join_next().await {
        order.push(result.unwrap());
    }
    assert_eq!(order, [0, 1, 2, 3, 4]);

    for _ in 0..3 {
        set.spawn(std::future::pending::<u64>());
    }
    set.abort_all();
    let mut cancelled = 0;
    while let Some(result) = set.join_next().await {
        assert!(result.unwrap_err().is_cancelled());
        cancelled += 1;
    }
    assert_eq!(cancelled, 3);
    assert!(set.is_empty());
}

#[spool::test]
async fn join_set_spawn_local_and_shutdown() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut set = JoinSet::new();
    for i in 0..4 {
        let seen = seen.clone();
        set.spawn_local(async move {
            spool::task::yield_now().await;
            seen.borrow_mut().push(i);
            i
        });
    }
    let mut sum = 0;
    while let Some(result) = set.join_next().await {
        sum += result.unwrap();
    }
    assert_eq!(sum, 6);
    assert_eq!(seen.borrow().len(), 4);

    set.spawn_local(std::future::pending::<i32>());
    set.shutdown().await;
    assert!(set.is_empty());
}
