//! An axum application served on Spool, with no tokio runtime in the process: what a web
//! engineer's first service looks like on this runtime.
//!
//! The [`app`] is plain axum — a path parameter, JSON in and out, shared state, a 404
//! fallback, and tower middleware ([`tower::limit::ConcurrencyLimitLayer`], which needs no
//! timer, and a request deadline on Spool's own timer, [`spool::time::timeout`]). [`serve`] is
//! the dozen lines that replace `axum::serve` (which is tied to tokio's listener): an accept
//! loop on [`spool::net::TcpListener`], hyper-util's auto builder (HTTP/1.1 and HTTP/2 on one
//! port) with Spool's executor and timer, and hyper-util's tower adapter.
//!
//! ```no_run
//! let rt = spool::Runtime::new()?;
//! rt.block_on(async {
//!     let listener = spool::net::TcpListener::bind("127.0.0.1:3000")?;
//!     axum_on_spool::serve(listener, axum_on_spool::app()).await
//! })?;
//! # std::io::Result::Ok(())
//! ```

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use spool::hyper::{SpoolExecutor, SpoolTimer};
use spool::net::TcpListener;

/// How long a handler may run before it is answered `503` (on Spool's timer).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// Requests served at once; more wait for a slot (tower's `ConcurrencyLimit`).
pub const MAX_IN_FLIGHT: usize = 256;

/// A note, as the API sends and receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Its number, given by the server.
    pub id: u64,
    /// What it says.
    pub text: String,
}

/// What a client sends to create a note.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewNote {
    /// What it says.
    pub text: String,
}

/// The state every handler shares: the notes, behind a mutex (held only to copy in or out).
#[derive(Debug, Clone, Default)]
pub struct Notes {
    inner: Arc<Mutex<BTreeMap<u64, Note>>>,
}

impl Notes {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Note>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The application: `POST /notes` (JSON `{"text": …}` → `201` and the note),
/// `GET /notes/{id}` (the note, or `404`), `GET /notes` (all), anything else a JSON `404`.
pub fn app() -> Router {
    Router::new()
        .route("/notes", get(list).post(create))
        .route("/notes/{id}", get(fetch))
        .fallback(not_found)
        .with_state(Notes::default())
        .layer(middleware::from_fn(deadline))
        .layer(tower::limit::ConcurrencyLimitLayer::new(MAX_IN_FLIGHT))
}

async fn list(State(notes): State<Notes>) -> Json<Vec<Note>> {
    Json(notes.lock().values().cloned().collect())
}

async fn create(State(notes): State<Notes>, Json(new): Json<NewNote>) -> impl IntoResponse {
    let mut map = notes.lock();
    let id = map.keys().next_back().map_or(1, |last| last + 1);
    let note = Note { id, text: new.text };
    map.insert(id, note.clone());
    (StatusCode::CREATED, Json(note))
}

async fn fetch(State(notes): State<Notes>, Path(id): Path<u64>) -> Response {
    match notes.lock().get(&id) {
        Some(note) => Json(note.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no note {id}")),
    }
}

async fn not_found(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// A request deadline on Spool's timer: tower-http's `TimeoutLayer` would need tokio's.
async fn deadline(request: Request, next: Next) -> Response {
    match spool::time::timeout(REQUEST_DEADLINE, next.run(request)).await {
        Ok(response) => response,
        Err(_elapsed) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no response within {REQUEST_DEADLINE:?}"),
        ),
    }
}

/// Serves `router` on `listener` until accepting fails for good: each connection in a task of
/// its own, HTTP/1.1 or HTTP/2 (told apart by the first bytes), on Spool's executor and timer.
///
/// # Errors
///
/// Never for one connection's failure (it is logged and the loop goes on); an error from
/// `accept` that is not about one connection (out of descriptors: it waits and retries).
pub async fn serve(listener: TcpListener, router: Router) -> io::Result<()> {
    let mut builder = auto::Builder::new(SpoolExecutor::new());
    builder
        .http1()
        .timer(SpoolTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    builder.http2().timer(SpoolTimer::new());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and friends: wait for descriptors to free up rather than spin.
                tracing::warn!(%err, "accept failed");
                spool::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        spool::spawn(async move {
            if let Err(err) = builder.serve_connection(stream, service).await {
                tracing::debug!(%peer, %err, "connection error");
            }
        })
        .detach();
    }
}
