//! Spool beside tokio's multi-thread runtime and async-executor (smol), workload by workload.
//!
//! Each workload is one criterion group; inside it, one function per runtime (`spool`, `tokio`,
//! `async-executor`) and one parameter per worker count, so criterion's report (and
//! `scripts/bench-runtime`, which reads `target/criterion/<group>/<runtime>/<workers>/`) shows
//! them side by side. Worker counts: the machine's cores and 4 (tokio's own setting), or the
//! comma-separated list in `SPOOL_BENCH_WORKERS`.
//!
//! The first six workloads are tokio's `benches/rt_multi_threaded.rs` with its constants; the
//! rest are ours (timers, the blocking pool). Every runtime gets the same code through the small
//! [`Runtime`]/[`Spawner`] traits below; the runtimes are built as a user would:
//!
//! - Spool: `spool::Runtime::builder().worker_threads(n).build()` (defaults otherwise, so the
//!   blocking detector and task statistics are on, as users get them);
//! - tokio: `Builder::new_multi_thread().worker_threads(n).enable_all().build()`;
//! - async-executor: one `Arc<Executor>` run by `n` threads, each
//!   `async_io::block_on(ex.run(shutdown))` (what smol's own global executor does; `async_io`'s
//!   `block_on` lets an idle runner drive the reactor, which async-io's timers need).
//!
//! The oneshot in `ping_pong` is futures-channel's, the same for all three.
//!
//! **Current-thread rows.** `spawn_many_local`, `yield_many`, `ping_pong` and `chained_spawn`
//! also have a row `current_thread` for Spool's and tokio's current-thread runtimes
//! (`Builder::new_current_thread()`; tokio's with `enable_all()`), after tokio's
//! `benches/rt_current_thread.rs`: there every task runs inside `block_on`, so the workload
//! spawns from the `block_on` future and awaits its handles (or a oneshot) instead of waiting on
//! the benchmark thread (`workload::current_thread`).
//!
//! Differences from tokio's file, on purpose: `spawn_many_local` spawns its 10 000 tasks from a
//! task running on a worker (tokio's spawns them from `block_on`, i.e. from outside the workers,
//! which `spawn_many_remote_idle` already measures).
//!
//! ```text
//! cargo bench -p spool --bench runtimes -- --warm-up-time 1 --measurement-time 3 --sample-size 10
//! cargo bench -p spool --bench runtimes -- ping_pong        # one group
//! cargo bench -p spool --bench runtimes -- --test           # run each once (smoke test)
//! SPOOL_BENCH_STATS_PAIRS=all cargo bench -p spool --bench runtimes   # stats on/off pairs
//! SPOOL_BENCH_STATS_PAIRS=yield_many/2,ping_pong/current_thread cargo bench -p spool --bench runtimes
//! SPOOL_BENCH_STATS_PAIRS=all SPOOL_BENCH_PAIR_A_A=1 cargo bench -p spool --bench runtimes  # A/A
//! ```
//!
//! **Stats on/off.** The cost of the task statistics is not a criterion row: with
//! `SPOOL_BENCH_STATS_PAIRS` set, the binary runs each workload on Spool as shipped and on
//! Spool with `.task_stats(false)` in alternated batches instead, and prints
//! one `stats-pair` line of JSON per row (`pairs`, which says why).

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion};

/// Where a workload hands its timed iteration: criterion's group (the report), or the stats
/// on/off pairing (`pairs`), which runs two workloads' iterations in alternation.
trait Sink {
    /// Measures `f`, one call an iteration.
    fn iter(&mut self, id: BenchmarkId, f: &mut dyn FnMut());
}

impl Sink for BenchmarkGroup<'_, WallTime> {
    fn iter(&mut self, id: BenchmarkId, f: &mut dyn FnMut()) {
        self.bench_function(id, |b| b.iter(&mut *f));
    }
}

/// A runtime under test: built with `workers` worker threads, dropped (and its threads joined)
/// at the end of its benchmark.
trait Runtime: Sized {
    /// The function name in each criterion group.
    const NAME: &'static str;
    type Spawner: Spawner;
    fn new(workers: usize) -> Self;
    fn spawner(&self) -> Self::Spawner;
    /// Runs `f` on the calling thread (not a worker) until it completes.
    fn block_on<F: Future>(&self, f: F) -> F::Output;
}

/// What a task needs from its runtime: spawn (from anywhere, workers included), yield, sleep.
trait Spawner: Clone + Send + Sync + 'static {
    type Join<T: Send + 'static>: Future<Output = T> + Send + Unpin + 'static;
    fn spawn<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    fn spawn_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static;
    fn spawn_blocking<F, T>(&self, f: F) -> Self::Join<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;
    fn yield_now(&self) -> impl Future<Output = ()> + Send;
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send;
}

/// A join handle whose error (a panic or cancellation) fails the benchmark.
struct Unwrap<J>(J);

impl<J, T, E> Future for Unwrap<J>
where
    J: Future<Output = Result<T, E>> + Unpin,
    E: std::fmt::Debug,
{
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("benchmark task failed"))
    }
}

/// A contender built on a runtime with a `handle()` and a `block_on`: its newtype, its name in
/// the report, its spawner, and how it is built for `workers` workers.
macro_rules! contender {
    ($ty:ident($rt:ty), $name:literal, $spawner:ty, |$workers:ident| $build:expr) => {
        struct $ty($rt);

        impl Runtime for $ty {
            const NAME: &'static str = $name;
            type Spawner = $spawner;
            fn new($workers: usize) -> Self {
                $ty($build)
            }
            fn spawner(&self) -> $spawner {
                self.0.handle().clone()
            }
            fn block_on<F: Future>(&self, f: F) -> F::Output {
                self.0.block_on(f)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Spool

/// Whether the next Spool runtime the bench builds keeps task statistics: `true`, but while
/// the stats on/off pairs build their "off" side (`pairs::measure`). A value rather than a
/// second contender type, so that both sides of a pair run the same machine code: with a type
/// apiece, each side had its own copy of the workload's futures, and where the linker put them
/// moved a current-thread row by up to 12 % with statistics playing no part.
static TASK_STATS: AtomicBool = AtomicBool::new(true);

contender!(Spool(spool::Runtime), "spool", spool::Handle, |workers| {
    spool::Runtime::builder()
        .worker_threads(workers)
        .task_stats(TASK_STATS.load(Relaxed))
        .build()
        .expect("spool runtime")
});

impl Spawner for spool::Handle {
    type Join<T: Send + 'static> = Unwrap<spool::Task<T>>;
    fn spawn<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(spool::Handle::spawn(self, f))
    }
    fn spawn_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        spool::Handle::spawn(self, f).detach();
    }
    fn spawn_blocking<F, T>(&self, f: F) -> Self::Join<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Unwrap(spool::Handle::spawn_blocking(self, f))
    }
    fn yield_now(&self) -> impl Future<Output = ()> + Send {
        spool::yield_now()
    }
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send {
        spool::time::sleep(d)
    }
}

// ---------------------------------------------------------------------------------------------
// tokio

contender!(
    Tokio(tokio::runtime::Runtime),
    "tokio",
    tokio::runtime::Handle,
    |workers| tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime")
);

impl Spawner for tokio::runtime::Handle {
    type Join<T: Send + 'static> = Unwrap<tokio::task::JoinHandle<T>>;
    fn spawn<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(tokio::runtime::Handle::spawn(self, f))
    }
    fn spawn_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::runtime::Handle::spawn(self, f));
    }
    fn spawn_blocking<F, T>(&self, f: F) -> Self::Join<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Unwrap(tokio::runtime::Handle::spawn_blocking(self, f))
    }
    fn yield_now(&self) -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }
}

// ---------------------------------------------------------------------------------------------
// The current-thread runtimes (the `current_thread` rows)

contender!(
    SpoolCurrentThread(spool::Runtime),
    "spool",
    spool::Handle,
    |_workers| spool::Builder::new_current_thread()
        .task_stats(TASK_STATS.load(Relaxed))
        .build()
        .expect("spool runtime")
);

contender!(
    TokioCurrentThread(tokio::runtime::Runtime),
    "tokio",
    tokio::runtime::Handle,
    |_workers| tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
);

// ---------------------------------------------------------------------------------------------
// async-executor (smol)

struct Smol {
    ex: Arc<async_executor::Executor<'static>>,
    stop: Option<async_channel::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Runtime for Smol {
    const NAME: &'static str = "async-executor";
    type Spawner = SmolSpawner;
    fn new(workers: usize) -> Self {
        let ex = Arc::new(async_executor::Executor::new());
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let threads = (0..workers)
            .map(|i| {
                let ex = ex.clone();
                let stopped = stopped.clone();
                thread::Builder::new()
                    .name(format!("smol-{i}"))
                    .spawn(move || {
                        async_io::block_on(ex.run(async move {
                            let _ = stopped.recv().await;
                        }))
                    })
                    .expect("spawn an executor thread")
            })
            .collect();
        Smol {
            ex,
            stop: Some(stop),
            threads,
        }
    }
    fn spawner(&self) -> SmolSpawner {
        SmolSpawner(self.ex.clone())
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        async_io::block_on(f)
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        drop(self.stop.take()); // closes the channel: every runner's `run` returns
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[derive(Clone)]
struct SmolSpawner(Arc<async_executor::Executor<'static>>);

impl Spawner for SmolSpawner {
    type Join<T: Send + 'static> = async_executor::Task<T>;
    fn spawn<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(f)
    }
    fn spawn_detached<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(f).detach();
    }
    fn spawn_blocking<F, T>(&self, f: F) -> Self::Join<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        blocking::unblock(f)
    }
    fn yield_now(&self) -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
    async fn sleep(&self, d: Duration) {
        async_io::Timer::after(d).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The workloads. Each `workload::name<R>(group, workers)` builds a runtime, benchmarks one workload on
// it, and drops it.

mod workload {
    use super::*;

    const NUM_SPAWN: usize = 10_000;
    const NUM_YIELD: usize = 1_000;
    const YIELD_TASKS: usize = 200;
    const NUM_PINGS: usize = 1_000;
    const CHAIN: usize = 1_000;
    const TIMERS_CANCELLED: usize = 100_000;
    const TIMERS_FIRED: usize = 10_000;
    const BLOCKING_BATCHES: usize = 100;
    const BLOCKING_BATCH: usize = 16;

    pub(super) type Group<'a> = dyn Sink + 'a;

    fn id<R: Runtime>(workers: usize) -> BenchmarkId {
        BenchmarkId::new(R::NAME, workers)
    }

    /// 10 000 tasks spawned from a task on a worker; each decrements a counter, the last one
    /// signals the benchmark thread.
    pub(super) fn spawn_many_local<R: Runtime>(g: &mut Group<'_>, workers: usize) {
        let rt = R::new(workers);
        let sp = rt.spawner();
        let (tx, rx) = mpsc::sync_channel(1000);
        let rem = Arc::new(AtomicUsize::new(0));
        g.iter(id::<R>(workers), &mut || {
            rem.store(NUM_SPAWN, Relaxed);
            let (inner, tx, rem) = (sp.clone(), tx.clone(), rem.clone());
            sp.spawn_detached(async move {
                for _ in 0..NUM_SPAWN {
                    let tx = tx.clone();
                    let rem = rem.clone();
                    inner.spawn_detached(async move {
                        if 1 == rem.fetch_sub(1, Relaxed) {
                            tx.send(()).unwrap();
                        }
                    });
                }
            });
            rx.recv().unwrap();
        });
    }

    /// 10 000 empty tasks spawned from outside the runtime, then every handle awaited.
    pub(super) fn spawn_many_remote_idle<R: Runtime>(g: &mut Group<'_>, workers: usize) {
        let rt = R::new(workers);
        let sp = rt.spawner();
        let mut handles = Vec::with_capacity(NUM_SPAWN);
        g.iter(id::<R>(workers), &mut || {
            for _ in 0..NUM_SPAWN {
                handles.push(sp.spawn(async {}));
            }
            rt.block_on(async {
                for handle in handles.drain(..) {
                    handle.await;
                }
            });
        });
    }

    /// tokio's `stall`: a 10 µs spin.
    fn stall() {
        let start = Instant::now();
        while start.elapsed() < Duration::from_micros(10) {
            std::hint::spin_loop();
        }
    }

    /// As `spawn_many_remote_idle`, while 2 × workers background tasks loop `yield_now` + 10 µs spin.
    pub(super) fn spawn_many_remote_busy1<R: Runtime>(g: &mut Group<'_>, workers: usize) {
        let rt = R::new(workers);
        let sp = rt.spawner();
        let flag = Arc::new(AtomicBool::new(true));
        for _ in 0..2 * workers {
            let (flag, inner) = (flag.clone(), sp.clone());
            sp.spawn_detached(async move {
                while flag.load(Relaxed) {
                    inner.yield_now().await;
                    stall();
                }
            });
        }
        let mut handles = Vec::with_capacity(NUM_SPAWN);
        g.iter(id::<R>(workers), &mut || {
            for _ in 0..NUM_SPAWN {
                handles.push(sp.spawn(async {}));
            }
            rt.block_on(async {
                for handle in handles.drain(..) {
                    handle.await;
                }
            });
        });
        flag.store(false, Relaxed);
    }

    /// 200 tasks spawned from outside, each yielding 1 000 times.
    pub(super) fn yield_many<R: Runtime>(g: &mut Group<'_>, workers: usize) {
        let rt = R::new(workers);
        let sp = rt.spawner();
        let (tx, rx) = mpsc::sync_channel(YIELD_TASKS);
        g.iter(id::<R>(workers), &mut || {
            for _ in 0..YIELD_TASKS {
                let (tx, inner) = (tx.clone(), sp.clone());
                sp.spawn_detached(async move {
                    for _ in 0..NUM_YIELD {
                        inner.yield_now().await;
                    }
                    tx.send(()).unwrap();
                });
            }
            for _ in 0..YIELD_TASKS {
                rx.recv().unwrap();
            }
        });
    }

    /// 1 000 rounds: a task spawns a peer and they exchange two oneshot messages.
    /// One ping-pong round, as tokio's bench has it: spawns a peer, sends it a message over one
    /// oneshot and awaits its answer over another.
    async fn ping_round<S: Spawner>(sp: S) {
        use futures_channel::oneshot;
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        sp.spawn_detached(async move {
            rx1.await.unwrap();
            tx2.send(()).unwrap();
        });
        tx1.send(()).unwrap();
        rx2.await.unwrap();
    }

    pub(super) fn ping_pong<R: Runtime>(g: &mut Group<'_>, workers: usize) {
        let rt = R::new(workers);
        let sp = rt.spawner();
        let (done_tx, done_rx) = mpsc::sync_channel(1000);
        let rem = Arc::new(AtomicUsize::new(0));
        g.iter(id::<R>(workers), &mut || {
            let done_tx = done_tx.clone();
            let rem = rem.clone();
            rem.store(NUM_PINGS, Relaxed);
            let outer = sp.clone();
            rt.block_on(async {
                outer.clone().spawn_detached(async move {
                    for _ in 0..NUM_PINGS {
                        let (rem, done_tx, inner) = (rem.clone(), done_tx.clone(), outer.clone());
                        outer.spawn_detached(async move {
                            ping_round(inner).await;
                            if 1 == rem.fetch_sub(1, Relaxed) {
                                done_tx.send(()).unwrap();
                            }
                        });
                    }
                });
                done_rx.recv().unwrap();
            });
        });
    }

    fn chain<S: Spawner>(sp: S, done_tx: mpsc::SyncSender<()>, n: usize) {
        if n == 0 {
            done_tx.send(()).unwrap();
        } else {
            let next = sp.clone();
            sp.spawn_detached(async move { chain(next, done_tx, n - 1) });
        }
    }

    /// A chain of 1 000 tasks, each spawning the next.
    pub(super) fn chained_spawn<R: Runtime>(g: &mut Group<'_>, workers: usize) {
        let rt = R::new(workers);
        let sp = rt.spawner();
        let (done_tx, done_rx) = mpsc::sync_channel(1000);
        g.iter(id::<R>(workers), &mut || {
            let (done_tx, first) = (done_tx.clone(), sp.clone());
            rt.block_on(async {
                sp.spawn_detached(async move { chain(first, done_tx, CHAIN) });
                done_rx.recv().unwrap();
            });
        });
    }

    /// The `current_thread` rows: the same workloads, run inside `block_on` (the only thread).
    pub(super) mod current_thread {
        use super::*;

        fn id<R: Runtime>() -> BenchmarkId {
            BenchmarkId::new(R::NAME, "current_thread")
        }

        /// Runs the current-thread row of workload `name`, if it has one.
        pub(crate) fn row<R: Runtime>(name: &str, g: &mut Group<'_>) {
            match name {
                "spawn_many_local" => spawn_many_local::<R>(g),
                "yield_many" => yield_many::<R>(g),
                "ping_pong" => ping_pong::<R>(g),
                "chained_spawn" => chained_spawn::<R>(g),
                _ => {}
            }
        }

        /// 10 000 empty tasks spawned from `block_on`, then every handle awaited.
        fn spawn_many_local<R: Runtime>(g: &mut Group<'_>) {
            let rt = R::new(1);
            let sp = rt.spawner();
            let mut handles = Vec::with_capacity(NUM_SPAWN);
            g.iter(id::<R>(), &mut || {
                rt.block_on(async {
                    for _ in 0..NUM_SPAWN {
                        handles.push(sp.spawn(async {}));
                    }
                    for handle in handles.drain(..) {
                        handle.await;
                    }
                })
            });
        }

        /// 200 tasks, each yielding 1 000 times, spawned from `block_on` and awaited.
        fn yield_many<R: Runtime>(g: &mut Group<'_>) {
            let rt = R::new(1);
            let sp = rt.spawner();
            let mut handles = Vec::with_capacity(YIELD_TASKS);
            g.iter(id::<R>(), &mut || {
                rt.block_on(async {
                    for _ in 0..YIELD_TASKS {
                        let inner = sp.clone();
                        handles.push(sp.spawn(async move {
                            for _ in 0..NUM_YIELD {
                                inner.yield_now().await;
                            }
                        }));
                    }
                    for handle in handles.drain(..) {
                        handle.await;
                    }
                })
            });
        }

        /// 1 000 rounds: a task spawns a peer and they exchange two oneshot messages; `block_on`
        /// awaits the rounds.
        fn ping_pong<R: Runtime>(g: &mut Group<'_>) {
            let rt = R::new(1);
            let sp = rt.spawner();
            let mut handles = Vec::with_capacity(NUM_PINGS);
            g.iter(id::<R>(), &mut || {
                rt.block_on(async {
                    for _ in 0..NUM_PINGS {
                        let inner = sp.clone();
                        handles.push(sp.spawn(ping_round(inner)));
                    }
                    for handle in handles.drain(..) {
                        handle.await;
                    }
                })
            });
        }

        fn chain<S: Spawner>(sp: S, done: futures_channel::oneshot::Sender<()>, n: usize) {
            if n == 0 {
                let _ = done.send(());
            } else {
                let next = sp.clone();
                sp.spawn_detached(async move { chain(next, done, n - 1) });
            }
        }

        /// A chain of 1 000 tasks, each spawning the next; `block_on` awaits the last one's
        /// oneshot.
        fn chained_spawn<R: Runtime>(g: &mut Group<'_>) {
            let rt = R::new(1);
            let sp = rt.spawner();
            g.iter(id::<R>(), &mut || {
                let (done_tx, done_rx) = futures_channel::oneshot::channel();
                let first = sp.clone();
                rt.block_on(async {
                    sp.spawn_detached(async move { chain(first, done_tx, CHAIN) });
                    done_rx.await.unwrap();
                });
            });
        }
    }

    /// 100 000 sleeps (1 s and more, all distinct) registered (polled once) and dropped, split over
    /// one task per worker.
    pub(super) fn timers_cancel<R: Runtime>(g: &mut Group<'_>, workers: usize) {
        let rt = R::new(workers);
        let sp = rt.spawner();
        g.iter(id::<R>(workers), &mut || {
            rt.block_on(async {
                let per_task = TIMERS_CANCELLED / workers;
                let tasks: Vec<_> = (0..workers)
                    .map(|t| {
                        let inner = sp.clone();
                        sp.spawn(async move {
                            for i in 0..per_task {
                                let micros = (t * per_task + i) as u64;
                                let sleep = inner
                                    .sleep(Duration::from_secs(1) + Duration::from_micros(micros));
                                let mut sleep = pin!(sleep);
                                let first = futures_lite::future::poll_once(sleep.as_mut()).await;
                                assert!(first.is_none(), "a 1 s sleep fired at once");
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await;
                }
            })
        });
    }

    /// 10 000 tasks, each sleeping 1–10 ms; done when all have woken.
    pub(super) fn timers_fire<R: Runtime>(g: &mut Group<'_>, workers: usize) {
        let rt = R::new(workers);
        let sp = rt.spawner();
        g.iter(id::<R>(workers), &mut || {
            rt.block_on(async {
                let tasks: Vec<_> = (0..TIMERS_FIRED)
                    .map(|i| {
                        let inner = sp.clone();
                        let ms = 1 + (i % 10) as u64;
                        sp.spawn(async move { inner.sleep(Duration::from_millis(ms)).await })
                    })
                    .collect();
                for task in tasks {
                    task.await;
                }
            })
        });
    }

    /// 100 batches of 16 no-op blocking calls, each batch awaited before the next.
    pub(super) fn spawn_blocking<R: Runtime>(g: &mut Group<'_>, workers: usize) {
        let rt = R::new(workers);
        let sp = rt.spawner();
        g.iter(id::<R>(workers), &mut || {
            rt.block_on(async {
                for _ in 0..BLOCKING_BATCHES {
                    let calls: Vec<_> = (0..BLOCKING_BATCH)
                        .map(|_| sp.spawn_blocking(|| std::hint::black_box(())))
                        .collect();
                    for call in calls {
                        call.await;
                    }
                }
            })
        });
    }
}

// ---------------------------------------------------------------------------------------------

/// Worker counts: `SPOOL_BENCH_WORKERS` (e.g. `2,4`), else the machine's cores and 4.
fn worker_counts() -> Vec<usize> {
    if let Ok(list) = std::env::var("SPOOL_BENCH_WORKERS") {
        let counts: Vec<usize> = list
            .split(',')
            .filter_map(|w| w.trim().parse().ok())
            .filter(|&w| w > 0)
            .collect();
        if !counts.is_empty() {
            return counts;
        }
    }
    let cores = thread::available_parallelism().map_or(4, |n| n.get());
    let mut counts = vec![cores, 4];
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// The stats on/off pairs (`SPOOL_BENCH_STATS_PAIRS`): the statistics' cost, measured by
/// alternation rather than by two criterion runs seconds apart.
///
/// On a shared machine one criterion measurement drifts by several per cent from the next one
/// (the load of other processes, frequency, the page cache), more than the 3 % to be resolved.
/// So both runtimes — Spool as shipped and the same with `task_stats(false)` — are built at
/// once, each with its workload set up, and their iterations are run in short alternated
/// batches of about [`BATCH`]: after a warm-up, [`BLOCKS`] ABBA blocks (on, off, off, on —
/// whichever goes first after a switch pays for it once on each side), and all that twice: with
/// the stats-on runtime set up first, then with the other (`measure`). Each block gives a ratio
/// `on / off` of batches a few tens of milliseconds apart; the figure is the median of the
/// ratios of both orders' blocks, with their quartiles as its spread (and the same of the
/// process's CPU time).
/// The idle runtime's workers are parked while the other runs (`spawn_many_remote_busy1`'s
/// spinners excepted: both runtimes' spinners run throughout, so each side is measured beside
/// the same load). `SPOOL_BENCH_PAIR_A_A` pairs Spool with itself: what the method reads where
/// there is nothing to find.
mod pairs {
    use super::*;
    use workload::Group;

    /// ABBA blocks (two rounds each) per order of setting up, so twice this per pair;
    /// `SPOOL_BENCH_PAIR_BLOCKS` overrides it (`scripts/bench-runtime --quick`).
    const BLOCKS: usize = 15;

    fn blocks() -> usize {
        std::env::var("SPOOL_BENCH_PAIR_BLOCKS")
            .ok()
            .and_then(|r| r.parse().ok())
            .filter(|&r| r > 0)
            .unwrap_or(BLOCKS)
    }
    /// The length of one batch.
    const BATCH: Duration = Duration::from_millis(25);
    /// Warm-up, both sides alternated.
    const WARM_UP: Duration = Duration::from_millis(500);

    /// The measured pair.
    pub(super) struct Pair {
        /// Median time per iteration, stats on and off (ns, wall clock).
        pub(super) on_ns: f64,
        pub(super) off_ns: f64,
        /// Median of the per-round ratios on/off of wall time, and its first and third
        /// quartiles.
        pub(super) ratio: [f64; 3],
        /// The same of the process's CPU time (user + system, `getrusage`: every thread's,
        /// the idle runtime's parked workers burning none).
        pub(super) cpu_ratio: [f64; 3],
        /// The ratio of the fastest batches, on over off (wall time): another estimate, for
        /// noise that only ever adds time.
        pub(super) min_ratio: f64,
        /// The median block ratio of each order of setting up (`on` first, then `off`
        /// first): what the order itself moves.
        pub(super) order_medians: Vec<f64>,
        /// Rounds, and iterations per batch in each order (set from each order's warm-up).
        pub(super) rounds: usize,
        pub(super) batches: Vec<u64>,
    }

    /// Measures the pair in both orders of setting up: `setup` with statistics on, then
    /// inside its iteration's hand-over `setup` with them off ([`TASK_STATS`]; both alive
    /// while they alternate), then the same with the "off" side set up first. Which runtime is
    /// made first decides where its memory lies (and which allocator arena its threads get): a
    /// current-thread A/A once read 1.07 with one order alone. Each order gives [`blocks`]
    /// ABBA blocks; the pair's figures are the medians and quartiles of both orders' blocks
    /// together.
    pub(super) fn measure(setup: &dyn Fn(&mut Group<'_>)) -> Option<Pair> {
        let off = a_a_check();
        let mut runs = Samples::default();
        for on_first in [true, false] {
            let (first, second) = if on_first { (true, off) } else { (off, true) };
            let second = |g: &mut Group<'_>| {
                TASK_STATS.store(second, Relaxed);
                setup(g)
            };
            let mut outer = First {
                second: &second,
                on_first,
                samples: &mut runs,
            };
            TASK_STATS.store(first, Relaxed);
            setup(&mut outer);
            TASK_STATS.store(true, Relaxed);
        }
        runs.pair()
    }

    /// What the blocks of both orders measured.
    #[derive(Default)]
    struct Samples {
        /// Time per iteration of each batch, stats on and off (ns, wall clock).
        on_ns: Vec<f64>,
        off_ns: Vec<f64>,
        /// Each block's ratio on / off, wall and CPU time.
        ratios: Vec<f64>,
        cpu_ratios: Vec<f64>,
        /// Each order's median block ratio (wall), in the order run.
        order_medians: Vec<f64>,
        batches: Vec<u64>,
    }

    impl Samples {
        fn pair(mut self) -> Option<Pair> {
            if self.ratios.is_empty() {
                return None;
            }
            let quartiles = |v: &mut Vec<f64>| [q(v, 0.5), q(v, 0.25), q(v, 0.75)];
            Some(Pair {
                min_ratio: q(&mut self.on_ns, 0.0) / q(&mut self.off_ns, 0.0),
                on_ns: q(&mut self.on_ns, 0.5),
                off_ns: q(&mut self.off_ns, 0.5),
                ratio: quartiles(&mut self.ratios),
                cpu_ratio: quartiles(&mut self.cpu_ratios),
                order_medians: self.order_medians,
                rounds: self.on_ns.len(),
                batches: self.batches,
            })
        }
    }

    /// The `at`-quantile of `v` (sorted here), the nearest rank.
    fn q(v: &mut [f64], at: f64) -> f64 {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * at).round() as usize]
    }

    struct First<'s> {
        second: &'s dyn Fn(&mut Group<'_>),
        on_first: bool,
        samples: &'s mut Samples,
    }

    impl Sink for First<'_> {
        fn iter(&mut self, _: BenchmarkId, first: &mut dyn FnMut()) {
            let mut inner = Second {
                first,
                on_first: self.on_first,
                samples: self.samples,
            };
            (self.second)(&mut inner);
        }
    }

    struct Second<'a> {
        first: &'a mut dyn FnMut(),
        on_first: bool,
        samples: &'a mut Samples,
    }

    impl Sink for Second<'_> {
        fn iter(&mut self, _: BenchmarkId, second: &mut dyn FnMut()) {
            if self.on_first {
                alternate(self.first, second, self.samples);
            } else {
                alternate(second, self.first, self.samples);
            }
        }
    }

    /// The process's CPU time so far (ns).
    fn cpu_ns() -> f64 {
        // SAFETY: an all-zero `rusage` is a valid value for `getrusage` to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable `rusage`.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
        (us(usage.ru_utime) + us(usage.ru_stime)) * 1e3
    }

    /// `n` iterations of `f`: wall and CPU time per iteration (ns).
    fn time(f: &mut dyn FnMut(), n: u64) -> (f64, f64) {
        let (start, cpu) = (Instant::now(), cpu_ns());
        for _ in 0..n {
            f();
        }
        let wall = start.elapsed().as_nanos() as f64;
        (wall / n as f64, (cpu_ns() - cpu) / n as f64)
    }

    /// One order's warm-up and blocks, added to `samples`.
    fn alternate(on: &mut dyn FnMut(), off: &mut dyn FnMut(), samples: &mut Samples) {
        // Warm-up: one iteration each at a time, until WARM_UP has passed (at least 2 each).
        let (mut iters, mut spent) = (0u64, 0.0);
        let start = Instant::now();
        while iters < 2 || start.elapsed() < WARM_UP {
            spent += time(on, 1).0 + time(off, 1).0;
            iters += 1;
        }
        let per_iter = spent / (2 * iters) as f64;
        let batch = ((BATCH.as_nanos() as f64 / per_iter).round() as u64).max(1);
        samples.batches.push(batch);
        let mut ratios = vec![];
        // Rounds in ABBA blocks: on, off, then off, on. A batch's time may depend on whether
        // it goes first (the other runtime's workers are still winding down, say); within a
        // block that effect falls on both sides once, and the block's ratio is free of it.
        for _ in 0..blocks() {
            let (a1, b1) = (time(on, batch), time(off, batch));
            let (b2, a2) = (time(off, batch), time(on, batch));
            samples.on_ns.extend([a1.0, a2.0]);
            samples.off_ns.extend([b1.0, b2.0]);
            ratios.push((a1.0 + a2.0) / (b1.0 + b2.0));
            samples
                .cpu_ratios
                .push((a1.1 + a2.1) / (b1.1 + b2.1).max(1.0));
        }
        samples.ratios.extend(&ratios);
        samples.order_medians.push(q(&mut ratios, 0.5));
    }

    /// Prints one pair as a line `stats-pair {json}` (read by `scripts/bench-runtime`).
    pub(super) fn report(workload: &str, workers: &str, pair: Option<Pair>) {
        let Some(p) = pair else { return };
        let [r, r1, r3] = p.ratio;
        let [c, c1, c3] = p.cpu_ratio;
        println!(
            "stats-pair {{\"workload\": \"{workload}\", \"workers\": \"{workers}\", \
             \"on_ns\": {:.1}, \"off_ns\": {:.1}, \"ratio\": [{r:.4}, {r1:.4}, {r3:.4}], \
             \"cpu_ratio\": [{c:.4}, {c1:.4}, {c3:.4}], \"min_ratio\": {:.4}, \
             \"order_medians\": [{}], \"rounds\": {}, \"batch\": {:?}}}",
            p.on_ns,
            p.off_ns,
            p.min_ratio,
            p.order_medians
                .iter()
                .map(|m| format!("{m:.4}"))
                .collect::<Vec<_>>()
                .join(", "),
            p.rounds,
            p.batches
        );
    }

    /// `SPOOL_BENCH_PAIR_A_A` set: the "off" side keeps its statistics on, so that a pair
    /// compares Spool with itself — the method's noise floor (an A/A check).
    pub(super) fn a_a_check() -> bool {
        std::env::var_os("SPOOL_BENCH_PAIR_A_A").is_some()
    }

    /// Whether pair `workload/workers` is asked for: `SPOOL_BENCH_STATS_PAIRS` is `all` or a
    /// comma-separated list of `workload/workers` (`workers` a count or `current_thread`).
    pub(super) fn wanted(workload: &str, workers: &str) -> bool {
        let Ok(list) = std::env::var("SPOOL_BENCH_STATS_PAIRS") else {
            return false;
        };
        let me = format!("{workload}/{workers}");
        list == "all" || list.split(',').any(|w| w.trim() == me)
    }
}

macro_rules! workloads {
    ($($name:ident),* $(,)?) => {
        $(
            fn $name(c: &mut Criterion) {
                let mut g = c.benchmark_group(stringify!($name));
                for workers in worker_counts() {
                    workload::$name::<Spool>(&mut g, workers);
                    workload::$name::<Tokio>(&mut g, workers);
                    workload::$name::<Smol>(&mut g, workers);
                }
                workload::current_thread::row::<SpoolCurrentThread>(stringify!($name), &mut g);
                workload::current_thread::row::<TokioCurrentThread>(stringify!($name), &mut g);
                g.finish();
            }
        )*

        /// The stats on/off pairs of every workload asked for (`pairs::wanted`).
        fn stats_pairs() {
            $(
                for workers in worker_counts() {
                    if pairs::wanted(stringify!($name), &workers.to_string()) {
                        let pair = pairs::measure(&|g| workload::$name::<Spool>(g, workers));
                        pairs::report(stringify!($name), &workers.to_string(), pair);
                    }
                }
                if pairs::wanted(stringify!($name), "current_thread") {
                    let pair = pairs::measure(&|g| {
                        workload::current_thread::row::<SpoolCurrentThread>(stringify!($name), g)
                    });
                    pairs::report(stringify!($name), "current_thread", pair);
                }
            )*
        }

        /// What `criterion_main!` would write, without its undocumented `pub fn`; with
        /// `SPOOL_BENCH_STATS_PAIRS` set, the stats on/off pairs instead.
        fn main() {
            if std::env::var_os("SPOOL_BENCH_STATS_PAIRS").is_some() {
                stats_pairs();
                return;
            }
            let mut c = Criterion::default().configure_from_args();
            $($name(&mut c);)*
            c.final_summary();
        }
    };
}

workloads!(
    spawn_many_local,
    spawn_many_remote_idle,
    spawn_many_remote_busy1,
    yield_many,
    ping_pong,
    chained_spawn,
    timers_cancel,
    timers_fire,
    spawn_blocking,
);
