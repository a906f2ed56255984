//! `spool lab`'s command line, driven in-process through `lab::run_cli` exactly as the binary
//! drives `lab::main`: parsing, listing, errors and exit codes, and the JSON report.

use clap::Parser;
use lab::{Holds, LabArgs, Report, EXPERIMENTS};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: LabArgs,
}

fn parse(args: &[&str]) -> Result<LabArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("lab").chain(args.iter().copied())).map(|c| c.args)
}

/// Runs the CLI; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (u8, String, String) {
    let args = parse(args).expect("valid arguments");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab::run_cli(&args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

#[test]
fn list_names_every_experiment_one_line_each() {
    let (code, out, _) = run(&["--list"]);
    assert_eq!(code, 0);
    // The experiments, then the steps group's line and one line per workload of it.
    assert_eq!(
        out.lines().count(),
        EXPERIMENTS.len() + 1 + lab::steps::Workload::ALL.len()
    );
    for e in EXPERIMENTS {
        assert!(out.lines().any(|l| l.starts_with(e.name)), "{}", e.name);
    }
}

#[test]
fn unknown_experiment_is_a_usage_error() {
    let (code, out, err) = run(&["--scale", "0.05", "sequential", "no-such-thing"]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "nothing may run: {out}");
    assert!(
        err.contains("unknown experiment \"no-such-thing\""),
        "{err}"
    );
    assert!(
        err.contains("tokio-lazy"),
        "the error lists the known names: {err}"
    );
}

#[test]
fn scale_is_validated_by_the_parser() {
    for bad in ["0", "-0.5", "2", "fast", "NaN"] {
        let e = parse(&["--scale", bad]).expect_err(bad);
        assert_eq!(e.exit_code(), 2, "{bad}");
    }
    assert_eq!(parse(&[]).expect("defaults").scale, 1.0);
}

#[test]
fn a_scale_set_directly_is_checked_too() {
    let mut args = parse(&["sequential"]).expect("valid");
    args.scale = 3.0;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(lab::run_cli(&args, &mut out, &mut err), 2);
}

#[test]
fn an_unwritable_timeline_dir_is_exit_1() {
    let file = std::env::temp_dir().join(format!("spool-lab-not-a-dir-{}", std::process::id()));
    std::fs::write(&file, "a file, not a folder").expect("temp file");
    let path = file.to_str().expect("utf-8 temp path");
    let (code, _, err) = run(&["--scale", "0.01", "--timeline", path, "tokio-await"]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot write the timeline"), "{err}");
}

#[test]
fn json_report_parses_and_the_table_has_every_column() {
    // Two quick experiments, as JSON and as a table, one after the other (they are timed).
    let (code, out, err) = run(&["--scale", "0.05", "--json", "sequential", "tokio-lazy"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "--json prints no progress: {err}");
    let report: Report = serde_json::from_str(&out).expect("the JSON parses");
    assert_eq!(report.scale, 0.05);
    let names: Vec<_> = report.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["sequential", "tokio-lazy"]);
    assert!(report.rows.iter().all(|r| r.holds != Holds::Race));
    assert_eq!(report.rows[1].book_figure, "~4 s");

    let (code, out, _) = run(&["--scale", "0.05", "tokio-await"]);
    assert_eq!(code, 0);
    let header = out
        .lines()
        .find(|l| l.starts_with("experiment"))
        .expect("a header");
    for column in ["book", "expected", "measured", "holds", "note"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(out.lines().any(|l| l.starts_with("tokio-await")), "{out}");
}
