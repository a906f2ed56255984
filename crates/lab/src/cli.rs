//! `spool lab`: the command-line face of the lab. The binary flattens [`LabArgs`] into its own
//! parser and calls [`main`].

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::ctx::validate_scale;
use crate::report::{self, Report};
use crate::runner::{run_one, select, LabError, Options};
use crate::steps;

/// Run the chapter's experiments and compare each with the figure the book printed.
///
/// Exit status: 0 when the experiments ran (whether or not the book's claims held: the report
/// says), 2 for a usage error (an unknown experiment, a bad scale), 1 when a timeline or the
/// report could not be written.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct LabArgs {
    /// Experiments to run, by name (see --list); all of them when none is named. `steps
    /// [WORKLOAD…]` runs the steps group instead (crates/steps, Spool and tokio side by side).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    /// List the experiments, one line each, and run nothing.
    #[arg(long)]
    pub list: bool,

    /// Multiply every duration of the book by F (0 < F <= 1): 0.05 runs the whole lab in a few seconds.
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = parse_scale)]
    pub scale: f64,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Write an SVG timeline per experiment into DIR: which task ran when, on which thread.
    #[arg(long, value_name = "DIR")]
    pub timeline: Option<PathBuf>,

    /// Serve the lab as a web page on ADDR (loopback only) instead of running from the command
    /// line: pick an experiment, run it, watch its timeline (the `spool` binary serves it).
    #[arg(long, value_name = "IP:PORT", conflicts_with_all = ["names", "list", "json", "timeline"])]
    pub serve: Option<std::net::SocketAddr>,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    validate_scale(scale).map_err(|e| e.to_string())?;
    Ok(scale)
}

/// Runs `spool lab` with `args`, printing to the process's stdout and stderr.
pub fn main(args: LabArgs) -> ExitCode {
    let code = run_cli(&args, &mut std::io::stdout().lock(), &mut std::io::stderr());
    ExitCode::from(code)
}

/// [`main`] with its output streams passed in, returning the exit status — for tests.
///
/// The report goes to `out`; progress ("running sequential…", unless `--json`) and errors go
/// to `err`.
pub fn run_cli(args: &LabArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match run_inner(args, out, err) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "spool lab: {e}");
            match e {
                LabError::UnknownExperiment { .. } | LabError::BadScale(_) => 2,
                LabError::Timeline { .. } => 1,
            }
        }
    }
}

fn run_inner(args: &LabArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), LabError> {
    let write_failed = |e: std::io::Error| LabError::Timeline {
        path: PathBuf::from("<stdout>"),
        message: e.to_string(),
    };
    if args.list {
        return out
            .write_all(report::list().as_bytes())
            .map_err(write_failed);
    }
    validate_scale(args.scale)?;
    if args.names.first().map(String::as_str) == Some(steps::GROUP) {
        return run_steps_group(args, out, err);
    }
    let chosen = select(&args.names)?;
    let options = Options {
        scale: args.scale,
        timeline_dir: args.timeline.clone(),
    };
    let mut rows = Vec::with_capacity(chosen.len());
    for experiment in chosen {
        if !args.json {
            // Progress is best effort: a closed stderr must not stop the lab.
            let _ = writeln!(
                err,
                "running {} (book: {})…",
                experiment.name, experiment.book
            );
        }
        rows.push(run_one(experiment, &options)?);
    }
    let report = Report::new(args.scale, rows);
    let text = if args.json {
        report.to_json() + "\n"
    } else {
        report.to_table()
    };
    out.write_all(text.as_bytes()).map_err(write_failed)
}

/// `spool lab steps [WORKLOAD…]`: the steps group, with its own table and JSON.
fn run_steps_group(
    args: &LabArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), LabError> {
    let options = steps::StepsOptions {
        scale: args.scale,
        timeline_dir: args.timeline.clone(),
        workloads: steps::parse_workloads(&args.names[1..])?,
    };
    let json = args.json;
    let report = steps::run_steps(&options, &mut |workload| {
        if !json {
            let _ = writeln!(err, "running steps {workload}…");
        }
    })?;
    let text = if json {
        report.to_json() + "\n"
    } else {
        report.to_table()
    };
    out.write_all(text.as_bytes())
        .map_err(|e| LabError::Timeline {
            path: PathBuf::from("<stdout>"),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_parser_rejects_out_of_range() {
        assert!(parse_scale("0.05").is_ok());
        assert!(parse_scale("1").is_ok());
        for bad in ["0", "-1", "1.5", "x", "NaN", "inf"] {
            assert!(parse_scale(bad).is_err(), "{bad}");
        }
    }
}
