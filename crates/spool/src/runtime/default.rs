//! The default runtime, started on first use: the chapter's `Lazy` queue, grown up.
//!
//! The chapter kept its queue in a `static QUEUE: Lazy<flume::Sender<Runnable>>` whose
//! initialiser started the worker thread on the first `spawn_task`. Spool does the same with a
//! whole runtime: the first [`spool::spawn`](crate::spawn) (or timer, or `spawn_blocking`) made
//! outside any runtime starts one with one worker per core, and it lives until the process exits
//! (a `static` is never dropped, so its threads are never joined; the OS reclaims them).

use std::sync::OnceLock;

use super::{Handle, Runtime};

static DEFAULT: OnceLock<Runtime> = OnceLock::new();

/// The default runtime's handle, starting it if needed.
///
/// # Panics
///
/// If the runtime cannot be started (the OS refuses a thread or an epoll instance): there is no
/// caller to return the error to, and nothing can run without it.
pub(crate) fn handle() -> &'static Handle {
    DEFAULT
        .get_or_init(|| {
            Runtime::builder()
                .thread_name("spool-default")
                .build()
                .unwrap_or_else(|err| panic!("spool: cannot start the default runtime: {err}"))
        })
        .handle()
}
