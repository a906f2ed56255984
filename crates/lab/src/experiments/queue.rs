//! Experiments 8 and 9: the chapter's task-queue program — three `sleeping` tasks against a
//! main thread that sleeps 5 s — first on the chapter's own queue with its busy `AsyncSleep`,
//! then on Spool with a real timer.
//!
//! Three tasks `sleeping(1..=3)` each sleep 3 s and then 2 s; meanwhile main prints "before the
//! sleep", blocks 5 s in `thread::sleep`, prints "before the block" and then `block_on`s each
//! task. The book shows every "done sleeping" before "before the block" — but the tasks need
//! 3 s + 2 s = 5 s and main sleeps 5 s, so that order is a race, decided by microseconds (one run
//! of the book's program printed "before the block" first). Each row gives the margin measured
//! and calls the run a race when the order came out the other way.
//!
//! The second claim is the cost, measured as the process's CPU time over the run (`getrusage`):
//!
//! - **queue-busy-sleep**: `AsyncSleep` wakes itself on every poll, so the one queue thread spins
//!   for the whole 5 s — about one core (the book measured 5.00 s of user CPU in 5.00 s).
//! - **queue-timer-sleep**: the same program on a one-worker Spool runtime (the chapter's
//!   one-thread queue) with [`spool::time::sleep`]: a sleeping task is a deadline and a waker in
//!   the timer, the worker parks, and the 5 s cost next to nothing.
//!
//! The program ([`chapter_main`]) and the judging ([`judge`]) are shared; only the queue, the
//! sleep and the [`CpuClaim`] differ.
//!
//! Timeline: a busy-sleeping task is polled millions of times a second, so recording each poll
//! would swamp the picture (and slow the spin). Each `AsyncSleep` is recorded as one span on the
//! queue thread instead — honest here, because during it the task really is being polled
//! non-stop, in turn with the other two. On Spool the runtime records the real polls (a few
//! slivers per task on the worker), and each timer wait is drawn on a grey "no thread" lane.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures_lite::future;

use crate::chapter_queue::{spawn_task, AsyncSleep};
use crate::cpu::CpuTime;
use crate::experiments::spool_demo::{record_spool_spans, SPOOL_TIMER_LANE};
use crate::row::agrees;
use crate::{Ctx, Holds, Printout, Row};

/// The share of one core the busy sleep must burn for the claim "about one core" to hold: at
/// least half, because on a crowded 2-core machine the spinning thread does not always get a
/// core to itself (the book measured 100%).
pub const MIN_CPU_SHARE: f64 = 0.5;

/// The most CPU a timer sleep may cost for the claim "about nothing" to hold: 5% of a core over
/// the run…
pub const MAX_IDLE_CPU_SHARE: f64 = 0.05;

/// …plus this much, whatever the scale: spawning three tasks, a dozen wake-ups and polls, and
/// the clock reads of a crowded machine are not free, just small.
pub const IDLE_CPU_SLACK: Duration = Duration::from_millis(10);

/// What the run's CPU time should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuClaim {
    /// The chapter's busy sleep: about one core for the whole sleep (at least
    /// [`MIN_CPU_SHARE`]).
    OneCore,
    /// A real timer: about nothing (at most [`MAX_IDLE_CPU_SHARE`] of a core plus
    /// [`IDLE_CPU_SLACK`]).
    Idle,
}

/// The chapter's `sleeping(label)`: two sleeps, 3 s then 2 s, with its three lines.
///
/// `sleep` makes each sleep: [`AsyncSleep::new`] (the book's) or [`spool::time::sleep`].
/// `waiting_lane` is where the timeline draws the sleeps: `None` for a busy sleep, which is
/// being polled — running — on the polling thread the whole time; a lane ending with
/// [`WAITING`](crate::svg::WAITING) for a timer sleep, during which no thread runs the task.
pub async fn sleeping<S: Future<Output = ()>>(
    ctx: Ctx,
    out: Printout,
    label: u8,
    sleep: fn(Duration) -> S,
    waiting_lane: Option<&'static str>,
) {
    let thread = waiting_lane.map_or_else(|| ctx.here(), str::to_owned);
    let task = format!("sleeping({label})");
    out.say(format!("sleeping {label}"));
    let start = Instant::now();
    sleep(ctx.secs(3.0)).await;
    let middle = Instant::now();
    ctx.timeline.record(&thread, &task, start, middle);
    out.say(format!("progressing sleep {label}"));
    sleep(ctx.secs(2.0)).await;
    ctx.timeline.record(&thread, &task, middle, Instant::now());
    out.say(format!("done sleeping {label}"));
}

/// What [`chapter_main`] measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The program's printout, each line with when it was said.
    pub lines: Vec<(Duration, String)>,
    /// From the first spawn to the last task joined.
    pub wall: Duration,
    /// CPU time the whole process used meanwhile.
    pub cpu: CpuTime,
}

/// The chapter's `main`: spawn `sleeping(1..=3)` with `spawn(printout, label)`, say "before the
/// sleep", block 5 s, say "before the block", then wait for each task in turn with `wait` —
/// timing it and measuring the CPU time the process burned meanwhile.
///
/// `wait` returns an error when a task failed rather than finished.
pub fn chapter_main<H>(
    ctx: &Ctx,
    mut spawn: impl FnMut(&Printout, u8) -> H,
    mut wait: impl FnMut(H) -> Result<(), String>,
) -> Result<Measured, String> {
    let out = Printout::new();
    let main = ctx.here();
    let cpu_before = CpuTime::now();
    let start = Instant::now();

    let handle_one = spawn(&out, 1);
    let handle_two = spawn(&out, 2);
    let handle_three = spawn(&out, 3);

    out.say("before the sleep");
    {
        let _span = ctx.timeline.span(&main, "thread::sleep(5 s)");
        std::thread::sleep(ctx.secs(5.0));
    }
    out.say("before the block");
    {
        let _span = ctx.timeline.span(&main, "block_on(each task)");
        wait(handle_one)?;
        wait(handle_two)?;
        wait(handle_three)?;
    }

    Ok(Measured {
        wall: start.elapsed(),
        cpu: CpuTime::now().since(cpu_before),
        lines: out.timed(),
    })
}

/// Experiment 8: the chapter's queue program; judged on CPU time (≈ one core), total time
/// (≈ 5 s) and printout order (the book's, or a race).
pub fn queue_busy_sleep(ctx: &Ctx) -> Row {
    let measured = chapter_main(
        ctx,
        |out, label| {
            spawn_task(sleeping(
                ctx.clone(),
                out.clone(),
                label,
                AsyncSleep::new,
                None,
            ))
        },
        |handle| {
            future::block_on(handle);
            Ok(())
        },
    );
    match measured {
        Ok(m) => judge(ctx, &m, CpuClaim::OneCore),
        Err(e) => Row::failed(e),
    }
}

/// Experiment 9: the same program on a one-worker Spool runtime with [`spool::time::sleep`];
/// judged on CPU time (≈ 0), total time (≈ 5 s) and printout order (the book's, or a race).
///
/// The runtime is built before the measurement starts and dropped — its worker joined — before
/// this returns, so neither its start nor a stray thread reaches another experiment's CPU time.
pub fn queue_timer_sleep(ctx: &Ctx) -> Row {
    let runtime = match spool::Runtime::builder()
        .worker_threads(1)
        .record_spans(ctx.timeline.is_on())
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Row::failed(format!("cannot start Spool: {e}")),
    };
    let mut names = HashMap::new();
    let measured = chapter_main(
        ctx,
        |out, label| {
            let task = runtime.spawn(sleeping(
                ctx.clone(),
                out.clone(),
                label,
                spool::time::sleep,
                Some(SPOOL_TIMER_LANE),
            ));
            names.insert(task.id(), format!("sleeping({label})"));
            task
        },
        |task| {
            runtime
                .block_on(task)
                .map_err(|e| format!("a sleeping task failed: {e}"))
        },
    );
    record_spool_spans(ctx, &runtime, "spool", &names);
    drop(runtime);
    match measured {
        Ok(m) => judge(ctx, &m, CpuClaim::Idle),
        Err(e) => Row::failed(e),
    }
}

/// What the printout says about the race.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Race {
    /// Whether every "done sleeping" came before "before the block", as in the book.
    book_order: bool,
    /// "before the block" minus the last "done sleeping": positive when the tasks won.
    margin: f64,
}

fn read_race(lines: &[(Duration, String)]) -> Option<Race> {
    let (block_index, block_at) = lines
        .iter()
        .enumerate()
        .find(|(_, (_, l))| l == "before the block")
        .map(|(i, (t, _))| (i, *t))?;
    let dones: Vec<(usize, Duration)> = lines
        .iter()
        .enumerate()
        .filter(|(_, (_, l))| l.starts_with("done sleeping"))
        .map(|(i, (t, _))| (i, *t))
        .collect();
    let last_done = dones.iter().map(|(_, t)| *t).max()?;
    Some(Race {
        book_order: dones.iter().all(|(i, _)| *i < block_index),
        margin: block_at.as_secs_f64() - last_done.as_secs_f64(),
    })
}

/// Judges a run of the chapter's program: its CPU time against `claim`, its wall time against
/// the book's 5 s, and its printout order — the book's ([`Holds::Yes`]), or the other side of the
/// race ([`Holds::Race`], with the margin). The row's `measured_seconds` is the CPU time, its
/// `expected_seconds` the CPU time `claim` expects (5 s for one core, 0 for a timer).
pub fn judge(ctx: &Ctx, measured: &Measured, claim: CpuClaim) -> Row {
    let Measured { lines, wall, cpu } = measured;
    let (wall, cpu) = (*wall, *cpu);
    let output = lines.iter().map(|(_, l)| l.clone()).collect();
    let Some(race) = read_race(lines) else {
        return Row::failed("the tasks' printout is incomplete").with_output(output);
    };
    let share = cpu.total().as_secs_f64() / wall.as_secs_f64().max(f64::EPSILON);
    let expected = ctx.secs(5.0);
    let five_seconds = agrees(expected, wall);

    let (cpu_ok, expected_cpu, cost, cpu_miss) = match claim {
        CpuClaim::OneCore => (
            share >= MIN_CPU_SHARE,
            expected,
            format!(
                "AsyncSleep wakes itself on every poll, so the queue thread never rests: {:.0}% of a core for the whole sleep",
                share * 100.0
            ),
            format!(
                "only {:.0}% of a core (expected ≥ {:.0}%): was the machine too busy to give the spinning thread a core?",
                share * 100.0,
                MIN_CPU_SHARE * 100.0
            ),
        ),
        CpuClaim::Idle => (
            cpu.total() <= wall.mul_f64(MAX_IDLE_CPU_SHARE) + IDLE_CPU_SLACK,
            Duration::ZERO,
            format!(
                "spool::time::sleep leaves a deadline and a waker with the timer and the worker parks: {} of CPU in {:.2} s ({:.1}% of a core)",
                short(cpu.total().as_secs_f64()),
                wall.as_secs_f64(),
                share * 100.0
            ),
            format!(
                "{} of CPU in {:.2} s ({:.1}% of a core; expected ≤ {:.0}% + {} ms): something kept a thread busy while the tasks slept",
                short(cpu.total().as_secs_f64()),
                wall.as_secs_f64(),
                share * 100.0,
                MAX_IDLE_CPU_SHARE * 100.0,
                IDLE_CPU_SLACK.as_millis()
            ),
        ),
    };
    let order = if race.book_order {
        format!(
            "book's order: the last \"done sleeping\" came {} before \"before the block\" (3 s + 2 s of task sleep against 5 s of main sleep: a race the tasks won)",
            short(race.margin)
        )
    } else {
        format!(
            "\"before the block\" came {} BEFORE the last \"done sleeping\": the book's order is a race (3 s + 2 s of task sleep against 5 s of main sleep) and main won it this time",
            short(-race.margin)
        )
    };
    let (holds, note) = match (cpu_ok, five_seconds, race.book_order) {
        (true, true, true) => (Holds::Yes, format!("{cost}; {order}")),
        (true, true, false) => (Holds::Race, format!("{order}; {cost}")),
        (false, _, _) => (Holds::No, format!("{cpu_miss} {order}")),
        (true, false, _) => (
            Holds::No,
            format!(
                "took {:.3} s, expected {:.3} s: the tasks' 5 s did not line up with main's; {cost}",
                wall.as_secs_f64(),
                expected.as_secs_f64()
            ),
        ),
    };

    Row {
        name: String::new(),
        book_figure: String::new(),
        expected_seconds: expected_cpu.as_secs_f64(),
        measured_seconds: cpu.total().as_secs_f64(),
        measured: format!(
            "{:.2} s CPU in {:.2} s, margin {}{}",
            cpu.total().as_secs_f64(),
            wall.as_secs_f64(),
            if race.margin < 0.0 { "-" } else { "+" },
            short(race.margin.abs())
        ),
        holds,
        note,
        figures: Default::default(),
        output,
        timeline_svg: None,
    }
    .with_figure("cpu_seconds", cpu.total().as_secs_f64())
    .with_figure("user_cpu_seconds", cpu.user.as_secs_f64())
    .with_figure("system_cpu_seconds", cpu.system.as_secs_f64())
    .with_figure("wall_seconds", wall.as_secs_f64())
    .with_figure("expected_wall_seconds", expected.as_secs_f64())
    .with_figure("cpu_share", share)
    .with_figure("margin_seconds", race.margin)
}

/// A small time for people: "42 µs" under a millisecond, "3.1 ms" above.
fn short(secs: f64) -> String {
    if secs.abs() < 1e-3 {
        format!("{:.0} µs", secs * 1e6)
    } else {
        format!("{:.1} ms", secs * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: Vec<(Duration, String)>, wall_ms: u64, cpu: CpuTime) -> Measured {
        Measured {
            lines,
            wall: Duration::from_millis(wall_ms),
            cpu,
        }
    }

    fn lines(spec: &[(u64, &str)]) -> Vec<(Duration, String)> {
        spec.iter()
            .map(|(ms, l)| (Duration::from_millis(*ms), (*l).to_owned()))
            .collect()
    }

    #[test]
    fn reads_the_book_order_and_margin() {
        let l = lines(&[
            (0, "before the sleep"),
            (4990, "done sleeping 1"),
            (4995, "done sleeping 3"),
            (5000, "before the block"),
        ]);
        let race = read_race(&l).unwrap();
        assert!(race.book_order);
        assert!((race.margin - 0.005).abs() < 1e-9);
    }

    #[test]
    fn flags_the_other_order_as_a_race() {
        let ctx = Ctx::new(1.0).unwrap();
        let l = lines(&[
            (4990, "done sleeping 1"),
            (5000, "before the block"),
            (5001, "done sleeping 2"),
        ]);
        let cpu = CpuTime {
            user: Duration::from_secs(5),
            system: Duration::ZERO,
        };
        let row = judge(&ctx, &run(l, 5000, cpu), CpuClaim::OneCore);
        assert_eq!(row.holds, Holds::Race, "{}", row.note);
        assert!(row.figures["margin_seconds"] < 0.0);
    }

    #[test]
    fn short_times_read_well() {
        assert_eq!(short(0.000_042), "42 µs");
        assert_eq!(short(0.0031), "3.1 ms");
    }

    #[test]
    fn too_little_cpu_is_a_no() {
        let ctx = Ctx::new(1.0).unwrap();
        let l = lines(&[(4990, "done sleeping 1"), (5000, "before the block")]);
        let row = judge(&ctx, &run(l, 5000, CpuTime::default()), CpuClaim::OneCore);
        assert_eq!(row.holds, Holds::No);
    }

    #[test]
    fn a_timer_sleep_must_cost_next_to_nothing() {
        let ctx = Ctx::new(1.0).unwrap();
        let l = lines(&[(4990, "done sleeping 1"), (5000, "before the block")]);
        let idle = CpuTime {
            user: Duration::from_millis(3),
            system: Duration::from_millis(2),
        };
        let row = judge(&ctx, &run(l.clone(), 5000, idle), CpuClaim::Idle);
        assert_eq!(row.holds, Holds::Yes, "{}", row.note);
        assert_eq!(row.expected_seconds, 0.0);
        let busy = CpuTime {
            user: Duration::from_secs(1),
            system: Duration::ZERO,
        };
        let row = judge(&ctx, &run(l, 5000, busy), CpuClaim::Idle);
        assert_eq!(row.holds, Holds::No, "{}", row.note);
    }
}
