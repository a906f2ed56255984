//! The list of experiments: name, one-line summary, the book's figure, and the function to run.

use crate::experiments::{http, queue, spool_demo, threads, tokio_demo};
use crate::{Ctx, Row};

/// One experiment of the chapter.
#[derive(Debug, Clone, Copy)]
pub struct Experiment {
    /// Its name on the command line, e.g. "tokio-lazy".
    pub name: &'static str,
    /// What it does, in one line (shown by `--list`).
    pub summary: &'static str,
    /// What the book printed, e.g. "~6 s" (the report's "book" column).
    pub book: &'static str,
    /// Runs it and measures; the runner fills in the row's `name` and `book_figure`.
    pub run: fn(&Ctx) -> Row,
}

/// Every experiment, in the chapter's order: a name, a line, the book's figure and a
/// `fn(&Ctx) -> Row`.
pub static EXPERIMENTS: &[Experiment] = &[
    Experiment {
        name: "sequential",
        summary: "three do_something(n) (2 s thread::sleep) one after another",
        book: "~6 s",
        run: threads::sequential,
    },
    Experiment {
        name: "threads",
        summary: "the same three jobs on three threads, joined",
        book: "~2 s",
        run: threads::threads,
    },
    Experiment {
        name: "tokio-await",
        summary: "tokio, one worker: create a future and await it",
        book: "~2 s",
        run: tokio_demo::tokio_await,
    },
    Experiment {
        name: "tokio-lazy",
        summary: "create the future, block main 2 s, then await (futures are lazy)",
        book: "~4 s",
        run: tokio_demo::tokio_lazy,
    },
    Experiment {
        name: "tokio-spawn",
        summary: "tokio::spawn, block main 2 s, then await (the worker runs it meanwhile)",
        book: "~2 s",
        run: tokio_demo::tokio_spawn,
    },
    Experiment {
        name: "tokio-spawn-two-blocking",
        summary: "two spawned tasks that thread::sleep 2 s, one worker",
        book: "~4 s",
        run: tokio_demo::tokio_spawn_two_blocking,
    },
    Experiment {
        name: "tokio-spawn-two-async",
        summary: "two spawned tasks that tokio::time::sleep 2 s, one worker",
        book: "~2 s",
        run: tokio_demo::tokio_spawn_two_async,
    },
    Experiment {
        name: "queue-busy-sleep",
        summary: "the chapter's task queue: sleeping(1..=3) with the self-waking AsyncSleep, main sleeps 5 s; CPU burned and printout order",
        book: "5.00 s CPU in 5.00 s",
        run: queue::queue_busy_sleep,
    },
    Experiment {
        name: "queue-timer-sleep",
        summary: "the same program on a one-worker Spool runtime with spool::time::sleep: same order, CPU ~0",
        book: "~0 s CPU in 5 s",
        run: queue::queue_timer_sleep,
    },
    Experiment {
        name: "work-stealing",
        summary: "8 tasks that thread::sleep 200 ms on Spool: 1 worker, N workers (stealing), spawn_blocking",
        book: "1.6 / 1.6÷N / 0.2 s",
        run: spool_demo::work_stealing,
    },
    Experiment {
        name: "blocking-detector",
        summary: "the chapter's do_something (thread::sleep in an async fn) as a Spool task: the detector names its spawn site",
        book: "names the spawn site",
        run: spool_demo::blocking_detector,
    },
    Experiment {
        name: "http-blocking-handler-tokio",
        summary: "the server on one tokio worker: latency of / while /work?ms=200 runs inline, then on the blocking pool",
        book: "/ waits (inline)",
        run: http::http_blocking_handler_tokio,
    },
    Experiment {
        name: "http-blocking-handler-spool",
        summary: "the same on one Spool worker (spool serve --runtime spool), the accept loop a task on it",
        book: "/ waits (inline)",
        run: http::http_blocking_handler_spool,
    },
];

/// The experiment called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Experiment> {
    EXPERIMENTS.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_findable() {
        for (i, e) in EXPERIMENTS.iter().enumerate() {
            assert!(
                EXPERIMENTS[..i].iter().all(|o| o.name != e.name),
                "{}",
                e.name
            );
            assert_eq!(find(e.name).map(|f| f.name), Some(e.name));
        }
        assert!(find("nope").is_none());
    }
}
