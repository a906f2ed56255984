//! Experiments 3–7: the chapter's tokio program, one worker thread, five ways to run a future.
//!
//! The chapter uses `#[tokio::main(worker_threads = 1)]`. That macro builds a multi-thread
//! runtime with one worker and calls `block_on(main's body)` **on the main thread** — so main's
//! own future never runs on the worker. Spawned tasks do. That is why "spawn, then block main for
//! 2 s, then await" takes 2 s and not 4: the worker runs the task while main blocks. The lab
//! builds the same runtime by hand ([`one_worker_runtime`]) and calls `block_on` from the thread
//! that runs the experiment.

use std::thread;
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Runtime};

use crate::traced::traced;
use crate::{Ctx, Printout, Row};

/// The timeline lane for time spent waiting on tokio's timer: no thread is busy then (it ends
/// with [`WAITING`](crate::svg::WAITING), so it is drawn grey).
pub const TIMER_LANE: &str = "tokio timer (no thread)";

/// The chapter's runtime: `#[tokio::main(worker_threads = 1)]`, built explicitly.
pub fn one_worker_runtime() -> std::io::Result<Runtime> {
    Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

/// The chapter's `async fn do_something`, with the blocking `thread::sleep` it was written with:
/// while it sleeps, whichever thread polls it can do nothing else.
pub async fn do_something_blocking(ctx: Ctx, out: Printout, number: i8) -> i8 {
    out.say(format!("number {number} is running"));
    thread::sleep(ctx.secs(2.0));
    2
}

/// The chapter's suggested fix: `tokio::time::sleep(..).await` hands the thread back while the
/// timer counts down, so other tasks (and here: the other sleep) can run.
pub async fn do_something_async(ctx: Ctx, out: Printout, number: i8) -> i8 {
    out.say(format!("number {number} is running"));
    let start = Instant::now();
    tokio::time::sleep(ctx.secs(2.0)).await;
    ctx.timeline.record(
        TIMER_LANE,
        &format!("do_something({number})"),
        start,
        Instant::now(),
    );
    2
}

/// Main's blocking two-second pause, recorded on the timeline.
fn block_main(ctx: &Ctx) {
    let _span = ctx.timeline.span(&ctx.here(), "thread::sleep(2 s)");
    thread::sleep(ctx.secs(2.0));
}

/// Runs `body` as main's future on a fresh one-worker runtime, on the calling thread; the body
/// returns the elapsed time it measured, or a message if a task failed.
fn on_runtime<F>(body: F) -> Result<Duration, String>
where
    F: std::future::Future<Output = Result<Duration, String>>,
{
    let runtime = one_worker_runtime().map_err(|e| format!("cannot start tokio: {e}"))?;
    runtime.block_on(body)
}

fn finish(
    ctx: &Ctx,
    out: &Printout,
    measured: Result<Duration, String>,
    secs: f64,
    why: &str,
) -> Row {
    match measured {
        Ok(elapsed) => {
            out.say(format!("time elapsed {elapsed:?}"));
            Row::timing(ctx, secs, elapsed, why).with_output(out.lines())
        }
        Err(e) => Row::failed(e).with_output(out.lines()),
    }
}

/// Experiment 3: create the future and await it at once — it runs right there, ≈ 2 s.
pub fn tokio_await(ctx: &Ctx) -> Row {
    let out = Printout::new();
    let measured = on_runtime(async {
        let now = Instant::now();
        let future_one = do_something_blocking(ctx.clone(), out.clone(), 1);
        let _outcome = traced(ctx, "do_something(1)", future_one).await;
        Ok(now.elapsed())
    });
    finish(
        ctx,
        &out,
        measured,
        2.0,
        "awaiting polls the future right there, on the main thread: one 2 s sleep",
    )
}

/// Experiment 4: create the future, block main 2 s, then await — ≈ 4 s, because a future does
/// nothing until it is polled.
pub fn tokio_lazy(ctx: &Ctx) -> Row {
    let out = Printout::new();
    let measured = on_runtime(async {
        let now = Instant::now();
        let future_one = do_something_blocking(ctx.clone(), out.clone(), 1);
        block_main(ctx);
        let _outcome = traced(ctx, "do_something(1)", future_one).await;
        Ok(now.elapsed())
    });
    finish(
        ctx,
        &out,
        measured,
        4.0,
        "a future does nothing until polled: main's 2 s block came first, then the future's 2 s",
    )
}

/// Experiment 5: `tokio::spawn`, block main 2 s, then await — ≈ 2 s: the worker runs the task
/// while main (not a worker) blocks.
pub fn tokio_spawn(ctx: &Ctx) -> Row {
    let out = Printout::new();
    let measured = on_runtime(async {
        let now = Instant::now();
        let future_one = tokio::spawn(traced(
            ctx,
            "do_something(1)",
            do_something_blocking(ctx.clone(), out.clone(), 1),
        ));
        block_main(ctx);
        future_one.await.map_err(|e| format!("task failed: {e}"))?;
        Ok(now.elapsed())
    });
    finish(
        ctx,
        &out,
        measured,
        2.0,
        "main's future runs on the main thread, the spawned task on the worker: the two 2 s sleeps overlap",
    )
}

/// Experiment 6: two spawned tasks that `thread::sleep`, one worker — ≈ 4 s: the worker is
/// blocked by the first and only then runs the second.
pub fn tokio_spawn_two_blocking(ctx: &Ctx) -> Row {
    let out = Printout::new();
    let measured = spawn_two_then_block_main(ctx, &out, do_something_blocking);
    finish(
        ctx,
        &out,
        measured,
        4.0,
        "thread::sleep blocks the only worker: the tasks run one after the other, 2 s + 2 s",
    )
}

/// Experiment 7: the same two tasks with `tokio::time::sleep` — ≈ 2 s: each sleep gives the
/// worker back, so both wait at once.
pub fn tokio_spawn_two_async(ctx: &Ctx) -> Row {
    let out = Printout::new();
    let measured = spawn_two_then_block_main(ctx, &out, do_something_async);
    finish(
        ctx,
        &out,
        measured,
        2.0,
        "tokio::time::sleep gives the worker back: both sleeps and main's block overlap",
    )
}

/// The chapter's program for experiments 6 and 7, which differ only in the `do_something` they
/// spawn: `tokio::spawn` two of them, block main for 2 s, then await both, timing the whole.
fn spawn_two_then_block_main<F>(
    ctx: &Ctx,
    out: &Printout,
    do_something: impl Fn(Ctx, Printout, i8) -> F,
) -> Result<Duration, String>
where
    F: std::future::Future<Output = i8> + Send + 'static,
{
    on_runtime(async {
        let now = Instant::now();
        let future_one = tokio::spawn(traced(
            ctx,
            "do_something(1)",
            do_something(ctx.clone(), out.clone(), 1),
        ));
        let future_two = tokio::spawn(traced(
            ctx,
            "do_something(2)",
            do_something(ctx.clone(), out.clone(), 2),
        ));
        block_main(ctx);
        future_one
            .await
            .map_err(|e| format!("task 1 failed: {e}"))?;
        future_two
            .await
            .map_err(|e| format!("task 2 failed: {e}"))?;
        Ok(now.elapsed())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_lane_is_drawn_as_waiting() {
        assert!(TIMER_LANE.ends_with(crate::svg::WAITING));
    }
}
