//! The accept loop survives running out of file descriptors (EMFILE): it logs a warning, pauses,
//! and serves the waiting clients once descriptors are free again.
//!
//! Alone in its own test binary because it lowers the whole process's descriptor limit.

mod common;

use std::time::Duration;

use common::{start, Logs, HOSTS};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn nofile_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass, which lives for the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0);
    limit
}

fn set_nofile_limit(limit: libc::rlimit) {
    // SAFETY: setrlimit only reads the struct we pass.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0);
}

fn highest_open_fd() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn accept_loop_survives_emfile() {
    let logs = Logs::capture(None);

    for host in HOSTS {
        logs.0.lock().unwrap().clear(); // each host must warn on its own
        let server = start(host);
        const CLIENTS: usize = 4;
        // The client sockets get their descriptors now; connecting later needs no new one.
        let sockets: Vec<_> = (0..CLIENTS)
            .map(|_| tokio::net::TcpSocket::new_v4().unwrap())
            .collect();

        // No new descriptor can be opened: the limit sits just above the highest one in use,
        // and the holes below it are plugged.
        let original = nofile_limit();
        set_nofile_limit(libc::rlimit {
            rlim_cur: highest_open_fd() + 1,
            ..original
        });
        let mut plugs = Vec::new();
        while let Ok(file) = std::fs::File::open("/dev/null") {
            plugs.push(file);
            assert!(
                plugs.len() < 10_000,
                "the descriptor limit did not take effect"
            );
        }

        // The kernel completes these handshakes; the server's accept fails with EMFILE.
        let mut streams = Vec::new();
        for socket in sockets {
            let mut stream = socket.connect(server.addr).await.unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            streams.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(350)).await;

        drop(plugs);
        set_nofile_limit(original);

        // Once descriptors are free the waiting clients are served.
        for mut stream in streams {
            let mut reply = String::new();
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut reply))
                .await
                .expect("a waiting client was never served")
                .unwrap();
            assert!(
                reply.starts_with("HTTP/1.1 200 OK") && reply.ends_with("ok"),
                "{reply}"
            );
        }
        let reply = common::get(common::Proto::H2, &server.url("/")).await;
        assert_eq!(reply.text(), "Hello, World!");

        let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let warned = logs.lines().any(|line| {
            line.contains("WARN") && line.contains("accept failed") && line.contains("os error 24")
        });
        assert!(warned, "no EMFILE warning was logged:\n{logs}");

        // Wait until this host has really stopped: a server still closing its descriptors
        // while the next host's limit is in force would free them and hide that host's EMFILE.
        let mut server = server;
        server.begin_shutdown();
        server
            .stopped(Duration::from_secs(15))
            .await
            .expect("the server stopped with an error");
    }
}
