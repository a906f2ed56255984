//! Name resolution on the blocking pool: `lookup_host("localhost:80")`, and a resolver that
//! answers slowly not stalling the other tasks of a one-worker runtime.

mod common;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn localhost_resolves_to_loopback() {
    let rt = common::rt(1);
    let addrs: Vec<SocketAddr> = rt
        .block_on(spool::net::lookup_host("localhost:80"))
        .unwrap()
        .collect();
    assert!(!addrs.is_empty());
    assert!(
        addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
        "{addrs:?}"
    );
}

#[test]
fn unknown_names_are_errors() {
    let rt = common::rt(1);
    let err = rt
        .block_on(spool::net::lookup_host("no-such-host.invalid:80"))
        .err()
        .expect("`.invalid` never resolves");
    assert_ne!(err.to_string(), "");
}

/// A resolver that takes its time: a `ToSocketAddrs` whose lookup sleeps, as a DNS server
/// that answers slowly would make `getaddrinfo` do, and records whether it ran on a worker.
struct SlowResolver {
    delay: Duration,
    ran_on_worker: Arc<AtomicBool>,
}

impl ToSocketAddrs for SlowResolver {
    type Iter = std::vec::IntoIter<SocketAddr>;
    fn to_socket_addrs(&self) -> std::io::Result<Self::Iter> {
        let on_worker = std::thread::current()
            .name()
            .is_some_and(|name| name.contains("worker"));
        self.ran_on_worker.store(on_worker, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        Ok(vec!["127.0.0.1:9".parse().unwrap()].into_iter())
    }
}

#[test]
fn a_slow_resolver_does_not_stall_a_one_worker_runtime() {
    common::watchdog("slow resolver", || {
        let rt = common::rt(1);
        let ran_on_worker = Arc::new(AtomicBool::new(true));
        rt.block_on(async {
            let lookup = spool::spawn(spool::net::lookup_host(SlowResolver {
                delay: Duration::from_secs(2),
                ran_on_worker: Arc::clone(&ran_on_worker),
            }));
            // Meanwhile the one worker keeps running other tasks: 20 ticks of 10 ms each
            // finish long before the 2 s lookup does.
            let ticker = spool::spawn(async {
                for _ in 0..20 {
                    spool::time::sleep(Duration::from_millis(10)).await;
                }
                std::time::Instant::now()
            });
            let ticked_at = ticker.await.unwrap();
            let addrs: Vec<_> = lookup.await.unwrap().unwrap().collect();
            let resolved_at = std::time::Instant::now();
            assert_eq!(addrs, vec!["127.0.0.1:9".parse::<SocketAddr>().unwrap()]);
            assert!(
                ticked_at < resolved_at,
                "the ticker waited for the resolver"
            );
        });
        assert!(
            !ran_on_worker.load(Ordering::SeqCst),
            "the lookup ran on a worker thread"
        );
    });
}
