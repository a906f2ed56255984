//! [`timeout`]: a future with a deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Instant;

use super::sleep::{sleep_until, Sleep};

/// The error of a [`Timeout`] whose deadline passed first.
///
/// ```
/// let e = spool::block_on(spool::time::timeout(
///     std::time::Duration::from_millis(1),
///     std::future::pending::<()>(),
/// ));
/// assert_eq!(e.unwrap_err().to_string(), "deadline has elapsed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct Elapsed(());

/// Runs `future` for at most `duration`: `Ok(output)` if it completes first, `Err(Elapsed)`
/// (and the future is dropped) otherwise.
///
/// ```
/// use std::time::Duration;
/// use spool::time::{sleep, timeout};
/// let rt = spool::Runtime::new()?;
/// rt.block_on(async {
///     assert_eq!(timeout(Duration::from_secs(1), async { 5 }).await, Ok(5));
///     assert!(timeout(Duration::from_millis(5), sleep(Duration::from_secs(5))).await.is_err());
/// });
/// # std::io::Result::Ok(())
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(super::deadline_after(duration), future)
}

/// Like [`timeout`], with a deadline.
///
/// ```
/// use std::time::Duration;
/// use spool::time::Instant;
/// let r = spool::block_on(spool::time::timeout_at(Instant::now() + Duration::from_secs(1), async { 1 }));
/// assert_eq!(r, Ok(1));
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`] and [`timeout_at`].
    ///
    /// ```
    /// let t: spool::time::Timeout<_> = spool::time::timeout(std::time::Duration::from_secs(1), async {});
    /// assert_eq!(spool::block_on(t), Ok(()));
    /// ```
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}
