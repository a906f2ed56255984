//! The live inspector: a page that shows a Spool runtime's workers working.
//!
//! # What it serves
//!
//! - `GET /`: [`PAGE`], one self-contained HTML file (CSS and JS inline, no network). The
//!   current snapshot is inlined into it, so the page is complete at load; it then follows
//!   `/events` and refreshes `/snapshot.json` every second.
//! - `GET /snapshot.json`: [`snapshot`] — `workers` (one entry per worker), `tasks` (one entry
//!   per live task, its spawn site as `file:line:col`), the runtime's counters, the detector's
//!   recent hits and the warnings. Schema: `docs/inspector.md`.
//! - `GET /events`: server-sent events, one `tick` every [`TICK`]: the poll spans and worker
//!   marks (steals, injector pulls, parks) since the last tick, and the counters.
//!
//! # Costs, and bounds
//!
//! 1. Span recording is off while nobody watches: the sampler turns it on when the first viewer
//!    subscribes to `/events` and off when the last one leaves (the runtime then pays one relaxed
//!    load per poll for it). Per-task statistics are the runtime's own (`spool::stats`).
//! 2. One sampler task takes the spans every [`TICK`] (so the runtime's per-worker rings never
//!    fill while someone watches) and sends each tick to every viewer's channel of
//!    [`VIEWER_QUEUE`] ticks with `try_send`. A viewer that does not read fills its channel, and
//!    further ticks for it are dropped and counted (`events.dropped` in the snapshot): a slow
//!    viewer costs at most `VIEWER_QUEUE` ticks of memory, each at most [`MAX_SPANS_PER_TICK`]
//!    spans (the rest are counted as dropped too).
//! 3. The inspector's own tasks (accept loop, connections, sampler) run on the runtime it
//!    watches, and appear in the task table under this file's spawn sites.
//!
//! # Warnings
//!
//! - **blocking**: a poll held its worker past the detector's threshold (from the detector's
//!   recent hits: spawn site, worker, duration).
//! - **self-waking**: a task that woke itself on most of its polls (at least
//!   [`SELF_WAKE_MIN_POLLS`] polls, more than half of them after a self-wake) — a busy-polling
//!   future such as the chapter's `AsyncSleep`, which burns a worker to wait.
//!
//! A task never woken for a long time is *not* flagged: waiting is what idle tasks do, and
//! whether it holds something another task needs is not knowable from here.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::StreamExt;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use serde_json::{json, Value};

use crate::{not_found, respond, Body};

/// The page, as served (the snapshot is inlined where it says `/*SNAPSHOT*/null`).
pub const PAGE: &str = include_str!("page.html");

/// Between two ticks of the event stream.
pub const TICK: Duration = Duration::from_millis(100);
/// Ticks queued per viewer before further ones are dropped for it.
pub const VIEWER_QUEUE: usize = 16;
/// Spans sent per tick at most (the rest are counted as dropped).
pub const MAX_SPANS_PER_TICK: usize = 20_000;
/// Polls a task needs before the self-waking warning may name it.
pub const SELF_WAKE_MIN_POLLS: u64 = 20;

/// A running inspector (it stops with its runtime).
#[derive(Debug)]
pub struct Inspector {
    addr: SocketAddr,
}

impl Inspector {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

struct State {
    handle: spool::Handle,
    origin: Instant,
    viewers: Mutex<Vec<flume::Sender<Bytes>>>,
    dropped: AtomicU64,
    spans_cut: AtomicU64,
}

/// Starts the inspector of `handle`'s runtime on `addr`, served by that runtime.
///
/// # Errors
///
/// When `addr` cannot be bound.
pub fn start(handle: &spool::Handle, addr: SocketAddr) -> std::io::Result<Inspector> {
    let state = Arc::new(State {
        handle: handle.clone(),
        origin: Instant::now(),
        viewers: Mutex::new(Vec::new()),
        dropped: AtomicU64::new(0),
        spans_cut: AtomicU64::new(0),
    });
    let routes = state.clone();
    let addr = crate::serve(handle, addr, move |request| {
        let state = routes.clone();
        async move { route(&state, request) }
    })?;
    handle.spawn(sampler(state)).detach();
    Ok(Inspector { addr })
}

fn route(state: &Arc<State>, request: http::Request<hyper::body::Incoming>) -> Response<Body> {
    if request.method() != Method::GET {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET only\n",
        );
    }
    match request.uri().path() {
        "/" => {
            let snapshot = snapshot_of(state).to_string().replace("</", "<\\/");
            let page = PAGE.replacen("/*SNAPSHOT*/null", &snapshot, 1);
            respond(StatusCode::OK, "text/html; charset=utf-8", page)
        }
        "/snapshot.json" => respond(
            StatusCode::OK,
            "application/json",
            format!("{:#}\n", snapshot_of(state)),
        ),
        "/events" => events(state),
        _ => not_found(),
    }
}

/// A new viewer: its bounded channel joins the sampler's list.
fn events(state: &Arc<State>) -> Response<Body> {
    let (tx, rx) = flume::bounded::<Bytes>(VIEWER_QUEUE);
    // A first comment line, so the browser sees the stream open at once.
    let _ = tx.try_send(Bytes::from_static(b": spool inspector\n\n"));
    lock(&state.viewers).push(tx);
    let body = StreamBody::new(
        rx.into_stream()
            .map(|chunk| Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(chunk))),
    );
    let mut response = Response::new(BodyExt::boxed(body));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The sampler: every tick, spans and counters to every viewer (module docs, 1 and 2).
async fn sampler(state: Arc<State>) {
    let mut recording = false;
    loop {
        spool::time::sleep(TICK).await;
        let watching = !lock(&state.viewers).is_empty();
        if watching != recording {
            state.handle.set_record_spans(watching);
            recording = watching;
            if !watching {
                // Nobody to send them to.
                let _ = state.handle.take_spans();
                let _ = state.handle.take_marks();
            }
        }
        if !watching {
            continue;
        }
        let chunk = Bytes::from(format!("event: tick\ndata: {}\n\n", tick(&state)));
        let mut viewers = lock(&state.viewers);
        viewers.retain(|viewer| match viewer.try_send(chunk.clone()) {
            Ok(()) => true,
            Err(flume::TrySendError::Full(_)) => {
                state.dropped.fetch_add(1, Relaxed);
                true
            }
            Err(flume::TrySendError::Disconnected(_)) => false,
        });
    }
}

fn micros(state: &State, at: Instant) -> u64 {
    at.saturating_duration_since(state.origin).as_micros() as u64
}

fn site(location: &std::panic::Location<'_>) -> String {
    format!(
        "{}:{}:{}",
        location.file(),
        location.line(),
        location.column()
    )
}

/// One tick of `/events`: spans, marks and counters.
fn tick(state: &State) -> Value {
    let handle = &state.handle;
    let mut spans = handle.take_spans();
    if spans.len() > MAX_SPANS_PER_TICK {
        let cut = spans.len() - MAX_SPANS_PER_TICK;
        state.spans_cut.fetch_add(cut as u64, Relaxed);
        spans.drain(..cut);
    }
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            json!([
                s.worker,
                micros(state, s.start),
                micros(state, s.end),
                s.task_id.as_u64(),
                site(s.location)
            ])
        })
        .collect();
    let marks: Vec<Value> = handle
        .take_marks()
        .iter()
        .map(|m| match m.kind {
            spool::MarkKind::Steal { victim } => {
                json!([m.worker, "steal", micros(state, m.at), victim])
            }
            spool::MarkKind::InjectorPull => json!([m.worker, "pull", micros(state, m.at)]),
            spool::MarkKind::Park { until } => {
                json!([m.worker, "park", micros(state, m.at), micros(state, until)])
            }
            _ => json!([m.worker, "other", micros(state, m.at)]),
        })
        .collect();
    let mut counters = counters(state);
    counters["spans"] = Value::Array(spans);
    counters["marks"] = Value::Array(marks);
    counters
}

/// The runtime's counters: the top of both the snapshot and each tick.
fn counters(state: &State) -> Value {
    let m = state.handle.metrics();
    json!({
        "runtime": "spool",
        "t_us": micros(state, Instant::now()),
        "workers": m.workers.iter().enumerate().map(|(index, w)| json!({
            "index": index,
            "polls": w.polls,
            "steals": w.steals,
            "parks": w.parks,
            "local_queue_depth": w.local_queue_depth,
        })).collect::<Vec<_>>(),
        "injection_queue_depth": m.injection_queue_depth,
        "tasks_spawned": m.tasks_spawned,
        "tasks_alive": m.tasks_alive,
        "workers_searching": m.workers_searching,
        "blocking_threads": m.blocking_threads,
        "blocking_busy": m.blocking_busy,
        "blocking_queue_depth": m.blocking_queue_depth,
        "timers": m.timers,
        "io_sources": m.io_sources,
        "detector_hits_total": m.detector_hits,
        "events": {
            "viewers": lock(&state.viewers).len(),
            "dropped": state.dropped.load(Relaxed),
            "spans_cut": state.spans_cut.load(Relaxed),
            "spans_dropped": state.handle.spans_dropped(),
        },
    })
}

fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// `/snapshot.json` of `handle`'s runtime (as the inspector serves it, without its event-stream
/// counters). Schema: `docs/inspector.md`.
///
/// ```
/// let rt = spool::Runtime::builder().worker_threads(2).build()?;
/// let task = rt.spawn(std::future::pending::<()>());
/// let snapshot = inspect::inspector::snapshot(rt.handle());
/// assert_eq!(snapshot["workers"].as_array().unwrap().len(), 2);
/// let site = format!("{}:{}:", file!(), line!() - 3);
/// assert!(snapshot["tasks"][0]["spawned_at"].as_str().unwrap().starts_with(&site));
/// # drop(task);
/// # std::io::Result::Ok(())
/// ```
pub fn snapshot(handle: &spool::Handle) -> Value {
    let state = State {
        handle: handle.clone(),
        origin: Instant::now(),
        viewers: Mutex::new(Vec::new()),
        dropped: AtomicU64::new(0),
        spans_cut: AtomicU64::new(0),
    };
    snapshot_of(&state)
}

fn snapshot_of(state: &State) -> Value {
    let handle = &state.handle;
    let mut out = counters(state);
    let threshold = handle.detector_threshold();
    out["detector_threshold_ms"] = json!(threshold.map(|t| t.as_secs_f64() * 1e3));
    let mut warnings = Vec::new();
    let hits: Vec<Value> = handle
        .detector_hits()
        .iter()
        .map(|hit| {
            let site = site(hit.location);
            warnings.push(json!({
                "kind": "blocking",
                "task_id": hit.task_id.as_u64(),
                "spawned_at": site,
                "worker": hit.worker,
                "message": format!(
                    "a poll of the task spawned at {site} held worker {} for {:.1} ms \
                     (threshold {:.0} ms): move blocking or CPU-heavy work to spawn_blocking",
                    hit.worker,
                    hit.duration.as_secs_f64() * 1e3,
                    threshold.unwrap_or_default().as_secs_f64() * 1e3,
                ),
            }));
            json!({
                "task_id": hit.task_id.as_u64(),
                "spawned_at": site,
                "worker": hit.worker,
                "duration_ms": hit.duration.as_secs_f64() * 1e3,
            })
        })
        .collect();
    let tasks: Vec<Value> = handle
        .tasks()
        .iter()
        .map(|t| {
            let site = site(t.location);
            if t.polls >= SELF_WAKE_MIN_POLLS && t.self_wakes * 2 > t.polls {
                warnings.push(json!({
                    "kind": "self_waking",
                    "task_id": t.id.as_u64(),
                    "spawned_at": site,
                    "message": format!(
                        "the task spawned at {site} woke itself on {} of its {} polls: \
                         it busy-waits (wake a timer or a channel instead of itself)",
                        t.self_wakes, t.polls
                    ),
                }));
            }
            json!({
                "id": t.id.as_u64(),
                "spawned_at": site,
                "state": t.state.as_str(),
                "polls": t.polls,
                "wakes": t.wakes,
                "self_wakes": t.self_wakes,
                "busy_us": us(t.busy),
                "age_us": t.age.map(us),
                "since_last_poll_us": t.since_last_poll.map(us),
                "last_worker": t.last_worker,
                "latency_p50_us": t.latency_quantile(0.5).map(latency_us),
                "latency_p99_us": t.latency_quantile(0.99).map(latency_us),
                "latency_histogram": t.latency_histogram.to_vec(),
            })
        })
        .collect();
    out["latency_bucket_upper_us"] = json!((0..spool::stats::LATENCY_BUCKETS)
        .map(|i| latency_us(spool::stats::bucket_upper_bound(i)))
        .collect::<Vec<_>>());
    out["tasks"] = Value::Array(tasks);
    out["detector_hits"] = Value::Array(hits);
    out["warnings"] = Value::Array(warnings);
    out
}

/// A latency bound in µs (fractional: the first buckets are below 1 µs); the open last bucket
/// is `null`.
fn latency_us(d: Duration) -> Option<f64> {
    (d != Duration::MAX).then_some(d.as_secs_f64() * 1e6)
}
