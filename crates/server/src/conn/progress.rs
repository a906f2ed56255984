//! What the send timeout reads: whether a connection owes its client bytes, and when it last
//! sent some ([`Activity`]'s sending side).
//!
//! Two wrappers record it, one at each end of the response's way out:
//!
//! - [`SentBody`] wraps every response body. While one is alive the connection owes a
//!   response. It hands its data to hyper in [`CHUNK`]-sized frames, so that hyper asks for the
//!   next one only once the previous is on its way: over HTTP/2 hyper waits for flow-control
//!   window before it asks, so a client that never opens its window leaves the body alive
//!   (and h2 buffers at most a chunk beyond the window, not the whole response). Each frame
//!   handed over is progress.
//! - [`Progress`] wraps the connection's byte stream. A write that returns `Pending` means the
//!   client is not reading: the connection owes bytes until a write succeeds. Once every body
//!   has been handed over (an HTTP/1 response sits in hyper's buffer), successful writes are
//!   progress; while a body is alive they are not, so that an HTTP/2 client that answers PINGs
//!   but never opens its window is still seen as stalled.
//!
//! The rule itself (owing, and no progress for `--send-timeout`) is [`super::timeouts`]'.
//!
//! # HTTP/2: one write per round of answers
//!
//! [`Progress`] also decides *when* an HTTP/2 connection writes. hyper runs each HTTP/2 stream as a
//! task of its own, and a stream that has its response wakes the connection's task, which writes
//! whatever responses are ready. Both multi-thread runtimes run a task woken from a worker next
//! (their LIFO slot), so left alone the connection's task runs after *each* stream in turn and
//! writes one or two responses per `writev` while the other streams of the same batch of requests
//! still wait in the queue. With `TCP_NODELAY` on (the hosts set it, so that no response waits for
//! the client's ACK) each of those writes is a TCP segment, and each segment is kernel work on both
//! ends (3–4 µs of the server's system time on loopback). Bare hyper, without `TCP_NODELAY`, has as
//! many writes but Nagle's algorithm merges them into fewer segments, at the price of holding a
//! segment back until the previous one is acknowledged. Figures: `docs/benchmarks.md`, "HTTP/2: one
//! write per round of answers".
//!
//! So on a connection that is not HTTP/1, while a response is still on its way to h2 (a
//! [`SentBody`] alive: its stream's task has not handed it over yet), the first write after a flush
//! is held for one turn of the runtime's queue: [`Progress`] wakes its own task and answers
//! `Pending`. A self-woken task goes to the back of the queue on both runtimes (tokio requeues it
//! behind the others; Spool defers it until the worker has nothing else to run), so the streams
//! already queued run first, and when the connection's task runs again h2 encodes all their
//! responses and writes them in one call. It is held once per flush, never twice in a row (the next
//! write goes through), so a response waits for the tasks queued on its worker before it (on Spool,
//! at most until the worker's next maintenance tick, which requeues deferred tasks), never for the
//! network. With no response on its way (one request at a time; the preface, PINGs, window updates)
//! there is nothing to wait for, and the write goes at once: a hold would only cost a poll, and at
//! 2 workers a wake-up of the other worker to steal the requeued task (~7 µs more per request for
//! one client sending one request at a time). HTTP/1 answers one request at a time and is never
//! held.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::timeouts::{Activity, Sending};
use crate::routes::ResponseBody;

/// The largest DATA handed to hyper at once (see the module docs): the h2 crate's default
/// frame size, so HTTP/2 sends one frame per chunk.
pub(crate) const CHUNK: usize = 16 * 1024;

/// A response body as the connection sends it: the route's body, cut into [`CHUNK`]s, counted
/// as owed while alive.
#[derive(Debug)]
pub(crate) struct SentBody {
    inner: ResponseBody,
    /// Data taken from `inner` and not yet handed to hyper.
    rest: Bytes,
    sending: Sending,
}

impl SentBody {
    /// `inner`, sent under `sending` (from [`Activity::response_started`]).
    pub(crate) fn new(inner: ResponseBody, sending: Sending) -> Self {
        SentBody {
            inner,
            rest: Bytes::new(),
            sending,
        }
    }
}

impl Body for SentBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        while this.rest.is_empty() {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(never))) => match never {},
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.rest = data,
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
            }
        }
        let chunk = this.rest.split_to(this.rest.len().min(CHUNK));
        this.sending.progress();
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + rest);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}

/// A connection's byte stream, recording in its [`Activity`] whether writes get through, and
/// holding an HTTP/2 connection's first write after a flush for one turn of the runtime's queue
/// (see the module docs).
#[derive(Debug)]
pub(crate) struct Progress<I> {
    inner: I,
    activity: Arc<Activity>,
    /// The next write is held for a turn (if the connection is not HTTP/1 and a response is on
    /// its way): set by a finished flush, cleared by the hold.
    hold: bool,
}

impl<I> Progress<I> {
    /// `inner`, its writes recorded in `activity`.
    pub(crate) fn new(inner: I, activity: Arc<Activity>) -> Self {
        Progress {
            inner,
            activity,
            hold: true,
        }
    }

    /// Whether this write is held (see the module docs): if so, the task is woken to come back
    /// after the tasks queued before it, and the write answers `Pending` (not recorded as a
    /// blocked write: the client has nothing to do with it).
    fn held(&mut self, cx: &Context<'_>) -> bool {
        if !self.hold || self.activity.is_http1() || self.activity.sending() == 0 {
            return false;
        }
        self.hold = false;
        cx.waker().wake_by_ref();
        true
    }

    /// Records what a write returned.
    fn saw(&self, poll: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match &poll {
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.wrote(),
            Poll::Pending => self.activity.write_blocked(),
            _ => {}
        }
        poll
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for Progress<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for Progress<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.held(cx) {
            return Poll::Pending;
        }
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.saw(poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.held(cx) {
            return Poll::Pending;
        }
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.saw(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        // What h2 had to write is out: its next write starts a new round.
        if poll.is_ready() {
            this.hold = true;
        }
        poll
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt as _, Full};
    use hyper::rt::Write as _;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    /// A byte sink that takes every write whole and counts them.
    #[derive(Debug, Default)]
    struct Sink {
        writes: usize,
    }

    impl hyper::rt::Write for Sink {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().writes += 1;
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Counts its wake-ups.
    #[derive(Debug, Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn write(io: &mut Progress<Sink>, cx: &mut Context<'_>) -> Poll<usize> {
        match Pin::new(io).poll_write(cx, b"frames") {
            Poll::Ready(result) => Poll::Ready(result.unwrap()),
            Poll::Pending => Poll::Pending,
        }
    }

    #[test]
    fn an_http2_write_is_held_for_one_turn_once_per_flush() {
        let activity = Arc::new(Activity::new());
        let mut io = Progress::new(Sink::default(), Arc::clone(&activity));
        let wakes = Arc::new(Wakes::default());
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        // A response on its way to h2 (its stream's task has not handed it over yet).
        let on_its_way = activity.response_started(0);

        assert!(
            write(&mut io, &mut cx).is_pending(),
            "the first write is held"
        );
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "the task woke itself");
        assert_eq!(io.inner.writes, 0);

        assert_eq!(
            write(&mut io, &mut cx),
            Poll::Ready(6),
            "then it goes through"
        );
        assert_eq!(
            write(&mut io, &mut cx),
            Poll::Ready(6),
            "and the next, unflushed"
        );
        assert_eq!(io.inner.writes, 2);

        assert!(Pin::new(&mut io).poll_flush(&mut cx).is_ready());
        assert!(
            write(&mut io, &mut cx).is_pending(),
            "a flush starts a new round"
        );
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        assert_eq!(write(&mut io, &mut cx), Poll::Ready(6));
        assert_eq!(io.inner.writes, 3);

        drop(on_its_way);
        assert!(
            activity.stalled_for().is_none(),
            "a hold is not a blocked write"
        );
        assert!(Pin::new(&mut io).poll_flush(&mut cx).is_ready());
        assert_eq!(
            write(&mut io, &mut cx),
            Poll::Ready(6),
            "nothing on its way: no hold"
        );
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        assert_eq!(io.inner.writes, 4);
    }

    #[test]
    fn an_http1_write_is_never_held() {
        let activity = Arc::new(Activity::new());
        activity.request_answered(true);
        let _on_its_way = activity.response_started(0);
        let mut io = Progress::new(Sink::default(), Arc::clone(&activity));
        let wakes = Arc::new(Wakes::default());
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        for _ in 0..2 {
            assert_eq!(write(&mut io, &mut cx), Poll::Ready(6));
            assert!(Pin::new(&mut io).poll_flush(&mut cx).is_ready());
        }
        assert_eq!(io.inner.writes, 2);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_body_is_cut_into_chunks_and_owed_while_alive() {
        let activity = Arc::new(Activity::new());
        let data = Bytes::from(vec![7u8; 2 * CHUNK + 5]);
        let mut body = SentBody::new(Full::new(data.clone()), activity.response_started(0));
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        assert!(activity.stalled_for().is_some(), "owed while alive");
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            sizes.push(frame.unwrap().into_data().unwrap().len());
        }
        assert_eq!(sizes, [CHUNK, CHUNK, 5]);
        assert!(body.is_end_stream());
        drop(body);
        assert!(activity.stalled_for().is_none(), "nothing owed once gone");
    }
}
