//! `hyper_hello` hosted on Spool instead of tokio: the same service (hyper's auto HTTP/1.1 + h2c
//! builder, `Hello, World!`, no logging, no limits), with `spool::hyper`'s executor and timer and
//! Spool's `TcpStream`. Beside `spool serve --runtime spool` it measures the server layer alone;
//! beside `hyper_hello` it measures the runtime alone. `hyper_spool ADDR WORKERS`.
use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{body::Incoming, service::service_fn, Request, Response};
use hyper_util::server::conn::auto::Builder;
use spool::hyper::SpoolExecutor;
use spool::net::TcpListener;

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3001".into());
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    let rt = spool::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("spool runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).expect("bind");
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            spool::spawn(async move {
                let _ = Builder::new(SpoolExecutor::new())
                    .serve_connection(stream, service_fn(hello))
                    .await;
            })
            .detach();
        }
    });
}
