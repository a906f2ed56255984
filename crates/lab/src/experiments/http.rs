//! Experiment 12: the chapter's Questions 4 and 5, measured on the real server.
//!
//! The server (crates/server) runs in this process with **one** async worker, on 127.0.0.1 and
//! a free port. [`loaders`] client threads keep `/work?ms=W&mode=…` requests going — each burns
//! `W` ms of CPU in its handler — while [`PROBES`] requests for `/` (the hello route, which does
//! nothing) go out one every `W / 8`, each on a thread of its own, and their latencies are
//! kept. Then the same with the work moved to the blocking pool.
//!
//! - `mode=inline`: the work runs on the one worker; a `/` request waits for the poll in
//!   progress (and those queued before it) to finish: its p99 is at least about `W`.
//! - `mode=blocking`: the handler awaits `spawn_blocking`; the worker is free, and `/` is
//!   answered at once: its p99 is well under `W`.
//!
//! `W` is the chapter's 200 ms × `--scale`, but at least [`MIN_WORK`], so that the stall stays
//! well above the noise: a loopback round trip, and the wake-ups a crowded machine delays.
//!
//! On tokio the server runs as `spool serve` runs it: the accept loop in `block_on` on its own
//! thread, the connections on the worker. On Spool as `spool serve --runtime spool` does: the
//! accept loop is a task on the one worker too, so inline work delays accepting as well.
//!
//! The client is a few lines of HTTP/1.1 over `std::net::TcpStream` (one request per
//! connection, `Connection: close`), on plain threads, so the measurement depends on neither
//! runtime.

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::experiments::spool_demo::record_spool_spans;
use crate::{Ctx, Holds, Row};

/// How many client threads keep `/work` requests going: one per core, from 2 to 4.
///
/// Two are enough to keep the one worker busy all the time (one request is queued while the
/// other runs). More than the machine has cores would make the blocking phase measure the OS
/// instead of the runtime: with the work on the blocking pool, every loader's request spins a
/// core, and a `/` request then waits for the kernel to find a core for the worker.
pub fn loaders() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
}

/// How many `/` requests are timed per mode: a hundred, so that the p99 (nearest rank: the
/// second slowest) is not one unlucky wake-up on a crowded machine.
pub const PROBES: usize = 100;

/// The shortest `/work` duration used, whatever the scale.
pub const MIN_WORK: Duration = Duration::from_millis(100);

/// Inline: `/`'s p99 must be at least this share of `W` to count as "stalled behind the work".
pub const STALLED_SHARE: f64 = 0.75;

/// Blocking: `/`'s p99 must be at most this share of `W` to count as "not stalled".
pub const FREE_SHARE: f64 = 0.5;

/// What one request may take before the client gives up.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A server started in this process: its address, and how to stop it.
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: flume::Sender<()>,
    /// Waits for the server to finish after the stop, and tears down its runtime.
    finish: Box<dyn FnOnce() -> Result<(), String>>,
}

impl RunningServer {
    /// Asks the server to shut down and waits until it — and the runtime it ran on, threads
    /// joined — is gone.
    pub fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(());
        (self.finish)()
    }
}

/// The server's settings for the lab: one worker, a free port on loopback, a short drain.
fn config() -> server::Config {
    server::Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        workers: Some(1),
        shutdown_timeout: Duration::from_secs(2),
        ..server::Config::default()
    }
}

/// Starts the server on a one-worker tokio runtime, the way `spool serve --workers 1` does
/// ([`server::serve_on_tokio`]), and waits until it listens.
pub fn start_tokio() -> Result<RunningServer, String> {
    start("lab-tokio-server", |shutdown, listening| {
        server::serve_on_tokio(config(), shutdown, listening).map_err(|e| e.to_string())
    })
}

/// Starts the server on a one-worker Spool runtime, the way `spool serve --runtime spool
/// --workers 1` does ([`server::serve_on_spool`]: the accept loop a task on the worker), and
/// records the worker's polls for the timeline. Every poll the blocking detector reports — it
/// is set to half the `/work` duration, `work / 2`, at most its default — is counted in
/// `reports`.
pub fn start_spool(
    ctx: &Ctx,
    work: Duration,
    reports: Arc<AtomicUsize>,
) -> Result<RunningServer, String> {
    let runtime = spool::Runtime::builder()
        .worker_threads(1)
        .thread_name("spool")
        .detector_threshold(Some(spool::DEFAULT_THRESHOLD.min(work / 2)))
        .record_spans(ctx.timeline.is_on())
        .on_blocking(move |_: &spool::BlockingReport| {
            reports.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .map_err(|e| format!("cannot start Spool: {e}"))?;
    let ctx = ctx.clone();
    start("lab-spool-server", move |shutdown, listening| {
        let served = server::serve_on_spool(&runtime, config(), shutdown, listening);
        record_spool_spans(&ctx, &runtime, "spool", &HashMap::new());
        // Every request was answered before the stop: dropping joins idle threads only.
        drop(runtime);
        served.map_err(|e| e.to_string())
    })
}

/// The shutdown future [`start`] hands to a host: it completes when [`RunningServer::stop`] is
/// called.
type Stopped = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `serve` on a thread named `name`, with a shutdown future and a callback that reports
/// the address it listens on, and waits until it listens (or fails to).
fn start<F>(name: &str, serve: F) -> Result<RunningServer, String>
where
    F: FnOnce(Stopped, Box<dyn FnOnce(SocketAddr) + Send>) -> Result<(), String> + Send + 'static,
{
    let (stop, stopped) = flume::bounded::<()>(1);
    let (ready, listening) = flume::bounded::<SocketAddr>(1);
    let shutdown: Stopped = Box::pin(async move {
        let _ = stopped.recv_async().await;
    });
    let thread = thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            serve(
                shutdown,
                Box::new(move |addr| {
                    let _ = ready.send(addr);
                }),
            )
        })
        .map_err(|e| format!("cannot start the server thread: {e}"))?;
    match listening.recv() {
        Ok(addr) => Ok(RunningServer {
            addr,
            stop,
            finish: Box::new(move || {
                thread
                    .join()
                    .map_err(|_| "the server thread panicked".to_owned())?
            }),
        }),
        Err(_) => Err(match thread.join() {
            Ok(Err(e)) => e,
            _ => "the server thread ended before listening".to_owned(),
        }),
    }
}

/// One `GET path` on a fresh connection; returns how long it took, connect to last byte.
pub fn get(addr: SocketAddr, path: &str) -> Result<Duration, String> {
    let start = Instant::now();
    let fail = |e: std::io::Error| format!("GET {path}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(fail)?;
    stream.set_nodelay(true).map_err(fail)?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(fail)?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(fail)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(fail)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(fail)?;
    let elapsed = start.elapsed();
    if response.starts_with(b"HTTP/1.1 200") {
        Ok(elapsed)
    } else {
        let head = String::from_utf8_lossy(&response[..response.len().min(40)]).into_owned();
        Err(format!("GET {path}: unexpected response {head:?}"))
    }
}

/// The latencies of one mode's `/` probes, and how many `/work` requests ran meanwhile.
#[derive(Debug, Clone)]
pub struct Phase {
    /// The `/` latencies, sorted.
    pub latencies: Vec<Duration>,
    /// `/work` requests completed while probing.
    pub work_done: usize,
}

impl Phase {
    /// The `q`-quantile of the latencies, nearest rank (of 100 probes, p99 is the second
    /// slowest).
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

/// Runs [`loaders`] `/work?ms=W&mode={mode}` loops and, meanwhile, [`PROBES`] `/` requests one
/// every `W / 8`; records both on the timeline under `lane`.
pub fn phase(
    ctx: &Ctx,
    addr: SocketAddr,
    mode: &str,
    work: Duration,
    lane: &str,
) -> Result<Phase, String> {
    let work_path = format!("/work?ms={}&mode={mode}", work.as_millis());
    let loaders = loaders();
    let work_task = format!("GET /work ({mode}) ×{loaders}");
    let stop = AtomicBool::new(false);
    let timed = |path: &str, task: &str| {
        let start = Instant::now();
        let result = get(addr, path);
        ctx.timeline.record(lane, task, start, Instant::now());
        result
    };
    thread::scope(|scope| {
        let loaders: Vec<_> = (0..loaders)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0;
                    while !stop.load(Ordering::Relaxed) {
                        timed(&work_path, &work_task)?;
                        done += 1;
                    }
                    Ok::<_, String>(done)
                })
            })
            .collect();
        // Let the work get going before the first probe.
        thread::sleep(work / 2);
        let probes: Vec<_> = (0..PROBES)
            .map(|_| {
                let probe = scope.spawn(|| timed("/", "GET /"));
                thread::sleep(work / 8);
                probe
            })
            .collect();
        let latencies: Result<Vec<Duration>, String> = probes
            .into_iter()
            .map(|p| p.join().unwrap_or_else(|_| Err("a probe panicked".into())))
            .collect();
        stop.store(true, Ordering::Relaxed);
        let mut work_done = 0;
        for loader in loaders {
            work_done += loader
                .join()
                .unwrap_or_else(|_| Err("a loader panicked".into()))?;
        }
        let mut latencies = latencies?;
        latencies.sort();
        Ok(Phase {
            latencies,
            work_done,
        })
    })
}

/// "load average 6.9 on 2 cores", where the OS says (Linux's `/proc/loadavg`): with more
/// runnable threads than cores, a `/` request also waits for the kernel to give the worker a
/// core, whatever the runtime does.
fn machine_load() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let one_minute: f64 = text.split_whitespace().next()?.parse().ok()?;
    let cores = thread::available_parallelism().ok()?;
    Some(format!("load average {one_minute:.1} on {cores} cores"))
}

/// The `/work` duration at `ctx`'s scale: the chapter's 200 ms, at least [`MIN_WORK`].
pub fn work_duration(ctx: &Ctx) -> Duration {
    // Whole milliseconds: that is what `/work?ms=` takes.
    Duration::from_millis(ctx.secs(0.2).as_millis() as u64).max(MIN_WORK)
}

/// Experiment 12 on tokio: the server on a one-worker tokio runtime.
pub fn http_blocking_handler_tokio(ctx: &Ctx) -> Row {
    measure(ctx, "tokio", start_tokio, None)
}

/// Experiment 12 on Spool: the server on a one-worker Spool runtime. Spool's blocking detector
/// also sees the inline work: the row counts its reports in each phase.
pub fn http_blocking_handler_spool(ctx: &Ctx) -> Row {
    let reports = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reports);
    let work = work_duration(ctx);
    measure(
        ctx,
        "spool",
        || start_spool(ctx, work, counter),
        Some(&reports),
    )
}

/// Starts a server with `start`, runs the inline phase then the blocking phase, stops it, and
/// judges. `reports`, when given, counts the detector's reports (read after each phase).
fn measure(
    ctx: &Ctx,
    runtime: &str,
    start: impl FnOnce() -> Result<RunningServer, String>,
    reports: Option<&AtomicUsize>,
) -> Row {
    let work = work_duration(ctx);
    let server = match start() {
        Ok(server) => server,
        Err(e) => return Row::failed(format!("cannot start the server on {runtime}: {e}")),
    };
    let addr = server.addr;
    let count = || reports.map(|r| r.load(Ordering::Relaxed));
    let inline = phase(ctx, addr, "inline", work, &format!("{runtime}, inline"));
    let after_inline = count();
    let blocking = phase(ctx, addr, "blocking", work, &format!("{runtime}, blocking"));
    let after_blocking = count();
    let stopped = server.stop();
    let row = match (inline, blocking, stopped) {
        (Ok(inline), Ok(blocking), Ok(())) => judge(runtime, work, &inline, &blocking),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Row::failed(e),
    };
    match (after_inline, after_blocking) {
        (Some(inline), Some(total)) => row
            .with_figure("detector_reports_inline", inline as f64)
            .with_figure("detector_reports_blocking", (total - inline) as f64)
            .with_note(&format!(
                "Spool's blocking detector reported {inline} poll(s) holding the worker inline, {} with mode=blocking",
                total - inline
            )),
        _ => row,
    }
}

/// Judges the two phases: inline must stall `/` (p99 ≥ [`STALLED_SHARE`] × W), blocking must
/// not (p99 ≤ [`FREE_SHARE`] × W).
pub fn judge(runtime: &str, work: Duration, inline: &Phase, blocking: &Phase) -> Row {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (in50, in99) = (inline.quantile(0.5), inline.quantile(0.99));
    let (bl50, bl99) = (blocking.quantile(0.5), blocking.quantile(0.99));
    let stalled = in99 >= work.mul_f64(STALLED_SHARE);
    let free = bl99 <= work.mul_f64(FREE_SHARE);
    let story = format!(
        "{runtime}, one worker, {} clients looping on /work?ms={}: inline, `/` waits behind the CPU work on the only worker (p50 {:.1} ms, p99 {:.1} ms); with mode=blocking the work is on the blocking pool and `/` is answered at once (p50 {:.1} ms, p99 {:.1} ms)",
        loaders(),
        work.as_millis(),
        ms(in50),
        ms(in99),
        ms(bl50),
        ms(bl99)
    );
    let mut misses = Vec::new();
    if !stalled {
        misses.push(format!(
            "inline p99 {:.1} ms is under {:.0}% of the {} ms of work: `/` was not held up",
            ms(in99),
            STALLED_SHARE * 100.0,
            work.as_millis()
        ));
    }
    if !free {
        misses.push(format!(
            "blocking p99 {:.1} ms is over {:.0}% of the {} ms of work: `/` still waited{}",
            ms(bl99),
            FREE_SHARE * 100.0,
            work.as_millis(),
            machine_load().map_or_else(
                || " (a crowded machine?)".to_owned(),
                |load| format!(" — a crowded machine? ({load})")
            )
        ));
    }
    let (holds, note) = if misses.is_empty() {
        (Holds::Yes, story)
    } else {
        (Holds::No, format!("{}; {story}", misses.join("; ")))
    };
    Row {
        name: String::new(),
        book_figure: String::new(),
        expected_seconds: work.as_secs_f64(),
        measured_seconds: in99.as_secs_f64(),
        measured: format!(
            "p99 {:.0} ms inline · {:.1} ms blocking",
            ms(in99),
            ms(bl99)
        ),
        holds,
        note,
        figures: Default::default(),
        output: Vec::new(),
        timeline_svg: None,
    }
    .with_figure("work_seconds", work.as_secs_f64())
    .with_figure("inline_p50_seconds", in50.as_secs_f64())
    .with_figure("inline_p99_seconds", in99.as_secs_f64())
    .with_figure("blocking_p50_seconds", bl50.as_secs_f64())
    .with_figure("blocking_p99_seconds", bl99.as_secs_f64())
    .with_figure("inline_work_requests", inline.work_done as f64)
    .with_figure("blocking_work_requests", blocking.work_done as f64)
    .with_figure("probes", inline.latencies.len() as f64)
    .with_figure("loaders", loaders() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase_of(ms: &[u64]) -> Phase {
        Phase {
            latencies: ms.iter().map(|m| Duration::from_millis(*m)).collect(),
            work_done: 1,
        }
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let p = phase_of(&(1..=100).collect::<Vec<_>>());
        assert_eq!(p.quantile(0.5), Duration::from_millis(50));
        assert_eq!(p.quantile(0.99), Duration::from_millis(99));
        assert_eq!(phase_of(&[]).quantile(0.99), Duration::ZERO);
    }

    #[test]
    fn judged_on_both_modes() {
        let work = Duration::from_millis(200);
        let stalled = phase_of(&[100, 190, 400]);
        let free = phase_of(&[1, 1, 3]);
        assert_eq!(judge("tokio", work, &stalled, &free).holds, Holds::Yes);
        assert_eq!(judge("tokio", work, &free, &free).holds, Holds::No);
        assert_eq!(judge("tokio", work, &stalled, &stalled).holds, Holds::No);
    }

    #[test]
    fn work_is_scaled_but_never_tiny() {
        assert_eq!(
            work_duration(&Ctx::new(1.0).unwrap()),
            Duration::from_millis(200)
        );
        assert_eq!(work_duration(&Ctx::new(0.05).unwrap()), MIN_WORK);
        assert_eq!(
            work_duration(&Ctx::new(0.75).unwrap()),
            Duration::from_millis(150)
        );
    }
}
