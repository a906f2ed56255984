//! The race between "the read returned WouldBlock" and "clear readiness": a writer on a plain
//! thread sends many small writes while a Spool task reads. If an edge that arrives in between
//! were thrown away, the reader would wait forever with data in the socket (the watchdog fails
//! the test after 60 s); every byte must arrive.

mod common;

use std::io::Write;

use futures_lite::AsyncReadExt;
use spool::net::TcpListener;

const WRITES: usize = 100_000;

rt_test! {
    fn every_small_write_is_read(rt) {
        let listener = {
            let _guard = rt.handle().enter();
            TcpListener::bind("127.0.0.1:0").unwrap()
        };
        let addr = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.set_nodelay(true).unwrap(); // one segment per write: one edge per write
            let mut sent = 0u64;
            for i in 0..WRITES {
                let len = 1 + i % 7;
                let chunk = [(i % 251) as u8; 7];
                stream.write_all(&chunk[..len]).unwrap();
                sent += len as u64;
                if i % 1_000 == 0 {
                    std::thread::yield_now(); // vary the timing against the reader
                }
            }
            sent
        });
        let received = rt.block_on(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 5]; // small reads: many WouldBlock/clear cycles
            let mut received = 0u64;
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break received;
                }
                received += n as u64;
            }
        });
        assert_eq!(received, writer.join().unwrap());
    }
}
