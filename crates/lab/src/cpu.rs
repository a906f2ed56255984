//! How much CPU time this process has burned, from `getrusage(RUSAGE_SELF)`.
//!
//! Wall time says how long something took; CPU time says how much of a core it *used* doing so.
//! A sleep that costs nothing uses ~0 s of CPU however long it lasts; the chapter's busy sleep
//! uses one core for as long as it lasts. That difference is the point of experiment 8.

#[path = "../../spool/tests/common/cpu.rs"]
mod imp;

pub use imp::CpuTime;

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
