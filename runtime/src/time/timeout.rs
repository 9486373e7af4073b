use std::error::Error;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use super::sleep::{deadline_after, sleep_until, Sleep};

/// Requires `future` to complete within `duration`.
///
/// Resolves to `Ok` with the future's output if it completes first, or to
/// `Err(Elapsed)` once `duration` has elapsed, dropping the future. The future is polled
/// before the timer, so a future that is ready when the time is up still wins. If the
/// future completes on its first poll, no timer is registered at all.
///
/// # Panics
///
/// Panics with "must be called from within a neptune runtime" when called outside a
/// runtime.
#[track_caller]
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    timeout_at(deadline_after(duration), future)
}

/// Requires `future` to complete before `deadline`; see [`timeout`].
///
/// # Panics
///
/// Panics with "must be called from within a neptune runtime" when called outside a
/// runtime.
#[track_caller]
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    Timeout {
        future: future.into_future(),
        sleep: sleep_until(deadline),
    }
}

pin_project! {
    /// Future returned by [`timeout`] and [`timeout_at`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        // Structurally pinned: polled in place. `sleep` is not (`Sleep: Unpin`).
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The wrapped future, mutably.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.future
    }

    /// Gives back the wrapped future, cancelling the timeout.
    pub fn into_inner(self) -> F {
        self.future
    }

    /// The instant at which the timeout elapses.
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
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

/// Error returned by [`Timeout`] when its deadline elapsed before the future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

/// Lets I/O code use `?` on a timeout: it becomes an `io::ErrorKind::TimedOut` error.
impl From<Elapsed> for io::Error {
    fn from(elapsed: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{enter, Handle};
    use futures::executor::block_on;

    #[test]
    fn fires_and_does_not_fire() {
        let handle = Handle::start("neptune-test-timeout").unwrap();
        {
            let _guard = enter(handle.clone());
            let start = Instant::now();
            let result = block_on(timeout(
                Duration::from_millis(30),
                futures::future::pending::<()>(),
            ));
            assert_eq!(result, Err(Elapsed(())));
            assert!(start.elapsed() >= Duration::from_millis(30));
            assert_eq!(result.unwrap_err().to_string(), "deadline has elapsed");

            let result = block_on(timeout(Duration::from_secs(60), async { 7 }));
            assert_eq!(result, Ok(7));
            let io_err: io::Error = Elapsed(()).into();
            assert_eq!(io_err.kind(), io::ErrorKind::TimedOut);
        }
        handle.shutdown();
    }
}
