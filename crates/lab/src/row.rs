//! One line of the report: what the book printed, what was measured, and whether the claim held.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Ctx;

/// Whether the book's claim held in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Holds {
    /// The measurement agrees with the book (within [`tolerance`]).
    Yes,
    /// It does not; the row's note says by how much and, where known, why.
    No,
    /// The book's outcome is one side of a race: the timings agree, but the order the book
    /// printed is not guaranteed, and this run came out the other way (the note says how close).
    Race,
}

impl fmt::Display for Holds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Holds::Yes => "yes",
            Holds::No => "no",
            Holds::Race => "race",
        })
    }
}

/// The relative part of the tolerance: a measurement within 20% of the expected time agrees.
pub const RELATIVE_TOLERANCE: f64 = 0.20;

/// The absolute part of the tolerance, which does *not* shrink with `--scale`: starting threads
/// and runtimes, timer slack and a busy 2-core CI machine cost a few milliseconds whatever the
/// scale, and at scale 0.05 the book's 2 s is only 100 ms.
pub const ABSOLUTE_TOLERANCE: Duration = Duration::from_millis(15);

/// How far a measurement may be from `expected` and still agree with it:
/// 20% of `expected` plus 15 ms.
///
/// Wide on purpose — a tight bound would turn scheduling noise into "the book is wrong" — but
/// narrow enough that the claims the chapter contrasts, 2 s against 4 s, stay apart from scale
/// 0.05 up: at 0.05 the windows are 65–135 ms and 145–255 ms; at full scale 1.585–2.415 s and
/// 3.185–4.815 s. (Below 0.05 the fixed 15 ms dominates and they start to overlap.)
pub fn tolerance(expected: Duration) -> Duration {
    expected.mul_f64(RELATIVE_TOLERANCE) + ABSOLUTE_TOLERANCE
}

/// Whether `measured` agrees with `expected`, within [`tolerance`].
pub fn agrees(expected: Duration, measured: Duration) -> bool {
    let difference = expected.max(measured) - expected.min(measured);
    difference <= tolerance(expected)
}

/// One experiment's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The experiment's name, as in the registry (filled in by the runner).
    pub name: String,
    /// What the book printed, e.g. "~6 s" (filled in by the runner).
    pub book_figure: String,
    /// What the book's figure becomes at this run's scale, in seconds.
    pub expected_seconds: f64,
    /// The main measured quantity, in seconds (a wall time, or CPU time where the claim is
    /// about CPU).
    pub measured_seconds: f64,
    /// The measurement for a person to read, e.g. "2.003 s" or "4.98 s CPU in 5.00 s".
    pub measured: String,
    /// Whether the claim held.
    pub holds: Holds,
    /// Why it held or did not, in a sentence.
    pub note: String,
    /// Other named figures of the run (seconds unless the name says otherwise), for the JSON
    /// report and for tests: e.g. `cpu_seconds`, `margin_seconds`.
    pub figures: BTreeMap<String, f64>,
    /// What the chapter's program printed, in the order it came out in this run.
    pub output: Vec<String>,
    /// Where its timeline SVG was written, with `--timeline`.
    pub timeline_svg: Option<String>,
}

impl Row {
    /// A row for a claim of the form "this takes about `book_secs` seconds", judged with
    /// [`agrees`] against the book's time at `ctx`'s scale.
    ///
    /// `why` explains the figure when it holds; when it does not, the note says how far off it
    /// was and then gives `why` as what the book expected.
    pub fn timing(ctx: &Ctx, book_secs: f64, measured: Duration, why: &str) -> Self {
        let expected = ctx.secs(book_secs);
        let ok = agrees(expected, measured);
        let note = if ok {
            why.to_owned()
        } else {
            format!(
                "expected {:.3} s ± {:.3} s: {why}",
                expected.as_secs_f64(),
                tolerance(expected).as_secs_f64()
            )
        };
        Self {
            name: String::new(),
            book_figure: String::new(),
            expected_seconds: expected.as_secs_f64(),
            measured_seconds: measured.as_secs_f64(),
            measured: format!("{:.3} s", measured.as_secs_f64()),
            holds: if ok { Holds::Yes } else { Holds::No },
            note,
            figures: BTreeMap::new(),
            output: Vec::new(),
            timeline_svg: None,
        }
        .with_figure("wall_seconds", measured.as_secs_f64())
    }

    /// A row for an experiment that failed to run at all (it panicked, say).
    pub fn failed(note: impl Into<String>) -> Self {
        Self {
            name: String::new(),
            book_figure: String::new(),
            expected_seconds: 0.0,
            measured_seconds: 0.0,
            measured: "—".to_owned(),
            holds: Holds::No,
            note: note.into(),
            figures: BTreeMap::new(),
            output: Vec::new(),
            timeline_svg: None,
        }
    }

    /// Adds a named figure.
    pub fn with_figure(mut self, name: &str, value: f64) -> Self {
        self.figures.insert(name.to_owned(), value);
        self
    }

    /// Sets what the chapter's program printed.
    pub fn with_output(mut self, lines: Vec<String>) -> Self {
        self.output = lines;
        self
    }

    /// Appends a sentence to the note.
    pub fn with_note(mut self, more: &str) -> Self {
        if !self.note.is_empty() {
            self.note.push_str("; ");
        }
        self.note.push_str(more);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_and_four_seconds_stay_apart_from_scale_0_05_up() {
        for scale in [0.05, 0.1, 0.5, 1.0] {
            let ctx = Ctx::new(scale).unwrap();
            let (two, four) = (ctx.secs(2.0), ctx.secs(4.0));
            assert!(two + tolerance(two) < four - tolerance(four), "{scale}");
            assert!(!agrees(two, four) && !agrees(four, two));
        }
    }

    #[test]
    fn timing_row_says_how_far_off() {
        let ctx = Ctx::new(1.0).unwrap();
        let row = Row::timing(&ctx, 2.0, Duration::from_secs(4), "because");
        assert_eq!(row.holds, Holds::No);
        assert!(row.note.starts_with("expected 2.000 s"), "{}", row.note);
        let row = Row::timing(&ctx, 2.0, Duration::from_millis(2010), "because");
        assert_eq!((row.holds, row.note.as_str()), (Holds::Yes, "because"));
    }
}
