//! `/panic`, only with the hidden `--debug-panic-route` flag: a handler that panics, to show
//! (and test) that the service's panic guard answers 500 and the server goes on.

use http::Response;

use super::ResponseBody;

/// Panics.
pub(super) fn answer() -> Response<ResponseBody> {
    panic!("/panic was asked for (--debug-panic-route)")
}
