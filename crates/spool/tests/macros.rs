//! `#[spool::main]` and `#[spool::test]`: each flavor and argument, on the runtime it names.

use std::time::Duration;

#[spool::test]
async fn test_defaults_to_current_thread() {
    // The body runs on the test's thread, and so do its tasks.
    let here = std::thread::current().id();
    let there = spool::spawn(async { std::thread::current().id() }).await;
    assert_eq!(there, Ok(here));
    assert_eq!(spool::Handle::current().metrics().workers.len(), 1);
}

#[spool::test(flavor = "multi_thread", worker_threads = 3)]
async fn test_on_three_workers() {
    assert_eq!(spool::Handle::current().metrics().workers.len(), 3);
    let name = spool::spawn(async { std::thread::current().name().map(String::from) }).await;
    assert!(name.unwrap().unwrap().contains("worker"));
}

#[spool::test(start_paused = true)]
async fn test_with_a_paused_clock() {
    let real = std::time::Instant::now();
    let start = spool::time::Instant::now();
    spool::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(24 * 3600));
    assert!(real.elapsed() < Duration::from_secs(10));
}

#[spool::test]
async fn test_returning_a_result_uses_question_mark() -> Result<(), spool::JoinError> {
    let v = spool::spawn(async { 5 }).await?;
    assert_eq!(v, 5);
    Ok(())
}

#[spool::test]
#[should_panic(expected = "boom")]
async fn other_attributes_are_kept() {
    panic!("boom");
}

#[spool::main]
async fn on_the_default_multi_thread_runtime() -> usize {
    spool::Handle::current().metrics().workers.len()
}

#[spool::main(worker_threads = 2)]
async fn on_two_workers(x: u32) -> u32 {
    assert_eq!(spool::Handle::current().metrics().workers.len(), 2);
    spool::spawn(async move { x * 2 }).await.unwrap()
}

#[spool::main(flavor = "current_thread")]
async fn on_the_current_thread() -> bool {
    let here = std::thread::current().id();
    spool::spawn(async move { std::thread::current().id() == here })
        .await
        .unwrap()
}

#[test]
fn main_works_on_any_async_fn() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(on_the_default_multi_thread_runtime(), cores);
    assert_eq!(on_two_workers(21), 42);
    assert!(on_the_current_thread());
}
