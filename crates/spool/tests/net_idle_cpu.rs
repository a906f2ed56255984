//! A runtime holding 100 open, idle connections, each with a task waiting in a read, costs
//! (next to) no CPU: nothing polls, nothing spins. Alone in its binary, so the process CPU time
//! is the runtime's.

mod common;

use std::time::Duration;

use futures_lite::AsyncReadExt;
use spool::net::{TcpListener, TcpStream};

#[test]
fn hundred_idle_connections_use_under_20ms_cpu_in_2s() {
    let rt = common::rt(2);
    let clients = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for _ in 0..100 {
            clients.push(TcpStream::connect(addr).await.unwrap());
            let (mut server, _) = listener.accept().await.unwrap();
            spool::spawn(async move {
                let mut buf = [0u8; 64];
                let _ = server.read(&mut buf).await; // waits as long as the test runs
            })
            .detach();
        }
        clients
    });
    std::thread::sleep(Duration::from_millis(200)); // let the workers settle into park
    let before = common::process_cpu();
    std::thread::sleep(Duration::from_secs(2));
    let used = common::process_cpu() - before;
    eprintln!("100 idle connections: {used:?} of CPU in 2 s");
    assert!(
        used < Duration::from_millis(20),
        "used {used:?} of CPU in 2 s"
    );
    assert!(rt.metrics().io_sources >= 200); // 100 client + 100 server sockets
    drop(clients);
}
