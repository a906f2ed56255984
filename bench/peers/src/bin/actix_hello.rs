//! What many users pick: actix-web answering `Hello, World!` (HTTP/1.1 and h2c prior knowledge).
//! `actix_hello ADDR WORKERS`.
use actix_web::{web, App, HttpServer};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3002".into());
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().default_service(web::to(|| async { "Hello, World!" })))
            .workers(workers)
            .bind_auto_h2c(&addr)?
            .run()
            .await
    })
}
