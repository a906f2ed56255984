//! [`ConnInfo`]: a request's view of its connection, set by [`super::accept`].

use std::net::SocketAddr;

/// What the service knows of the connection a request came on.
///
/// The service hands it to the routes with each request (`Routes::handle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnInfo {
    /// The client's address.
    pub(crate) peer: SocketAddr,
    /// Whether the connection is TLS.
    pub(crate) tls: bool,
    /// The protocol agreed by ALPN during the TLS handshake: `h2` or `http/1.1`
    /// ([`crate::tls::ALPN_PROTOCOLS`]); `None` without TLS, or when the client offered none.
    pub(crate) alpn: Option<&'static str>,
}

impl ConnInfo {
    /// A cleartext connection from `peer`.
    pub(crate) fn plain(peer: SocketAddr) -> Self {
        ConnInfo {
            peer,
            tls: false,
            alpn: None,
        }
    }

    /// A TLS connection from `peer`, where ALPN agreed on `alpn` (as the raw protocol id).
    ///
    /// Only ids the server offers are kept; rustls never agrees on another.
    pub(crate) fn tls(peer: SocketAddr, alpn: Option<&[u8]>) -> Self {
        let alpn = alpn.and_then(|id| match id {
            b"h2" => Some("h2"),
            b"http/1.1" => Some("http/1.1"),
            _ => None,
        });
        ConnInfo {
            peer,
            tls: true,
            alpn,
        }
    }
}

impl Default for ConnInfo {
    /// A cleartext connection from `0.0.0.0:0`: what the routes assume when called directly.
    fn default() -> Self {
        ConnInfo::plain(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}
