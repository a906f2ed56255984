//! The I/O reactor: sockets waited on in the same `epoll_wait` as the timers.
//!
//! A runtime has one poller (a [`mio::Poll`], epoll on Linux) in its driver (`driver.rs`).
//! The worker that parks with nothing to do waits in it, with the nearest timer deadline as its
//! timeout; a socket becoming readable or writable wakes it like a timer does, and the tasks
//! waiting for that socket go onto *that worker's* queue — no other thread is involved, no
//! cross-core wake-up is paid. Busy workers poll it without blocking every few dozen tasks, so
//! I/O is not starved while they work.
//!
//! # Edge-triggered, and why
//!
//! Each socket is added to epoll once, for reading and writing, **edge-triggered**
//! (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`): the kernel reports a change (data arrived, send
//! space freed, the peer closed) once, not on every wait for as long as the state lasts.
//!
//! - Level-triggered, a socket with unread data would be reported by every `epoll_wait` until a
//!   task drained it — with the reading task still queued behind others, the same event comes
//!   back turn after turn; and a writable socket (nearly always) would be reported always.
//! - Oneshot (the usual cure for that) disarms the socket after each event: one `epoll_ctl` per
//!   event to re-arm it, a syscall per read or write that waited.
//! - Edge-triggered costs no syscall after registration. In exchange the reactor has to
//!   remember the state between edges: the readiness bits of `scheduled.rs`, cleared only when
//!   an operation proves the socket drained.
//!
//! # Why the peer-close flag saves a syscall
//!
//! "Drained" is proven by a `WouldBlock` — or, for a stream, by a read that returned fewer bytes
//! than the buffer holds: the kernel hands over everything queued, so a short read emptied the
//! queue. Trusting the short read spares the `read` that would only say `WouldBlock`: for a
//! keep-alive HTTP/1 connection (one small request per read) that is a third of the syscalls of
//! a request (read, write, and that failed read). It is only safe if the reactor knows whether
//! the peer has closed: a FIN that arrives with the data is announced by the *same* edge, and
//! after the short read the end of the stream is waiting with no edge left to report it. Clear
//! `READABLE` then, and the reader waits forever. epoll reports the peer's shutdown as
//! `EPOLLRDHUP`; the reactor keeps it as a sticky `READ_CLOSED` bit, and a short read clears
//! `READABLE` only while it is unset (`ScheduledIo::clear_after_short_read`). History:
//! `docs/design.md`, "Reactor".
//!
//! # The pieces, one job each
//!
//! - `scheduled.rs`: per source, the readiness bits (with a tick against the lost-wakeup race)
//!   and the reader/writer wakers;
//! - `sources.rs`: the driver's table of sources, keyed by slab index + generation, and the
//!   dispatch of a turn's events into it;
//! - `registration.rs`: owns a source and its place in the poller: registered once,
//!   edge-triggered, deregistered before it is closed;
//! - [`Async`]: the readiness loop (`try the syscall; on WouldBlock clear and wait`) that
//!   [`crate::net`] is built on, public for other descriptors (pipes, terminals, devices);
//! - `tokio_io.rs` (feature `tokio-io`): tokio's `AsyncRead`/`AsyncWrite` on Spool's streams.
//!
//! What it costs per operation: a syscall that succeeds costs the syscall and an atomic load;
//! a `WouldBlock` (or a short read) costs one compare-and-swap and, if the task must wait, one
//! uncontended lock to store its waker. An event costs an atomic update and a lock in the
//! driver's turn; the turn's event and waker buffers are reused, so nothing is allocated per
//! event. No `epoll_ctl` is made after registration; a turn is one `epoll_wait`.

mod async_io;
pub(crate) mod registration;
pub(crate) mod scheduled;
pub(crate) mod sources;
#[cfg(feature = "tokio-io")]
#[allow(unsafe_code)] // two blocks: the read into tokio's uninitialised `ReadBuf` (see SAFETY)
pub(crate) mod tokio_io;

pub use async_io::Async;
