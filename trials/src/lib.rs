//! Shared by the trials: run a future as a task on a Spool runtime (no tokio runtime anywhere
//! in the process) and print how it ended, a panic's message included.

use std::future::Future;

/// Runs `trial` on a fresh two-worker Spool runtime and prints `name: outcome`.
pub fn run<F, T>(name: &str, trial: F)
where
    F: Future<Output = T> + Send + 'static,
    T: std::fmt::Debug + Send + 'static,
{
    // Keep the default hook quiet: the panic message is printed below, once.
    std::panic::set_hook(Box::new(|_| {}));
    let rt = spool::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("spool runtime");
    assert!(
        !std::fs::read_dir("/proc/self/task")
            .map(|tasks| tasks.filter_map(Result::ok).any(|t| {
                std::fs::read_to_string(t.path().join("comm")).is_ok_and(|n| n.starts_with("tokio"))
            }))
            .unwrap_or(false),
        "a tokio thread is running"
    );
    match rt.block_on(rt.spawn(trial)) {
        Ok(output) => println!("{name}: completed: {output:?}"),
        Err(spool::JoinError::Panicked(message)) => println!("{name}: PANICKED: {message}"),
        Err(other) => println!("{name}: task failed: {other:?}"),
    }
}
