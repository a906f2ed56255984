//! `spool lab steps`: the same workloads on every step of `crates/steps`, on Spool and on
//! tokio — one table, time and CPU, each row with its ratio to the row above, so that the
//! reader sees which idea paid, and by how much, on this machine.
//!
//! The workloads ([`Workload`]): the chapter's `sleeping` program (CPU burned while three
//! tasks sleep), `spawn_many` (10 000 tasks), `ping_pong`, `yield_many`, `blocking8` (8 tasks
//! that block their thread, spawned by one task: who runs them?), and — on the runtimes with a
//! reactor (step 8, Spool, tokio) — a TCP echo round trip and hyper's `Hello, World!` under a
//! bounded load on 127.0.0.1, as the server's CPU µs per request.
//!
//! Each cell is the best of several rounds (one for `sleeping`, whose 5 s are mostly
//! sleeping), the runtimes taking turns in alternating order so that a slow moment of the
//! machine does not land on one runtime only. `--scale` shrinks durations and counts;
//! `--timeline DIR` draws `blocking8` on every runtime (`steps-blocking8-<runtime>.svg`):
//! step 3's one shared queue spreads the tasks, step 4 leaves them on the spawner's queue, and
//! step 5 steals them.
//!
//! The report also judges four claims about *behaviour* ([`Claim`]): step 1 burns about a core
//! while sleeping, step 2 about nothing; step 4 runs the 8 blocking tasks on one worker, step 5
//! spreads them over several.

mod contenders;
mod io;
mod workloads;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::experiments::queue::{IDLE_CPU_SLACK, MAX_IDLE_CPU_SHARE, MIN_CPU_SHARE};
use crate::{svg, Ctx, LabError};
use contenders::{Step1, Step2, Step3, Step4, Step5, Step6, Step7, Step8};
use workloads::Measure;

/// The group's name on the command line: `spool lab steps [WORKLOAD…]`.
pub const GROUP: &str = "steps";

/// One workload of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// The chapter's program: three `sleeping` tasks (3 s + 2 s), main blocks 5 s.
    Sleeping,
    /// 10 000 tasks spawned from a task, then awaited.
    SpawnMany,
    /// One pair of tasks per worker passing a number back and forth.
    PingPong,
    /// Many tasks that yield many times.
    YieldMany,
    /// 8 tasks that `thread::sleep`, spawned by one task.
    Blocking8,
    /// 64-byte TCP echo round trips on loopback (runtimes with a reactor).
    TcpEcho,
    /// hyper's `Hello, World!` under a bounded local load (runtimes with a reactor).
    Hyper,
}

impl Workload {
    /// Every workload, in the table's order.
    pub const ALL: [Workload; 7] = [
        Workload::Sleeping,
        Workload::SpawnMany,
        Workload::PingPong,
        Workload::YieldMany,
        Workload::Blocking8,
        Workload::TcpEcho,
        Workload::Hyper,
    ];

    /// Its name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Sleeping => "sleeping",
            Workload::SpawnMany => "spawn_many",
            Workload::PingPong => "ping_pong",
            Workload::YieldMany => "yield_many",
            Workload::Blocking8 => "blocking8",
            Workload::TcpEcho => "tcp_echo",
            Workload::Hyper => "hyper",
        }
    }

    /// What it does, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            Workload::Sleeping => "the chapter's sleeping(1..=3) program (3 s + 2 s sleeps, main blocks 5 s): CPU burned",
            Workload::SpawnMany => "10 000 tasks spawned from a task and awaited: wall time",
            Workload::PingPong => "one pair of tasks per worker, 5 000 round trips each over one-slot channels: wall time",
            Workload::YieldMany => "4 tasks per worker, each yielding 2 000 times: wall time",
            Workload::Blocking8 => "8 tasks that thread::sleep 200 ms, spawned by one task: wall time and threads used",
            Workload::TcpEcho => "20 000 TCP round trips of 64 bytes on 127.0.0.1, client and server tasks: µs per round trip",
            Workload::Hyper => "hyper Hello, World!, 4 keep-alive connections, 20 000 requests from plain threads: server CPU µs per request",
        }
    }

    /// What the row's value (and its ratio) measures.
    pub fn metric(self) -> &'static str {
        match self {
            Workload::Sleeping => "CPU seconds",
            Workload::TcpEcho => "µs per round trip",
            Workload::Hyper => "server CPU µs per request",
            _ => "wall seconds",
        }
    }

    fn needs_io(self) -> bool {
        matches!(self, Workload::TcpEcho | Workload::Hyper)
    }

    fn rounds(self, scale: f64) -> usize {
        match self {
            Workload::Sleeping => 1,
            _ if scale >= 0.5 => 3,
            _ => 2,
        }
    }
}

/// How big each workload is at a scale: durations and counts × scale, with floors that keep
/// the figures above timer and scheduling noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sizes {
    /// Tasks in `spawn_many`.
    pub spawn_many: usize,
    /// Games in `ping_pong` (one per worker).
    pub pairs: usize,
    /// Round trips per game.
    pub round_trips: usize,
    /// Tasks in `yield_many`.
    pub yield_tasks: usize,
    /// Yields per task.
    pub yields: usize,
    /// How long each `blocking8` task blocks.
    pub blocking: Duration,
    /// Round trips in `tcp_echo`.
    pub echo_round_trips: usize,
    /// Connections in `hyper`.
    pub hyper_conns: usize,
    /// Requests in `hyper`, all connections together.
    pub hyper_requests: usize,
}

impl Sizes {
    /// The sizes at `scale` (1.0: the figures in [`Workload::summary`]).
    pub fn at(scale: f64) -> Self {
        let n = |full: f64, floor: usize| ((full * scale) as usize).max(floor);
        Self {
            spawn_many: n(10_000.0, 500),
            pairs: steps::workers(),
            round_trips: n(5_000.0, 250),
            yield_tasks: 4 * steps::workers(),
            yields: n(2_000.0, 100),
            blocking: Duration::from_secs_f64(0.2 * scale).max(Duration::from_millis(20)),
            echo_round_trips: n(20_000.0, 1_000),
            hyper_conns: 4,
            hyper_requests: n(20_000.0, 1_000),
        }
    }
}

/// One cell of the table: a workload on a runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// The workload's name.
    pub workload: String,
    /// "step1" … "step8", "spool" or "tokio".
    pub runtime: String,
    /// Wall time of the best round.
    pub wall_seconds: f64,
    /// CPU time of the best round (for `hyper`: the server's).
    pub cpu_seconds: f64,
    /// What `value` measures ([`Workload::metric`]).
    pub metric: String,
    /// The figure compared between rows; NaN when the run failed.
    pub value: f64,
    /// The row above in this workload's group, which `ratio` compares with.
    pub vs: Option<String>,
    /// `value` ÷ the row above's `value`: under 1 is better.
    pub ratio: Option<f64>,
    /// Other figures: `threads_used` (`blocking8`), `cpu_share` (`sleeping`), …
    pub figures: BTreeMap<String, f64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Where its timeline was written, with `--timeline`.
    pub timeline_svg: Option<String>,
}

/// A claim about behaviour, judged on the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The claim, in words.
    pub claim: String,
    /// Whether it held.
    pub holds: bool,
    /// What was measured.
    pub measured: String,
}

/// Everything one `spool lab steps` run measured: what `--json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepsReport {
    /// The scale used.
    pub scale: f64,
    /// Worker threads of steps 3–8, Spool and tokio.
    pub workers: usize,
    /// The workloads' sizes at this scale.
    pub sizes: Sizes,
    /// One row per workload and runtime, grouped by workload.
    pub rows: Vec<StepRow>,
    /// The behaviour claims and whether they held.
    pub claims: Vec<Claim>,
}

/// How to run the group.
#[derive(Debug, Clone, PartialEq)]
pub struct StepsOptions {
    /// Durations and counts × this (0 < scale ≤ 1).
    pub scale: f64,
    /// Write `blocking8`'s timelines here.
    pub timeline_dir: Option<PathBuf>,
    /// The workloads to run; all when empty.
    pub workloads: Vec<Workload>,
}

/// The workloads called `names`; all when empty. Unknown names fail before anything runs.
pub fn parse_workloads<S: AsRef<str>>(names: &[S]) -> Result<Vec<Workload>, LabError> {
    names
        .iter()
        .map(|name| {
            Workload::ALL
                .into_iter()
                .find(|w| w.name() == name.as_ref())
                .ok_or_else(|| LabError::UnknownExperiment {
                    name: format!("{GROUP} {}", name.as_ref()),
                    known: Workload::ALL.map(Workload::name).join(", "),
                })
        })
        .collect()
}

type Runner = fn(&Ctx, Workload, &Sizes) -> Result<Measure, String>;

/// Every runtime, in the table's order: its name, whether it has a reactor, its runner.
const CONTENDERS: [(&str, bool, Runner); 10] = {
    use contenders::{Contender, Spool, Tokio};
    macro_rules! entry {
        ($ty:ty) => {
            (<$ty>::NAME, <$ty>::HAS_IO, workloads::run::<$ty> as Runner)
        };
    }
    [
        entry!(Step1),
        entry!(Step2),
        entry!(Step3),
        entry!(Step4),
        entry!(Step5),
        entry!(Step6),
        entry!(Step7),
        entry!(Step8),
        entry!(Spool),
        entry!(Tokio),
    ]
};

/// Runs the group; `progress` is told each workload as it starts.
pub fn run_steps(
    options: &StepsOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<StepsReport, LabError> {
    crate::validate_scale(options.scale)?;
    let sizes = Sizes::at(options.scale);
    let chosen = if options.workloads.is_empty() {
        Workload::ALL.to_vec()
    } else {
        options.workloads.clone()
    };
    let mut rows = Vec::new();
    for workload in chosen {
        progress(workload.name());
        let runtimes: Vec<_> = CONTENDERS
            .iter()
            .filter(|(_, io, _)| *io || !workload.needs_io())
            .collect();
        let mut best: Vec<Option<Result<Measure, String>>> = vec![None; runtimes.len()];
        for round in 0..workload.rounds(options.scale) {
            let mut order: Vec<usize> = (0..runtimes.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let (name, _, run) = runtimes[i];
                let draw =
                    options.timeline_dir.is_some() && workload == Workload::Blocking8 && round == 0;
                let ctx = Ctx::new(options.scale)?.with_timeline(draw);
                let measured = catch_unwind(AssertUnwindSafe(|| run(&ctx, workload, &sizes)))
                    .unwrap_or_else(|_| Err("the workload panicked".into()));
                best[i] = Some(match (best[i].take(), measured) {
                    (Some(Ok(old)), Ok(new)) if old.value <= new.value => Ok(old),
                    (Some(Err(e)), _) | (_, Err(e)) => Err(e),
                    (_, Ok(new)) => Ok(new),
                });
                if draw {
                    let path = write_timeline(options, name, &ctx)?;
                    rows.push((workload, *name, None, Some(path)));
                }
            }
        }
        let mut above: Option<(&str, f64)> = None;
        for ((name, _, _), measured) in runtimes.iter().zip(best) {
            let measured = measured.unwrap_or_else(|| Err("not run".into()));
            let row = step_row(workload, name, measured, above);
            above = row.value.is_finite().then_some((*name, row.value));
            rows.push((workload, *name, Some(row), None));
        }
    }
    // Attach each timeline to its row.
    let mut svgs: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut out = Vec::new();
    for (workload, name, row, svg) in rows {
        match (row, svg) {
            (_, Some(path)) => {
                svgs.insert((workload.name().to_owned(), name.to_owned()), path);
            }
            (Some(mut row), None) => {
                row.timeline_svg = svgs.remove(&(row.workload.clone(), row.runtime.clone()));
                out.push(row);
            }
            (None, None) => {}
        }
    }
    let claims = claims(&out);
    Ok(StepsReport {
        scale: options.scale,
        workers: steps::workers(),
        sizes,
        rows: out,
        claims,
    })
}

fn step_row(
    workload: Workload,
    name: &str,
    measured: Result<Measure, String>,
    above: Option<(&str, f64)>,
) -> StepRow {
    let (m, error) = match measured {
        Ok(m) => (m, None),
        Err(e) => (
            Measure {
                value: f64::NAN,
                ..Measure::default()
            },
            Some(e),
        ),
    };
    StepRow {
        workload: workload.name().to_owned(),
        runtime: name.to_owned(),
        wall_seconds: m.wall.as_secs_f64(),
        cpu_seconds: m.cpu.as_secs_f64(),
        metric: workload.metric().to_owned(),
        value: m.value,
        vs: above.map(|(n, _)| n.to_owned()),
        ratio: above
            .filter(|(_, v)| *v > 0.0 && m.value.is_finite())
            .map(|(_, v)| m.value / v),
        figures: m.figures,
        error,
        timeline_svg: None,
    }
}

fn write_timeline(options: &StepsOptions, runtime: &str, ctx: &Ctx) -> Result<String, LabError> {
    let dir = options
        .timeline_dir
        .as_ref()
        .expect("only called with a timeline dir");
    let path = dir.join(format!("{GROUP}-blocking8-{runtime}.svg"));
    let fail = |message: String| LabError::Timeline {
        path: path.clone(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let title = format!(
        "blocking8 on {runtime}: 8 tasks that thread::sleep, spawned by one task, {} workers (scale {})",
        steps::workers(),
        options.scale
    );
    let svg = svg::render(&title, &ctx.timeline.spans()).map_err(fail)?;
    std::fs::write(&path, svg).map_err(|e| fail(e.to_string()))?;
    Ok(path.display().to_string())
}

/// The behaviour claims, judged on the rows there are.
fn claims(rows: &[StepRow]) -> Vec<Claim> {
    let find = |workload: Workload, runtime: &str| {
        rows.iter()
            .find(|r| r.workload == workload.name() && r.runtime == runtime && r.error.is_none())
    };
    let figure = |r: &StepRow, name: &str| r.figures.get(name).copied().unwrap_or(f64::NAN);
    let mut claims = Vec::new();
    if let Some(r) = find(Workload::Sleeping, "step1") {
        let share = figure(r, "cpu_share");
        claims.push(Claim {
            claim: format!(
                "step 1 burns about a core while its tasks sleep (≥ {:.0}%)",
                MIN_CPU_SHARE * 100.0
            ),
            holds: share >= MIN_CPU_SHARE,
            measured: format!(
                "{:.2} s CPU in {:.2} s: {:.0}% of a core",
                r.cpu_seconds,
                r.wall_seconds,
                share * 100.0
            ),
        });
    }
    if let Some(r) = find(Workload::Sleeping, "step2") {
        let limit = r.wall_seconds * MAX_IDLE_CPU_SHARE + IDLE_CPU_SLACK.as_secs_f64();
        claims.push(Claim {
            claim: format!(
                "step 2's timer sleeps for next to nothing (≤ {:.0}% of a core + {} ms)",
                MAX_IDLE_CPU_SHARE * 100.0,
                IDLE_CPU_SLACK.as_millis()
            ),
            holds: r.cpu_seconds <= limit,
            measured: format!("{:.4} s CPU in {:.2} s", r.cpu_seconds, r.wall_seconds),
        });
    }
    if let Some(r) = find(Workload::Blocking8, "step4") {
        let used = figure(r, "threads_used");
        claims.push(Claim {
            claim: "step 4 runs 8 blocking tasks spawned by one task on that task's worker only"
                .into(),
            holds: used == 1.0,
            measured: format!("{used} thread(s) ran them, in {:.3} s", r.wall_seconds),
        });
    }
    if let Some(r) = find(Workload::Blocking8, "step5") {
        let used = figure(r, "threads_used");
        claims.push(Claim {
            claim: "step 5's stealing spreads them over the workers (≥ 2 threads)".into(),
            holds: used >= 2.0,
            measured: format!(
                "{used} thread(s) of {} ran them, in {:.3} s",
                steps::workers(),
                r.wall_seconds
            ),
        });
    }
    claims
}

impl StepsReport {
    /// The report as pretty-printed JSON (NaN, for a failed run, becomes `null`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as a table: workload | runtime | wall | CPU | value | vs the row above | note.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "spool lab steps — scale {}, {} workers (steps 3–8, Spool, tokio); best of {} rounds, runtimes alternated\n",
            self.scale,
            self.workers,
            Workload::SpawnMany.rounds(self.scale)
        );
        let header = [
            "workload",
            "runtime",
            "wall",
            "CPU",
            "value",
            "vs row above",
            "note",
        ];
        let mut cells: Vec<[String; 7]> = vec![header.map(str::to_owned)];
        let mut last = String::new();
        for r in &self.rows {
            let workload = if r.workload == last {
                String::new()
            } else {
                r.workload.clone()
            };
            last.clone_from(&r.workload);
            let note = match (&r.error, r.figures.get("threads_used")) {
                (Some(e), _) => format!("failed: {e}"),
                (None, Some(t)) => format!("{t} thread(s) ran the 8 tasks"),
                (None, None) => String::new(),
            };
            cells.push([
                workload,
                r.runtime.clone(),
                human(r.wall_seconds),
                human(r.cpu_seconds),
                value(r),
                match (r.ratio, &r.vs) {
                    (Some(x), Some(vs)) => format!("×{} vs {vs}", ratio(x)),
                    _ => "—".to_owned(),
                },
                note,
            ]);
        }
        let widths: Vec<usize> = (0..7)
            .map(|c| {
                cells
                    .iter()
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (i, row) in cells.iter().enumerate() {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
            if i == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                out.push_str(&rule.join("  "));
                out.push('\n');
            }
        }
        out.push_str("value: sleeping = CPU burned; tcp_echo = µs per round trip; hyper = server CPU µs per request; else wall time. Under ×1 is better.\n\nclaims:\n");
        for c in &self.claims {
            out.push_str(&format!(
                "  {:<3}  {}: {}\n",
                if c.holds { "yes" } else { "no" },
                c.claim,
                c.measured
            ));
        }
        out
    }
}

/// A time for people: µs, ms or s.
fn human(secs: f64) -> String {
    if !secs.is_finite() {
        "—".to_owned()
    } else if secs < 1e-3 {
        format!("{:.0} µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

fn value(r: &StepRow) -> String {
    if !r.value.is_finite() {
        return "—".to_owned();
    }
    match r.metric.as_str() {
        "CPU seconds" => format!("{} CPU", human(r.value)),
        "µs per round trip" => format!("{:.1} µs/rt", r.value),
        "server CPU µs per request" => format!("{:.1} µs CPU/req", r.value),
        _ => human(r.value),
    }
}

fn ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}")
    } else if x >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_parse_by_name() {
        assert_eq!(
            parse_workloads(&["ping_pong"]).unwrap(),
            [Workload::PingPong]
        );
        assert!(parse_workloads::<&str>(&[]).unwrap().is_empty());
        let err = parse_workloads(&["nope"]).unwrap_err().to_string();
        assert!(
            err.contains("steps nope") && err.contains("spawn_many"),
            "{err}"
        );
    }

    #[test]
    fn ratios_compare_with_the_row_above() {
        let m = |v: f64| {
            Ok(Measure {
                value: v,
                ..Measure::default()
            })
        };
        let first = step_row(Workload::SpawnMany, "step1", m(2.0), None);
        assert_eq!(first.ratio, None);
        let second = step_row(Workload::SpawnMany, "step2", m(1.0), Some(("step1", 2.0)));
        assert_eq!(
            (second.ratio, second.vs.as_deref()),
            (Some(0.5), Some("step1"))
        );
        let failed = step_row(
            Workload::SpawnMany,
            "step3",
            Err("x".into()),
            Some(("step2", 1.0)),
        );
        assert_eq!(failed.ratio, None);
    }
}
