//! `GET` or `POST /echo`: the request reflected back as JSON, so a client can see what the
//! server saw.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};

use super::{content_length, text, BoxError, ResponseBody, Routes};
use crate::conn::ConnInfo;

/// What `/echo` answers, in this field order (a struct rather than `json!`, which sorts keys).
#[derive(serde::Serialize)]
struct Echo<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    version: String,
    /// Whether the request came over TLS.
    tls: bool,
    /// The protocol agreed by ALPN (`h2`, `http/1.1`), `None` without TLS or without ALPN.
    alpn: Option<&'static str>,
    /// `[name, value]` pairs in the order received; a repeated header appears once per value.
    headers: Vec<[String; 2]>,
    body: String,
    body_base64: bool,
}

/// The request as JSON; `405` for another method, `413` for a body over `--max-body`.
pub(super) async fn answer<B>(
    routes: &Routes,
    req: Request<B>,
    info: ConnInfo,
) -> Response<ResponseBody>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if !matches!(*req.method(), Method::GET | Method::POST) {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "/echo answers GET and POST only\n",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }
    // Refuse a declared-too-large body before reading a byte of it.
    if content_length(req.headers()).is_some_and(|len| len > routes.max_body as u64) {
        return routes.too_large();
    }
    let (parts, body) = req.into_parts();
    let body = match read_body(body, routes.max_body).await {
        Ok(body) => body,
        Err(ReadBodyError::TooLarge) => return routes.too_large(),
        Err(ReadBodyError::Io(error)) => {
            let reason = format!("could not read the request body: {error}\n");
            return text(StatusCode::BAD_REQUEST, reason);
        }
    };
    tracing::debug!(body = %String::from_utf8_lossy(&body), "request body");

    let headers: Vec<[String; 2]> = parts
        .headers
        .iter()
        .map(|(name, value)| {
            // Header values may be any bytes; JSON strings may not. Lossy is enough to show them.
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            [name.as_str().to_owned(), value]
        })
        .collect();
    let (body, body_base64) = match std::str::from_utf8(&body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&body),
            true,
        ),
    };
    let echo = Echo {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        version: format!("{:?}", parts.version),
        tls: info.tls,
        alpn: info.alpn,
        headers,
        body,
        body_base64,
    };
    let json = serde_json::to_string(&echo).expect("strings and bools always serialize");
    let mut response = Response::new(Full::new(Bytes::from(json)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Why a body could not be read whole.
pub(super) enum ReadBodyError {
    /// Over the limit.
    TooLarge,
    /// The connection failed, or the client reset the stream.
    Io(BoxError),
}

/// Reads a whole body, but never more than `limit` bytes of it (also for `hello.rs`'s debug
/// log).
pub(super) async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, ReadBodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ReadBodyError::TooLarge),
        Err(error) => Err(ReadBodyError::Io(error)),
    }
}
