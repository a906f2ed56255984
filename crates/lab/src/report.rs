//! The report: a plain-text table for people, JSON for machines, and the `--list` listing.

use serde::{Deserialize, Serialize};

use crate::registry::EXPERIMENTS;
use crate::row::{ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE};
use crate::steps;
use crate::Row;

/// Everything one `spool lab` run measured: what `--json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scale the run used.
    pub scale: f64,
    /// How a timing claim is judged, in words.
    pub tolerance: String,
    /// One row per experiment run, in order.
    pub rows: Vec<Row>,
}

impl Report {
    /// A report of `rows` run at `scale`.
    pub fn new(scale: f64, rows: Vec<Row>) -> Self {
        Self {
            scale,
            tolerance: format!(
                "a time holds when within {:.0}% + {} ms of the book's figure × scale",
                RELATIVE_TOLERANCE * 100.0,
                ABSOLUTE_TOLERANCE.as_millis()
            ),
            rows,
        }
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // A `Report` holds only strings, numbers, maps and lists: it always serialises.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as a table: experiment | book | expected | measured | holds | note.
    ///
    /// Notes are wrapped to keep lines readable; continuation lines are indented to the note
    /// column.
    pub fn to_table(&self) -> String {
        let headers = [
            "experiment",
            "book",
            "expected",
            "measured",
            "holds",
            "note",
        ];
        let cells: Vec<[String; 5]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.name.clone(),
                    r.book_figure.clone(),
                    format!("{:.3} s", r.expected_seconds),
                    r.measured.clone(),
                    r.holds.to_string(),
                ]
            })
            .collect();
        let mut widths: Vec<usize> = headers[..5].iter().map(|h| h.chars().count()).collect();
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let indent: usize = widths.iter().map(|w| w + 2).sum();

        let mut out = String::new();
        if self.scale != 1.0 {
            out.push_str(&format!(
                "scale {}: every duration of the book × {} (\"expected\" is the book's figure at this scale)\n",
                self.scale, self.scale
            ));
        }
        let line = |out: &mut String, cols: &[&str], note: &str| {
            for (cell, w) in cols.iter().zip(&widths) {
                out.push_str(&format!("{cell:<w$}  "));
            }
            let mut first = true;
            for chunk in wrap(note, 72) {
                if !first {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                }
                out.push_str(&chunk);
                first = false;
            }
            out.push('\n');
        };
        line(&mut out, &headers[..5], headers[5]);
        line(
            &mut out,
            &widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "----",
        );
        for (row, c) in self.rows.iter().zip(&cells) {
            let cols: Vec<&str> = c.iter().map(String::as_str).collect();
            line(&mut out, &cols, &row.note);
        }
        out.push_str(&format!("({})\n", self.tolerance));
        out
    }
}

/// `--list`: each experiment's name, the book's figure, and what it does; then the `steps`
/// group's line and one line per workload of it.
pub fn list() -> String {
    let width = EXPERIMENTS.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let mut out: String = EXPERIMENTS
        .iter()
        .map(|e| format!("{:<width$}  {} (book: {})\n", e.name, e.summary, e.book))
        .collect();
    out.push_str(&format!(
        "{:<width$}  group: the same workloads on steps 1-8 (crates/steps), Spool and tokio; time, CPU, ratio to the row above (`spool lab steps [WORKLOAD...]`)\n",
        steps::GROUP
    ));
    for w in steps::Workload::ALL {
        out.push_str(&format!(
            "  {:<w_width$}  {}\n",
            w.name(),
            w.summary(),
            w_width = width - 2
        ));
    }
    out
}

/// Splits `text` into lines of at most `width` characters, at spaces where possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("lines starts non-empty");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_owned());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_whole() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5), [""]);
    }

    #[test]
    fn list_names_every_experiment() {
        let l = list();
        assert_eq!(
            l.lines().count(),
            EXPERIMENTS.len() + 1 + steps::Workload::ALL.len()
        );
        assert!(l.contains("spawn_many"));
        assert!(l.contains("queue-busy-sleep"));
    }
}
