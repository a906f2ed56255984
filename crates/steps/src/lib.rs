//! From the "Async Rust" chapter's task queue to a work-stealing runtime, one idea per step.
//!
//! Each module is a small, complete runtime: the previous step plus exactly one idea, with a
//! module doc that says what changed and why. Every step offers the same names — `spawn`,
//! `sleep`, `block_on`, `yield_now` — so that one test set and one set of workloads
//! (`spool lab steps`) run on all of them and show what each idea buys.
//!
//! | step | idea |
//! |---|---|
//! | [`step1`] | the chapter's queue: one flume channel, one thread, `catch_unwind`, a self-waking `AsyncSleep` |
//! | [`step2`] | a real timer: a deadline and a waker; the thread blocks until the next deadline |
//! | [`step3`] | N threads sharing the one channel |
//! | [`step4`] | a queue per worker, and an injection queue for wakes from outside |
//! | [`step5`] | work stealing: an idle worker takes half of a busy one's queue |
//! | [`step6`] | the LIFO slot: the task just woken runs next |
//! | [`step7`] | parking with the searching-worker rule: wake a worker only when one is needed |
//! | [`step8`] | an I/O reactor (mio): enough for a TCP echo server and hyper |
//!
//! Step 8 ends where `crates/spool`'s docs begin. The walk, with each step's diff and the
//! measured table, is `docs/steps.md`.
//!
//! Each step's runtime is started on first use and lives as long as the process (the book's
//! `static QUEUE: Lazy<…>`), so the steps are for reading and measuring, not for embedding.

mod common;
pub mod step1;
pub mod step2;
pub mod step3;
pub mod step4;
pub mod step5;
pub mod step6;
pub mod step7;
pub mod step8;

pub use common::{block_on, workers, yield_now, YieldNow};
