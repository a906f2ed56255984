//! The two I/O workloads' servers and clients, once per runtime with a reactor (step 8,
//! Spool, tokio): the same code shape on each, only the socket types differ.
//!
//! - **TCP echo**: a task accepts one connection and echoes what it reads; another task
//!   connects and does `n` round trips of 64 bytes, waiting for each echo before the next.
//! - **hyper**: an accept loop task serves each connection with hyper's HTTP/1.1 server and a
//!   `Hello, World!` service; the load (plain threads, see `workloads::hyper_load`) runs against
//!   its address, and the accept loop is cancelled afterwards.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{server::conn::http1, service::service_fn, Request, Response};

use super::contenders::{Spool, Tokio};

/// The echo's message size.
const MESSAGE: usize = 64;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn failed(e: io::Error) -> String {
    format!("I/O error: {e}")
}

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

/// Serves one connection with hyper's HTTP/1.1 server (keep-alive on).
async fn serve<I, T>(io: I, timer: T)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    T: hyper::rt::Timer + Send + Sync + 'static,
{
    let _ = http1::Builder::new()
        .timer(timer)
        .serve_connection(io, service_fn(hello))
        .await;
}

/// Reads exactly `buf.len()` bytes from `stream`, failing on an early end of stream.
macro_rules! read_exact {
    ($stream:ident, $buf:ident) => {{
        let mut got = 0;
        while got < $buf.len() {
            match $stream.read(&mut $buf[got..]).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => got += n,
            }
        }
    }};
}

pub(crate) fn step8_echo(round_trips: usize) -> Result<(), String> {
    use steps::step8::{block_on, spawn, TcpListener, TcpStream};
    let listener = TcpListener::bind(loopback()).map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    block_on(async move {
        let server = spawn(async move {
            let (stream, _) = listener.accept().await?;
            let mut buf = [0; MESSAGE];
            loop {
                match stream.read(&mut buf).await? {
                    0 => return io::Result::Ok(()),
                    n => stream.write_all(&buf[..n]).await?,
                }
            }
        });
        let client = spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            let mut buf = [0; MESSAGE];
            for _ in 0..round_trips {
                stream.write_all(&[7; MESSAGE]).await?;
                read_exact!(stream, buf);
            }
            io::Result::Ok(())
        });
        client.await?;
        server.await
    })
    .map_err(failed)
}

pub(crate) fn step8_hyper<T>(load: impl FnOnce(SocketAddr) -> T) -> Result<T, String> {
    use steps::step8::{spawn, HyperTimer, TcpListener};
    let listener = TcpListener::bind(loopback()).map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    let accept = spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            spawn(serve(stream, HyperTimer)).detach();
        }
    });
    let result = load(addr);
    drop(accept); // cancels the accept loop; the connections end with their clients
    Ok(result)
}

pub(crate) fn spool_echo(rt: &Spool, round_trips: usize) -> Result<(), String> {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use spool::net::{TcpListener, TcpStream};
    rt.0.block_on(async move {
        let listener = TcpListener::bind(loopback())?;
        let addr = listener.local_addr()?;
        let server = spool::spawn(async move {
            let (mut stream, _) = listener.accept().await?;
            let mut buf = [0; MESSAGE];
            loop {
                match stream.read(&mut buf).await? {
                    0 => return io::Result::Ok(()),
                    n => stream.write_all(&buf[..n]).await?,
                }
            }
        });
        let client = spool::spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let mut buf = [0; MESSAGE];
            for _ in 0..round_trips {
                stream.write_all(&[7; MESSAGE]).await?;
                read_exact!(stream, buf);
            }
            io::Result::Ok(())
        });
        client.await.map_err(io::Error::other)??;
        server.await.map_err(io::Error::other)?
    })
    .map_err(failed)
}

pub(crate) fn spool_hyper<T>(rt: &Spool, load: impl FnOnce(SocketAddr) -> T) -> Result<T, String> {
    let (addr, accept) =
        rt.0.block_on(async {
            let listener = spool::net::TcpListener::bind(loopback())?;
            let addr = listener.local_addr()?;
            let accept = spool::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    spool::spawn(serve(stream, spool::hyper::SpoolTimer::new())).detach();
                }
            });
            io::Result::Ok((addr, accept))
        })
        .map_err(failed)?;
    let result = load(addr);
    drop(accept); // cancels the accept loop
    Ok(result)
}

pub(crate) fn tokio_echo(rt: &Tokio, round_trips: usize) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    rt.0.block_on(async move {
        let listener = TcpListener::bind(loopback()).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await?;
            let mut buf = [0; MESSAGE];
            loop {
                match stream.read(&mut buf).await? {
                    0 => return io::Result::Ok(()),
                    n => stream.write_all(&buf[..n]).await?,
                }
            }
        });
        let client = tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let mut buf = [0; MESSAGE];
            for _ in 0..round_trips {
                stream.write_all(&[7; MESSAGE]).await?;
                read_exact!(stream, buf);
            }
            io::Result::Ok(())
        });
        client.await.map_err(io::Error::other)??;
        server.await.map_err(io::Error::other)?
    })
    .map_err(failed)
}

pub(crate) fn tokio_hyper<T>(rt: &Tokio, load: impl FnOnce(SocketAddr) -> T) -> Result<T, String> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let (addr, accept) =
        rt.0.block_on(async {
            let listener = tokio::net::TcpListener::bind(loopback()).await?;
            let addr = listener.local_addr()?;
            let accept = tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(TokioIo::new(stream), TokioTimer::new()));
                }
            });
            io::Result::Ok((addr, accept))
        })
        .map_err(failed)?;
    let result = load(addr);
    accept.abort(); // a dropped tokio handle detaches: cancel the accept loop explicitly
    Ok(result)
}
