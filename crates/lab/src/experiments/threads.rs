//! Experiments 1 and 2: three two-second jobs, one after another, then on three threads.

use std::thread;
use std::time::Instant;

use crate::{Ctx, Printout, Row};

/// The chapter's job: say which number runs, sleep two (scaled) seconds, return 2.
///
/// `thread::sleep` blocks the calling thread: nothing else can run *on that thread* meanwhile.
pub fn do_something(ctx: &Ctx, out: &Printout, number: i8) -> i8 {
    let _span = ctx
        .timeline
        .span(&ctx.here(), &format!("do_something({number})"));
    out.say(format!("number {number} is running"));
    thread::sleep(ctx.secs(2.0));
    2
}

/// Experiment 1: three jobs in a row on the main thread — 3 × 2 s ≈ 6 s.
pub fn sequential(ctx: &Ctx) -> Row {
    let out = Printout::new();
    let now = Instant::now();
    let one = do_something(ctx, &out, 1);
    let two = do_something(ctx, &out, 2);
    let three = do_something(ctx, &out, 3);
    let elapsed = now.elapsed();
    out.say(format!("time elapsed {elapsed:?}"));
    out.say(format!("result {}", one + two + three));

    Row::timing(
        ctx,
        6.0,
        elapsed,
        "one thread does one blocking sleep at a time: 2 s + 2 s + 2 s",
    )
    .with_output(out.lines())
}

/// Experiment 2: the same three jobs on three threads, joined — they sleep at the same time,
/// so ≈ 2 s; the order of their "is running" lines is up to the OS scheduler.
pub fn threads(ctx: &Ctx) -> Row {
    let out = Printout::new();
    let now = Instant::now();
    let handles: Vec<_> = (1..=3)
        .map(|number| {
            let (ctx, out) = (ctx.clone(), out.clone());
            // Named so the timeline can tell them apart; the chapter uses plain `thread::spawn`.
            thread::Builder::new()
                .name(format!("thread-{number}"))
                .spawn(move || do_something(&ctx, &out, number))
        })
        .collect();
    let mut result = 0;
    let mut failed = false;
    for handle in handles {
        match handle.map(|h| h.join()) {
            Ok(Ok(value)) => result += value,
            _ => failed = true,
        }
    }
    let elapsed = now.elapsed();
    if failed {
        return Row::failed("a thread could not be started or panicked");
    }
    out.say(format!("time elapsed {elapsed:?}"));
    out.say(format!("result {result}"));

    let order = start_order(&out.lines());
    Row::timing(
        ctx,
        2.0,
        elapsed,
        "three threads sleep at the same time, so the three 2 s sleeps overlap",
    )
    .with_note(&format!(
        "started in order {order} (the OS picks; the book says it may vary)"
    ))
    .with_output(out.lines())
}

/// "1,2,3" from the "number N is running" lines, in the order they came out.
fn start_order(lines: &[String]) -> String {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("number ")?.strip_suffix(" is running"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_order_reads_the_lines() {
        let lines = ["number 2 is running", "number 1 is running", "other"].map(String::from);
        assert_eq!(start_order(&lines), "2,1");
    }
}
