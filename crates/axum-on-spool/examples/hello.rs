//! The README's "Your own service on Spool", as it is printed there: `cargo run -p
//! axum-on-spool --example hello`, then `curl http://127.0.0.1:3000/`.

use hyper_util::{server::conn::auto, service::TowerToHyperService};
use spool::hyper::{SpoolExecutor, SpoolTimer};

fn main() -> std::io::Result<()> {
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
    spool::Runtime::new()?.block_on(async {
        let listener = spool::net::TcpListener::bind("127.0.0.1:3000")?;
        let mut builder = auto::Builder::new(SpoolExecutor::new());
        builder.http1().timer(SpoolTimer::new());
        builder.http2().timer(SpoolTimer::new());
        loop {
            let (stream, _peer) = listener.accept().await?;
            let (builder, service) = (builder.clone(), TowerToHyperService::new(router.clone()));
            spool::spawn(async move { builder.serve_connection(stream, service).await }).detach();
        }
    })
}
