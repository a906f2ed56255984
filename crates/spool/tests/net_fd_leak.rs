//! 10 000 sequential connect/accept pairs leave no file descriptor (and no registration)
//! behind. Alone in its binary: other tests would open and close descriptors meanwhile.

mod common;

use spool::net::{TcpListener, TcpStream};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn ten_thousand_connections_leak_no_descriptor() {
    common::watchdog("fd_leak", || {
        let rt = common::rt(2);
        let before = open_fds();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            for i in 0..10_000 {
                let connect = spool::spawn(TcpStream::connect(addr));
                let (server, _) = listener.accept().await.unwrap();
                let client = connect.await.unwrap().unwrap();
                if i % 2 == 0 {
                    drop(server);
                    drop(client);
                } else {
                    drop(client);
                    drop(server);
                }
            }
        });
        let after = open_fds();
        assert_eq!(rt.metrics().io_sources, 0);
        assert!(
            after <= before + 5,
            "{before} descriptors open before, {after} after"
        );
    });
}
