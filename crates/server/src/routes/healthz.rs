//! `/healthz`: `ok`, for load balancers and scripts that wait for the server.

use http::{Response, StatusCode};

use super::{text, ResponseBody};

/// `200 ok`.
pub(super) fn answer() -> Response<ResponseBody> {
    text(StatusCode::OK, "ok")
}
