//! The shared test set, run against every step: spawn and await, a panic reaching the
//! awaiter, timers, many tasks, a wake from another thread — and, from step 8 on, TCP echo
//! and a hyper exchange.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

macro_rules! shared_tests {
    ($($step:ident),* $(,)?) => {$(
        mod $step {
            use super::*;
            use steps::$step as rt;

            #[test]
            fn spawn_and_await() {
                assert_eq!(rt::block_on(rt::spawn(async { 1 + 1 })), 2);
                // A task that spawns and awaits another.
                let outer = rt::spawn(async { rt::spawn(async { 20 }).await + 1 });
                assert_eq!(rt::block_on(outer), 21);
            }

            #[test]
            fn a_panic_reaches_the_awaiter() {
                let task = rt::spawn(async {
                    if std::hint::black_box(true) {
                        panic!("a task's panic");
                    }
                    1
                });
                let awaited = catch_unwind(AssertUnwindSafe(|| rt::block_on(task)));
                assert!(awaited.is_err(), "awaiting a panicked task must not give a value");
                // The workers survived it.
                assert_eq!(rt::block_on(rt::spawn(async { 7 })), 7);
            }

            #[test]
            fn timers_wait_and_fire_in_deadline_order() {
                let start = Instant::now();
                rt::block_on(rt::spawn(rt::sleep(Duration::from_millis(20))));
                assert!(start.elapsed() >= Duration::from_millis(20));

                let order = Arc::new(Mutex::new(Vec::new()));
                let tasks: Vec<_> = [60u64, 10, 35]
                    .into_iter()
                    .map(|ms| {
                        let order = Arc::clone(&order);
                        rt::spawn(async move {
                            rt::sleep(Duration::from_millis(ms)).await;
                            order.lock().unwrap().push(ms);
                        })
                    })
                    .collect();
                for task in tasks {
                    rt::block_on(task);
                }
                assert_eq!(*order.lock().unwrap(), [10, 35, 60]);
            }

            #[test]
            fn many_tasks() {
                let tasks: Vec<_> = (0..2_000u64)
                    .map(|i| rt::spawn(async move {
                        rt::yield_now().await;
                        i
                    }))
                    .collect();
                let sum: u64 = tasks.into_iter().map(rt::block_on).sum();
                assert_eq!(sum, 1_999 * 2_000 / 2);
            }

            #[test]
            fn wake_from_another_thread() {
                let (tx, rx) = flume::bounded::<u32>(1);
                let task = rt::spawn(async move { rx.recv_async().await.unwrap() * 2 });
                let sender = thread::spawn(move || {
                    thread::sleep(Duration::from_millis(10));
                    tx.send(21).unwrap();
                });
                assert_eq!(rt::block_on(task), 42);
                sender.join().unwrap();
            }
        }
    )*};
}

shared_tests!(step1, step2, step3, step4, step5, step6, step7, step8);

/// The tests that need I/O: step 8 only.
mod step8_io {
    use steps::step8::{self as rt, TcpListener, TcpStream};

    fn localhost() -> std::net::SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[test]
    fn tcp_echo() {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = rt::spawn(async move {
            let (stream, _) = listener.accept().await?;
            let mut buf = [0; 1024];
            loop {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return std::io::Result::Ok(());
                }
                stream.write_all(&buf[..n]).await?;
            }
        });
        let client = rt::spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            let mut echoed = Vec::new();
            for round in 0..100u32 {
                let message = format!("ping {round}");
                stream.write_all(message.as_bytes()).await?;
                let mut buf = [0; 64];
                let mut got = 0;
                while got < message.len() {
                    got += stream.read(&mut buf[got..]).await?;
                }
                echoed.push(String::from_utf8(buf[..got].to_vec()).unwrap());
            }
            std::io::Result::Ok(echoed)
        });
        let echoed = rt::block_on(client).unwrap();
        assert_eq!(echoed.len(), 100);
        assert_eq!(echoed[99], "ping 99");
        rt::block_on(server).unwrap();
    }

    #[test]
    fn connect_to_a_closed_port_fails() {
        // Bind then drop: nothing listens there any more.
        let addr = std::net::TcpListener::bind(localhost())
            .unwrap()
            .local_addr()
            .unwrap();
        let result = rt::block_on(rt::spawn(async move { TcpStream::connect(addr).await }));
        assert!(result.is_err());
    }

    #[test]
    fn hyper_hello_world() {
        use http_body_util::Full;
        use hyper::{body::Bytes, server::conn::http1, service::service_fn, Response};
        use std::io::{Read, Write};

        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        rt::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let hello = service_fn(|_| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(
                    "Hello, World!",
                ))))
            });
            let _ = http1::Builder::new()
                .timer(rt::HyperTimer)
                .serve_connection(stream, hello)
                .await;
        })
        .detach();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        client.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with("Hello, World!"), "{response}");
    }
}
