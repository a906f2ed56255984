//! Spool: the chapter's task queue, grown into a work-stealing runtime.
//!
//! (Work in progress: the runtime lands with its own issue.)
#![warn(missing_docs, rust_2018_idioms, unreachable_pub, clippy::undocumented_unsafe_blocks)]
