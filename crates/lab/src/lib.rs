//! The chapter's experiments, each run and measured.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub, clippy::undocumented_unsafe_blocks)]
