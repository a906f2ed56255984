//! Per-core mode (`Config::per_core`, `spool serve --per-core`) on both hosts: two cores, each
//! a current-thread runtime with its own `SO_REUSEPORT` listener.
//!
//! The kernel picks a listener for each new connection by hashing its addresses and ports, so
//! which core gets a connection is chance, not a rule. The tests that need every core to have
//! some open many connections (32 or 64) at once: the chance that all of n land on one of two
//! cores is 2 / 2ⁿ (below 10⁻⁹ for n = 32), so a failure means the listeners are not sharing
//! the port, not bad luck.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::{Proto, RuntimeKind};
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode};
use server::Config;
use tokio::sync::oneshot;

/// The number of cores every test runs.
const CORES: usize = 2;

host_tests!(
    basics_on_both_protocols,
    every_core_accepts_under_64_connections_h1,
    every_core_accepts_under_64_connections_h2,
    shutdown_drains_every_core_h1,
    shutdown_drains_every_core_h2,
    settings_that_do_not_fit_are_refused,
);

/// A per-core server on its own thread; dropping it asks it to shut down.
struct PerCore {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<Result<(), server::Error>>>,
}

/// Starts `config` in per-core mode with [`CORES`] cores on 127.0.0.1:0.
fn start(host: RuntimeKind, config: Config) -> PerCore {
    let config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        workers: Some(CORES as u16),
        per_core: true,
        ..config
    };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (stopped_tx, stopped_rx) = oneshot::channel();
    std::thread::spawn(move || {
        let result = serve(host, config, stop_rx, move |addr| {
            addr_tx.send(addr).unwrap()
        });
        let _ = stopped_tx.send(result);
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server did not start within 10 s");
    PerCore {
        addr,
        stop: Some(stop_tx),
        stopped: Some(stopped_rx),
    }
}

/// Serves `config` (per-core) on `host` until `stop` fires or is dropped.
fn serve(
    host: RuntimeKind,
    config: Config,
    stop: oneshot::Receiver<()>,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), server::Error> {
    let shutdown = async {
        let _ = stop.await;
    };
    match host {
        RuntimeKind::Tokio => server::serve_on_tokio(config, shutdown, listening),
        RuntimeKind::Spool => {
            let runtimes = (0..config.worker_threads())
                .map(|_| {
                    spool::Builder::new_current_thread()
                        .thread_name("spool-test-core")
                        // As in common::start_with: a preempted poll on a loaded machine is
                        // not what these tests are about.
                        .detector_threshold(Some(Duration::from_secs(1)))
                        .build()
                        .expect("spool runtime")
                })
                .collect();
            server::serve_per_core_on_spool(runtimes, config, shutdown, listening)
        }
    }
}

impl PerCore {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    async fn stopped(&mut self) -> Result<(), server::Error> {
        let stopped = self.stopped.take().expect("stopped() called twice");
        tokio::time::timeout(Duration::from_secs(15), stopped)
            .await
            .expect("the server did not return in time")
            .expect("the server thread panicked")
    }
}

impl Drop for PerCore {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

fn config() -> Config {
    Config {
        shutdown_timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

/// Each core's `spool_connections_accepted_total`, from a `/metrics` page.
fn accepted_by_core(page: &str) -> Vec<f64> {
    (0..CORES)
        .map(|core| {
            let series = format!("spool_connections_accepted_total{{core=\"{core}\"}}");
            common::sample(page, &series).unwrap_or_else(|| panic!("no {series} in:\n{page}"))
        })
        .collect()
}

async fn basics_on_both_protocols(host: RuntimeKind) {
    let mut server = start(host, config());
    for proto in Proto::ALL {
        let reply = common::get(proto, &server.url("/")).await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
        assert_eq!(reply.version, proto.version());
        assert_eq!(reply.text(), "Hello, World!");

        let request = Request::post(server.url("/echo?a=1"))
            .body(Full::new(Bytes::from_static(b"per core")))
            .unwrap();
        let echo = common::send(proto, request).await.json();
        assert_eq!(echo["method"], "POST", "{proto:?}");
        assert_eq!(echo["query"], "a=1");
        assert_eq!(echo["body"], "per core");
        assert_eq!(echo["version"], proto.echo_name());

        let reply = common::get(proto, &server.url("/sleep?ms=10")).await;
        assert_eq!(reply.text(), "slept 10 ms\n", "{proto:?}");
        let reply = common::get(proto, &server.url("/work?ms=5&mode=blocking")).await;
        assert_eq!(reply.text(), "worked 5 ms (blocking)\n", "{proto:?}");
        let reply = common::get(proto, &server.url("/sleep?ms=oops")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{proto:?}");
    }
    // The limits are the same code as without --per-core: a body over --max-body is a 413.
    let request = Request::post(server.url("/echo"))
        .body(Full::new(Bytes::from(vec![
            b'x';
            server::DEFAULT_MAX_BODY + 1
        ])))
        .unwrap();
    assert_eq!(
        common::send(Proto::H1, request).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // One page for the whole server, whichever core answers it: the requests of every core,
    // one accepted series per core, the runtimes' lines summed (one worker per core).
    let page = common::metrics(server.addr).await;
    let answered = |protocol: &str, status: u16| {
        common::sample(
            &page,
            &format!("spool_http_requests_total{{protocol=\"{protocol}\",status=\"{status}\"}}"),
        )
    };
    assert_eq!(answered("HTTP/1.1", 200), Some(4.0), "{page}");
    assert_eq!(answered("HTTP/2", 200), Some(4.0), "{page}");
    assert_eq!(answered("HTTP/1.1", 413), Some(1.0), "{page}");
    let accepted = accepted_by_core(&page);
    assert_eq!(
        accepted.iter().sum::<f64>(),
        common::sample(&page, "spool_connections_total").unwrap(),
        "{page}"
    );
    assert_eq!(
        common::sample(&page, "spool_runtime_workers"),
        Some(CORES as f64),
        "{page}"
    );
    assert_eq!(page.matches("# TYPE spool_runtime_workers ").count(), 1);

    server.begin_shutdown();
    server.stopped().await.unwrap();
}

async fn every_core_accepts_under_64_connections_h1(host: RuntimeKind) {
    every_core_accepts_under_64_connections(host, Proto::H1).await
}

async fn every_core_accepts_under_64_connections_h2(host: RuntimeKind) {
    every_core_accepts_under_64_connections(host, Proto::H2).await
}

/// 64 connections at once, 10 requests each: every core's listener took some, and the cores'
/// counts add up to the server's.
async fn every_core_accepts_under_64_connections(host: RuntimeKind, proto: Proto) {
    const CONNECTIONS: usize = 64;
    const REQUESTS: usize = 10;
    let mut server = start(host, config());
    let addr = server.addr;
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            tokio::spawn(async move {
                let mut sender = Sender::open(proto, addr).await;
                for _ in 0..REQUESTS {
                    let (status, body) = sender.get("/").await;
                    assert_eq!((status, &body[..]), (StatusCode::OK, &b"Hello, World!"[..]));
                }
            })
        })
        .collect();
    for client in clients {
        tokio::time::timeout(Duration::from_secs(30), client)
            .await
            .expect("the load did not finish in 30 s")
            .unwrap();
    }
    let page = common::metrics(addr).await;
    let accepted = accepted_by_core(&page);
    assert!(
        accepted.iter().all(|&n| n > 0.0),
        "a core's listener accepted nothing of {CONNECTIONS} connections: {accepted:?}\n{page}"
    );
    // The load's connections and the /metrics one.
    assert_eq!(
        accepted.iter().sum::<f64>(),
        (CONNECTIONS + 1) as f64,
        "{page}"
    );
    let protocol = match proto {
        Proto::H1 => "HTTP/1.1",
        Proto::H2 => "HTTP/2",
    };
    let series = format!("spool_http_requests_total{{protocol=\"{protocol}\",status=\"200\"}}");
    assert_eq!(
        common::sample(&page, &series),
        Some((CONNECTIONS * REQUESTS) as f64),
        "{page}"
    );
    server.begin_shutdown();
    server.stopped().await.unwrap();
}

async fn shutdown_drains_every_core_h1(host: RuntimeKind) {
    shutdown_drains_every_core(host, Proto::H1).await
}

async fn shutdown_drains_every_core_h2(host: RuntimeKind) {
    shutdown_drains_every_core(host, Proto::H2).await
}

/// 32 connections each with a request in flight (sleeping 3 s), spread over both cores; then
/// shutdown: every core stops accepting, and every request still gets its answer.
async fn shutdown_drains_every_core(host: RuntimeKind, proto: Proto) {
    const CONNECTIONS: usize = 32;
    let mut server = start(host, config());
    let addr = server.addr;
    let mut in_flight = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut sender = Sender::open(proto, addr).await;
        in_flight.push(tokio::spawn(
            async move { sender.get("/sleep?ms=3000").await },
        ));
    }
    // Every connection accepted (the gauge counts the /metrics connection too), then a moment
    // for the requests, already sent, to be read; they sleep 3 s, seconds of margin.
    let page =
        common::wait_for_sample(addr, "spool_connections_open", (CONNECTIONS + 1) as f64).await;
    let accepted = accepted_by_core(&page);
    assert!(
        accepted.iter().all(|&n| n > 0.0),
        "the connections did not spread over the cores: {accepted:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.begin_shutdown();
    wait_until_refused(addr).await;
    assert!(
        in_flight.iter().all(|request| !request.is_finished()),
        "refusal must happen while the requests are still in flight"
    );
    for request in in_flight {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{proto:?}");
        assert_eq!(body, "slept 3000 ms\n");
    }
    server.stopped().await.unwrap();
}

async fn settings_that_do_not_fit_are_refused(host: RuntimeKind) {
    let (_stop, stop) = oneshot::channel();
    // Fewer connections allowed than cores: a core would have no room at all.
    let tight = Config {
        per_core: true,
        workers: Some(2),
        max_connections: 1,
        ..config()
    };
    let refused = std::thread::spawn(move || serve(host, tight, stop, |_| {}))
        .join()
        .unwrap();
    let Err(server::Error::Usage(message)) = refused else {
        panic!("--max-connections 1 with 2 cores was not refused: {refused:?}");
    };
    assert!(message.contains("--max-connections"), "{message}");

    // An address held by a listener that is not SO_REUSEPORT: a bind error, not a hang.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (_stop, stop) = oneshot::channel::<()>();
    let on_taken = Config {
        per_core: true,
        workers: Some(2),
        addr: taken.local_addr().unwrap(),
        ..config()
    };
    // On a thread of its own: a runtime may not be started or dropped inside the test's.
    let result = std::thread::spawn(move || serve(host, on_taken, stop, |_| {}))
        .join()
        .unwrap();
    assert!(
        matches!(result, Err(server::Error::Bind { .. })),
        "{result:?}"
    );

    if host == RuntimeKind::Spool {
        // No runtime at all; and the multi-thread entry point asked to serve per core.
        let empty = server::serve_per_core_on_spool(Vec::new(), config(), async {}, |_| {});
        assert!(matches!(empty, Err(server::Error::Usage(_))), "{empty:?}");
        let runtime = spool::Runtime::builder().worker_threads(1).build().unwrap();
        let per_core = Config {
            per_core: true,
            ..config()
        };
        let wrong = server::serve_on_spool(&runtime, per_core, async {}, |_| {});
        assert!(matches!(wrong, Err(server::Error::Usage(_))), "{wrong:?}");
    }
}

/// Waits until a new connection is refused: every core has closed its listener.
async fn wait_until_refused(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        // Several tries per round: each new connection is hashed to some listener, so one
        // refusal alone could come from one core having closed while the other still listens.
        let mut refused = 0;
        for _ in 0..8 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                refused += 1;
            }
        }
        if refused == 8 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "new connections were still accepted 5 s after shutdown began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One client connection of either protocol, sending requests one after the other.
enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    async fn open(proto: Proto, addr: SocketAddr) -> Sender {
        match proto {
            Proto::H1 => Sender::H1(common::h1_connection(addr).await.0),
            Proto::H2 => Sender::H2(common::h2_connection(addr).await.0),
        }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, Bytes) {
        let request = Request::get(path)
            .header("host", "test")
            .body(Full::default())
            .unwrap();
        let response = match self {
            Sender::H1(sender) => sender.send_request(request).await,
            Sender::H2(sender) => {
                let request = {
                    // HTTP/2 wants the full URI (scheme and authority).
                    let (mut parts, body) = request.into_parts();
                    parts.uri = format!("http://test{path}").parse().unwrap();
                    Request::from_parts(parts, body)
                };
                sender.send_request(request).await
            }
        }
        .expect("response");
        let status = response.status();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    }
}
