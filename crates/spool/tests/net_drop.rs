//! Dropping a stream while a read waits: its registration goes, nobody is woken for it.

mod common;

use std::time::Duration;

use futures_lite::AsyncReadExt;
use spool::net::{TcpListener, TcpStream};

fn total_polls(rt: &spool::Runtime) -> u64 {
    rt.metrics().workers.iter().map(|w| w.polls).sum()
}

rt_test! {
    multi_thread_only;
    fn dropping_a_stream_with_a_pending_read_deregisters_it(rt) {
        let baseline = rt.metrics().io_sources;
        let (listener, addr) = {
            let _guard = rt.handle().enter();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            (listener, addr)
        };
        assert_eq!(rt.metrics().io_sources, baseline + 1);
        let connecting = std::thread::spawn(move || std::net::TcpStream::connect(addr).unwrap());
        let stream = rt.block_on(async { listener.accept().await.unwrap().0 });
        let mut peer = connecting.join().unwrap();
        assert_eq!(rt.metrics().io_sources, baseline + 2);

        // A task waits in a read that will never complete on its own.
        let (started_tx, started) = std::sync::mpsc::channel();
        let reader = rt.spawn(async move {
            let mut stream = stream;
            let mut buf = [0u8; 16];
            started_tx.send(()).unwrap();
            let _ = stream.read(&mut buf).await;
            unreachable!("nobody writes before the reader is cancelled");
        });
        started.recv().unwrap();
        std::thread::sleep(Duration::from_millis(50)); // well inside its pending read
        drop(reader); // cancels the task: its future, and the stream, are dropped
        wait_for(|| rt.metrics().io_sources == baseline + 1 && rt.metrics().tasks_alive == 0);

        // Data for the dead connection now wakes nobody: no poll happens.
        std::thread::sleep(Duration::from_millis(20));
        let polls = total_polls(&rt);
        use std::io::Write;
        let _ = peer.write_all(b"too late");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(total_polls(&rt), polls, "a dropped stream's event woke a task");

        drop(listener);
        assert_eq!(rt.metrics().io_sources, baseline);
    }
}

rt_test! {
    fn a_new_stream_in_a_reused_slot_gets_only_its_own_events(rt) {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            for _ in 0..50 {
                // Connect, let the server side drop at once, and start a new pair: the new
                // sockets reuse the freed slots while the old ones' events may be in flight.
                let client = TcpStream::connect(addr).await.unwrap();
                let (server, _) = listener.accept().await.unwrap();
                drop(client);
                let mut server = server;
                let mut buf = [0u8; 4];
                assert_eq!(server.read(&mut buf).await.unwrap(), 0); // the FIN, and nothing else
            }
        });
        wait_for(|| rt.metrics().io_sources == 0);
    }
}

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
