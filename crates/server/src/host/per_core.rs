//! Per-core mode (`spool serve --per-core`): one single-threaded runtime per core, each with
//! its own listener on the same address, sharing nothing on the request path.
//!
//! The default hosting is one multi-thread runtime: one listener, one accept loop, and workers
//! that steal each other's tasks, so load is balanced task by task, at the price of
//! cross-thread wake-ups and shared queues. Per-core mode is the other classic design (the
//! TechEmpower hyper entry's, actix-web's, nginx's workers'): N current-thread runtimes, one per
//! thread, each running [`super::serve_core`] on its own `SO_REUSEPORT` listener. The kernel
//! hashes each new connection (by its addresses and ports) to one of the listeners of the port;
//! the connection then lives and dies on that core, its tasks never leave the thread, and no
//! wake-up crosses cores.
//!
//! The rules:
//!
//! 1. **Binding.** Every listener is bound here, on the calling thread, before anything is
//!    served (in its own runtime's context, so it registers with that core's reactor), with
//!    `SO_REUSEADDR` and `SO_REUSEPORT`. The first bind picks the port when the address has port
//!    0; the others bind the address it got. A failed bind returns [`Error::Bind`] before any
//!    connection is accepted.
//! 2. **What is shared.** The counters ([`Metrics`], one set: `/metrics` on any core shows the
//!    whole server, plus `spool_connections_accepted_total{core}` per listener), the TLS
//!    acceptor (built once: one certificate for all cores), the log. The runtimes' own lines
//!    (`spool_runtime_*`) are summed over the cores ([`sum_pages`]).
//! 3. **What is per core.** The runtime, its timer and blocking pool, the accept loop, the
//!    drain, and a share of `--max-connections` ([`share`]): a core cannot wait for another's
//!    connections to end, so each enforces its share (at least one connection each: fewer
//!    connections than cores is refused).
//! 4. **Threads.** Core 0 runs on the calling thread, which also awaits the shutdown future
//!    (so it need not be `Send`); cores 1.. run on threads `spool-core-N`.
//! 5. **Shutdown.** When the shutdown future completes, a [`Stop`] broadcast tells every core;
//!    each stops accepting, takes what is queued in its listener, closes it and drains its own
//!    connections ([`super::serve_core`]). A core that ends on its own (an error, a panic)
//!    stops the others too, so the process never serves on some cores only. The call returns
//!    once every core has drained, with the first error if any.
//!
//! What it gives up, and so when to choose it, is in `docs/architecture.md` ("Per-core
//! mode"): no stealing (one slow handler stalls its core's other connections), and the kernel
//! balances connections, not load.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::rt::{Executor, Timer};
use hyper_util::server::conn::auto::HttpServerConnExec;
use tokio::sync::watch;

use super::{Common, Host, Listener};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::rt::{race, BlockingJob, BoxFuture, First, Runtime};
use crate::service::ServiceFuture;
use crate::tls::TlsAcceptor;
use crate::{conn, Error};

/// One core's runtime, as [`run`] needs it: implemented by each host for its current-thread
/// runtime.
pub(crate) trait Core: Send + 'static {
    /// The core's listener.
    type Listener: Listener;
    /// hyper's executor on this core (spawns on the current runtime).
    type Executor: Executor<BoxFuture<()>>
        + HttpServerConnExec<ServiceFuture, conn::SentBody>
        + Clone
        + Send
        + Sync
        + 'static;
    /// hyper's timer on this core.
    type Timer: Timer + Clone + Send + Sync + 'static;

    /// Binds `addr` with `SO_REUSEADDR` and `SO_REUSEPORT`, listens, and registers the
    /// listener with this core's reactor.
    fn listen(&self, addr: SocketAddr) -> io::Result<Self::Listener>;

    /// This core's timer and blocking pool for the routes, bound to this runtime (its
    /// `metrics_text` is read from other cores' threads too).
    fn runtime(&self) -> Arc<dyn Runtime>;

    /// hyper's executor and timer on this core.
    fn executor_and_timer(&self) -> (Self::Executor, Self::Timer);

    /// Runs `future` to completion on this core's runtime, on the calling thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Stops the runtime once its server has returned (connections are drained already).
    fn shut_down(self);
}

/// Serves `config` on `cores`, one accept loop each (see the module docs), until `shutdown`
/// completes; drains every core and returns. `listening` gets the bound address.
pub(crate) fn run<C: Core, S: Future>(
    cores: Vec<C>,
    config: &Config,
    shutdown: S,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), Error> {
    let n = cores.len();
    if n == 0 {
        return Err(Error::Usage(
            "per-core mode needs at least one core (runtime)".to_owned(),
        ));
    }
    if config.max_connections < n {
        return Err(Error::Usage(format!(
            "--max-connections {} is fewer than the {n} cores of --per-core: each core \
             enforces its share of the limit and needs room for one connection at least",
            config.max_connections
        )));
    }
    let tls = TlsAcceptor::from_config(config)?;

    // 1. Bind every listener before serving anything.
    let mut listeners = Vec::with_capacity(n);
    let mut addr = config.addr;
    for core in &cores {
        let listener = core
            .listen(addr)
            .map_err(|source| Error::Bind { addr, source })?;
        if listeners.is_empty() {
            addr = listener.local_addr().map_err(Error::LocalAddr)?;
        }
        listeners.push(listener);
    }
    listening(addr);

    // 2. What the cores share.
    let metrics = Arc::new(Metrics::with_cores(n));
    let all: Arc<[Arc<dyn Runtime>]> = cores.iter().map(C::runtime).collect();
    let stop = Arc::new(Stop::new());
    let parts = |core: &C, index: usize| {
        let (executor, timer) = core.executor_and_timer();
        let host = Host {
            executor,
            timer,
            runtime: Arc::new(PerCoreRuntime {
                index,
                all: Arc::clone(&all),
            }) as Arc<dyn Runtime>,
        };
        let common = Common {
            metrics: Arc::clone(&metrics),
            tls: tls.clone(),
            core: Some(index),
            max_connections: share(config.max_connections, n, index),
        };
        (host, common)
    };

    // 3. Cores 1.. on threads of their own.
    let mut pairs = cores.into_iter().zip(listeners).enumerate();
    let Some((_, (first, first_listener))) = pairs.next() else {
        unreachable!("n >= 1 was checked above");
    };
    let mut threads = Vec::with_capacity(n - 1);
    for (index, (core, listener)) in pairs {
        let (host, common) = parts(&core, index);
        let config = config.clone();
        let core_stop = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name(format!("spool-core-{index}"))
            .spawn(move || {
                let stop_all = StopOnDrop(&core_stop);
                let result = core.block_on(super::serve_core(
                    listener,
                    host,
                    &config,
                    core_stop.wait(),
                    common,
                ));
                drop(stop_all);
                core.shut_down();
                result
            });
        match spawned {
            Ok(thread) => threads.push((index, thread)),
            Err(error) => {
                stop.trigger();
                let _ = join(threads);
                return Err(Error::Core {
                    core: index,
                    message: format!("cannot start its thread: {error}"),
                });
            }
        }
    }

    // 4. Core 0 here, watching the shutdown future.
    let (host, common) = parts(&first, 0);
    let first_result = {
        let _stop_all = StopOnDrop(&stop);
        first.block_on(async {
            let serving = super::serve_core(first_listener, host, config, stop.wait(), common);
            let mut serving = std::pin::pin!(serving);
            match race(serving.as_mut(), shutdown).await {
                First::Left(result) => result,
                First::Right(_) => {
                    stop.trigger();
                    serving.await
                }
            }
        })
    };
    first.shut_down();
    let rest = join(threads);
    first_result.and(rest)
}

/// Waits for every core's thread; the first error (in core order), a panic included.
fn join(threads: Vec<(usize, std::thread::JoinHandle<Result<(), Error>>)>) -> Result<(), Error> {
    let mut first = Ok(());
    for (core, thread) in threads {
        let result = thread.join().unwrap_or_else(|_| {
            Err(Error::Core {
                core,
                message: "its thread panicked".to_owned(),
            })
        });
        if first.is_ok() {
            first = result;
        }
    }
    first
}

/// Core `index`'s share of `max` connections over `n` cores: `max / n`, the remainder going
/// one each to the first cores (so the shares add up to `max`).
pub(crate) fn share(max: usize, n: usize, index: usize) -> usize {
    max / n + usize::from(index < max % n)
}

/// The broadcast that tells every core to stop accepting and drain.
///
/// A `tokio::sync::watch` channel: it needs no tokio runtime, so it works on every host.
#[derive(Debug)]
struct Stop {
    tx: watch::Sender<bool>,
}

impl Stop {
    fn new() -> Self {
        Stop {
            tx: watch::Sender::new(false),
        }
    }

    /// Tells every core (those waiting and those that will wait) to stop.
    fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// A future that completes once [`Stop::trigger`] has been called.
    fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            // An error means the sender is gone, which only happens once every core is done.
            let _ = rx.wait_for(|&stopped| stopped).await;
        }
    }
}

/// Triggers the [`Stop`] when dropped: a core that returns, or panics, stops the others.
struct StopOnDrop<'a>(&'a Stop);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.trigger();
    }
}

/// The [`Runtime`] the routes of core `index` get: that core's timer and blocking pool, and
/// the runtime lines of `/metrics` summed over every core.
#[derive(Debug)]
struct PerCoreRuntime {
    index: usize,
    all: Arc<[Arc<dyn Runtime>]>,
}

impl PerCoreRuntime {
    fn local(&self) -> &dyn Runtime {
        &*self.all[self.index]
    }
}

impl Runtime for PerCoreRuntime {
    fn name(&self) -> &'static str {
        self.local().name()
    }

    fn sleep(&self, duration: std::time::Duration) -> BoxFuture<()> {
        self.local().sleep(duration)
    }

    fn spawn_blocking(&self, job: BlockingJob) -> BoxFuture<std::thread::Result<()>> {
        self.local().spawn_blocking(job)
    }

    fn metrics_text(&self) -> String {
        let pages: Vec<String> = self.all.iter().map(|r| r.metrics_text()).collect();
        sum_pages(&pages)
    }
}

/// Sums Prometheus text pages of unlabelled series (`name value` lines, as
/// [`Runtime::metrics_text`] writes them) series by series: one page with each `# HELP` and
/// `# TYPE` line once, in the order first seen. Gauges such as `spool_runtime_workers` become
/// the whole server's (the number of cores), counters the sum of the cores'.
pub(crate) fn sum_pages(pages: &[String]) -> String {
    use std::fmt::Write as _;
    enum Line<'a> {
        Comment(&'a str),
        Sample(&'a str, f64),
    }
    let mut lines: Vec<Line<'_>> = Vec::new();
    for page in pages {
        for line in page.lines() {
            if line.starts_with('#') {
                if !lines
                    .iter()
                    .any(|l| matches!(l, Line::Comment(c) if *c == line))
                {
                    lines.push(Line::Comment(line));
                }
                continue;
            }
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let value: f64 = value.parse().unwrap_or(0.0);
            let seen = lines.iter_mut().find_map(|l| match l {
                Line::Sample(n, v) if *n == name => Some(v),
                _ => None,
            });
            match seen {
                Some(total) => *total += value,
                None => lines.push(Line::Sample(name, value)),
            }
        }
    }
    let mut out = String::new();
    for line in lines {
        // `write!` to a String cannot fail.
        let _ = match line {
            Line::Comment(c) => writeln!(out, "{c}"),
            Line::Sample(name, value) => writeln!(out, "{name} {value}"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_differ_by_one_at_most() {
        for (max, n) in [(10_000, 2), (7, 3), (5, 5), (1_000_001, 16)] {
            let shares: Vec<usize> = (0..n).map(|i| share(max, n, i)).collect();
            assert_eq!(shares.iter().sum::<usize>(), max, "{shares:?}");
            let (lo, hi) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
            assert!(hi - lo <= 1 && *lo >= 1, "{shares:?}");
        }
    }

    #[test]
    fn pages_are_summed_series_by_series() {
        let core = |workers: u32, polls: u32| {
            format!(
                "# HELP a_workers W.\n# TYPE a_workers gauge\na_workers {workers}\n\
                 # HELP a_polls_total P.\n# TYPE a_polls_total counter\na_polls_total {polls}\n"
            )
        };
        let page = sum_pages(&[core(1, 10), core(1, 32)]);
        assert_eq!(
            page,
            "# HELP a_workers W.\n# TYPE a_workers gauge\na_workers 2\n\
             # HELP a_polls_total P.\n# TYPE a_polls_total counter\na_polls_total 42\n"
        );
        assert_eq!(sum_pages(&[]), "");
    }

    #[test]
    fn stop_reaches_waiters_before_and_after_the_trigger() {
        let stop = Stop::new();
        let before = stop.wait();
        stop.trigger();
        let after = stop.wait();
        let rt = spool::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            before.await;
            after.await;
        });
    }
}
