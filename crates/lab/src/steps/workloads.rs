//! The workloads, each written once over [`Contender`] and timed the same way: wall time and
//! the process's CPU time around the run (the runtime is started before and dropped after).

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::contenders::Contender;
use super::{Sizes, Workload};
use crate::cpu::{thread_cpu, CpuTime};
use crate::experiments::queue;
use crate::traced::traced;
use crate::Ctx;

/// What one run of one workload on one runtime measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Measure {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
    /// The number the row's ratio is about (see [`Workload::metric`]).
    pub(crate) value: f64,
    pub(crate) figures: BTreeMap<String, f64>,
}

/// Runs `body` between two clock and CPU readings.
fn timed(body: impl FnOnce() -> Result<(), String>) -> Result<Measure, String> {
    let (cpu, start) = (CpuTime::now(), Instant::now());
    body()?;
    let wall = start.elapsed();
    Ok(Measure {
        wall,
        cpu: CpuTime::now().since(cpu).total(),
        value: wall.as_secs_f64(),
        figures: BTreeMap::new(),
    })
}

/// Runs `workload` once on a fresh `R`.
pub(crate) fn run<R: Contender>(
    ctx: &Ctx,
    workload: Workload,
    sizes: &Sizes,
) -> Result<Measure, String> {
    let rt = R::start()?;
    let measure = match workload {
        Workload::Sleeping => sleeping(ctx, &rt),
        Workload::SpawnMany => timed(|| {
            let n = sizes.spawn_many;
            let sum = rt.block_on(async { R::spawn(spawn_many::<R>(n)).await });
            (sum == n * n.saturating_sub(1) / 2)
                .then_some(())
                .ok_or("wrong sum".into())
        }),
        Workload::PingPong => timed(|| {
            let (pairs, round_trips) = (sizes.pairs, sizes.round_trips);
            rt.block_on(async { R::spawn(ping_pong::<R>(pairs, round_trips)).await });
            Ok(())
        }),
        Workload::YieldMany => timed(|| {
            let (tasks, yields) = (sizes.yield_tasks, sizes.yields);
            rt.block_on(async { R::spawn(yield_many::<R>(tasks, yields)).await });
            Ok(())
        }),
        Workload::Blocking8 => blocking8(ctx, &rt, sizes.blocking),
        Workload::TcpEcho => timed(|| {
            rt.tcp_echo(sizes.echo_round_trips)
                .unwrap_or_else(|| Err("no reactor".into()))
        })
        .map(|mut m| {
            m.value = m.wall.as_secs_f64() * 1e6 / sizes.echo_round_trips as f64;
            m
        }),
        Workload::Hyper => hyper(&rt, sizes.hyper_conns, sizes.hyper_requests),
    };
    drop(rt);
    measure
}

/// The chapter's program (experiment `queue-busy-sleep`): three `sleeping` tasks, main blocks
/// 5 s, then joins them. The value is the CPU time burned.
fn sleeping<R: Contender>(ctx: &Ctx, rt: &R) -> Result<Measure, String> {
    let measured = queue::chapter_main(
        ctx,
        |out, label| {
            rt.spawn_outside(queue::sleeping(
                ctx.clone(),
                out.clone(),
                label,
                R::sleep,
                None,
            ))
        },
        |task| {
            rt.block_on(task);
            Ok(())
        },
    )?;
    let cpu = measured.cpu.total();
    Ok(Measure {
        wall: measured.wall,
        cpu,
        value: cpu.as_secs_f64(),
        figures: BTreeMap::from([(
            "cpu_share".to_owned(),
            cpu.as_secs_f64() / measured.wall.as_secs_f64().max(f64::EPSILON),
        )]),
    })
}

/// Spawns `n` tasks from a task and awaits them all.
async fn spawn_many<R: Contender>(n: usize) -> usize {
    let tasks: Vec<_> = (0..n).map(|i| R::spawn(async move { i })).collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await;
    }
    sum
}

/// `pairs` games at once; in each, two tasks pass a number back and forth `round_trips` times
/// over two one-slot channels: every hop is a wake of the other task.
async fn ping_pong<R: Contender>(pairs: usize, round_trips: usize) {
    let games: Vec<_> = (0..pairs)
        .map(|_| {
            R::spawn(async move {
                let (ping, pinged) = flume::bounded::<usize>(1);
                let (pong, ponged) = flume::bounded::<usize>(1);
                let other = R::spawn(async move {
                    while let Ok(x) = pinged.recv_async().await {
                        if pong.send_async(x).await.is_err() {
                            break;
                        }
                    }
                });
                for i in 0..round_trips {
                    let _ = ping.send_async(i).await;
                    let _ = ponged.recv_async().await;
                }
                drop(ping);
                other.await;
            })
        })
        .collect();
    for game in games {
        game.await;
    }
}

/// `tasks` tasks that each yield `yields` times.
async fn yield_many<R: Contender>(tasks: usize, yields: usize) {
    let tasks: Vec<_> = (0..tasks)
        .map(|_| {
            R::spawn(async move {
                for _ in 0..yields {
                    R::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
}

/// One task spawns 8 tasks that each block their thread (`thread::sleep`) for `each`; counts
/// the threads that ran them. Each task's poll is a span on the timeline.
fn blocking8<R: Contender>(ctx: &Ctx, rt: &R, each: Duration) -> Result<Measure, String> {
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let (ctx2, seen) = (ctx.clone(), Arc::clone(&threads));
    let mut measure = timed(|| {
        rt.block_on(async move {
            R::spawn(async move {
                let tasks: Vec<_> = (0..8)
                    .map(|i| {
                        let seen = Arc::clone(&seen);
                        R::spawn(traced(&ctx2, format!("blocking({i})"), async move {
                            let me = thread::current().id();
                            seen.lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .insert(me);
                            thread::sleep(each);
                        }))
                    })
                    .collect();
                for task in tasks {
                    task.await;
                }
            })
            .await
        });
        Ok(())
    })?;
    let used = threads.lock().unwrap_or_else(PoisonError::into_inner).len();
    measure
        .figures
        .insert("threads_used".to_owned(), used as f64);
    Ok(measure)
}

/// A hyper server on `rt`, `conns` keep-alive connections from plain threads sending
/// `requests` requests in all; the value is the *server's* CPU µs per request: the process's
/// CPU time less the client threads' own.
fn hyper<R: Contender>(rt: &R, conns: usize, requests: usize) -> Result<Measure, String> {
    let per_conn = requests.div_ceil(conns);
    let (cpu, start) = (CpuTime::now(), Instant::now());
    let clients = rt
        .with_hyper_server(|addr| hyper_load(addr, conns, per_conn))
        .unwrap_or_else(|| Err("no reactor".into()))??;
    let wall = start.elapsed();
    let cpu = CpuTime::now().since(cpu).total();
    let server = cpu.saturating_sub(clients);
    let served = (per_conn * conns) as f64;
    Ok(Measure {
        wall,
        cpu: server,
        value: server.as_secs_f64() * 1e6 / served,
        figures: BTreeMap::from([
            ("client_cpu_seconds".to_owned(), clients.as_secs_f64()),
            ("requests".to_owned(), served),
            (
                "wall_us_per_request".to_owned(),
                wall.as_secs_f64() * 1e6 / served,
            ),
        ]),
    })
}

/// The bounded load: `conns` threads, each one keep-alive connection to `addr` on loopback and
/// `per_conn` requests one after another. Returns the CPU time the threads used.
pub(crate) fn hyper_load(
    addr: SocketAddr,
    conns: usize,
    per_conn: usize,
) -> Result<Duration, String> {
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: lab\r\n\r\n";
    let client = move || -> Result<Duration, String> {
        let start = thread_cpu();
        let failed = |e: std::io::Error| format!("hyper load: {e}");
        let mut stream = TcpStream::connect(addr).map_err(failed)?;
        stream.set_nodelay(true).map_err(failed)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(failed)?;
        let (mut buf, mut response) = ([0; 1024], Vec::with_capacity(256));
        for _ in 0..per_conn {
            stream.write_all(REQUEST).map_err(failed)?;
            response.clear();
            while !response.ends_with(b"Hello, World!") {
                match stream.read(&mut buf).map_err(failed)? {
                    0 => return Err("hyper load: the server closed the connection".into()),
                    n => response.extend_from_slice(&buf[..n]),
                }
            }
        }
        Ok(thread_cpu().saturating_sub(start))
    };
    thread::scope(|scope| {
        let threads: Vec<_> = (0..conns).map(|_| scope.spawn(client)).collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err("a load thread panicked".into()))
            })
            .sum()
    })
}
