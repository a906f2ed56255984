//! The lab: the "Async Rust" chapter's experiments, each run for real and measured beside the
//! figure the book printed.
//!
//! The chapter makes claims with printed timings — three two-second jobs take 6 s in a row and
//! 2 s on threads; a future does nothing until awaited; a blocking sleep inside a task stalls its
//! worker; the home-made queue's `AsyncSleep` burns a whole core. Each experiment here rebuilds
//! the chapter's program, times it, and returns a [`Row`]: the book's figure, the measurement,
//! and whether the claim held ([`Holds::Yes`], [`Holds::No`], or [`Holds::Race`] when the book's
//! outcome is one side of a race).
//!
//! The last experiments run what the chapter only describes, on this project's own pieces: the
//! queue program on Spool's timer (CPU ≈ 0), blocking tasks on one worker, many workers and the
//! blocking pool, Spool's blocking detector naming a task's spawn site, and the HTTP server on
//! one worker with a CPU-heavy handler inline and on the blocking pool.
//!
//! `--scale F` multiplies every duration by `F`, so the whole lab runs in a couple of seconds at
//! 0.05; `--timeline DIR` draws, per experiment, which task ran when on which thread.
//!
//! ```
//! // The chapter's first program — three 2 s sleeps in a row — at 1/100 of the book's time.
//! let rows = lab::run_experiments(&["sequential"], 0.01)?;
//! assert_eq!(rows[0].name, "sequential");
//! assert_eq!(rows[0].book_figure, "~6 s");
//! assert!(rows[0].measured_seconds >= 0.06); // three sleeps of 20 ms
//! # Ok::<(), lab::LabError>(())
//! ```
//!
//! # Map
//!
//! - [`EXPERIMENTS`]: the registry — name, summary, book figure, `fn(&Ctx) -> Row`.
//! - [`experiments`]: the experiments themselves; [`chapter_queue`]: the chapter's task queue.
//!   Spool runtimes record their own poll spans for the timeline
//!   ([`experiments::spool_demo::record_spool_spans`]).
//! - [`Ctx`] (scale, timeline), [`Printout`] (the programs' `println!`s, kept), [`Timeline`]
//!   and [`traced`] (who ran when), [`svg`] (drawing it), [`cpu`] (CPU time burned).
//! - [`run_experiments`] / [`run_with`] / [`run_one`]: running; [`Report`]: the table and JSON;
//!   [`LabArgs`] and [`main`]: the `spool lab` command line.
#![warn(
    missing_docs,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

pub mod chapter_queue;
mod cli;
pub mod cpu;
mod ctx;
pub mod experiments;
mod registry;
mod report;
mod row;
mod runner;
pub mod steps;
pub mod svg;
mod timeline;
pub mod traced;

pub use cli::{main, run_cli, LabArgs};
pub use ctx::{validate_scale, Ctx, Printout};
pub use registry::{find, Experiment, EXPERIMENTS};
pub use report::{list, Report};
pub use row::{agrees, tolerance, Holds, Row, ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE};
pub use runner::{run_experiments, run_one, run_with, select, LabError, Options};
pub use timeline::{Span, SpanGuard, Timeline};
