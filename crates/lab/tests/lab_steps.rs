//! `spool lab steps --scale 0.05 --json --timeline DIR`, run in-process as the binary runs it:
//! every step, Spool and tokio run every workload they can, the claims about *behaviour* hold —
//! judged with generous bounds, never a speed threshold — and the timelines are drawn.

use clap::Parser;
use lab::steps::{StepsReport, Workload};
use lab::LabArgs;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: LabArgs,
}

/// Runs `spool lab ARGS…`; returns (exit code, stdout, stderr). One at a time: the figures
/// are the whole process's CPU time, which a run beside it would inflate.
fn run(args: &[&str]) -> (u8, String, String) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cli = Cli::try_parse_from(std::iter::once("lab").chain(args.iter().copied()))
        .expect("valid arguments");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab::run_cli(&cli.args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

const RUNTIMES: [&str; 10] = [
    "step1", "step2", "step3", "step4", "step5", "step6", "step7", "step8", "spool", "tokio",
];

fn row<'a>(report: &'a StepsReport, workload: &str, runtime: &str) -> &'a lab::steps::StepRow {
    report
        .rows
        .iter()
        .find(|r| r.workload == workload && r.runtime == runtime)
        .unwrap_or_else(|| panic!("no row for {workload} on {runtime}"))
}

#[test]
fn every_step_runs_and_the_behaviour_claims_hold() {
    let dir = std::env::temp_dir().join(format!("spool-lab-steps-{}", std::process::id()));
    let path = dir.to_str().expect("utf-8 temp path");
    let (code, out, err) = run(&["steps", "--scale", "0.05", "--json", "--timeline", path]);
    assert_eq!(code, 0, "{err}");
    let report: StepsReport = serde_json::from_str(&out).expect("the report is JSON");

    // Every runtime ran every workload it claims: the I/O ones from step 8 on.
    for workload in Workload::ALL {
        let io = matches!(workload, Workload::TcpEcho | Workload::Hyper);
        let expected: Vec<&str> = RUNTIMES
            .iter()
            .copied()
            .filter(|r| !io || ["step8", "spool", "tokio"].contains(r))
            .collect();
        let ran: Vec<&str> = report
            .rows
            .iter()
            .filter(|r| r.workload == workload.name())
            .map(|r| r.runtime.as_str())
            .collect();
        assert_eq!(ran, expected, "{}", workload.name());
        for (i, runtime) in expected.iter().enumerate() {
            let r = row(&report, workload.name(), runtime);
            assert_eq!(r.error, None, "{} on {runtime}", workload.name());
            assert!(r.value.is_finite() && r.value > 0.0, "{r:?}");
            // Each row is compared with the row above it.
            assert_eq!(r.vs.as_deref(), i.checked_sub(1).map(|j| expected[j]));
            assert_eq!(r.ratio.is_some(), i > 0, "{r:?}");
        }
    }

    // Step 1's self-waking sleep keeps its thread busy the whole time; step 2's timer lets it
    // block. (A crowded 2-core machine may not give the spinning thread a whole core: "about a
    // core" is judged as at least a fifth of one, and at least 20 times step 2's.)
    let (one, two) = (
        row(&report, "sleeping", "step1"),
        row(&report, "sleeping", "step2"),
    );
    assert!(one.cpu_seconds >= 0.2 * one.wall_seconds, "step 1: {one:?}");
    assert!(
        two.cpu_seconds <= 0.05 * two.wall_seconds + 0.010,
        "step 2: {two:?}"
    );
    assert!(
        one.cpu_seconds >= 20.0 * two.cpu_seconds,
        "{one:?} / {two:?}"
    );

    // 8 blocking tasks spawned by one task: one thread on steps 1, 2 (one thread in all) and 4
    // (no stealing); spread by step 5's stealing. (Steps 6 to 8 steal the same way; they are
    // not judged here, so that one wake-up a crowded machine delays past the whole run is one
    // chance to fail, not four.)
    let used = |runtime| row(&report, "blocking8", runtime).figures["threads_used"];
    for runtime in ["step1", "step2", "step4"] {
        assert_eq!(used(runtime), 1.0, "{runtime}");
    }
    assert!(used("step5") >= 2.0, "step5: {}", used("step5"));

    // The report's own claims agree (the first, "about a core" at 50%, is left to the machine).
    assert_eq!(report.claims.len(), 4, "{:?}", report.claims);
    for claim in &report.claims[1..] {
        assert!(claim.holds, "{claim:?}");
    }

    // The timelines of steps 3 to 5: one shared queue, a queue per worker, stealing.
    for step in ["step3", "step4", "step5"] {
        let svg_path = dir.join(format!("steps-blocking8-{step}.svg"));
        let svg = std::fs::read_to_string(&svg_path).unwrap_or_else(|e| panic!("{step}: {e}"));
        assert!(
            svg.contains("blocking(7)"),
            "{step}'s timeline lacks the tasks"
        );
        assert!(
            svg.contains(&format!("{step}-")),
            "{step}'s workers are not drawn"
        );
        let listed = row(&report, "blocking8", step).timeline_svg.as_deref();
        assert_eq!(listed, svg_path.to_str(), "{step}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_workload_is_a_usage_error() {
    let (code, out, err) = run(&["steps", "no-such-workload"]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("ping_pong"),
        "the error lists the workloads: {err}"
    );
}
