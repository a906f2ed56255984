//! What every experiment is handed: the time scale, the timeline, and a record of its printout.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use crate::{LabError, Timeline};

/// The context one experiment runs in.
///
/// Cheap to clone (an `f64`, an `Arc` and a thread id), so a clone can move into a spawned
/// thread or a `'static` task that needs to scale a duration or record a span.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Every duration of the chapter is multiplied by this (0 < scale ≤ 1): at 0.05 the book's
    /// 2 s sleep becomes 100 ms, so the whole lab runs in about a second.
    pub scale: f64,
    /// Where the experiment reports who ran what, when; off unless `--timeline` was given.
    pub timeline: Timeline,
    main: ThreadId,
}

impl Ctx {
    /// A context for experiments run from the calling thread, which [`Ctx::here`] calls "main".
    ///
    /// Fails when `scale` is not a number in (0, 1].
    pub fn new(scale: f64) -> Result<Self, LabError> {
        validate_scale(scale)?;
        Ok(Self {
            scale,
            timeline: Timeline::off(),
            main: thread::current().id(),
        })
    }

    /// The same context, recording spans into a fresh timeline when `on`.
    pub fn with_timeline(mut self, on: bool) -> Self {
        self.timeline = if on {
            Timeline::recording()
        } else {
            Timeline::off()
        };
        self
    }

    /// The book's `secs` seconds, scaled: `ctx.secs(2.0)` is the chapter's two-second sleep.
    pub fn secs(&self, secs: f64) -> Duration {
        Duration::from_secs_f64(secs * self.scale)
    }

    /// A label for the current thread: "main" for the thread that made this context, else the
    /// thread's name (tokio's workers are "tokio-rt-worker"), else its id.
    pub fn here(&self) -> String {
        let me = thread::current();
        if me.id() == self.main {
            "main".to_owned()
        } else if let Some(name) = me.name() {
            name.to_owned()
        } else {
            format!("{:?}", me.id())
        }
    }
}

/// Checks that `scale` is a finite number with 0 < scale ≤ 1.
pub fn validate_scale(scale: f64) -> Result<(), LabError> {
    if scale.is_finite() && scale > 0.0 && scale <= 1.0 {
        Ok(())
    } else {
        Err(LabError::BadScale(scale))
    }
}

/// What the chapter's program would have printed, kept instead of printed.
///
/// The lab's own stdout is the report, so the experiments' `println!`s become [`Printout::say`]:
/// the lines are kept in the order they were said, each with the time it was said — which is
/// what the race in the task-queue experiment is about. Cloning shares the same list.
#[derive(Debug, Clone)]
pub struct Printout {
    origin: Instant,
    lines: Arc<Mutex<Vec<(Duration, String)>>>,
}

impl Default for Printout {
    fn default() -> Self {
        Self::new()
    }
}

impl Printout {
    /// An empty printout whose clock starts now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            lines: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// "Prints" a line: records it with the time since this printout was made.
    pub fn say(&self, line: impl Into<String>) {
        let line = line.into();
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        // Read the clock under the lock, so that the times are in the same order as the lines.
        lines.push((self.origin.elapsed(), line));
    }

    /// The lines, in the order they were said.
    pub fn lines(&self) -> Vec<String> {
        self.timed().into_iter().map(|(_, line)| line).collect()
    }

    /// The lines with the time each was said, in order.
    pub fn timed(&self) -> Vec<(Duration, String)> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_must_be_in_range() {
        for bad in [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY] {
            assert!(Ctx::new(bad).is_err(), "{bad} accepted");
        }
        assert!(Ctx::new(1.0).is_ok());
        assert!(Ctx::new(0.05).is_ok());
    }

    #[test]
    fn secs_scales() {
        let ctx = Ctx::new(0.5).unwrap();
        assert_eq!(ctx.secs(2.0), Duration::from_secs(1));
    }

    #[test]
    fn here_names_main_and_others() {
        let ctx = Ctx::new(1.0).unwrap();
        assert_eq!(ctx.here(), "main");
        let c = ctx.clone();
        let other = thread::Builder::new()
            .name("helper".into())
            .spawn(move || c.here())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(other, "helper");
    }

    #[test]
    fn printout_keeps_order() {
        let p = Printout::new();
        p.say("a");
        p.clone().say("b");
        assert_eq!(p.lines(), ["a", "b"]);
    }
}
