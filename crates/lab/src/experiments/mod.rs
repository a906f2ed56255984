//! The chapter's experiments, one function each: `fn(&Ctx) -> Row`.
//!
//! Each reconstructs the chapter's program, with two changes: its `println!`s go into a
//! [`Printout`](crate::Printout) (the lab's stdout is the report), and its durations go through
//! [`Ctx::secs`](crate::Ctx::secs) so that `--scale` can shrink them.
//!
//! - [`threads`]: `sequential` and `threads`, the chapter's first program.
//! - [`tokio_demo`]: the five tokio cases with one worker thread.
//! - [`queue`]: the chapter's home-made task queue and its busy sleep.

pub mod queue;
pub mod threads;
pub mod tokio_demo;
