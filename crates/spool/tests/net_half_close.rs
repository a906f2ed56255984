//! Half-close: the client shuts down its write half, the server reads end-of-file, *then*
//! answers, and the client still reads the answer.

mod common;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use spool::net::{TcpListener, TcpStream};

rt_test! {
    fn server_answers_after_the_client_half_closes(rt) {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spool::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                stream.read_to_end(&mut request).await.unwrap(); // returns at the FIN
                let answer = format!("got {} bytes", request.len());
                stream.write_all(answer.as_bytes()).await.unwrap();
                // Both halves closed now: the client reads EOF after the answer.
            });
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(&[7u8; 10_000]).await.unwrap();
            client.shutdown(std::net::Shutdown::Write).unwrap();
            let mut answer = String::new();
            client.read_to_string(&mut answer).await.unwrap();
            assert_eq!(answer, "got 10000 bytes");
            server.await.unwrap();
        });
    }
}

rt_test! {
    fn a_std_client_half_closes_too(rt) {
        // The same exchange with the client on a plain thread, so the FIN may arrive together
        // with the data (the case a too-eager "short read means drained" rule would miss).
        let listener = {
            let _guard = rt.handle().enter();
            TcpListener::bind("127.0.0.1:0").unwrap()
        };
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.write_all(b"hello").unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        });
        rt.block_on(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            stream.read_to_end(&mut request).await.unwrap();
            assert_eq!(request, b"hello");
            stream.write_all(b"bye").await.unwrap();
        });
        assert_eq!(client.join().unwrap(), "bye");
    }
}

/// Serves `connections` connections from a std client that writes a short request and shuts
/// down its write side (`fin_delay` after the write: zero sends the FIN with the data). Each
/// server task reads into a buffer much larger than the request — a short read, which clears
/// readiness unless the reactor has seen the peer's close — then must see the end of the stream
/// within a bounded time, not hang waiting for an edge that already came.
fn request_then_fin(rt: spool::Runtime, connections: usize, fin_delay: std::time::Duration) {
    use std::time::Duration;
    let listener = {
        let _guard = rt.handle().enter();
        TcpListener::bind("127.0.0.1:0").unwrap()
    };
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for _ in 0..connections {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.set_nodelay(true).unwrap();
            stream.write_all(REQUEST).unwrap();
            if !fin_delay.is_zero() {
                std::thread::sleep(fin_delay);
            }
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            assert_eq!(answer, REQUEST.len().to_string());
        }
    });
    rt.block_on(async move {
        let mut servers = Vec::new();
        for _ in 0..connections {
            // Bounded: if the client gave up (a server task failed), fail instead of waiting.
            let (mut stream, _) = spool::time::timeout(Duration::from_secs(20), listener.accept())
                .await
                .expect("the client stopped connecting")
                .unwrap();
            servers.push(spool::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                let read_all = async {
                    loop {
                        match stream.read(&mut buf).await.unwrap() {
                            0 => break,
                            n => request.extend_from_slice(&buf[..n]),
                        }
                    }
                };
                spool::time::timeout(Duration::from_secs(10), read_all)
                    .await
                    .expect("the end of the stream was missed: the reader hangs");
                stream
                    .write_all(request.len().to_string().as_bytes())
                    .await
                    .unwrap();
            }));
        }
        for server in servers {
            server.await.unwrap();
        }
    });
    client.join().unwrap();
}

rt_test! {
    fn a_fin_sent_with_the_request_ends_the_stream(rt) {
        request_then_fin(rt, 200, std::time::Duration::ZERO);
    }
}

rt_test! {
    fn a_fin_sent_after_the_request_ends_the_stream(rt) {
        // The first read drains the request and clears readiness; the FIN's own edge wakes.
        request_then_fin(rt, 20, std::time::Duration::from_millis(2));
    }
}
