//! loom's primitives (`--cfg loom`): every access is a point where loom may switch threads.

pub(crate) use loom::sync::{
    atomic::{AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};
