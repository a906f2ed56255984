//! The chapter's hyper service and its hosting.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub, clippy::undocumented_unsafe_blocks)]
