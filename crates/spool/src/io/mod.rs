//! The I/O reactor: sockets waited on in the same `epoll_wait` as the timers.
//!
//! A runtime has one poller (polling's `Poller`, epoll on Linux) in its driver
//! (`driver.rs`). The worker that parks with nothing to do waits in it, with the nearest
//! timer deadline as its timeout; a socket becoming readable or writable wakes it like a timer
//! does, and the tasks waiting for that socket go onto *that worker's* queue — no other thread is
//! involved, no cross-core wake-up is paid. Busy workers poll it without blocking every few dozen
//! tasks, so I/O is not starved while they work.
//!
//! The pieces, one job each:
//!
//! - `scheduled.rs`: per source, the readiness bits (with a tick against the lost-wakeup race)
//!   and the reader/writer wakers;
//! - `sources.rs`: the driver's table of sources, keyed by slab index + generation, and the
//!   dispatch of a turn's events into it;
//! - `registration.rs`: owns a source and its place in the poller: registered once,
//!   edge-triggered, deleted before it is closed (the one `unsafe` call of the crate);
//! - [`Async`]: the readiness loop (`try the syscall; on WouldBlock clear and wait`) that
//!   [`crate::net`] is built on, public for other descriptors (Unix sockets, pipes).
//!
//! What it costs per operation: a syscall that succeeds costs the syscall and an atomic load;
//! a `WouldBlock` costs one compare-and-swap and, if the task must wait, one uncontended lock to
//! store its waker. An event costs an atomic update and a lock in the driver's turn; the turn's
//! event and waker buffers are reused, so nothing is allocated per event. No `epoll_ctl` is made
//! after registration.

mod async_io;
pub(crate) mod registration;
pub(crate) mod scheduled;
pub(crate) mod sources;

pub use async_io::Async;
