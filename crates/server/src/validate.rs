//! Request checks that come before any route: what the HTTP RFCs require of every origin
//! server, and that hyper leaves to the application.
//!
//! The rules, checked in this order by [`check`]:
//!
//! 1. **Host** (RFC 9112 §3.2, a MUST): an HTTP/1.1 request with no `Host`, more than one, or
//!    one that is not `uri-host [":" port]` is answered `400`, with `Connection: close` (the
//!    server cannot tell which resource the client meant, so nothing more on that connection is
//!    trusted). An empty `Host` is valid: the RFC's grammar allows it. HTTP/1.0 requests may
//!    omit it. Over HTTP/2 (RFC 9113 §8.3.1) a `host` header that names another authority than
//!    `:authority` makes the request malformed: `400` on that stream, the connection goes on.
//! 2. **CONNECT and TRACE** are answered `405 Method Not Allowed` with `Allow`: this is not a
//!    proxy, so a `200` to CONNECT would claim a tunnel it does not provide (and hyper would
//!    then hand the connection over to nobody); TRACE would reflect credentials (RFC 9110
//!    §9.3.8 lets a server refuse it).
//! 3. **`OPTIONS *`** (RFC 9110 §9.3.7) asks about the server as a whole: `200` with `Allow`
//!    and no body, rather than a route's answer for a path named `*`.
//!
//! A request that passes goes on to the routes unchanged.
//!
//! An HTTP/1.1 client sends the same `Host` on every request of a connection, so the
//! connection remembers the last value it found valid ([`HostMemo`]): a request whose `Host` is
//! that value byte for byte is not checked byte by byte again (~100 instructions a request).
//! Any other value is checked in full, and a bad one is refused whatever came before.

use std::cell::Cell;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};

use crate::routes::{text, ResponseBody};

/// The methods the server answers, for `Allow`: every route accepts these (`/echo` only `GET`
/// and `POST`, and says so with its own `405`).
pub(crate) const ALLOW: &str = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";

/// The answer for a request that breaks one of the rules in the module docs; `None`: route it.
/// `seen` is the connection's memory of its last valid `Host` (see the module docs).
pub(crate) fn check<B>(req: &Request<B>, seen: &HostMemo) -> Option<Response<ResponseBody>> {
    if let Err(reason) = host(req, seen) {
        let mut response = text(StatusCode::BAD_REQUEST, format!("bad request: {reason}\n"));
        if req.version() <= Version::HTTP_11 {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return Some(response);
    }
    let method = req.method();
    if method == Method::CONNECT || method == Method::TRACE {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not supported: this server is not a proxy\n"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        return Some(response);
    }
    if method == Method::OPTIONS && req.uri().path() == "*" {
        let mut response = text(StatusCode::OK, "");
        let headers = response.headers_mut();
        headers.remove(header::CONTENT_TYPE);
        headers.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        return Some(response);
    }
    None
}

/// Rule 1 of the module docs; `Err` says what is wrong, for the `400`'s body.
fn host<B>(req: &Request<B>, seen: &HostMemo) -> Result<(), &'static str> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err("more than one Host header");
    }
    match req.version() {
        Version::HTTP_2 | Version::HTTP_3 => {
            // `:authority` is in the URI; `host` may stand in for it (RFC 9113 §8.3.1), but
            // the two may not disagree.
            let (Some(host), Some(authority)) = (first, req.uri().authority()) else {
                return Ok(());
            };
            if host
                .as_bytes()
                .eq_ignore_ascii_case(authority.as_str().as_bytes())
            {
                Ok(())
            } else {
                Err("the host header differs from :authority")
            }
        }
        Version::HTTP_11 => match first {
            None => Err("no Host header (RFC 9112 section 3.2 requires one)"),
            Some(value) if seen.is(value.as_bytes()) => Ok(()),
            Some(value) if valid_host(value.as_bytes()) => {
                seen.remember(value.as_bytes());
                Ok(())
            }
            Some(_) => Err("invalid Host header"),
        },
        // HTTP/1.0 and 0.9 predate Host: only a present one is checked.
        _ => match first {
            Some(value) if !valid_host(value.as_bytes()) => Err("invalid Host header"),
            _ => Ok(()),
        },
    }
}

/// The last `Host` value a connection's requests sent that [`valid_host`] accepted, for
/// values of at most [`HostMemo::MAX`] bytes (longer ones are checked every time).
///
/// One per connection, in its service; a `Cell`, as the service is called from the
/// connection's task only (HTTP/2 streams too: hyper calls the service before it spawns them).
#[derive(Debug, Clone)]
pub(crate) struct HostMemo {
    /// The value's length; `0`: nothing remembered (an empty `Host` is valid, and cheap to check).
    len: Cell<u8>,
    bytes: Cell<[u8; HostMemo::MAX]>,
}

impl Default for HostMemo {
    /// Nothing remembered.
    fn default() -> Self {
        HostMemo {
            len: Cell::new(0),
            bytes: Cell::new([0; HostMemo::MAX]),
        }
    }
}

impl HostMemo {
    /// The longest value remembered: a DNS name with a port mostly fits.
    const MAX: usize = 64;

    /// Whether `value` is the one remembered.
    fn is(&self, value: &[u8]) -> bool {
        let len = usize::from(self.len.get());
        len != 0 && value.len() == len && self.bytes.get()[..len] == *value
    }

    /// Remembers `value`, a valid `Host`, if it fits.
    fn remember(&self, value: &[u8]) {
        if let Ok(len) = u8::try_from(value.len()) {
            if (1..=Self::MAX).contains(&value.len()) {
                let mut bytes = [0; Self::MAX];
                bytes[..value.len()].copy_from_slice(value);
                self.bytes.set(bytes);
                self.len.set(len);
            }
        }
    }
}

/// Whether `value` is `uri-host [":" port]` (RFC 3986 §3.2.2): an IP literal in brackets, or
/// a reg-name of unreserved, percent-encoded and sub-delim characters (which covers IPv4
/// addresses and DNS names), then optionally a colon and digits. Empty is valid.
fn valid_host(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        // IP-literal: hex digits, colons and dots (IPv6, IPv4-mapped), or an IPvFuture.
        let Some(end) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let inside = &value[1..end];
        let literal_ok = !inside.is_empty()
            && inside
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.' || b == b'v');
        if !literal_ok {
            return false;
        }
        match &value[end + 1..] {
            [] => return true,
            [b':', port @ ..] => (&[][..], port),
            _ => return false,
        }
    } else {
        match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon + 1..]),
            None => (value, &[][..]),
        }
    };
    let reg_name_ok = host.iter().all(|&b| REG_NAME[usize::from(b)]);
    reg_name_ok && port.iter().all(u8::is_ascii_digit)
}

/// The bytes a reg-name may hold (unreserved, `%` of percent-encoding, sub-delims), as a table:
/// every request's `Host` is checked byte by byte, and a search of the sub-delims' list per
/// byte cost ~300 instructions a request.
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        byte += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, method: &str, uri: &str, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::builder().version(version).method(method).uri(uri);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        builder.body(()).unwrap()
    }

    /// [`super::check`] as a connection's first request sees it: nothing remembered.
    fn check<B>(req: &Request<B>) -> Option<Response<ResponseBody>> {
        super::check(req, &HostMemo::default())
    }

    fn status(req: &Request<()>) -> Option<StatusCode> {
        check(req).map(|response| response.status())
    }

    #[test]
    fn host_rules_over_http1() {
        let h11 = |hosts: &[&str]| request(Version::HTTP_11, "GET", "/", hosts);
        for good in [
            "example.com",
            "example.com:8080",
            "127.0.0.1:3000",
            "[::1]:80",
            "[::1]",
            "",
        ] {
            assert_eq!(status(&h11(&[good])), None, "{good:?}");
        }
        for bad in [
            "bad host/../x",
            "a/b",
            "x:80a",
            "[::1",
            "[zz]",
            "a b",
            "u@host",
        ] {
            let answer = check(&h11(&[bad])).expect(bad);
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{bad:?}");
            assert_eq!(answer.headers()[header::CONNECTION], "close");
        }
        assert_eq!(status(&h11(&[])), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status(&h11(&["a", "a"])), Some(StatusCode::BAD_REQUEST));
        // HTTP/1.0 predates Host.
        assert_eq!(status(&request(Version::HTTP_10, "GET", "/", &[])), None);
    }

    #[test]
    fn a_remembered_host_is_accepted_and_a_bad_one_still_refused() {
        let seen = HostMemo::default();
        let h11 = |host: &str| request(Version::HTTP_11, "GET", "/", &[host]);
        let status = |req: &Request<()>| super::check(req, &seen).map(|r| r.status());
        assert_eq!(status(&h11("example.com:8080")), None);
        assert!(seen.is(b"example.com:8080"));
        assert_eq!(status(&h11("example.com:8080")), None);
        for bad in ["a b", "example.com:8080/", "example.com:808"] {
            let expected = (!valid_host(bad.as_bytes())).then_some(StatusCode::BAD_REQUEST);
            assert_eq!(status(&h11(bad)), expected, "{bad:?}");
        }
        assert_eq!(status(&h11("a b")), Some(StatusCode::BAD_REQUEST));
        assert!(!seen.is(b"a b"));
        // Two Host headers are refused even when the first is the remembered one.
        let two = request(Version::HTTP_11, "GET", "/", &["example.com:808", "x"]);
        assert_eq!(status(&two), Some(StatusCode::BAD_REQUEST));
        // Too long to remember: checked every time, still accepted.
        let long = "a".repeat(HostMemo::MAX + 1);
        assert_eq!(status(&h11(&long)), None);
        assert!(!seen.is(long.as_bytes()));
        assert_eq!(status(&h11("bad/host")), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn host_against_authority_over_http2() {
        let h2 = |hosts: &[&str]| request(Version::HTTP_2, "GET", "http://a.test/", hosts);
        assert_eq!(status(&h2(&[])), None);
        assert_eq!(status(&h2(&["A.test"])), None);
        let answer = check(&h2(&["b.test"])).unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert!(answer.headers().get(header::CONNECTION).is_none());
    }

    #[test]
    fn connect_trace_and_options_star() {
        for method in ["CONNECT", "TRACE"] {
            let uri = if method == "CONNECT" {
                "a.test:443"
            } else {
                "/"
            };
            let answer = check(&request(Version::HTTP_11, method, uri, &["a.test"])).unwrap();
            assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(answer.headers()[header::ALLOW], ALLOW);
        }
        let answer = check(&request(Version::HTTP_11, "OPTIONS", "*", &["a"])).unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()[header::ALLOW], ALLOW);
        assert_eq!(
            status(&request(Version::HTTP_11, "OPTIONS", "/", &["a"])),
            None
        );
    }
}
