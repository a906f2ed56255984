//! tonic's transport: connect a Channel to a (Spool) listener on 127.0.0.1.
fn main() {
    spool_trials::run("tonic Endpoint::connect", async {
        let listener = spool::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
        match endpoint.connect().await {
            Ok(_channel) => "connected".to_owned(),
            Err(e) => format!("error: {e:?}"),
        }
    });
}
