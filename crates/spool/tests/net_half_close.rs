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
