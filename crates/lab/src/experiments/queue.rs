//! Experiment 8: the chapter's task queue with its busy `AsyncSleep` — the program as the book
//! wrote it, measured.
//!
//! Three tasks `sleeping(1..=3)` each sleep 3 s and then 2 s with [`AsyncSleep`]; meanwhile main
//! prints "before the sleep", blocks 5 s in `thread::sleep`, prints "before the block" and then
//! `block_on`s each task. The book shows every "done sleeping" before "before the block" — but
//! the tasks need 3 s + 2 s = 5 s and main sleeps 5 s, so that order is a race, decided by
//! microseconds (one run of the book's program printed "before the block" first). The row gives
//! the margin measured and calls the run a race when the order came out the other way.
//!
//! The second claim is the cost: `AsyncSleep` wakes itself on every poll, so the one queue thread
//! spins for the whole 5 s — about one core of CPU time (the book measured 5.00 s of user CPU in
//! 5.00 s). The row measures the process's CPU time over the run with `getrusage`.
//!
//! Timeline: a busy-sleeping task is polled millions of times a second, so recording each poll
//! would swamp the picture (and slow the spin). Each `AsyncSleep` is recorded as one span on the
//! queue thread instead — honest here, because during it the task really is being polled
//! non-stop, in turn with the other two.

use std::time::{Duration, Instant};

use futures_lite::future;

use crate::chapter_queue::{spawn_task, AsyncSleep};
use crate::cpu::CpuTime;
use crate::row::agrees;
use crate::{Ctx, Holds, Printout, Row};

/// The share of one core the busy sleep must burn for the claim "about one core" to hold: at
/// least half, because on a crowded 2-core machine the spinning thread does not always get a
/// core to itself (the book measured 100%).
pub const MIN_CPU_SHARE: f64 = 0.5;

/// The chapter's `sleeping(label)`: two busy sleeps, 3 s then 2 s, with its three lines.
pub async fn sleeping(ctx: Ctx, out: Printout, label: u8) {
    let thread = ctx.here();
    let task = format!("sleeping({label})");
    out.say(format!("sleeping {label}"));
    let start = Instant::now();
    AsyncSleep::new(ctx.secs(3.0)).await;
    let middle = Instant::now();
    ctx.timeline.record(&thread, &task, start, middle);
    out.say(format!("progressing sleep {label}"));
    AsyncSleep::new(ctx.secs(2.0)).await;
    ctx.timeline.record(&thread, &task, middle, Instant::now());
    out.say(format!("done sleeping {label}"));
}

/// Experiment 8: the chapter's queue program; judged on CPU time (≈ one core), total time
/// (≈ 5 s) and printout order (the book's, or a race).
pub fn queue_busy_sleep(ctx: &Ctx) -> Row {
    let out = Printout::new();
    let main = ctx.here();
    let cpu_before = CpuTime::now();
    let start = Instant::now();

    let handle_one = spawn_task(sleeping(ctx.clone(), out.clone(), 1));
    let handle_two = spawn_task(sleeping(ctx.clone(), out.clone(), 2));
    let handle_three = spawn_task(sleeping(ctx.clone(), out.clone(), 3));

    out.say("before the sleep");
    {
        let _span = ctx.timeline.span(&main, "thread::sleep(5 s)");
        std::thread::sleep(ctx.secs(5.0));
    }
    out.say("before the block");
    {
        let _span = ctx.timeline.span(&main, "block_on(each task)");
        future::block_on(handle_one);
        future::block_on(handle_two);
        future::block_on(handle_three);
    }

    let wall = start.elapsed();
    let cpu = CpuTime::now().since(cpu_before);
    judge(ctx, &out.timed(), wall, cpu)
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

fn judge(ctx: &Ctx, lines: &[(Duration, String)], wall: Duration, cpu: CpuTime) -> Row {
    let output = lines.iter().map(|(_, l)| l.clone()).collect();
    let Some(race) = read_race(lines) else {
        return Row::failed("the tasks' printout is incomplete").with_output(output);
    };
    let share = cpu.total().as_secs_f64() / wall.as_secs_f64().max(f64::EPSILON);
    let expected = ctx.secs(5.0);
    let one_core = share >= MIN_CPU_SHARE;
    let five_seconds = agrees(expected, wall);

    let cost = format!(
        "AsyncSleep wakes itself on every poll, so the queue thread never rests: {:.0}% of a core for the whole sleep",
        share * 100.0
    );
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
    let (holds, note) = match (one_core, five_seconds, race.book_order) {
        (true, true, true) => (Holds::Yes, format!("{cost}; {order}")),
        (true, true, false) => (Holds::Race, format!("{order}; {cost}")),
        (false, _, _) => (
            Holds::No,
            format!(
                "only {:.0}% of a core (expected ≥ {:.0}%): was the machine too busy to give the spinning thread a core? {order}",
                share * 100.0,
                MIN_CPU_SHARE * 100.0
            ),
        ),
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
        expected_seconds: expected.as_secs_f64(),
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
        let row = judge(&ctx, &l, Duration::from_secs(5), cpu);
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
        let row = judge(&ctx, &l, Duration::from_secs(5), CpuTime::default());
        assert_eq!(row.holds, Holds::No);
    }
}
