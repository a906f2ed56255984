//! How much CPU time this process has burned, from `getrusage(RUSAGE_SELF)`.
//!
//! Wall time says how long something took; CPU time says how much of a core it *used* doing so.
//! A sleep that costs nothing uses ~0 s of CPU however long it lasts; the chapter's busy sleep
//! uses one core for as long as it lasts. That difference is the point of experiment 8.

use std::time::Duration;

/// CPU time the whole process (every thread) has used so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTime {
    /// Time spent running the program's own code.
    pub user: Duration,
    /// Time spent in the kernel on the program's behalf (syscalls, page faults).
    pub system: Duration,
}

impl CpuTime {
    /// Reads the process's CPU time now.
    pub fn now() -> Self {
        // SAFETY: an all-zero `rusage` is a valid value of this plain C struct (integers and
        // `timeval`s only).
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable `rusage` for the duration of the call, and
        // RUSAGE_SELF is a valid `who`; getrusage writes nothing else.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        if rc != 0 {
            // Cannot fail for RUSAGE_SELF with a valid pointer; report zero rather than panic.
            return Self::default();
        }
        Self {
            user: timeval(usage.ru_utime),
            system: timeval(usage.ru_stime),
        }
    }

    /// User plus system time.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// The CPU time used between `earlier` and `self`.
    pub fn since(&self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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
