//! `/work?ms=N&mode=inline|blocking`: burns CPU, on the async worker itself (`inline`, the
//! default) or on the blocking pool.

use std::time::{Duration, Instant};

use http::{Response, StatusCode};

use super::{bad_request, parse_ms, query_param, text, truncate, ResponseBody, Routes};

/// `worked N ms (mode)`, once the work is done.
pub(super) async fn answer(routes: &Routes, query: Option<&str>) -> Response<ResponseBody> {
    let duration = match parse_ms(query) {
        Ok(duration) => duration,
        Err(reason) => return bad_request(&reason),
    };
    let mode = query_param(query, "mode").unwrap_or("inline");
    match mode {
        // The chapter's warning: this holds the async worker, and every task queued on it
        // waits, for the whole duration.
        "inline" => burn_cpu(duration),
        "blocking" => {
            let job = Box::new(move || burn_cpu(duration));
            if routes.runtime().spawn_blocking(job).await.is_err() {
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the blocking job did not finish\n",
                );
            }
        }
        other => {
            let reason = format!(
                "mode must be `inline` or `blocking`, got `{}`",
                truncate(other)
            );
            return bad_request(&reason);
        }
    }
    text(
        StatusCode::OK,
        format!("worked {} ms ({mode})\n", duration.as_millis()),
    )
}

/// Keeps the current thread busy for `duration`: a stand-in for CPU-heavy work.
fn burn_cpu(duration: Duration) {
    let end = Instant::now() + duration;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}
