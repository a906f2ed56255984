//! [`Builder`]: every knob of a runtime, with defaults.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::{Handle, Runtime};
use crate::blocking::{BlockingPool, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_BLOCKING_THREADS};
use crate::detector::{BlockingReport, Detector, OnBlocking, DEFAULT_THRESHOLD};
use crate::driver::Driver;
use crate::scheduler::{self, Shared, DEFAULT_GLOBAL_QUEUE_INTERVAL};

/// Configures and starts a [`Runtime`].
///
/// ```
/// use std::time::Duration;
///
/// let rt = spool::Runtime::builder()
///     .worker_threads(2)
///     .max_blocking_threads(16)
///     .thread_name("my-app")
///     .blocking_keep_alive(Duration::from_secs(1))
///     .detector_threshold(Some(Duration::from_millis(100)))
///     .build()?;
/// assert_eq!(rt.block_on(rt.spawn(async { 1 })), Ok(1));
/// # std::io::Result::Ok(())
/// ```
#[derive(Clone)]
pub struct Builder {
    current_thread: bool,
    start_paused: bool,
    worker_threads: Option<usize>,
    max_blocking_threads: usize,
    thread_name: String,
    stack_size: Option<usize>,
    blocking_keep_alive: Duration,
    detector_threshold: Option<Duration>,
    on_blocking: Option<OnBlocking>,
    record_spans: bool,
    task_stats: bool,
    global_queue_interval: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with the defaults: one worker per core, 512 blocking threads kept 10 s, the
    /// detector at 50 ms, task statistics kept, no span recording.
    ///
    /// ```
    /// let rt = spool::runtime::Builder::new().build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new() -> Self {
        Builder {
            current_thread: false,
            start_paused: false,
            worker_threads: None,
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            thread_name: "spool".to_owned(),
            stack_size: None,
            blocking_keep_alive: DEFAULT_KEEP_ALIVE,
            detector_threshold: Some(DEFAULT_THRESHOLD),
            on_blocking: None,
            record_spans: false,
            task_stats: true,
            global_queue_interval: DEFAULT_GLOBAL_QUEUE_INTERVAL,
        }
    }

    /// A builder for a multi-thread runtime (the same as [`Builder::new`]; tokio's name).
    ///
    /// ```
    /// let rt = spool::Builder::new_multi_thread().worker_threads(2).build()?;
    /// assert_eq!(rt.metrics().workers.len(), 2);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new_multi_thread() -> Self {
        Self::new()
    }

    /// A builder for a current-thread runtime: no worker threads; its tasks, timers and I/O run
    /// on the thread that calls [`Runtime::block_on`], while it is in `block_on` (the chapter's
    /// one-thread queue, for real). Tasks spawned from other threads wake it. The blocking pool,
    /// the detector, metrics and spans work as on a multi-thread runtime; `worker_threads` is
    /// ignored.
    ///
    /// ```
    /// let rt = spool::Builder::new_current_thread().build()?;
    /// let here = std::thread::current().id();
    /// let there = rt.block_on(async { spool::spawn(async { std::thread::current().id() }).await });
    /// assert_eq!(there, Ok(here)); // the task ran on the block_on thread
    /// # std::io::Result::Ok(())
    /// ```
    pub fn new_current_thread() -> Self {
        Builder {
            current_thread: true,
            ..Self::new()
        }
    }

    /// Starts the runtime with its clock paused ([`time::pause`](crate::time::pause)): time
    /// moves only by [`time::advance`](crate::time::advance), or jumps to the next timer when no
    /// task can run. Current-thread runtimes only: [`build`](Self::build) rejects it otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = spool::Builder::new_current_thread().start_paused(true).build()?;
    /// let real = std::time::Instant::now();
    /// rt.block_on(spool::time::sleep(Duration::from_secs(3600)));
    /// assert!(real.elapsed() < Duration::from_secs(60)); // an hour of virtual time, at once
    /// # std::io::Result::Ok(())
    /// ```
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.start_paused = paused;
        self
    }

    /// Accepted for tokio compatibility: I/O and timers are always enabled on a Spool runtime.
    ///
    /// ```
    /// let rt = spool::Builder::new_current_thread().enable_all().build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn enable_all(&mut self) -> &mut Self {
        self
    }

    /// Accepted for tokio compatibility: I/O is always enabled.
    ///
    /// ```
    /// let rt = spool::Builder::new_multi_thread().enable_io().build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn enable_io(&mut self) -> &mut Self {
        self
    }

    /// Accepted for tokio compatibility: timers are always enabled.
    ///
    /// ```
    /// let rt = spool::Builder::new_multi_thread().enable_time().build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn enable_time(&mut self) -> &mut Self {
        self
    }

    /// Number of worker threads (default: the number of cores). `1` is the chapter's
    /// one-thread queue. Zero is rejected by [`build`](Self::build).
    ///
    /// ```
    /// let rt = spool::Runtime::builder().worker_threads(1).build()?;
    /// assert_eq!(rt.metrics().workers.len(), 1);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.worker_threads = Some(n);
        self
    }

    /// Most threads the blocking pool may run at once (default 512). Zero is rejected by
    /// [`build`](Self::build).
    ///
    /// ```
    /// let rt = spool::Runtime::builder().max_blocking_threads(2).build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.max_blocking_threads = n;
        self
    }

    /// Prefix of the threads' names: workers are `{name}-worker-{i}`, blocking threads
    /// `{name}-blocking-{i}` (default `spool`).
    ///
    /// ```
    /// let rt = spool::Runtime::builder().thread_name("web").build()?;
    /// let name = rt.block_on(rt.spawn(async { std::thread::current().name().map(String::from) }));
    /// assert!(name.unwrap().unwrap().starts_with("web-worker-"));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Stack size of every thread the runtime starts (default: Rust's, 2 MiB).
    ///
    /// ```
    /// let rt = spool::Runtime::builder().thread_stack_size(4 << 20).build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = Some(bytes);
        self
    }

    /// How long an idle blocking thread waits for work before exiting (default 10 s).
    ///
    /// ```
    /// let rt = spool::Runtime::builder()
    ///     .blocking_keep_alive(std::time::Duration::from_millis(100))
    ///     .build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn blocking_keep_alive(&mut self, keep_alive: Duration) -> &mut Self {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// Threshold of the blocking detector (default `Some(50 ms)`); `None` turns it off, and the
    /// workers then do not read the clock around polls at all.
    ///
    /// ```
    /// let rt = spool::Runtime::builder().detector_threshold(None).build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn detector_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.detector_threshold = threshold;
        self
    }

    /// Calls `callback` (on the worker, right after the slow poll) for every poll the detector
    /// reports, in addition to the `tracing` warning. Keep it short: it runs on the worker.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let hits = Arc::new(AtomicUsize::new(0));
    /// let counter = hits.clone();
    /// let rt = spool::Runtime::builder()
    ///     .on_blocking(move |_: &spool::BlockingReport| {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// assert_eq!(hits.load(Ordering::SeqCst), 0);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn on_blocking<F>(&mut self, callback: F) -> &mut Self
    where
        F: Fn(&BlockingReport) + Send + Sync + 'static,
    {
        self.on_blocking = Some(Arc::new(callback));
        self
    }

    /// Records every poll as a [`PollSpan`](crate::PollSpan) (task, worker, start, end), read
    /// with [`Runtime::take_spans`]. Off by default; costs two clock reads and a short
    /// uncontended lock per poll when on, and keeps the latest 2²⁰ spans per worker between
    /// takes (a ring: older ones are dropped and counted).
    /// [`Handle::set_record_spans`](crate::Handle::set_record_spans) switches it at run time.
    ///
    /// ```
    /// let rt = spool::Runtime::builder().worker_threads(1).record_spans(true).build()?;
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap(); // one worker: the first span is in by now
    /// assert!(!rt.take_spans().is_empty());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn record_spans(&mut self, on: bool) -> &mut Self {
        self.record_spans = on;
        self
    }

    /// Keeps per-task statistics (polls, busy time, wakes, schedule latency…, read with
    /// [`Runtime::tasks`]; `spool::stats`). On by default: they reuse the clock reads the
    /// blocking detector makes anyway and cost a few relaxed stores per poll and one per wake
    /// (measured in `docs/inspector.md`). Off, [`Runtime::tasks`] still lists each live task with
    /// its id and spawn site, with zero counters.
    ///
    /// ```
    /// let rt = spool::Runtime::builder().task_stats(false).build()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// std::thread::sleep(std::time::Duration::from_millis(20));
    /// let all = rt.tasks();
    /// assert_eq!(all.len(), 1);
    /// assert_eq!((all[0].id, all[0].polls, all[0].age), (task.id(), 0, None));
    /// # std::io::Result::Ok(())
    /// ```
    pub fn task_stats(&mut self, on: bool) -> &mut Self {
        self.task_stats = on;
        self
    }

    /// Every how many ticks a worker takes from the shared injection queue before its own
    /// queue (default 61, tokio's starting value). Zero is rejected by [`build`](Self::build).
    ///
    /// ```
    /// let rt = spool::Runtime::builder().global_queue_interval(31).build()?;
    /// # drop(rt);
    /// # std::io::Result::Ok(())
    /// ```
    pub fn global_queue_interval(&mut self, ticks: u32) -> &mut Self {
        self.global_queue_interval = ticks;
        self
    }

    /// Starts the runtime's worker threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero workers, zero blocking threads or a zero queue interval; the OS
    /// error if the poller or a thread cannot be created.
    ///
    /// ```
    /// assert!(spool::Runtime::builder().worker_threads(0).build().is_err());
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        let workers = match self.worker_threads {
            _ if self.current_thread => 1,
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
        if self.start_paused && !self.current_thread {
            return Err(invalid(
                "spool: start_paused needs a current-thread runtime (Builder::new_current_thread)",
            ));
        }
        if workers == 0 {
            return Err(invalid("spool: worker_threads must be at least 1"));
        }
        if workers > 4096 {
            return Err(invalid("spool: worker_threads must be at most 4096"));
        }
        if self.max_blocking_threads == 0 {
            return Err(invalid("spool: max_blocking_threads must be at least 1"));
        }
        if self.global_queue_interval == 0 {
            return Err(invalid("spool: global_queue_interval must be at least 1"));
        }
        crate::stats::init();
        let driver = Driver::new()?;
        let deques: Vec<_> = (0..workers)
            .map(|_| crossbeam_deque::Worker::new_fifo())
            .collect();
        let stealers = deques.iter().map(|d| d.stealer()).collect();
        let blocking = BlockingPool::new(
            self.max_blocking_threads,
            self.blocking_keep_alive,
            self.thread_name.clone(),
            self.stack_size,
        );
        let detector = Detector::new(self.detector_threshold, self.on_blocking.clone());
        let shared = Arc::new(Shared::new(
            stealers,
            driver,
            blocking,
            detector,
            crate::scheduler::Options {
                record_spans: self.record_spans,
                task_stats: self.task_stats,
                global_queue_interval: self.global_queue_interval,
                current_thread: self.current_thread,
            },
        ));
        if self.start_paused {
            shared.driver().timers().clock().pause();
        }
        if self.current_thread {
            let deque = deques.into_iter().next().expect("one worker");
            let core = scheduler::worker::Core::new(shared.clone(), 0, deque);
            return Ok(Runtime::new_current_thread(
                Handle::from_shared(shared),
                core,
            ));
        }
        let mut threads = Vec::with_capacity(workers);
        for (index, deque) in deques.into_iter().enumerate() {
            let mut builder =
                std::thread::Builder::new().name(format!("{}-worker-{index}", self.thread_name));
            if let Some(size) = self.stack_size {
                builder = builder.stack_size(size);
            }
            let worker_shared = shared.clone();
            match builder.spawn(move || scheduler::worker::run(worker_shared, index, deque)) {
                Ok(thread) => threads.push(thread),
                Err(err) => {
                    // Stop the workers already started; those never started count as exited.
                    for _ in index..workers {
                        shared.worker_exited();
                    }
                    shared.shutdown(None);
                    for thread in threads {
                        let _ = thread.join();
                    }
                    return Err(err);
                }
            }
        }
        Ok(Runtime::new_multi_thread(
            Handle::from_shared(shared),
            threads,
        ))
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("current_thread", &self.current_thread)
            .field("start_paused", &self.start_paused)
            .field("worker_threads", &self.worker_threads)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("thread_name", &self.thread_name)
            .field("blocking_keep_alive", &self.blocking_keep_alive)
            .field("detector_threshold", &self.detector_threshold)
            .field("on_blocking", &self.on_blocking.is_some())
            .field("record_spans", &self.record_spans)
            .field("task_stats", &self.task_stats)
            .field("global_queue_interval", &self.global_queue_interval)
            .finish()
    }
}
