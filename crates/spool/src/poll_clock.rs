//! The poll clock: the raw monotonic nanoseconds that time every poll (the blocking detector, the
//! task statistics, the span recorder), read with one `rdtsc` where the kernel trusts the TSC.
//!
//! A worker reads this clock once per poll (`scheduler/worker.rs`, rule 2 of `stats.rs`), so its
//! cost is paid on every task switch. `clock_gettime(CLOCK_MONOTONIC)` through the vDSO costs
//! 20–28 ns here; the `rdtsc` it does inside costs 9 (`docs/benchmarks.md`, "The poll clock"),
//! and ~18 ns inside a poll loop, where it does not overlap with the work around it ("The
//! per-poll bookkeeping": it is the whole of the blocking detector's cost per poll).
//! The rest is the vDSO's sequence lock and NTP-adjusted scaling, which a poll's duration does
//! not need. So this clock reads the TSC itself and scales it with a factor of its own.
//! Written by hand (no crate does this small, Linux-specific thing), as follows:
//!
//! 1. **Only where the kernel uses the TSC.** At the first runtime build ([`init`]) the clock
//!    checks that the kernel's current clocksource is `tsc`
//!    (`/sys/devices/system/clocksource/clocksource0/current_clocksource`). The kernel picks it
//!    only when the TSC runs at a constant rate, keeps running in idle states, and agrees
//!    across cores. It then records one pair of readings, TSC and `CLOCK_MONOTONIC`. On any
//!    other machine or architecture [`now`] stays `clock_gettime`.
//! 2. **Calibrated on the way, not by waiting.** Until 10 ms have passed since that pair,
//!    [`now`] is `clock_gettime`. The first read after that takes a second pair, and the
//!    factor `Δns / Δticks` from the two (10 ms of span: an error of a few ns in each reading
//!    is under 1 ppm of the factor). From then on, `now = ns₀ + (tsc − tsc₀) · factor`: a load,
//!    an `rdtsc`, a multiply. Values before and after the switch are the same clock to within
//!    the factor's error, so durations that span it stay right.
//! 3. **Durations are what it is for.** Values from [`now`] are compared with each other
//!    (poll start and end, wake and poll, spawn and snapshot). `CLOCK_MONOTONIC` is slewed by
//!    NTP by up to 500 ppm and this clock is not, so over time they drift apart: by at most
//!    0.05 % of any duration measured. Where a value must become an `Instant` (recorded
//!    spans, detector reports), [`to_instant`] goes through an anchor pair that each thread
//!    takes again every 10 ms of this clock, so the conversion is off by at most 5 µs, and in
//!    practice by the few ns between the anchor's two reads.
//! 4. **Never backwards on one thread.** The TSC is monotonic on a core and synchronised across
//!    cores (rule 1), and a read before the factor exists is `clock_gettime`. Readers still
//!    subtract with `saturating_sub`, as a thread moved between cores may see a few ticks of
//!    skew.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A TSC reading and `CLOCK_MONOTONIC` read right after it.
#[derive(Debug, Clone, Copy)]
struct Pair {
    tsc: u64,
    ns: u64,
}

/// The TSC's scale: `ns = ns₀ + (tsc − tsc₀) · mult / 2³²`.
#[derive(Debug)]
struct Scale {
    base: Pair,
    mult: u64,
}

/// The first pair (rule 1): set at [`init`] only where the TSC is usable.
static START: OnceLock<Pair> = OnceLock::new();
/// The scale (rule 2), once calibrated.
static SCALE: OnceLock<Scale> = OnceLock::new();

/// How long [`now`] waits (reading `clock_gettime`) before it calibrates.
const CALIBRATION_NS: u64 = 10_000_000;

/// The monotonic clock in nanoseconds, as one `u64` (never 0): the TSC scaled (module docs),
/// or `CLOCK_MONOTONIC` where that is not possible. Turned into an `Instant` only where one is
/// needed ([`to_instant`]).
#[inline]
pub(crate) fn now() -> u64 {
    match SCALE.get() {
        Some(scale) => scale.nanos(tsc()),
        None => monotonic_then_calibrate(),
    }
}

impl Scale {
    #[inline]
    fn nanos(&self, tsc: u64) -> u64 {
        let ticks = tsc.saturating_sub(self.base.tsc) as u128;
        self.base.ns + ((ticks * self.mult as u128) >> 32) as u64
    }
}

/// `clock_gettime`, plus the calibration when its time has come (rule 2).
#[cold]
fn monotonic_then_calibrate() -> u64 {
    let ns = monotonic();
    if let Some(start) = START.get() {
        if ns.saturating_sub(start.ns) >= CALIBRATION_NS {
            let end = pair();
            let ticks = end.tsc.saturating_sub(start.tsc);
            if ticks > 0 {
                let mult = (((end.ns - start.ns) as u128) << 32) / ticks as u128;
                if let Ok(mult) = u64::try_from(mult) {
                    let _ = SCALE.set(Scale { base: *start, mult });
                }
            }
        }
    }
    ns
}

/// `CLOCK_MONOTONIC` in nanoseconds (the clock `Instant` reads on Linux), never 0.
#[inline]
fn monotonic() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; CLOCK_MONOTONIC always exists on Linux, so
    // the call cannot fail (and if it did, `ts` stays zero: a wrong time, never UB).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
        .max(1)
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn tsc() -> u64 {
    // SAFETY: `rdtsc` exists on every x86_64 CPU and has no preconditions; it only reads the
    // time-stamp counter.
    unsafe { std::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn tsc() -> u64 {
    // Never called: `START` is only set on x86_64, so `SCALE` never is elsewhere.
    0
}

/// A TSC reading and the `CLOCK_MONOTONIC` time of it: the midpoint of two `clock_gettime`
/// around it, the tightest of a few tries (a thread preempted inside a try would skew the
/// factor), with `ns` moved forward by the try's width so that this clock is never behind
/// `clock_gettime` values read before it (rule 4).
fn pair() -> Pair {
    let mut best: Option<(u64, Pair)> = None;
    for _ in 0..8 {
        let before = monotonic();
        let tsc = tsc();
        let after = monotonic();
        let width = after.saturating_sub(before);
        if best.map_or(true, |(w, _)| width < w) {
            let ns = before + width / 2 + width;
            best = Some((width, Pair { tsc, ns }));
        }
        if width < 1_000 {
            break;
        }
    }
    best.map(|(_, pair)| pair).unwrap_or(Pair {
        tsc: tsc(),
        ns: monotonic(),
    })
}

/// Whether the kernel's clocksource is the TSC (rule 1).
fn tsc_trusted() -> bool {
    cfg!(target_arch = "x86_64")
        && std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .is_ok_and(|s| s.trim() == "tsc")
}

/// Starts the calibration (at runtime build, off the hot path; once per process).
pub(crate) fn init() {
    if START.get().is_none() && tsc_trusted() {
        let _ = START.set(pair());
    }
}

thread_local! {
    /// This thread's anchor for [`to_instant`]: a value of [`now`] and the `Instant` read
    /// right before it.
    static ANCHOR: Cell<Option<(u64, Instant)>> = const { Cell::new(None) };
}

/// How old an anchor may get, in this clock's nanoseconds, before it is taken again.
const ANCHOR_NS: u64 = 10_000_000;

/// The `Instant` of a value from [`now`] (rule 3).
pub(crate) fn to_instant(raw: u64) -> Instant {
    let (base, instant) = match ANCHOR.get() {
        Some((base, instant)) if raw.abs_diff(base) < ANCHOR_NS => (base, instant),
        _ => {
            // The `Instant` first: it is then no later than the raw value, and neither is a
            // conversion through this anchor (but for the drift of rule 3).
            let instant = Instant::now();
            let anchor = (now(), instant);
            ANCHOR.set(Some(anchor));
            anchor
        }
    };
    if raw >= base {
        instant + Duration::from_nanos(raw - base)
    } else {
        instant
            .checked_sub(Duration::from_nanos(base - raw))
            .unwrap_or(instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_agree_with_instant() {
        init();
        // Past the calibration, and then a measured span.
        std::thread::sleep(Duration::from_millis(15));
        let _ = now();
        for _ in 0..3 {
            let (a, ia) = (now(), Instant::now());
            std::thread::sleep(Duration::from_millis(20));
            let (b, ib) = (now(), Instant::now());
            let ours = b - a;
            let std = ib.duration_since(ia).as_nanos() as u64;
            // Generous: the two reads of each pair are a few µs apart under load.
            assert!(
                ours.abs_diff(std) < 2_000_000,
                "ours {ours} ns, Instant {std} ns"
            );
        }
    }

    #[test]
    fn never_backwards_on_a_thread() {
        init();
        let mut last = now();
        let until = Instant::now() + Duration::from_millis(30);
        while Instant::now() < until {
            let t = now();
            assert!(t >= last, "{t} < {last}");
            last = t;
        }
    }

    #[test]
    fn to_instant_is_close_to_now() {
        init();
        std::thread::sleep(Duration::from_millis(12));
        let raw = now();
        let converted = to_instant(raw);
        let real = Instant::now();
        let gap = if converted > real {
            converted - real
        } else {
            real - converted
        };
        assert!(gap < Duration::from_millis(5), "{gap:?}");
        // An old value converts through a fresh anchor, about as far back as it is.
        std::thread::sleep(Duration::from_millis(30));
        let back = Instant::now().duration_since(to_instant(raw));
        assert!(
            back >= Duration::from_millis(25) && back < Duration::from_secs(5),
            "{back:?}"
        );
    }
}
