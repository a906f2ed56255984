//! Step 8: an I/O reactor (mio) — a socket that is not ready parks its task, not a thread.
//!
//! Steps 1 to 7 can wait for time but not for a socket: a task that reads would block its
//! worker in `read(2)` until bytes came. Here sockets are non-blocking and registered, once,
//! with one `mio::Poll` (epoll on Linux, edge-triggered), and one **reactor thread** waits in
//! `poll` for readiness events. The rule for every operation (`poll_io`):
//!
//! 1. try it; if it succeeds (or fails for real), that is the answer;
//! 2. on `WouldBlock`, lock the socket's `Source`: if a readiness event arrived since the
//!    last try, try again; otherwise leave the task's waker there and return `Pending`;
//! 3. the reactor, on an event for that socket and direction, sets the flag and calls the
//!    waker — under the same lock, so an event between 1 and 2 is never lost.
//!
//! The scheduler, its workers and the timer are step 7's, unchanged ([`spawn`] is
//! `step7::spawn`). On top sit a [`TcpListener`] and a [`TcpStream`], enough for an echo
//! server, and ([`hyper_rt`]) hyper's runtime traits, enough for a hyper server.
//!
//! This is where the steps end and where `crates/spool`'s docs begin. Spool makes these pieces
//! fast and safe to depend on: the parked worker itself waits in `epoll_wait` (no reactor or
//! timer thread to hop through), a readiness event puts the task on the queue of the worker
//! that received it, and it adds what a real runtime needs — `spawn_blocking` and its pool, the
//! blocking detector, `JoinError` for panics, metrics, shutdown that joins its threads.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;

use mio::{Interest, Token};
use slab::Slab;

use crate::common::lock;
pub use crate::step7::{block_on, sleep, spawn, workers, yield_now, Sleep, THREAD};

pub mod hyper_rt;
pub use hyper_rt::{HyperExecutor, HyperTimer};

const READ: usize = 0;
const WRITE: usize = 1;

/// One registered socket's readiness, per direction (read, write): a flag and a waiting waker.
#[derive(Debug, Default)]
pub struct Source {
    state: Mutex<[(bool, Option<Waker>); 2]>,
}

/// The registry (to add and remove sockets) and the sockets' sources, by token.
struct Reactor {
    registry: mio::Registry,
    sources: Mutex<Slab<Arc<Source>>>,
}

static REACTOR: LazyLock<&'static Reactor> = LazyLock::new(|| {
    let poll = mio::Poll::new().expect("cannot create the poller");
    let reactor: &'static Reactor = Box::leak(Box::new(Reactor {
        registry: poll
            .registry()
            .try_clone()
            .expect("cannot share the poller"),
        sources: Mutex::default(),
    }));
    thread::Builder::new()
        .name("step8-reactor".to_owned())
        .spawn(move || reactor.run(poll))
        .expect("the OS refused to start the reactor thread");
    reactor
});

impl Reactor {
    /// The reactor thread: wait for events; for each, mark its socket ready and wake its task.
    fn run(&self, mut poll: mio::Poll) {
        let mut events = mio::Events::with_capacity(1024);
        loop {
            if let Err(e) = poll.poll(&mut events, None) {
                assert_eq!(e.kind(), io::ErrorKind::Interrupted, "epoll failed: {e}");
                continue;
            }
            for event in &events {
                let Some(source) = lock(&self.sources).get(event.token().0).cloned() else {
                    continue; // deregistered meanwhile
                };
                let mut state = lock(&source.state);
                let error = event.is_error();
                for (dir, ready) in [
                    (READ, event.is_readable() || event.is_read_closed() || error),
                    (
                        WRITE,
                        event.is_writable() || event.is_write_closed() || error,
                    ),
                ] {
                    if ready {
                        state[dir].0 = true;
                        if let Some(waker) = state[dir].1.take() {
                            waker.wake();
                        }
                    }
                }
            }
        }
    }
}

/// A mio socket registered with the reactor; it leaves the poller when dropped.
#[derive(Debug)]
pub struct Registered<S: mio::event::Source> {
    io: S,
    source: Arc<Source>,
    token: usize,
}

impl<S: mio::event::Source> Registered<S> {
    fn new(mut io: S) -> io::Result<Self> {
        let source = Arc::new(Source::default());
        let token = lock(&REACTOR.sources).insert(Arc::clone(&source));
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = REACTOR.registry.register(&mut io, Token(token), interest) {
            lock(&REACTOR.sources).remove(token);
            return Err(e);
        }
        Ok(Self { io, source, token })
    }

    /// Runs `op` until it does not say `WouldBlock`, waiting for readiness in `dir` between
    /// tries (steps 1–3 of the module docs).
    fn poll_io<T>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        loop {
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut state = lock(&self.source.state);
                    if !std::mem::take(&mut state[dir].0) {
                        state[dir].1 = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
                result => return Poll::Ready(result),
            }
        }
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        let _ = REACTOR.registry.deregister(&mut self.io);
        lock(&REACTOR.sources).remove(self.token);
    }
}

/// A TCP listener whose `accept` waits on the reactor.
#[derive(Debug)]
pub struct TcpListener(Registered<mio::net::TcpListener>);

impl TcpListener {
    /// Listens on `addr`.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        Registered::new(mio::net::TcpListener::bind(addr)?).map(Self)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.io.local_addr()
    }

    /// Waits for the next connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = poll_fn(|cx| self.0.poll_io(READ, cx, |l| l.accept())).await?;
        Ok((TcpStream(Registered::new(stream)?), peer))
    }
}

/// A TCP connection whose reads and writes wait on the reactor.
#[derive(Debug)]
pub struct TcpStream(Registered<mio::net::TcpStream>);

impl TcpStream {
    /// Connects to `addr`: a non-blocking connect, done when the socket turns writable.
    pub async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = Self(Registered::new(mio::net::TcpStream::connect(addr)?)?);
        poll_fn(|cx| {
            stream
                .0
                .poll_io(WRITE, cx, |s| match (s.take_error()?, s.peer_addr()) {
                    (Some(e), _) => Err(e),
                    (None, Err(e)) if e.kind() == io::ErrorKind::NotConnected => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    (None, result) => result.map(drop),
                })
        })
        .await?;
        stream.0.io.set_nodelay(true)?;
        Ok(stream)
    }

    /// Reads into `buf`; 0 means the peer closed its side.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.0.poll_io(READ, cx, |mut s| s.read(buf))).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = poll_fn(|cx| self.0.poll_io(WRITE, cx, |mut s| s.write(buf))).await?;
            buf = &buf[n..];
        }
        Ok(())
    }
}
