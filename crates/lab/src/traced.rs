//! A future wrapper that records one timeline span per poll — what "running" means for a task.
//!
//! A task is only on a thread while it is being polled; between polls it is parked somewhere (in
//! a timer, waiting for a wake-up) and costs nothing. Recording each poll shows exactly that: a
//! blocking `thread::sleep` inside a task is one long bar, an async sleep is two slivers with a
//! gap. A runtime that records its own poll spans gives the same picture for every task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::Ctx;

/// `future`, recording a span on `ctx.timeline` for every poll (nothing when the timeline is off).
///
/// The future is boxed so that `Traced` is `Unpin` without any `unsafe` pin projection; the lab
/// wraps a handful of futures, so the allocation does not matter.
pub fn traced<F: Future>(ctx: &Ctx, task: impl Into<String>, future: F) -> Traced<F> {
    Traced {
        future: Box::pin(future),
        ctx: ctx.clone(),
        task: task.into(),
    }
}

/// The future returned by [`traced`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Traced<F> {
    future: Pin<Box<F>>,
    ctx: Ctx,
    task: String,
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if !self.ctx.timeline.is_on() {
            return self.future.as_mut().poll(cx);
        }
        let start = Instant::now();
        let result = self.future.as_mut().poll(cx);
        let thread = self.ctx.here();
        self.ctx
            .timeline
            .record(&thread, &self.task, start, Instant::now());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_span_per_poll() {
        let ctx = Ctx::new(1.0).unwrap().with_timeline(true);
        let mut first = true;
        let fut = std::future::poll_fn(move |cx| {
            if std::mem::take(&mut first) {
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(3)
            }
        });
        assert_eq!(futures_lite::future::block_on(traced(&ctx, "t", fut)), 3);
        let spans = ctx.timeline.spans();
        assert_eq!(spans.len(), 2);
        assert!(spans.iter().all(|s| s.thread == "main" && s.task == "t"));
    }
}
