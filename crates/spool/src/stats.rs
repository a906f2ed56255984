//! Per-task statistics: what each live task has done, kept in the task's own header.
//!
//! Every task cell carries a `PollStats` and a `TaskStats` in its metadata (`TaskMeta`,
//! `task.rs`), beside its id and spawn site. [`Runtime::tasks`](crate::Runtime::tasks) reads
//! them through the registry of live tasks (`scheduler/registry.rs`, which keeps a pointer to
//! each task's metadata beside its waker) and returns a [`TaskSnapshot`] per task: state, polls,
//! busy time, wakes (self-wakes apart), schedule latency (wake → poll, a histogram with
//! p50/p99), age, last poll, last worker.
//!
//! # The rules that keep it cheap
//!
//! 1. **One writer at a time, no read-modify-write.** A task is polled by one worker at a time,
//!    and it is scheduled (woken) only when it is not being polled: async-task defers a wake that
//!    arrives during a poll to the end of that poll, on the polling thread. Every hand-over
//!    between those writers goes through a queue or async-task's state word, which orders them.
//!    So each counter is updated with a relaxed load and a relaxed store — no locked instruction
//!    — and readers (the snapshot) see values at most slightly stale, never torn.
//! 2. **No clock read of its own: one per poll, shared.** The worker reads the clock once per
//!    poll, at its end, for the blocking detector (on by default), and a poll starts where the
//!    worker's previous poll ended (`worker.rs`, `run_task`). That end is read inside the task's
//!    own poll (`poll_end`, called by `TaskFuture` through a `StatsRef` to its own header) and
//!    left in a thread-local, where the worker takes it (`poll_finish`) for the detector, the
//!    span recorder and the next poll's start instead of reading the clock again. The poll
//!    that finishes the task reads none: the worker does, after `Runnable::run`, as with
//!    statistics off (`poll_end` says why). The worker reads the start afresh (and records it
//!    with `set_clock`) only after doing something else (parking, turning the driver,
//!    searching, polling `block_on`'s future) or for a task queued by another thread (the
//!    injection queue, its inbox), whose wake may be later than the worker's last read. That thread-local is also the timestamp of a wake or a spawn made on
//!    a worker, and inside `block_on`'s future on a current-thread runtime (read once before
//!    each poll of that future: it may spawn thousands of tasks). A spawn from outside the
//!    workers (the main thread, a blocking thread) reads no clock: its first poll, whose start
//!    the worker reads afresh anyway (the task comes from the injection queue), dates it — a
//!    clock read there cost a tenth of such a spawn (`docs/inspector.md`). Only wakes from
//!    outside the workers read the clock. The wakes a worker makes while turning the driver
//!    (I/O readiness, expired timers) come after the turn's wait, from one pass over its
//!    events: the first reads the clock, the next 31 reuse it (`reset_turn_clock` at each
//!    turn's start and end keeps a read from crossing a wait).
//! 3. **A self-wake is one store; nothing is counted twice.** A self-wake (made while the task
//!    ran, so scheduled at its poll's end: every poll of a yielding task) stores a constant, its
//!    time being that end, already kept. Any other wake stores its date and adds one to the
//!    task's count of wakes made while it was not running. The total is not counted: every
//!    poll but the first follows exactly one schedule (async-task merges wakes), so the wakes
//!    are the polls less one, and the self-wakes are those less the others. A spawn's first
//!    schedule is no wake and writes nothing (`Shared::schedule_new`): `new_stats` dated it.
//! 4. **The header is touched only while the task is alive and held, and a last poll writes
//!    no counters.** The worker writes before running the `Runnable` (it owns it); the
//!    end-of-poll writes happen inside the poll. After `Runnable::run` returns the task may
//!    already run elsewhere, or be freed, so nothing is written then. A poll that finishes the
//!    task writes no end-of-poll counters: async-task drops the future right after it, which
//!    takes the task out of the registry, so nobody would read them. A task that completes in
//!    its first poll (most short spawns) costs a few stores at its spawn and at its poll's
//!    start.
//! 5. **What every poll writes in one place, beside what it reads anyway.** `PollStats` is 32
//!    bytes: the pending wake, the poll count with the last worker, the last poll's start or
//!    end (its parity telling which), the busy time. It sits between the runtime pointer (read
//!    by every schedule) and the id and spawn site (read by every timed poll, for the
//!    detector), right after async-task's vtable pointer: 64 bytes that a poll touches with
//!    statistics off too, so keeping them adds no cache line to what a poll touches. The rest
//!    (`TaskStats`: the wakes made while not running, spawn time, latency histogram in `u16`
//!    counts, halved all at once in the rare case one would overflow) is written by those wakes
//!    and the polls that need it.
//! 6. **Latency sampled, counts exact.** One poll in [`SAMPLE_EVERY`] gives a latency sample:
//!    those whose count of earlier polls plus the task's id is a multiple of it. The id spreads
//!    the sampled polls over tasks, so that in a chain of tasks polled once each, one in eight
//!    is sampled, not all, and a task with 8 polls or more has at least one sample. The poll's
//!    start decides, from the count it writes anyway; only a sampled poll reads the pending
//!    wake. Counts, busy time and states stay exact.
//!
//! # What the numbers mean
//!
//! - **wakes**: schedules after the first (several `wake` calls before the task runs count as
//!   one: async-task merges them). **self-wakes**: those that happened while the task was
//!   running — a task that woke itself (`yield_now`, a busy-polling sleep) or, rarely, another
//!   thread's wake landing during the poll. Hence `polls ≥ wakes − self_wakes`. Both derived
//!   (rule 3): a snapshot taken just as a poll starts may show one wake (and self-wake) too
//!   many, and one taken during another wake one self-wake too few.
//! - **schedule latency**: from the wake to the start of the next poll, for the sampled polls
//!   (rule 6). A wake made during another task's poll is stamped with *that* poll's start (the
//!   worker's last clock read), so the figure may include the rest of the waking poll: an
//!   upper bound. The same for a wake made by the driver, dated by the first of up to 32 wakes
//!   of its turn (microseconds earlier). Exact for wakes from outside the workers, for those
//!   made as a task finishes (its awaiter's: they read the clock, `poll_end`) and for
//!   self-wakes (dated by the end of the poll they happened in). A task spawned outside the
//!   workers has no sample for its first poll (rule 2).
//! - **busy**: total time inside `poll`, plus the worker's own few instructions between the
//!   previous poll's end and this one (rule 2: tens of nanoseconds per poll). **age**: since the
//!   spawn; for a task spawned outside the workers, since its first poll (`None` before it).
//! - **state**: scheduled while a wake is pending; running from a poll's start to its end;
//!   idle otherwise.
//!
//! With [`Builder::task_stats(false)`](crate::runtime::Builder::task_stats) nothing above is
//! written (the snapshot still lists each task with its id and spawn site). Costs measured:
//! `docs/inspector.md`.

use std::cell::Cell;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::task::TaskId;

/// Buckets of the schedule-latency histogram: bucket 0 is below 256 ns, bucket `i` (≥ 1) is
/// `[128·2^i, 256·2^i)` ns, the last one everything from about 67 ms up.
pub const LATENCY_BUCKETS: usize = 20;

/// The upper bound of latency bucket `i` (the last bucket's is open: `Duration::MAX`).
///
/// ```
/// assert_eq!(spool::stats::bucket_upper_bound(0), std::time::Duration::from_nanos(256));
/// assert_eq!(spool::stats::bucket_upper_bound(1), std::time::Duration::from_nanos(512));
/// ```
pub fn bucket_upper_bound(i: usize) -> Duration {
    if i + 1 >= LATENCY_BUCKETS {
        Duration::MAX
    } else {
        Duration::from_nanos(256u64 << i)
    }
}

#[inline]
fn bucket_of(nanos: u64) -> usize {
    // The highest set bit of `nanos | 255` is 7 below 256 ns, 8 in [256, 512), and so on (the
    // `| 255` also spares the zero check a bare `leading_zeros` needs).
    ((63 - (nanos | 0xFF).leading_zeros() - 7) as usize).min(LATENCY_BUCKETS - 1)
}

pub(crate) use crate::poll_clock::{init, now, to_instant};

thread_local! {
    /// This thread's last clock read (0: none yet, or a thread that is not a worker now): a
    /// poll's start when the worker read it afresh ([`set_clock`]), each poll's end
    /// ([`poll_end`], or [`poll_finish`] when the poll read none), a driver turn's first wake.
    static CLOCK: Cell<u64> = const { Cell::new(0) };
    /// Wakes the driver may still date with `CLOCK` in this turn ([`reset_turn_clock`], rule 2).
    static TURN_WAKES: Cell<u32> = const { Cell::new(0) };
}

/// Wakes of one driver turn dated with one clock read: the first reads it, the next
/// `TURN_WAKES_PER_READ - 1` reuse it (they come from the same pass over the turn's events and
/// expired timers, microseconds apart).
const TURN_WAKES_PER_READ: u32 = 32;

/// Where a wake is made, for its date (`note_wake`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WakeSite {
    /// On a worker, outside the driver: inside a poll or between two (the thread's clock).
    Worker,
    /// On a worker turning the driver (I/O readiness, timers): after the turn's wait.
    Driver,
    /// Anywhere else: the main thread, a blocking thread.
    Outside,
}

/// Called at the start of each driver turn, before its wait, and at its end: the turn's wakes
/// read the clock afresh (their first one does, for up to `TURN_WAKES_PER_READ`), and no
/// wake after the turn reuses that read.
#[inline]
pub(crate) fn reset_turn_clock() {
    TURN_WAKES.set(0);
}

/// The date of a wake made by the driver in this turn.
#[inline]
fn turn_clock() -> u64 {
    match TURN_WAKES.get() {
        0 => {
            let t = now();
            CLOCK.set(t);
            TURN_WAKES.set(TURN_WAKES_PER_READ - 1);
            t
        }
        left => {
            TURN_WAKES.set(left - 1);
            CLOCK.get()
        }
    }
}

/// What every poll of a task writes, in its header next to the runtime pointer, the id and the
/// spawn site (`TaskMeta`, `task.rs`): 32 bytes, so that with those around them they fill at
/// most the two cache lines a poll touches with statistics off too (rule 5).
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct PollStats {
    /// The pending wake: `clock << 1` for a wake from elsewhere, [`SELF_WAKE`] for one made
    /// while the task ran, [`SPAWNED_OUTSIDE`] for the schedule of a spawn made outside the
    /// workers; 0 when none is pending.
    woken_at: AtomicU64,
    /// `polls << WORKER_BITS | (worker + 1)`: polls started, and the worker that started the
    /// last one (0 before the first, or [`OUTSIDE_TAG`] for a task spawned outside the
    /// workers). Every poll but the first follows exactly one schedule (async-task merges
    /// wakes), so the wake count is derived from it rather than counted.
    polls: AtomicU64,
    /// The last poll's start with its lowest bit set while it runs; its end with that bit
    /// clear once it has ended (one field for both: the running state is its parity).
    last_poll: AtomicU64,
    busy_nanos: AtomicU64,
}

/// What only some polls write (rule 6): after the task's [`PollStats`] and its id, in the
/// header's colder part.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct TaskStats {
    /// Wakes made while the task was not running (all but the self-wakes, which are derived:
    /// rule 3).
    other_wakes: AtomicU64,
    /// Raw clock at the spawn; 0 when stats are off, or until the first poll of a task spawned
    /// outside the workers (rule 2).
    spawned_at: AtomicU64,
    /// Schedule latencies of the sampled polls, `u16` counts: when one would pass `u16::MAX`
    /// every bucket is halved (rounding up, so that a seen bucket never empties) — the shape,
    /// and so p50/p99, kept.
    latency: [AtomicU16; LATENCY_BUCKETS],
}

/// Both parts of a new task's statistics (`on`: stats are kept for this runtime).
pub(crate) fn new_stats(on: bool) -> (PollStats, TaskStats) {
    if !on {
        return Default::default();
    }
    // The spawn's schedule is dated here: it does not go through `note_wake`
    // (`Shared::schedule_new`). Off the workers the thread has no clock read to reuse, and
    // reading one would cost a tenth of a spawn from there: the first poll dates it instead
    // (rule 2).
    let (spawned_at, woken_at, polls) = match CLOCK.get() {
        0 => (0, SPAWNED_OUTSIDE, OUTSIDE_TAG),
        t => (t, t << 1, 0),
    };
    (
        PollStats {
            woken_at: AtomicU64::new(woken_at),
            polls: AtomicU64::new(polls),
            ..PollStats::default()
        },
        TaskStats {
            spawned_at: AtomicU64::new(spawned_at),
            ..TaskStats::default()
        },
    )
}

/// A pointer from a task's future (`TaskFuture`) to the stats in the same task's header, so
/// that the end of a poll is written without a thread-local hand-over. async-task builds the
/// future after it has put the metadata in place (`Builder::spawn` passes `&M` to the closure
/// that makes the future), and the future lives inside the same allocation: the pointer is
/// valid whenever the future is polled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatsRef(NonNull<PollStats>);

impl StatsRef {
    /// The stats of the task whose future is being made (`stats` is its header's).
    pub(crate) fn new(stats: &PollStats) -> Self {
        StatsRef(NonNull::from(stats))
    }
}

// SAFETY: `StatsRef` is only dereferenced as a shared reference to `PollStats`, which is `Sync`
// (atomics), from the task's own future.
unsafe impl Send for StatsRef {}
// SAFETY: as above; a shared `StatsRef` gives nothing but the same shared reference.
unsafe impl Sync for StatsRef {}

/// The calling thread's last clock read if it is a worker that read one, else a fresh one.
#[inline]
fn cached_now() -> u64 {
    match CLOCK.get() {
        0 => now(),
        t => t,
    }
}

/// `PollStats::woken_at` of a self-wake: its time is the end of the poll it happened in
/// (async-task schedules such a wake when the poll returns), already in `last_poll`.
const SELF_WAKE: u64 = 1;

/// `PollStats::woken_at` of the schedule of a task spawned outside the workers: not dated (no
/// clock read at the spawn, rule 2); its first poll dates the spawn and gives no latency sample.
/// Odd like [`SELF_WAKE`]: no wake's date (`clock << 1`, even).
const SPAWNED_OUTSIDE: u64 = 3;

/// The worker bits of `PollStats::polls` of a task spawned outside the workers, until its
/// first poll: no worker's (there are at most 4096), and what sends that poll to
/// [`poll_begin_rare`], which dates the spawn.
const OUTSIDE_TAG: u64 = WORKER_MASK;

/// Low bits of `PollStats::polls` that hold the last worker (`Builder::build` allows at most
/// 4096 workers).
const WORKER_BITS: u32 = 16;
const WORKER_MASK: u64 = (1 << WORKER_BITS) - 1;

/// One poll in this many gives a latency sample (rule 6).
pub const SAMPLE_EVERY: u64 = 8;

/// The schedule function's part (rule 3). A self-wake stores a constant: one store. Any other
/// wake stores its date and counts itself, `site` telling where it is made: on a worker its last
/// clock read dates it; in the driver the turn's ([`reset_turn_clock`]); anywhere else the clock
/// is read. A spawn's first schedule does not come here (`Shared::schedule_new`): `new_stats`
/// dated it already, and it is no wake.
///
/// The two wakes of every task switch (a self-wake, a wake on a worker) are inlined into the
/// schedule function; the others, which may read the clock, are a call away.
#[inline(always)]
pub(crate) fn note_wake(
    poll: &PollStats,
    stats: &TaskStats,
    self_wake: bool,
    site: impl FnOnce() -> WakeSite,
) {
    let word = if self_wake {
        SELF_WAKE
    } else {
        match site() {
            WakeSite::Worker => {
                count_other_wake(stats);
                cached_now() << 1
            }
            site => return note_wake_elsewhere(poll, stats, site),
        }
    };
    poll.woken_at.store(word, Relaxed);
}

#[inline(always)]
fn count_other_wake(stats: &TaskStats) {
    let n = stats.other_wakes.load(Relaxed);
    stats.other_wakes.store(n.wrapping_add(1), Relaxed);
}

/// [`note_wake`] for a wake made in the driver or outside the workers.
#[inline(never)]
fn note_wake_elsewhere(poll: &PollStats, stats: &TaskStats, site: WakeSite) {
    count_other_wake(stats);
    let t = if site == WakeSite::Driver {
        turn_clock()
    } else {
        now()
    };
    poll.woken_at.store(t << 1, Relaxed);
}

/// Records a clock read made by a worker outside any poll (a poll's start that is not the
/// end of the worker's previous poll): what later wakes and spawns on this thread are dated
/// with, until the poll's end replaces it.
#[inline]
pub(crate) fn set_clock(now: u64) {
    CLOCK.set(now);
}

/// Called by the worker just before it runs the task, with the poll's start and `worker_tag` =
/// the worker's index + 1. The start is the thread's clock: the end of the worker's previous
/// poll, or a fresh read recorded with [`set_clock`] (rule 2).
///
/// 1. Count the poll, with this worker in the low bits.
/// 2. On a sampled poll (rule 6), or the first of a task spawned outside the workers, the rare
///    part: [`poll_begin_rare`].
/// 3. Clear the pending wake (the task is no longer scheduled) and mark it running since
///    `start`. No load: the wake is read only by step 2.
#[inline]
pub(crate) fn poll_begin(
    poll: &PollStats,
    stats: &TaskStats,
    id: u64,
    start: u64,
    worker_tag: u32,
) {
    let word = poll.polls.load(Relaxed);
    // `(polls + 1) << WORKER_BITS | worker_tag`, in two steps: setting the worker bits carries
    // into the count, then the tag (`< 1 << WORKER_BITS`) goes into bits just cleared.
    let next = (word | WORKER_MASK).wrapping_add(1 + u64::from(worker_tag));
    poll.polls.store(next, Relaxed);
    let polls = word >> WORKER_BITS;
    if polls.wrapping_add(id) % SAMPLE_EVERY == 0 || word & WORKER_MASK == OUTSIDE_TAG {
        poll_begin_rare(poll, stats, word, start);
    }
    poll.woken_at.store(0, Relaxed);
    poll.last_poll.store(start | 1, Relaxed);
}

/// Step 2 of [`poll_begin`], before its stores: `word` is the poll count as it was. The first
/// poll of a task spawned outside the workers dates the spawn (no sample: its wake has no
/// date); any other gives a latency sample, from the wake's date, or for a self-wake from the
/// end of the previous poll, still in `last_poll`.
#[inline(never)]
fn poll_begin_rare(poll: &PollStats, stats: &TaskStats, word: u64, start: u64) {
    if word & WORKER_MASK == OUTSIDE_TAG {
        stats.spawned_at.store(start, Relaxed);
        return;
    }
    let woken_at = match poll.woken_at.load(Relaxed) {
        SELF_WAKE => poll.last_poll.load(Relaxed),
        woken if woken & 1 == 0 => woken >> 1,
        // None pending, which no poll follows (`SPAWNED_OUTSIDE` went above).
        _ => return,
    };
    sample(&stats.latency, start.saturating_sub(woken_at));
}

/// One latency sample (a sampled poll's, rule 6).
#[inline]
fn sample(latency: &[AtomicU16; LATENCY_BUCKETS], nanos: u64) {
    let bucket = &latency[bucket_of(nanos)];
    let mut n = bucket.load(Relaxed);
    if n == u16::MAX {
        n = halve(latency, n);
    }
    bucket.store(n + 1, Relaxed);
}

/// Halves every latency bucket (rounding up), the rare path of one about to overflow: returns
/// `full` (that bucket's count) halved.
#[cold]
#[inline(never)]
fn halve(latency: &[AtomicU16; LATENCY_BUCKETS], full: u16) -> u16 {
    for bucket in latency {
        bucket.store(bucket.load(Relaxed).div_ceil(2), Relaxed);
    }
    full.div_ceil(2)
}

/// Called by the task's own future (`TaskFuture`) right after the user's `poll` returned. If
/// the task goes on (`ready` false), reads the poll's end, leaves it in the thread's clock for
/// the worker ([`poll_finish`]) and the wakes that follow, and writes the end-of-poll counters
/// while the task is still held (rule 4). If it is done (`ready`: its output, or a panic),
/// only clears the thread's clock: async-task drops the future right after this poll, which
/// takes the task out of the registry, so nobody would read the counters.
#[inline]
pub(crate) fn poll_end(stats: StatsRef, ready: bool) {
    if ready {
        // No clock read here: async-task's locked update of the task's state comes next, and
        // it would wait for a store of the read (tens of cycles on this VM's EPYC; the
        // spawn-heavy rows read 1.05–1.07 with it, 1.01–1.03 without). The worker reads the end
        // after `Runnable::run`, as with statistics off; a wake in between (async-task wakes the
        // task's awaiter before `run` returns) reads its own, finding no clock here.
        CLOCK.set(0);
        return;
    }
    // Read on this thread after the start was (`poll_begin`'s start is this thread's own clock
    // read): the clock is monotonic, so `end >= start`.
    let end = now();
    CLOCK.set(end);
    // SAFETY: `StatsRef` points into the header of the task whose future calls this, from
    // inside that future's `poll`: the allocation is alive (see `StatsRef`).
    let stats = unsafe { stats.0.as_ref() };
    let start = stats.last_poll.load(Relaxed) & !1;
    let busy = stats.busy_nanos.load(Relaxed);
    stats
        .busy_nanos
        .store(busy.wrapping_add(end.wrapping_sub(start)), Relaxed);
    stats.last_poll.store(end & !1, Relaxed);
}

/// Called by the worker after `Runnable::run`, with the `start` it gave [`poll_begin`]: the
/// poll's end as the poll read it, or a fresh clock read when it read none (the task's last
/// poll: the thread's clock is 0) or the task was not polled (cancelled: the clock still holds
/// `start`).
#[inline]
pub(crate) fn poll_finish(start: u64) -> u64 {
    match CLOCK.get() {
        end if end > start => end,
        _ => {
            let end = now();
            CLOCK.set(end);
            end
        }
    }
}

/// Forgets the thread's last clock read: called when a thread stops being a worker (a
/// current-thread runtime's `block_on` returns), so that later spawns and wakes from it read
/// the clock instead of using a stale value.
pub(crate) fn forget_clock() {
    CLOCK.set(0);
}

/// What a live task is doing, in a [`TaskSnapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Waiting for a wake.
    Idle,
    /// Woken, waiting in a queue for a worker.
    Scheduled,
    /// Being polled now.
    Running,
}

impl TaskState {
    /// `"idle"`, `"scheduled"` or `"running"`.
    ///
    /// ```
    /// assert_eq!(spool::stats::TaskState::Running.as_str(), "running");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Idle => "idle",
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
        }
    }
}

/// One live task's statistics, from [`Runtime::tasks`](crate::Runtime::tasks).
///
/// Read without stopping the task: fields may be a poll apart from each other.
///
/// ```
/// let rt = spool::Runtime::builder().worker_threads(1).build()?;
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let task = rt.spawn(async move {
///     for _ in 0..3 {
///         spool::yield_now().await;
///     }
///     let _ = spool::spawn_blocking(move || rx.recv()).await;
/// });
/// std::thread::sleep(std::time::Duration::from_millis(50));
/// let tasks = rt.tasks();
/// let me = tasks.iter().find(|t| t.id == task.id()).unwrap();
/// assert_eq!(me.location.file(), file!());
/// assert!(me.polls >= 4 && me.self_wakes >= 3);
/// assert!(me.polls + me.self_wakes >= me.wakes);
/// tx.send(()).unwrap();
/// rt.block_on(task).unwrap();
/// # std::io::Result::Ok(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskSnapshot {
    /// The task's id.
    pub id: TaskId,
    /// Where it was spawned.
    pub location: &'static Location<'static>,
    /// What it is doing now.
    pub state: TaskState,
    /// Polls started.
    pub polls: u64,
    /// Wakes that scheduled it (after the spawn's first schedule).
    pub wakes: u64,
    /// Of those, wakes while it was running (it woke itself).
    pub self_wakes: u64,
    /// Total time inside `poll`.
    pub busy: Duration,
    /// Since the spawn (`None` when stats are off).
    pub age: Option<Duration>,
    /// Since the last poll: since its start while it runs, since its end once it has ended
    /// (`None` before the first poll).
    pub since_last_poll: Option<Duration>,
    /// The worker that polled it last.
    pub last_worker: Option<usize>,
    /// Schedule latencies (wake → poll) of one poll in [`SAMPLE_EVERY`]: counts per bucket,
    /// see [`bucket_upper_bound`]. Exact until a bucket reaches 65 535; then every bucket is
    /// halved (rounding up), so the counts keep their proportions, not their sum.
    pub latency_histogram: [u32; LATENCY_BUCKETS],
}

impl TaskSnapshot {
    pub(crate) fn read(
        id: TaskId,
        location: &'static Location<'static>,
        (poll, stats): (&PollStats, &TaskStats),
        now: u64,
    ) -> Self {
        let last_poll = poll.last_poll.load(Relaxed);
        let word = poll.polls.load(Relaxed);
        let polls = word >> WORKER_BITS;
        let state = if poll.woken_at.load(Relaxed) != 0 {
            TaskState::Scheduled
        } else if last_poll & 1 != 0 {
            TaskState::Running
        } else {
            TaskState::Idle
        };
        let since = |t: u64| (t != 0).then(|| Duration::from_nanos(now.saturating_sub(t)));
        // Each poll after the first followed one wake; a pending one counts too.
        let wakes = polls.saturating_sub(1) + u64::from(state == TaskState::Scheduled && polls > 0);
        TaskSnapshot {
            id,
            location,
            state,
            polls,
            wakes,
            self_wakes: wakes.saturating_sub(stats.other_wakes.load(Relaxed)),
            busy: Duration::from_nanos(poll.busy_nanos.load(Relaxed)),
            age: since(stats.spawned_at.load(Relaxed)),
            since_last_poll: since(last_poll & !1),
            last_worker: match word & WORKER_MASK {
                0 | OUTSIDE_TAG => None,
                w => Some(w as usize - 1),
            },
            latency_histogram: std::array::from_fn(|i| u32::from(stats.latency[i].load(Relaxed))),
        }
    }

    /// The `q`-quantile (0.0–1.0) of the schedule latency, as its bucket's upper bound; `None`
    /// before any sample.
    ///
    /// ```
    /// let rt = spool::Runtime::new()?;
    /// let task = rt.spawn(async {
    ///     for _ in 0..16 {
    ///         spool::yield_now().await; // 16 polls after a wake: two are sampled
    ///     }
    ///     std::future::pending::<()>().await
    /// });
    /// std::thread::sleep(std::time::Duration::from_millis(20));
    /// let snapshot = rt.tasks().into_iter().find(|t| t.id == task.id()).unwrap();
    /// assert_eq!(snapshot.latency_histogram.iter().sum::<u32>(), 2);
    /// assert!(snapshot.latency_quantile(0.5).is_some());
    /// # std::io::Result::Ok(())
    /// ```
    pub fn latency_quantile(&self, q: f64) -> Option<Duration> {
        let total: u64 = self.latency_histogram.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &count) in self.latency_histogram.iter().enumerate() {
            seen += u64::from(count);
            if seen >= rank {
                return Some(bucket_upper_bound(i));
            }
        }
        Some(Duration::MAX)
    }

    /// When the snapshot's task was spawned, as an `Instant` (`None` when stats are off).
    pub fn spawned_at(&self, now: Instant) -> Option<Instant> {
        self.age.and_then(|age| now.checked_sub(age))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn buckets_double() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(255), 0);
        assert_eq!(bucket_of(256), 1);
        assert_eq!(bucket_of(511), 1);
        assert_eq!(bucket_of(512), 2);
        assert_eq!(bucket_of(u64::MAX), LATENCY_BUCKETS - 1);
        for n in [1u64, 300, 5_000, 1_000_000] {
            assert!(Duration::from_nanos(n) < bucket_upper_bound(bucket_of(n)));
        }
    }

    #[test]
    fn compact_header() {
        // Rule 5: what every poll writes in 32 bytes, right after the runtime pointer and
        // before the id and spawn site, so that with async-task's vtable pointer before them
        // they span 64 bytes; the rest after them.
        assert_eq!(std::mem::size_of::<PollStats>(), 32);
        assert_eq!(std::mem::size_of::<TaskStats>(), 56);
        use crate::task::TaskMeta;
        assert_eq!(std::mem::offset_of!(TaskMeta, runtime), 0);
        assert_eq!(std::mem::offset_of!(TaskMeta, poll), 8);
        assert_eq!(std::mem::offset_of!(TaskMeta, id), 40);
        assert_eq!(std::mem::offset_of!(TaskMeta, location), 48);
        assert_eq!(std::mem::offset_of!(TaskMeta, stats), 56);
    }

    #[test]
    fn a_driver_turn_reads_the_clock_once_per_32_wakes() {
        reset_turn_clock();
        let first = turn_clock();
        std::thread::sleep(Duration::from_millis(1));
        for _ in 1..TURN_WAKES_PER_READ {
            assert_eq!(turn_clock(), first, "reused within the turn");
        }
        assert!(
            turn_clock() >= first + 1_000_000,
            "the 33rd wake reads the clock"
        );
        let again = turn_clock();
        std::thread::sleep(Duration::from_millis(1));
        reset_turn_clock(); // a new turn (after its wait): a fresh read
        assert!(turn_clock() >= again + 1_000_000);
        forget_clock();
    }

    #[test]
    fn full_bucket_halves_all() {
        let stats = TaskStats::default();
        stats.latency[0].store(u16::MAX, Relaxed);
        stats.latency[5].store(3, Relaxed);
        stats.latency[9].store(1, Relaxed);
        sample(&stats.latency, 10); // a sample in bucket 0, which is full
        let s = TaskSnapshot::read(
            TaskId::next(),
            Location::caller(),
            (&PollStats::default(), &stats),
            now(),
        );
        assert_eq!(s.latency_histogram[0], 32_768 + 1);
        assert_eq!((s.latency_histogram[5], s.latency_histogram[9]), (2, 1));
        assert_eq!(s.latency_quantile(0.5), Some(bucket_upper_bound(0)));
    }

    /// Runs one poll cycle on stats `(poll, stats)` of task `id`, as a worker does: begin,
    /// the poll's end, the worker's take of it. Returns the end.
    fn cycle(poll: &PollStats, stats: &TaskStats, id: u64, start: u64) -> u64 {
        poll_begin(poll, stats, id, start, 1);
        poll_end(StatsRef::new(poll), false);
        poll_finish(start)
    }

    #[test]
    fn poll_cycle_counts() {
        init();
        forget_clock();
        // Spawned off the workers: no clock read, the first poll dates it.
        let (poll, stats) = new_stats(true);
        let handle = StatsRef::new(&poll);
        assert_eq!(stats.spawned_at.load(Relaxed), 0);
        let start = now();
        set_clock(start);
        // Id 7: the second poll (one before it) is the sampled one.
        poll_begin(&poll, &stats, 7, start, 3);
        assert_eq!(stats.spawned_at.load(Relaxed), start);
        std::thread::sleep(Duration::from_millis(1));
        poll_end(handle, false);
        let end = poll_finish(start);
        assert!(
            end >= start + 1_000_000,
            "the end is the poll's: {start} → {end}"
        );
        note_wake(&poll, &stats, true, || unreachable!()); // a self-wake, dated by that end
        assert_eq!(poll.woken_at.load(Relaxed), SELF_WAKE);
        poll_begin(&poll, &stats, 7, end + 300, 2);
        poll_end(handle, false);
        let start = poll_finish(end + 300);
        // A wake from this worker, then a poll that never ran (cancelled): no end, the worker
        // reads the clock itself.
        note_wake(&poll, &stats, false, || WakeSite::Worker);
        let s = TaskSnapshot::read(TaskId::next(), Location::caller(), (&poll, &stats), now());
        assert_eq!(
            (s.state, s.polls, s.wakes, s.self_wakes),
            (TaskState::Scheduled, 2, 2, 1)
        );
        poll_begin(&poll, &stats, 7, start, 2);
        assert!(poll_finish(start) >= start);
        let s = TaskSnapshot::read(TaskId::next(), Location::caller(), (&poll, &stats), now());
        assert_eq!((s.polls, s.wakes, s.self_wakes), (3, 2, 1));
        assert_eq!(s.last_worker, Some(1));
        // The third poll began and never ended.
        assert_eq!(s.state, TaskState::Running);
        // One sample, the self-wake's: 300 ns from the poll's end, in bucket 1.
        assert_eq!(s.latency_histogram.iter().sum::<u32>(), 1);
        assert_eq!(s.latency_histogram[1], 1);
        assert!(to_instant(now()) <= Instant::now());
        assert!(s.busy >= Duration::from_millis(1) && s.busy <= s.age.unwrap());
        forget_clock();
        assert_eq!(CLOCK.get(), 0);
    }

    #[test]
    fn the_last_poll_leaves_only_its_end() {
        init();
        set_clock(now());
        let (poll, stats) = new_stats(true);
        let start = CLOCK.get();
        poll_begin(&poll, &stats, 1, start, 1);
        std::thread::sleep(Duration::from_millis(1));
        poll_end(StatsRef::new(&poll), true); // the task is done: nobody reads its stats
        assert_eq!(
            CLOCK.get(),
            0,
            "the wakes that follow read the clock themselves"
        );
        let end = poll_finish(start);
        assert!(end >= start + 1_000_000, "the worker reads the end");
        assert_eq!(CLOCK.get(), end);
        assert_eq!(poll.busy_nanos.load(Relaxed), 0);
        assert_eq!(poll.last_poll.load(Relaxed), start | 1);
        forget_clock();
    }

    #[test]
    fn one_poll_in_eight_is_sampled_by_the_id() {
        init();
        for id in [0u64, 3, 7, 12] {
            // Spawned on a worker: dated by the thread's clock, the first poll may sample.
            set_clock(now());
            let (poll, stats) = new_stats(true);
            let mut t = CLOCK.get();
            for _ in 0..20 {
                note_wake(&poll, &stats, false, || WakeSite::Worker);
                t = cycle(&poll, &stats, id, t);
            }
            let s = TaskSnapshot::read(TaskId::next(), Location::caller(), (&poll, &stats), now());
            let expected = (0..20u64).filter(|p| (p + id) % SAMPLE_EVERY == 0).count();
            assert_eq!(s.polls, 20);
            assert_eq!(
                s.latency_histogram.iter().sum::<u32>() as usize,
                expected,
                "id {id}"
            );
            assert_eq!(s.state, TaskState::Idle);
            assert!(s.age.is_some());
        }
        forget_clock();
    }
}
