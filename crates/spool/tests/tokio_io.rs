//! tokio's I/O traits on Spool sockets, in a Spool runtime with no tokio runtime anywhere:
//! `AsyncReadExt`/`AsyncWriteExt`, and tokio-util's `Framed` with a line codec.

mod common;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, LinesCodec};

use spool::net::{TcpListener, TcpStream};

fn no_tokio_runtime() {
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "a tokio runtime is present"
    );
}

rt_test! {
    fn read_and_write_exts_over_tcp(rt) {
        rt.block_on(async {
            no_tokio_runtime();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spool::spawn(async move {
                no_tokio_runtime();
                let (stream, _) = listener.accept().await.unwrap();
                let (mut reader, mut writer) = stream.into_split();
                tokio::io::copy(&mut reader, &mut writer).await.unwrap();
                writer.shutdown().await.unwrap();
            });
            let mut client = TcpStream::connect(addr).await.unwrap();
            let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
            let (mut reader, mut writer) = client.split();
            let (written, echoed) = futures_lite::future::zip(
                async {
                    writer.write_all(&data).await.unwrap();
                    writer.shutdown().await.unwrap();
                },
                async {
                    let mut echoed = Vec::new();
                    reader.read_to_end(&mut echoed).await.unwrap();
                    echoed
                },
            )
            .await;
            let () = written;
            assert!(echoed == data, "the echo differs ({} bytes)", echoed.len());
            server.await.unwrap();
        });
    }
}

rt_test! {
    fn framed_lines_over_tcp(rt) {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spool::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let mut lines = Framed::new(stream, LinesCodec::new());
                while let Some(line) = lines.next().await {
                    let line = line.unwrap();
                    lines.send(line.to_uppercase()).await.unwrap();
                }
            });
            let mut client = Framed::new(TcpStream::connect(addr).await.unwrap(), LinesCodec::new());
            for word in ["spool", "runs", "tokio-util"] {
                client.send(word).await.unwrap();
                assert_eq!(client.next().await.unwrap().unwrap(), word.to_uppercase());
            }
            drop(client);
            server.await.unwrap();
            no_tokio_runtime();
        });
    }
}

#[test]
fn unix_stream_speaks_tokio_io() {
    let rt = common::rt(1);
    rt.block_on(async {
        let (mut a, mut b) = spool::net::UnixStream::pair().unwrap();
        a.write_all(b"line one\n").await.unwrap();
        let mut buf = [0u8; 9];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"line one\n");
    });
}
