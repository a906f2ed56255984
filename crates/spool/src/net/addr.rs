//! Names to addresses without blocking a worker: [`lookup_host`], and the resolution behind every
//! address argument of [`crate::net`] that may be a host name.
//!
//! `getaddrinfo(3)` blocks: it reads `/etc/hosts`, asks a DNS server and waits for the answer,
//! for as long as the resolver's timeouts allow (5 s per server by default). Run on a worker,
//! that wait would stall every task queued there. So a name is resolved on the blocking pool
//! ([`crate::spawn_blocking`]), as tokio does; an address that is already one — a
//! [`SocketAddr`], or a string such as `"127.0.0.1:8080"` that parses as one — is used at once,
//! with no hop to another thread.
//!
//! The address arguments take any [`std::net::ToSocketAddrs`] that can move to a blocking
//! thread (`Send + 'static`): `&'static str`, `String`, `(String, u16)`, `SocketAddr`, or a
//! type of your own whose `to_socket_addrs` asks another resolver.

use std::any::Any;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `host` (`"name:port"`, `("name", port)`, or any [`ToSocketAddrs`]) to its socket
/// addresses, on the blocking pool: the worker runs other tasks while the resolver waits.
///
/// # Errors
///
/// The resolver's error (`"failed to lookup address information: …"` for an unknown name), or
/// `Other` if the runtime shut down while the lookup was queued.
///
/// ```
/// # let rt = spool::Runtime::new()?;
/// # rt.block_on(async {
/// let addrs: Vec<_> = spool::net::lookup_host("localhost:80").await?.collect();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// # std::io::Result::Ok(()) })?;
/// # std::io::Result::Ok(())
/// ```
pub async fn lookup_host<A>(host: A) -> io::Result<impl Iterator<Item = SocketAddr>>
where
    A: ToSocketAddrs + Send + 'static,
{
    resolve(host).await.map(Vec::into_iter)
}

/// `addr`'s socket addresses: at once when it is an address already, else from the resolver on
/// the blocking pool.
pub(crate) async fn resolve<A>(addr: A) -> io::Result<Vec<SocketAddr>>
where
    A: ToSocketAddrs + Send + 'static,
{
    if let Some(ready) = already_resolved(&addr) {
        return Ok(ready);
    }
    crate::spawn_blocking(move || addr.to_socket_addrs().map(Iterator::collect))
        .await
        .map_err(|err| io::Error::other(format!("name lookup did not complete: {err}")))?
}

/// The addresses of `addr` if finding them needs no resolver: a socket address, or a string
/// that parses as one (`"[::1]:80"`).
fn already_resolved(addr: &dyn Any) -> Option<Vec<SocketAddr>> {
    if let Some(addr) = addr.downcast_ref::<SocketAddr>() {
        return Some(vec![*addr]);
    }
    if let Some(addrs) = addr.downcast_ref::<Vec<SocketAddr>>() {
        return Some(addrs.clone());
    }
    let text = addr
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| addr.downcast_ref::<String>().map(String::as_str))?;
    text.parse::<SocketAddr>().ok().map(|addr| vec![addr])
}

/// Runs `f` on each address in turn until one succeeds; the last error (with its `ErrorKind`
/// kept and the address added to the message) if none does.
pub(crate) fn first_ok<T>(
    addrs: impl IntoIterator<Item = SocketAddr>,
    what: &str,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in addrs {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(err) => last = Some(annotate(err, what, addr)),
        }
    }
    Err(last.unwrap_or_else(|| no_address(what)))
}

/// `err` with `"{what} {addr}: "` before its message, its kind kept.
pub(crate) fn annotate(err: io::Error, what: &str, addr: SocketAddr) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {addr}: {err}"))
}

/// The error for a name that resolved to nothing.
pub(crate) fn no_address(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}: the address resolved to no socket address"),
    )
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn literal_addresses_need_no_resolver() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(already_resolved(&addr), Some(vec![addr]));
        assert_eq!(already_resolved(&"127.0.0.1:1"), Some(vec![addr]));
        assert_eq!(
            already_resolved(&"127.0.0.1:1".to_owned()),
            Some(vec![addr])
        );
        assert_eq!(already_resolved(&"localhost:1"), None);
        assert_eq!(already_resolved(&("localhost", 1)), None);
    }
}
