//! The process's CPU time, from `getrusage(RUSAGE_SELF)`: the one copy, shared by the spool
//! tests (`tests/common`), the `busy_vs_timer_sleep` example and the lab (`#[path]`-included:
//! no crate of its own for twenty lines).

use std::time::Duration;

/// CPU time the whole process (every thread) has used so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTime {
    /// Time spent running the program's own code.
    pub user: Duration,
    /// Time spent in the kernel on the program's behalf (syscalls, page faults).
    pub system: Duration,
}

/// The process's context switches so far: each voluntary one is a thread that blocked (parked,
/// waited on a lock) and had to be woken; involuntary ones are preemptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Switches {
    /// Switches because a thread blocked.
    pub voluntary: i64,
    /// Switches because the kernel preempted a thread.
    pub involuntary: i64,
}

impl Switches {
    /// Reads the process's context switch counts now.
    pub fn now() -> Self {
        let usage = rusage();
        Self {
            voluntary: usage.ru_nvcsw,
            involuntary: usage.ru_nivcsw,
        }
    }
}

/// `getrusage(RUSAGE_SELF)`, all zero if it fails (it cannot for RUSAGE_SELF and a valid
/// pointer; zero rather than a panic).
fn rusage() -> libc::rusage {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct (integers and
    // `timeval`s only).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage` for the duration of the call, and
    // RUSAGE_SELF is a valid `who`; getrusage writes nothing else.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        // SAFETY: as above, all-zero is a valid `rusage`.
        return unsafe { std::mem::zeroed() };
    }
    usage
}

impl CpuTime {
    /// Reads the process's CPU time now.
    pub fn now() -> Self {
        let usage = rusage();
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
