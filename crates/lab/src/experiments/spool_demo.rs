//! Experiments 10 and 11 on Spool's runtime: blocking tasks spread over workers (or not), and
//! the blocking detector naming the task that held its worker — plus the glue that draws a
//! Spool runtime's own poll spans on the lab's timeline (used by experiment 9 too).
//!
//! Every runtime here is built by the experiment and dropped — its threads joined — before the
//! experiment returns, so nothing of it runs into the next experiment's CPU measurement.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use spool::{BlockingReport, Runtime, TaskId};

use crate::experiments::tokio_demo::do_something_blocking;
use crate::row::{agrees, tolerance};
use crate::{Ctx, Holds, Printout, Row};

/// The timeline lane for time spent waiting on Spool's timer: no thread runs the task then (it
/// ends with [`WAITING`](crate::svg::WAITING), so it is drawn grey).
pub const SPOOL_TIMER_LANE: &str = "spool timer (no thread)";

/// How many blocking tasks experiment 10 spawns.
pub const TASKS: u32 = 8;

/// What one of experiment 10's tasks blocks for, in the book's seconds (scaled by `--scale`).
pub const TASK_SECS: f64 = 0.2;

/// Hands the poll spans `runtime` recorded to `ctx`'s timeline: one lane per worker
/// (`{threads}-worker-{i}`, the workers' thread names when built with
/// `thread_name(threads)`), each task labelled with its name from `names`, else its spawn site.
///
/// A worker pushes a span just after its poll returns, so the last ones may still be on their
/// way when the tasks' results arrive; a short pause lets them land. Nothing is done (and
/// nothing waited for) when the timeline is off.
pub fn record_spool_spans(
    ctx: &Ctx,
    runtime: &Runtime,
    threads: &str,
    names: &HashMap<TaskId, String>,
) {
    if !ctx.timeline.is_on() {
        return;
    }
    thread::sleep(Duration::from_millis(5));
    ctx.timeline
        .extend(runtime.take_spans().into_iter().map(|span| {
            let task = names.get(&span.task_id).cloned().unwrap_or_else(|| {
                // The file's folder and name ("host/mod.rs"): enough to tell the sites apart.
                let path = span.location.file();
                let file = match path.rsplitn(3, '/').collect::<Vec<_>>().as_slice() {
                    [name, folder, _] => format!("{folder}/{name}"),
                    _ => path.to_owned(),
                };
                format!("spawned at {file}:{}", span.location.line())
            });
            (
                format!("{threads}-worker-{}", span.worker),
                task,
                span.start,
                span.end,
            )
        }));
}

/// The number of workers experiment 10 compares with one: the machine's cores, at least 2.
pub fn many_workers() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// Experiment 10: [`TASKS`] tasks that each block their thread for [`TASK_SECS`]
/// (`thread::sleep`), on one worker, on [`many_workers`] workers, and on the blocking pool.
///
/// One worker runs them one after another (8 × 0.2 s = 1.6 s). N workers share them — all are
/// spawned from one task, so they land on that worker's queue and the others *steal* them —
/// and take ⌈8 / N⌉ × 0.2 s (1.6 s / N when N divides 8). `spawn_blocking` gives each its own
/// thread: 0.2 s. Holds when all three agree with those figures.
///
/// The detector is off: these tasks block on purpose, and experiment 11 is about the reports.
pub fn work_stealing(ctx: &Ctx) -> Row {
    match measure_work_stealing(ctx) {
        Ok(row) => row,
        Err(e) => Row::failed(e),
    }
}

fn measure_work_stealing(ctx: &Ctx) -> Result<Row, String> {
    let each = ctx.secs(TASK_SECS);
    let n = many_workers();
    let waves = TASKS.div_ceil(n as u32);
    let cases = [
        ("one worker", each * TASKS, blocking_tasks(ctx, 1, each)?),
        ("N workers", each * waves, blocking_tasks(ctx, n, each)?),
        ("spawn_blocking", each, blocking_pool(ctx, each)?),
    ];
    let misses: Vec<String> = cases
        .iter()
        .filter(|(_, expected, run)| !agrees(*expected, run.wall))
        .map(|(what, expected, run)| {
            format!(
                "{what}: {:.3} s, expected {:.3} s ± {:.3} s",
                run.wall.as_secs_f64(),
                expected.as_secs_f64(),
                tolerance(*expected).as_secs_f64()
            )
        })
        .collect();
    let [one, many, pool] = &cases;
    let why = format!(
        "{TASKS} tasks blocking {} each: one worker runs them in turn; {n} workers steal them from the spawning worker's queue ({} steal(s)) and run {} waves; spawn_blocking gives each a thread of its own",
        secs(each),
        many.2.steals,
        waves
    );
    let (holds, note) = if misses.is_empty() {
        (Holds::Yes, why)
    } else {
        (Holds::No, format!("{}; {why}", misses.join("; ")))
    };
    let row = Row {
        name: String::new(),
        book_figure: String::new(),
        expected_seconds: many.1.as_secs_f64(),
        measured_seconds: many.2.wall.as_secs_f64(),
        measured: format!(
            "{} · {} ({n} workers) · {}",
            secs(one.2.wall),
            secs(many.2.wall),
            secs(pool.2.wall)
        ),
        holds,
        note,
        figures: Default::default(),
        output: Vec::new(),
        timeline_svg: None,
    };
    Ok(row
        .with_figure("workers", n as f64)
        .with_figure("task_seconds", each.as_secs_f64())
        .with_figure("one_worker_seconds", one.2.wall.as_secs_f64())
        .with_figure("expected_one_worker_seconds", one.1.as_secs_f64())
        .with_figure("n_workers_seconds", many.2.wall.as_secs_f64())
        .with_figure("expected_n_workers_seconds", many.1.as_secs_f64())
        .with_figure("n_workers_steals", many.2.steals as f64)
        .with_figure("spawn_blocking_seconds", pool.2.wall.as_secs_f64())
        .with_figure("expected_spawn_blocking_seconds", pool.1.as_secs_f64()))
}

/// One case of experiment 10: how long it took, and how many steals the runtime counted.
#[derive(Debug, Clone, Copy)]
struct Case {
    wall: Duration,
    steals: u64,
}

/// A runtime with `workers` workers, the detector off, recording spans if the timeline is on.
fn quiet_runtime(ctx: &Ctx, workers: usize, threads: &str) -> Result<Runtime, String> {
    Runtime::builder()
        .worker_threads(workers)
        .thread_name(threads)
        .detector_threshold(None)
        .record_spans(ctx.timeline.is_on())
        .build()
        .map_err(|e| format!("cannot start Spool: {e}"))
}

/// [`TASKS`] tasks that `thread::sleep(each)`, spawned from one task on a `workers`-worker
/// runtime and awaited.
fn blocking_tasks(ctx: &Ctx, workers: usize, each: Duration) -> Result<Case, String> {
    let threads = format!("spool{workers}");
    let runtime = quiet_runtime(ctx, workers, &threads)?;
    let start = Instant::now();
    // Spawned from a task, so they go to that worker's own queue: the others must steal them.
    let spawner = runtime.spawn(async move {
        let tasks: Vec<_> = (1..=TASKS)
            .map(|_| spool::spawn(async move { thread::sleep(each) }))
            .collect();
        let ids: Vec<TaskId> = tasks.iter().map(|t| t.id()).collect();
        for task in tasks {
            task.await
                .map_err(|e| format!("a blocking task failed: {e}"))?;
        }
        Ok::<_, String>(ids)
    });
    let spawner_id = spawner.id();
    let ids = runtime
        .block_on(spawner)
        .map_err(|e| format!("the spawning task failed: {e}"))??;
    let wall = start.elapsed();
    let steals = runtime.metrics().workers.iter().map(|w| w.steals).sum();

    let mut names: HashMap<TaskId, String> = ids
        .into_iter()
        .zip(1..)
        .map(|(id, i)| (id, format!("task {i}")))
        .collect();
    names.insert(spawner_id, "spawner".to_owned());
    record_spool_spans(ctx, &runtime, &threads, &names);
    Ok(Case { wall, steals })
}

/// [`TASKS`] closures that `thread::sleep(each)` on a one-worker runtime's blocking pool.
fn blocking_pool(ctx: &Ctx, each: Duration) -> Result<Case, String> {
    let runtime = quiet_runtime(ctx, 1, "spool-pool")?;
    let start = Instant::now();
    runtime.block_on(async {
        let jobs: Vec<_> = (1..=TASKS)
            .map(|i| {
                let ctx = ctx.clone();
                spool::spawn_blocking(move || {
                    let _span = ctx.timeline.span(&ctx.here(), &format!("job {i}"));
                    thread::sleep(each);
                })
            })
            .collect();
        for job in jobs {
            job.await
                .map_err(|e| format!("a blocking job failed: {e}"))?;
        }
        Ok::<_, String>(())
    })?;
    Ok(Case {
        wall: start.elapsed(),
        steals: 0,
    })
}

/// The chapter's `do_something` fixed: Spool's timer instead of `thread::sleep`.
pub async fn do_something_timer(ctx: Ctx, out: Printout, number: i8) -> i8 {
    out.say(format!("number {number} is running"));
    let start = Instant::now();
    spool::time::sleep(ctx.secs(2.0)).await;
    ctx.timeline.record(
        SPOOL_TIMER_LANE,
        &format!("do_something({number})"),
        start,
        Instant::now(),
    );
    2
}

/// Experiment 11: the chapter's `do_something` (a `thread::sleep` inside an `async fn`) as a
/// task on a one-worker Spool runtime, beside a well-behaved one that sleeps on the timer.
///
/// The detector (threshold: the default 50 ms, or half the sleep when `--scale` makes it
/// shorter) reports every poll that held the worker too long; the reports are captured with
/// `Builder::on_blocking`. Holds when a report names the exact `file:line` of the blocking
/// task's `spawn` call in this file, and none names the well-behaved task.
pub fn blocking_detector(ctx: &Ctx) -> Row {
    let reports: Arc<Mutex<Vec<BlockingReport>>> = Arc::default();
    let sink = Arc::clone(&reports);
    let threshold = spool::DEFAULT_THRESHOLD.min(ctx.secs(2.0) / 2);
    let runtime = match Runtime::builder()
        .worker_threads(1)
        .detector_threshold(Some(threshold))
        .on_blocking(move |report: &BlockingReport| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(report.clone());
        })
        .record_spans(ctx.timeline.is_on())
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Row::failed(format!("cannot start Spool: {e}")),
    };
    let out = Printout::new();
    let start = Instant::now();
    let well_behaved = do_something_timer(ctx.clone(), out.clone(), 1);
    let blocking = do_something_blocking(ctx.clone(), out.clone(), 2);
    // Each spawn call and a `line!()` on one line: that line is what a report must name.
    let (good, good_line) = (runtime.spawn(well_behaved), line!());
    let (bad, bad_line) = (runtime.spawn(blocking), line!());
    let mut names = HashMap::from([
        (good.id(), "do_something(1): time::sleep".to_owned()),
        (bad.id(), "do_something(2): thread::sleep".to_owned()),
    ]);
    let joined = runtime.block_on(good).and_then(|_| runtime.block_on(bad));
    let wall = start.elapsed();
    // The report is made just after the slow poll, possibly after its result arrived; on one
    // worker, the next task runs only once it is made.
    let flush = runtime.spawn(async {});
    names.insert(flush.id(), "(after the report)".to_owned());
    let flushed = runtime.block_on(flush);
    record_spool_spans(ctx, &runtime, "spool", &names);
    drop(runtime);
    if let Err(e) = joined.and(flushed) {
        return Row::failed(format!("a task failed: {e}")).with_output(out.lines());
    }

    let reports = reports
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    // The detector's warning, as it would be logged (the lab installs no log subscriber).
    let mut output = out.lines();
    output.extend(reports.iter().map(|r| {
        format!(
            "spool: a poll of the task spawned at {} blocked worker {} for {:?}; move blocking or CPU-heavy work to spool::spawn_blocking",
            r.location, r.worker, r.duration
        )
    }));
    judge_reports(
        ctx,
        &reports,
        (file!(), bad_line),
        (file!(), good_line),
        threshold,
        wall,
    )
    .with_output(output)
}

/// Judges experiment 11's reports: one must name `bad` (file, line), none may name `good`.
fn judge_reports(
    ctx: &Ctx,
    reports: &[BlockingReport],
    bad: (&str, u32),
    good: (&str, u32),
    threshold: Duration,
    wall: Duration,
) -> Row {
    let names = |report: &BlockingReport, (file, line): (&str, u32)| {
        report.location.file() == file && report.location.line() == line
    };
    let hit = reports.iter().find(|r| names(r, bad));
    let false_alarms = reports.iter().filter(|r| names(r, good)).count();
    let expected = ctx.secs(2.0);
    let (holds, measured, measured_seconds, note) = match hit {
        Some(report) if false_alarms == 0 => (
            Holds::Yes,
            format!("{} after {}", site(report), secs(report.duration)),
            report.duration.as_secs_f64(),
            format!(
                "the detector (threshold {}) reported the poll of the task spawned at {} — the spawn call's own line — holding worker {} for {}; the task sleeping on the timer, spawned at {}:{}, got no report",
                secs(threshold),
                site(report),
                report.worker,
                secs(report.duration),
                good.0,
                good.1
            ),
        ),
        Some(report) => (
            Holds::No,
            format!("{} after {}", site(report), secs(report.duration)),
            report.duration.as_secs_f64(),
            format!(
                "the blocking task was reported, but so was the well-behaved one ({false_alarms} time(s)), whose polls are microseconds long"
            ),
        ),
        None => (
            Holds::No,
            format!("{} reports", reports.len()),
            0.0,
            format!(
                "no report named {}:{} (the blocking task's spawn call); reports: [{}]",
                bad.0,
                bad.1,
                reports.iter().map(site).collect::<Vec<_>>().join(", ")
            ),
        ),
    };
    let mut row = Row {
        name: String::new(),
        book_figure: String::new(),
        expected_seconds: expected.as_secs_f64(),
        measured_seconds,
        measured,
        holds,
        note,
        figures: Default::default(),
        output: Vec::new(),
        timeline_svg: None,
    }
    .with_figure("reports", reports.len() as f64)
    .with_figure("false_alarms", false_alarms as f64)
    .with_figure("threshold_seconds", threshold.as_secs_f64())
    .with_figure("wall_seconds", wall.as_secs_f64());
    if let Some(report) = hit {
        row = row
            .with_figure("reported_poll_seconds", report.duration.as_secs_f64())
            .with_figure("spawn_line", f64::from(bad.1));
    }
    row
}

/// A report's spawn site as `file:line`.
fn site(report: &BlockingReport) -> String {
    format!("{}:{}", report.location.file(), report.location.line())
}

/// Seconds for people: "1.603 s", or "80.2 ms" under a second.
fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_two_workers() {
        assert!(many_workers() >= 2);
    }

    #[test]
    fn seconds_read_well() {
        assert_eq!(secs(Duration::from_millis(1603)), "1.603 s");
        assert_eq!(secs(Duration::from_micros(80_200)), "80.2 ms");
    }
}
