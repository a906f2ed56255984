//! tower-http's CorsLayer (no timer, no I/O) on Spool.
use tower::{Service, ServiceBuilder, ServiceExt};

fn main() {
    spool_trials::run("tower-http CorsLayer", async {
        let mut svc = ServiceBuilder::new()
            .layer(tower_http::cors::CorsLayer::permissive())
            .service_fn(|_req: http::Request<String>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
            });
        let request = http::Request::builder()
            .header("origin", "https://example.com")
            .body(String::new())
            .unwrap();
        let response = svc.ready().await.unwrap().call(request).await.unwrap();
        format!(
            "{} access-control-allow-origin: {:?}",
            response.status(),
            response.headers().get("access-control-allow-origin")
        )
    });
}
