//! UDP: datagrams both ways without loss on loopback, `connect` filtering other senders, and a
//! socket dropped while a task waits on it leaving the reactor.

mod common;

use std::time::Duration;

use spool::net::UdpSocket;

const DATAGRAMS: u32 = 10_000;

/// Sends `DATAGRAMS` numbered datagrams to `to`, each after the peer acknowledged the previous
/// window: a window of 64 in flight keeps the receive buffer from overflowing (UDP drops what
/// does not fit, and "none lost" is what this test checks, not the kernel's buffer size).
async fn send_all(socket: &UdpSocket, to: std::net::SocketAddr) {
    let mut ack = [0u8; 4];
    for i in 0..DATAGRAMS {
        socket.send_to(&i.to_be_bytes(), to).await.unwrap();
        if i % 64 == 63 {
            socket.recv_from(&mut ack).await.unwrap();
        }
    }
}

async fn receive_all(socket: &UdpSocket, from: std::net::SocketAddr) {
    let mut buf = [0u8; 8];
    for expected in 0..DATAGRAMS {
        let (n, sender) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, sender), (4, from));
        let got = u32::from_be_bytes(buf[..4].try_into().unwrap());
        assert_eq!(got, expected, "lost or reordered on loopback");
        if expected % 64 == 63 {
            socket.send_to(b"ack!", from).await.unwrap();
        }
    }
}

rt_test! {
    fn ten_thousand_datagrams_each_way(rt) {
        rt.block_on(async {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            let b_side = spool::spawn(async move {
                receive_all(&b, a_addr).await; // a → b first
                send_all(&b, a_addr).await; // then b → a
            });
            send_all(&a, b_addr).await;
            receive_all(&a, b_addr).await;
            b_side.await.unwrap();
        });
    }
}

rt_test! {
    fn connect_filters_other_senders(rt) {
        rt.block_on(async {
            let server = UdpSocket::bind("127.0.0.1:0").unwrap();
            let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
            let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
            server.connect(peer.local_addr().unwrap()).await.unwrap();
            let to = server.local_addr().unwrap();
            stranger.send_to(b"stranger", to).await.unwrap();
            peer.send_to(b"peer", to).await.unwrap();
            let mut buf = [0u8; 16];
            let n = server.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"peer");
            // Nothing else is queued: the stranger's datagram was dropped by the kernel.
            assert_eq!(
                server.try_recv_from(&mut buf).unwrap_err().kind(),
                std::io::ErrorKind::WouldBlock
            );
            // And a name works as well as an address (resolved on the blocking pool).
            let by_name = UdpSocket::bind("127.0.0.1:0").unwrap();
            by_name.connect(format!("localhost:{}", to.port())).await.unwrap();
        });
    }
}

rt_test! {
    fn a_socket_dropped_while_a_task_waits_deregisters(rt) {
        let baseline = rt.metrics().io_sources;
        let socket = {
            let _guard = rt.handle().enter();
            UdpSocket::bind("127.0.0.1:0").unwrap()
        };
        assert_eq!(rt.metrics().io_sources, baseline + 1);
        let (started_tx, started) = std::sync::mpsc::channel();
        let waiter = rt.spawn(async move {
            started_tx.send(()).unwrap();
            let mut buf = [0u8; 8];
            let _ = socket.recv_from(&mut buf).await;
            unreachable!("nobody sends to this socket");
        });
        // Inside block_on, so that a current-thread runtime runs the task too.
        rt.block_on(async {
            while started.try_recv().is_err() {
                spool::yield_now().await;
            }
            spool::time::sleep(Duration::from_millis(50)).await; // inside its pending receive
        });
        drop(waiter); // cancels the task, dropping the socket
        rt.block_on(async {
            let start = std::time::Instant::now();
            while rt.metrics().io_sources != baseline {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "the dropped socket never left the poller"
                );
                spool::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
}
