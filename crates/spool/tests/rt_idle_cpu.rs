//! An idle runtime must not burn CPU: no spinning, no self-wake loop, no periodic tick.
//! Alone in its test binary, so the process CPU time is the runtime's.

mod common;

use std::time::Duration;

#[test]
fn idle_four_worker_runtime_uses_under_10ms_cpu_per_second() {
    let rt = common::rt(4);
    // Wake every worker once, and leave a timer pending far in the future: waiting for it must
    // cost nothing either.
    let tasks: Vec<_> = (0..100).map(|i| rt.spawn(async move { i })).collect();
    for task in tasks {
        rt.block_on(task).unwrap();
    }
    rt.spawn(spool::time::sleep(Duration::from_secs(3600)))
        .detach();
    std::thread::sleep(Duration::from_millis(100)); // let the workers settle into park

    let before = common::process_cpu();
    std::thread::sleep(Duration::from_secs(1));
    let used = common::process_cpu() - before;
    eprintln!("idle 4-worker runtime: {used:?} of CPU in 1 s");
    assert!(
        used < Duration::from_millis(10),
        "idle runtime used {used:?} of CPU in 1 s"
    );
}
