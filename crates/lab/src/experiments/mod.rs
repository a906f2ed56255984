//! The chapter's experiments, one function each: `fn(&Ctx) -> Row`.
//!
//! Each reconstructs the chapter's program, with two changes: its `println!`s go into a
//! [`Printout`](crate::Printout) (the lab's stdout is the report), and its durations go through
//! [`Ctx::secs`](crate::Ctx::secs) so that `--scale` can shrink them.
//!
//! - [`threads`]: `sequential` and `threads`, the chapter's first program.
//! - [`tokio_demo`]: the five tokio cases with one worker thread.
//! - [`queue`]: the chapter's home-made task queue and its busy sleep, and the same program on
//!   Spool's timer.
//! - [`spool_demo`]: blocking tasks on one worker, many workers and the blocking pool; the
//!   blocking detector; drawing Spool's own poll spans.
//! - [`http`]: the chapter's server with a CPU-heavy handler, inline and on the blocking pool.

pub mod http;
pub mod queue;
pub mod spool_demo;
pub mod threads;
pub mod tokio_demo;
