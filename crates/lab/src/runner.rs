//! Running experiments: picking them by name, giving each a fresh [`Ctx`], catching a panic,
//! and writing its timeline.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crate::registry::{find, Experiment, EXPERIMENTS};
use crate::{svg, Ctx, Row};

/// Why the lab could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A name on the command line is not an experiment.
    #[error("unknown experiment {name:?} (known: {known}; see --list)")]
    UnknownExperiment {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// The scale is not a number in (0, 1].
    #[error("the scale must be a number with 0 < F <= 1, not {0}")]
    BadScale(f64),
    /// A timeline could not be drawn or written.
    #[error("cannot write the timeline {}: {message}", path.display())]
    Timeline {
        /// The file (or folder) that could not be written.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// How to run: the scale, and where (if anywhere) to write timelines.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Every duration is multiplied by this; see [`Ctx::scale`].
    pub scale: f64,
    /// Write `<name>.svg` for each experiment into this folder (created if missing).
    pub timeline_dir: Option<PathBuf>,
}

impl Options {
    /// Full-size durations, no timelines.
    pub fn new(scale: f64) -> Self {
        Self {
            scale,
            timeline_dir: None,
        }
    }
}

/// The experiments called `names`, in that order; every experiment when `names` is empty.
///
/// All names are checked before anything runs, so a typo fails at once.
pub fn select<S: AsRef<str>>(names: &[S]) -> Result<Vec<&'static Experiment>, LabError> {
    if names.is_empty() {
        return Ok(EXPERIMENTS.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            find(name.as_ref()).ok_or_else(|| LabError::UnknownExperiment {
                name: name.as_ref().to_owned(),
                known: EXPERIMENTS
                    .iter()
                    .map(|e| e.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        })
        .collect()
}

/// Runs the experiments called `names` (all when empty) at `scale`, one after another, and
/// returns their rows. The same as [`run_with`] without timelines.
pub fn run_experiments<S: AsRef<str>>(names: &[S], scale: f64) -> Result<Vec<Row>, LabError> {
    run_with(names, &Options::new(scale))
}

/// Runs the experiments called `names` (all when empty) with `options`, one after another.
///
/// One at a time on purpose: they measure wall and CPU time, and two at once would disturb
/// each other.
pub fn run_with<S: AsRef<str>>(names: &[S], options: &Options) -> Result<Vec<Row>, LabError> {
    let chosen = select(names)?;
    Ctx::new(options.scale)?;
    chosen.into_iter().map(|e| run_one(e, options)).collect()
}

/// Runs one experiment on the calling thread (its "main"), in a fresh [`Ctx`], and writes its
/// timeline when asked.
///
/// An experiment that panics gives a row with [`Holds::No`](crate::Holds::No) and the panic's
/// message, rather than taking the lab down.
pub fn run_one(experiment: &Experiment, options: &Options) -> Result<Row, LabError> {
    let ctx = Ctx::new(options.scale)?.with_timeline(options.timeline_dir.is_some());
    let mut row =
        catch_unwind(AssertUnwindSafe(|| (experiment.run)(&ctx))).unwrap_or_else(|panic| {
            Row::failed(format!("the experiment panicked: {}", message(&*panic)))
        });
    row.name = experiment.name.to_owned();
    row.book_figure = experiment.book.to_owned();
    if let Some(dir) = &options.timeline_dir {
        let path = write_timeline(dir, experiment, &ctx)?;
        row.timeline_svg = Some(path.display().to_string());
    }
    Ok(row)
}

fn write_timeline(dir: &Path, experiment: &Experiment, ctx: &Ctx) -> Result<PathBuf, LabError> {
    let path = dir.join(format!("{}.svg", experiment.name));
    let fail = |path: &Path, message: String| LabError::Timeline {
        path: path.to_owned(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e.to_string()))?;
    let title = format!(
        "{} — {} (scale {})",
        experiment.name, experiment.summary, ctx.scale
    );
    let svg = svg::render(&title, &ctx.timeline.spans()).map_err(|e| fail(&path, e))?;
    std::fs::write(&path, svg).map_err(|e| fail(&path, e.to_string()))?;
    Ok(path)
}

fn message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_fail_before_anything_runs() {
        let err = select(&["sequential", "nope"]).unwrap_err();
        assert!(err.to_string().contains("\"nope\""), "{err}");
    }

    #[test]
    fn empty_selects_all() {
        assert_eq!(select::<&str>(&[]).unwrap().len(), EXPERIMENTS.len());
    }

    #[test]
    fn a_panicking_experiment_becomes_a_failed_row() {
        let boom = Experiment {
            name: "boom",
            summary: "panics",
            book: "-",
            run: |_| panic!("on purpose"),
        };
        let row = run_one(&boom, &Options::new(1.0)).unwrap();
        assert_eq!(row.holds, crate::Holds::No);
        assert!(row.note.contains("on purpose"));
        assert_eq!(row.name, "boom");
    }
}
