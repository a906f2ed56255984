//! `spool lab --serve ADDR`: the chapter's experiments as a page.
//!
//! The page lists every experiment with the book's claim; a button runs one at a chosen scale
//! and the page follows the run: its timeline is drawn from the real spans as they are recorded
//! (the same spans `--timeline` turns into SVGs), then the measured row appears beside the
//! book's figure, with the experiment's source code next to the picture. A `race` row (the
//! timings agree but the order the book printed is one side of a race) gets its note drawn on
//! the picture, where the two racing bars are.
//!
//! Endpoints: `GET /` (the page, the experiment list and the current run inlined), `POST /run?name=N&scale=F`
//! (starts a run; `409` while one is running — they measure wall and CPU time, and two at once
//! would disturb each other), `GET /status` (the current or last run: spans so far, and the row
//! once it is done).
//!
//! The server runs on a small Spool runtime of its own; each experiment runs on a plain thread
//! (its "main"), exactly as `spool lab NAME` runs it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use http::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::{not_found, respond, Body};

/// The page, as served (the experiment list is inlined where it says `/*EXPERIMENTS*/null`, the
/// current run's status where it says `/*STATUS*/null`).
pub const PAGE: &str = include_str!("lab.html");

/// The experiments' source files, to show an experiment's code beside its picture.
const SOURCES: &[(&str, &str)] = &[
    (
        "crates/lab/src/experiments/threads.rs",
        include_str!("../../lab/src/experiments/threads.rs"),
    ),
    (
        "crates/lab/src/experiments/tokio_demo.rs",
        include_str!("../../lab/src/experiments/tokio_demo.rs"),
    ),
    (
        "crates/lab/src/experiments/queue.rs",
        include_str!("../../lab/src/experiments/queue.rs"),
    ),
    (
        "crates/lab/src/experiments/spool_demo.rs",
        include_str!("../../lab/src/experiments/spool_demo.rs"),
    ),
    (
        "crates/lab/src/experiments/http.rs",
        include_str!("../../lab/src/experiments/http.rs"),
    ),
];

/// The source of the function that runs `experiment` (its doc comment included), with its
/// file and first line; `None` if it cannot be found.
///
/// ```
/// let work_stealing = lab::find("work-stealing").unwrap();
/// let (file, line, code) = inspect::lab::source_of(work_stealing).unwrap();
/// assert!(file.ends_with("spool_demo.rs") && line > 0);
/// assert!(code.contains("fn work_stealing("));
/// ```
pub fn source_of(experiment: &lab::Experiment) -> Option<(&'static str, usize, String)> {
    let function = experiment.name.replace('-', "_");
    let (file, line, mut code) = function_source(&function)?;
    // A thin wrapper around `measure_NAME` (the pattern of several experiments): show both.
    let helper = format!("measure_{function}");
    if code.contains(&format!("{helper}(")) {
        if let Some((_, _, more)) = function_source(&helper) {
            code.push('\n');
            code.push_str(&more);
        }
    }
    Some((file, line, code))
}

fn function_source(function: &str) -> Option<(&'static str, usize, String)> {
    for (file, text) in SOURCES {
        let Some(at) = text.find(&format!("fn {function}(")) else {
            continue;
        };
        // Back to the start of its doc comment and attributes.
        let mut start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        while start > 0 {
            let prev = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
            let line = text[prev..start - 1].trim_start();
            if line.starts_with("///") || line.starts_with("#[") {
                start = prev;
            } else {
                break;
            }
        }
        let end = text[at..].find("\n}\n").map_or(text.len(), |i| at + i + 2);
        let line = text[..start].matches('\n').count() + 1;
        return Some((file, line, text[start..end].to_owned()));
    }
    None
}

#[derive(Default)]
struct Runs {
    current: Option<Run>,
}

struct Run {
    name: &'static str,
    scale: f64,
    started: Instant,
    timeline: lab::Timeline,
    row: Option<lab::Row>,
}

type Shared = Arc<Mutex<Runs>>;

fn lock(runs: &Shared) -> std::sync::MutexGuard<'_, Runs> {
    runs.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves the lab page on `addr` until the process is stopped; calls `listening` with the bound
/// address first.
///
/// # Errors
///
/// When the runtime cannot start or `addr` cannot be bound.
pub fn serve(addr: SocketAddr, listening: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let runtime = spool::Runtime::builder()
        .worker_threads(2)
        .thread_name("lab-web")
        .build()?;
    let runs: Shared = Arc::default();
    let local = crate::serve(runtime.handle(), addr, move |request| {
        let runs = runs.clone();
        async move { route(&runs, request) }
    })?;
    listening(local);
    runtime.block_on(std::future::pending::<()>());
    Ok(())
}

fn route(runs: &Shared, request: http::Request<hyper::body::Incoming>) -> Response<Body> {
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => {
            // Inlined, so that the page is complete at load (and a headless browser sees it).
            let list = experiments().to_string().replace("</", "<\\/");
            let now = status(runs).to_string().replace("</", "<\\/");
            let page =
                PAGE.replacen("/*EXPERIMENTS*/null", &list, 1)
                    .replacen("/*STATUS*/null", &now, 1);
            respond(StatusCode::OK, "text/html; charset=utf-8", page)
        }
        (&Method::GET, "/experiments.json") => respond(
            StatusCode::OK,
            "application/json",
            experiments().to_string(),
        ),
        (&Method::GET, "/status") => {
            respond(StatusCode::OK, "application/json", status(runs).to_string())
        }
        (&Method::POST, "/run") => start(runs, &query),
        _ => not_found(),
    }
}

fn experiments() -> Value {
    Value::Array(
        lab::EXPERIMENTS
            .iter()
            .map(|e| {
                let source = source_of(e);
                json!({
                    "name": e.name,
                    "summary": e.summary,
                    "book": e.book,
                    "source_file": source.as_ref().map(|s| s.0),
                    "source_line": source.as_ref().map(|s| s.1),
                    "source": source.map(|s| s.2),
                })
            })
            .collect(),
    )
}

fn bad_request(message: String) -> Response<Body> {
    respond(
        StatusCode::BAD_REQUEST,
        "application/json",
        json!({ "error": message }).to_string(),
    )
}

fn start(runs: &Shared, query: &HashMap<String, String>) -> Response<Body> {
    let name = query.get("name").map(String::as_str).unwrap_or("");
    let Some(experiment) = lab::find(name) else {
        return bad_request(format!("no experiment called {name:?}"));
    };
    let scale = match query.get("scale").map(|s| s.parse::<f64>()) {
        None => 0.1,
        Some(Ok(scale)) => scale,
        Some(Err(_)) => return bad_request("scale must be a number in (0, 1]".to_owned()),
    };
    let ctx = match lab::Ctx::new(scale) {
        Ok(ctx) => ctx,
        Err(error) => return bad_request(error.to_string()),
    };
    let mut guard = lock(runs);
    if guard.current.as_ref().is_some_and(|run| run.row.is_none()) {
        return respond(
            StatusCode::CONFLICT,
            "application/json",
            json!({ "error": "an experiment is running; one at a time (they measure time)" })
                .to_string(),
        );
    }
    let timeline = lab::Timeline::recording();
    guard.current = Some(Run {
        name: experiment.name,
        scale,
        started: Instant::now(),
        timeline: timeline.clone(),
        row: None,
    });
    drop(guard);
    let finished = runs.clone();
    let spawned = std::thread::Builder::new()
        .name("lab-main".to_owned())
        .spawn(move || {
            // The experiment's "main" is this thread: a fresh context made here.
            let mut ctx = lab::Ctx::new(ctx.scale).expect("scale checked above");
            ctx.timeline = timeline;
            let mut row = catch_unwind(AssertUnwindSafe(|| (experiment.run)(&ctx)))
                .unwrap_or_else(|_| lab::Row::failed("the experiment panicked"));
            row.name = experiment.name.to_owned();
            row.book_figure = experiment.book.to_owned();
            if let Some(run) = lock(&finished).current.as_mut() {
                run.row = Some(row);
            }
        });
    if let Err(error) = spawned {
        lock(runs).current = None;
        return respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            json!({ "error": format!("cannot start the experiment's thread: {error}") })
                .to_string(),
        );
    }
    respond(
        StatusCode::ACCEPTED,
        "application/json",
        json!({ "started": experiment.name, "scale": scale }).to_string(),
    )
}

fn status(runs: &Shared) -> Value {
    let guard = lock(runs);
    let Some(run) = guard.current.as_ref() else {
        return json!({ "running": null, "done": null });
    };
    let spans: Vec<Value> = run
        .timeline
        .spans()
        .iter()
        .map(|s| {
            json!([
                s.thread,
                s.task,
                s.start.as_secs_f64() * 1e3,
                s.end.as_secs_f64() * 1e3
            ])
        })
        .collect();
    json!({
        "name": run.name,
        "scale": run.scale,
        "elapsed_ms": run.started.elapsed().as_secs_f64() * 1e3,
        "running": run.row.is_none(),
        "spans": spans,
        "row": run.row,
    })
}
