//! How much CPU time this process has burned, from `getrusage(RUSAGE_SELF)`.
//!
//! Wall time says how long something took; CPU time says how much of a core it *used* doing so.
//! A sleep that costs nothing uses ~0 s of CPU however long it lasts; the chapter's busy sleep
//! uses one core for as long as it lasts. That difference is the point of experiment 8.

#[allow(dead_code, unreachable_pub)] // the shared helper: the lab uses its CPU time, not its switch counts
#[path = "../../spool/tests/common/cpu.rs"]
mod imp;

pub use imp::CpuTime;

/// CPU time (user + system) the *calling thread* has used so far, from
/// `getrusage(RUSAGE_THREAD)`: what a load-generating thread costs, so that it can be taken
/// out of the process's total. Zero where the call fails.
pub fn thread_cpu() -> std::time::Duration {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct (integers and
    // `timeval`s only).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage` for the duration of the call, and
    // RUSAGE_THREAD is a valid `who` on Linux; getrusage writes nothing else.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
        return std::time::Duration::ZERO;
    }
    let tv = |tv: libc::timeval| {
        std::time::Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
            + std::time::Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn spinning_shows_up_as_cpu_time() {
        // Spin until the counter moves (it ticks in ~1-4 ms steps); give up after 5 s of wall
        // time, which even a crowded machine beats.
        let before = CpuTime::now();
        let start = Instant::now();
        while CpuTime::now().since(before).total() < Duration::from_millis(10)
            && start.elapsed() < Duration::from_secs(5)
        {
            std::hint::spin_loop();
        }
        assert!(CpuTime::now().since(before).total() >= Duration::from_millis(10));
    }
}
