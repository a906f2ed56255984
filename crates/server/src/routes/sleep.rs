//! `/sleep?ms=N`: waits on the hosting runtime's timer, so the worker is free for others
//! meanwhile.

use http::{Response, StatusCode};

use super::{bad_request, parse_ms, text, ResponseBody, Routes};

/// `slept N ms`, N ms after the request.
pub(super) async fn answer(routes: &Routes, query: Option<&str>) -> Response<ResponseBody> {
    let duration = match parse_ms(query) {
        Ok(duration) => duration,
        Err(reason) => return bad_request(&reason),
    };
    routes.runtime().sleep(duration).await;
    text(
        StatusCode::OK,
        format!("slept {} ms\n", duration.as_millis()),
    )
}
