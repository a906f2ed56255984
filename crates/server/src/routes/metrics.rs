//! `/metrics`: the server's counters, then the hosting runtime's, in Prometheus' text format.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::{text, ResponseBody, Routes};

/// The page, as Prometheus' text exposition format 0.0.4.
pub(super) fn answer(routes: &Routes) -> Response<ResponseBody> {
    let page = routes.metrics().render(&routes.runtime().metrics_text());
    let mut response = text(StatusCode::OK, page);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
