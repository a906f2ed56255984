//! The chapter's handler: `Hello, World!`, for any method and any path that is not another
//! route.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;

use super::echo::read_body;
use super::{text_in, BoxError, ResponseBody, Routes};

/// `Hello, World!`.
pub(super) async fn answer<B>(routes: &Routes, req: Request<B>) -> Response<ResponseBody>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    // The chapter also printed the body. Reading it costs time and memory, so only do it
    // when someone asked to see it.
    if !answers_now() {
        if let Ok(body) = read_body(req.into_body(), routes.max_body).await {
            tracing::debug!(body = %String::from_utf8_lossy(&body), "request body");
        }
    }
    now(http::HeaderMap::new())
}

/// Whether the answer needs no waiting: the body is not logged, so not read.
pub(super) fn answers_now() -> bool {
    !tracing::enabled!(tracing::Level::DEBUG)
}

/// `Hello, World!`, without reading the request; its headers go in `headers`, emptied first
/// (the request's map: [`text_in`]).
pub(super) fn now(headers: http::HeaderMap) -> Response<ResponseBody> {
    text_in(headers, StatusCode::OK, "Hello, World!")
}
