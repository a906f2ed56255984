//! Unix sockets: 1 MiB echoed over a `UnixStream`, a listener's accept loop, a datagram pair.

mod common;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use spool::net::{UnixDatagram, UnixListener, UnixStream};

/// A fresh socket path for this test case (removed first: a file left by an earlier run would
/// make `bind` fail, and removing it is the caller's job). The counter keeps the cases of one
/// binary apart: they run in parallel, and the current-thread case has one worker too, so the
/// worker count alone would give two cases one path.
fn socket_path(name: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let case = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "spool-test-{name}-{}-{case}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

rt_test! {
    fn one_mebibyte_echoed(rt) {
        let path = socket_path(&format!("echo-{}", rt.metrics().workers.len()));
        rt.block_on(async {
            let listener = UnixListener::bind(&path).unwrap();
            let server = spool::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let (mut reader, mut writer) = stream.into_split();
                futures_lite::io::copy(&mut reader, &mut writer).await.unwrap();
                // `writer` dropped here: the client reads end-of-file.
            });
            let client = UnixStream::connect(&path).await.unwrap();
            let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
            let (mut reader, mut writer) = client.into_split();
            let sent = data.clone();
            let writing = spool::spawn(async move {
                writer.write_all(&sent).await.unwrap();
                drop(writer); // half-close: the server's copy ends
            });
            let mut echoed = Vec::new();
            reader.read_to_end(&mut echoed).await.unwrap();
            writing.await.unwrap();
            server.await.unwrap();
            assert_eq!(echoed.len(), data.len());
            assert!(echoed == data, "the echo differs from what was sent");
        });
        std::fs::remove_file(&path).unwrap();
    }
}

rt_test! {
    fn accept_loop_serves_every_client(rt) {
        let path = socket_path(&format!("accept-{}", rt.metrics().workers.len()));
        rt.block_on(async {
            let listener = UnixListener::bind(&path).unwrap();
            let server = spool::spawn(async move {
                for _ in 0..20 {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    spool::spawn(async move {
                        let mut byte = [0u8; 1];
                        stream.read_exact(&mut byte).await.unwrap();
                        stream.write_all(&[byte[0] + 1]).await.unwrap();
                    })
                    .detach();
                }
            });
            let clients: Vec<_> = (0..20u8)
                .map(|i| {
                    let path = path.clone();
                    spool::spawn(async move {
                        let mut stream = UnixStream::connect(&path).await.unwrap();
                        stream.write_all(&[i]).await.unwrap();
                        let mut reply = [0u8; 1];
                        stream.read_exact(&mut reply).await.unwrap();
                        reply[0]
                    })
                })
                .collect();
            for (i, client) in clients.into_iter().enumerate() {
                assert_eq!(client.await.unwrap(), i as u8 + 1);
            }
            server.await.unwrap();
        });
        std::fs::remove_file(&path).unwrap();
    }
}

rt_test! {
    fn datagram_pair_and_bound_socket(rt) {
        let path = socket_path(&format!("dgram-{}", rt.metrics().workers.len()));
        rt.block_on(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            for i in 0..100u8 {
                a.send(&[i; 3]).await.unwrap();
            }
            let mut buf = [0u8; 8];
            for i in 0..100u8 {
                assert_eq!(b.recv(&mut buf).await.unwrap(), 3);
                assert_eq!(&buf[..3], &[i; 3]);
            }
            let server = UnixDatagram::bind(&path).unwrap();
            let client = UnixDatagram::unbound().unwrap();
            client.send_to(b"to a path", &path).await.unwrap();
            let (n, from) = server.recv_from(&mut [0u8; 16]).await.unwrap();
            assert_eq!(n, 9);
            assert!(from.is_unnamed());
        });
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn stream_pair_speaks_both_ways_through_the_shared_reference() {
    let rt = common::rt(1);
    rt.block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        (&a).write_all(b"a to b").await.unwrap();
        let mut buf = [0u8; 6];
        (&b).read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"a to b");
    });
}
