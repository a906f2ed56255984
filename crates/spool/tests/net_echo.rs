//! An echo server on Spool with 1 000 client connections open at once (clients are Spool tasks
//! too), on 1, 2 and 4 workers.

mod common;

use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use spool::net::{TcpListener, TcpStream};

const CLIENTS: usize = 1_000;
const MESSAGE: usize = 4 * 1024;

async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return stream.close().await; // the client half-closed: so do we
        }
        stream.write_all(&buf[..n]).await?;
    }
}

rt_test! {
    fn thousand_concurrent_echo_clients(rt) {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spool::spawn(async move {
                for _ in 0..CLIENTS {
                    let (stream, _) = listener.accept().await.unwrap();
                    spool::spawn(echo(stream)).detach();
                }
            });
            // Every client connects first and waits for all the others, so that all 1 000
            // connections are open at the same time.
            let barrier = std::sync::Arc::new(async_barrier(CLIENTS));
            let clients: Vec<_> = (0..CLIENTS)
                .map(|i| {
                    let barrier = barrier.clone();
                    spool::spawn(async move {
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        barrier.wait().await;
                        let message: Vec<u8> =
                            (0..MESSAGE).map(|j| (i + j) as u8).collect();
                        stream.write_all(&message).await.unwrap();
                        stream.close().await.unwrap();
                        let mut echoed = Vec::new();
                        stream.read_to_end(&mut echoed).await.unwrap();
                        assert_eq!(echoed, message, "client {i}");
                    })
                })
                .collect();
            for client in clients {
                spool::time::timeout(Duration::from_secs(30), client)
                    .await
                    .expect("a client hung")
                    .unwrap();
            }
            server.await.unwrap();
        });
        // Every socket was dropped, so every registration is gone.
        wait_for(|| rt.metrics().io_sources == 0);
    }
}

/// Spins (politely) until `cond` holds, for up to 10 s.
fn wait_for(cond: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "condition never held"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A one-use barrier for tasks: the last arrival wakes everybody.
fn async_barrier(n: usize) -> Barrier {
    Barrier {
        state: std::sync::Mutex::new((n, Vec::new())),
    }
}

struct Barrier {
    state: std::sync::Mutex<(usize, Vec<std::task::Waker>)>,
}

impl Barrier {
    async fn wait(&self) {
        let mut arrived = false;
        std::future::poll_fn(|cx| {
            let mut state = self.state.lock().unwrap();
            if !arrived {
                arrived = true;
                state.0 -= 1;
                if state.0 == 0 {
                    for waker in state.1.drain(..) {
                        waker.wake();
                    }
                }
            }
            if state.0 == 0 {
                std::task::Poll::Ready(())
            } else {
                state.1.push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}
