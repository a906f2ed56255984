//! reqwest's async client, GET against a tiny server on Spool (127.0.0.1).
use futures_lite_free::serve_once;

mod futures_lite_free {
    /// A one-request HTTP/1.1 server on a Spool listener.
    pub async fn serve_once() -> std::net::SocketAddr {
        let listener = spool::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spool::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            if let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            }
        })
        .detach();
        addr
    }
}

fn main() {
    spool_trials::run("reqwest get", async {
        let addr = serve_once().await;
        let response = reqwest::get(format!("http://{addr}/")).await;
        match response {
            Ok(r) => format!("status {}", r.status()),
            Err(e) => format!("error: {e:?}"),
        }
    });
}
