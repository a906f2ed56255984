//! tower-http's TimeoutLayer around a service that answers at once, called on Spool.
use std::time::Duration;
use tower::{Service, ServiceBuilder, ServiceExt};

#[allow(deprecated)] // `TimeoutLayer::new`: the constructor every tutorial uses
fn main() {
    spool_trials::run("tower-http TimeoutLayer", async {
        let mut svc = ServiceBuilder::new()
            .layer(tower_http::timeout::TimeoutLayer::new(Duration::from_secs(
                1,
            )))
            .service_fn(|_req: http::Request<String>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
            });
        let ready = svc.ready().await.map(|_| ());
        let response = svc.call(http::Request::new(String::new())).await;
        format!("{ready:?} {:?}", response.map(|r| r.status()))
    });
}
