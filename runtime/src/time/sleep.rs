use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::{Handle, TimerKey, TimerPoll};

/// Waits until `duration` has elapsed.
///
/// Equivalent to `sleep_until(Instant::now() + duration)`. The timer is registered with
/// the runtime's driver on the first poll, so a `Sleep` that is never polled costs nothing.
/// A duration too large to represent sleeps for about 30 years.
///
/// # Panics
///
/// Panics with "must be called from within a neptune runtime" when called outside a
/// runtime.
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(deadline_after(duration))
}

/// Waits until `deadline` is reached.
///
/// # Panics
///
/// Panics with "must be called from within a neptune runtime" when called outside a
/// runtime.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        handle: Handle::current(),
        deadline,
        timer: None,
        done: false,
    }
}

/// `Instant::now() + duration`, saturated to about 30 years from now.
pub(crate) fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration).unwrap_or_else(|| far_future(now))
}

/// A deadline that is never reached in practice.
pub(crate) fn far_future(now: Instant) -> Instant {
    now + Duration::from_secs(86_400 * 365 * 30)
}

/// Future returned by [`sleep`] and [`sleep_until`]; completes once its deadline is
/// reached.
///
/// Timers registered with the driver fire in deadline order, and timers with equal
/// deadlines in the order they were (re)scheduled. A `Sleep` whose deadline has already
/// passed when polled completes immediately without involving the driver.
///
/// A `Sleep` can be moved to another deadline with [`Sleep::reset`], cheaply: moving it
/// later only records the new deadline, and the driver thread is woken only when the new
/// deadline is earlier than every other pending timer. Dropping a `Sleep` removes its
/// timer from the driver.
///
/// Once the runtime has shut down, every `Sleep` completes immediately.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    handle: Handle,
    deadline: Instant,
    /// The driver's timer for this sleep and the deadline it is queued for there, which
    /// may be earlier than `deadline` after a lazy [`Sleep::reset`].
    timer: Option<(TimerKey, Instant)>,
    done: bool,
}

impl Sleep {
    /// The instant at which this future completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Returns `true` once the deadline has been reached (or the runtime shut down and the
    /// sleep completed).
    pub fn is_elapsed(&self) -> bool {
        self.done || self.deadline <= Instant::now()
    }

    /// Moves the deadline to `deadline`, making the future pending again if it had
    /// completed; the task waiting on it does not need to be woken.
    ///
    /// Neither allocates nor, unless the new deadline becomes the driver's earliest, wakes
    /// the driver thread. A later deadline is only recorded here: the timer queued for the
    /// old deadline still fires, and the next poll requeues it for the new one. Works on
    /// pinned sleeps too (`sleep.as_mut().reset(..)`) since `Sleep` is `Unpin`.
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.done = false;
        if let Some((key, queued)) = &mut self.timer {
            if deadline < *queued {
                *queued = deadline;
                if self.handle.inner().timers.reschedule(*key, deadline) {
                    self.handle.unpark();
                }
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(());
        }
        let now = Instant::now();
        let timers = &this.handle.inner().timers;
        let outcome = match &mut this.timer {
            None if this.deadline <= now => TimerPoll::Elapsed,
            None => match timers.insert(this.deadline, cx.waker()) {
                None => TimerPoll::Elapsed,
                Some((key, wake_driver)) => {
                    this.timer = Some((key, this.deadline));
                    TimerPoll::Pending { wake_driver }
                }
            },
            Some((key, queued)) => {
                let outcome = timers.poll(*key, this.deadline, now, cx.waker());
                *queued = this.deadline;
                outcome
            }
        };
        match outcome {
            TimerPoll::Elapsed => {
                this.done = true;
                Poll::Ready(())
            }
            TimerPoll::Pending { wake_driver } => {
                if wake_driver {
                    this.handle.unpark();
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((key, _)) = self.timer.take() {
            self.handle.inner().timers.remove(key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.timer.is_some())
            .field("done", &self.done)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{enter, Handle};
    use futures::executor::block_on;

    fn with_driver(f: impl FnOnce()) {
        let handle = Handle::start("neptune-test-timer").unwrap();
        {
            let _guard = enter(handle.clone());
            f();
        }
        handle.shutdown();
    }

    #[test]
    fn sleep_waits_at_least_its_duration() {
        with_driver(|| {
            let start = Instant::now();
            block_on(sleep(Duration::from_millis(30)));
            assert!(start.elapsed() >= Duration::from_millis(30));
        });
    }

    #[test]
    fn elapsed_deadline_completes_without_registering() {
        with_driver(|| {
            let mut sleep = sleep(Duration::ZERO);
            block_on(&mut sleep);
            assert!(sleep.timer.is_none());
            assert!(sleep.is_elapsed());
        });
    }

    #[test]
    fn reset_earlier_and_later() {
        with_driver(|| {
            let start = Instant::now();
            let mut sleep = sleep(Duration::from_secs(60));
            let waker = futures::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
            sleep.reset(start + Duration::from_millis(20));
            block_on(&mut sleep);
            assert!(start.elapsed() >= Duration::from_millis(20));
            assert!(start.elapsed() < Duration::from_secs(60));

            let later = Instant::now() + Duration::from_millis(40);
            let sooner = Instant::now() + Duration::from_millis(10);
            sleep.reset(sooner);
            // Pending, unless this thread stalled past the deadline.
            let polled = Pin::new(&mut sleep).poll(&mut cx);
            assert!(polled.is_pending() || Instant::now() >= sooner);
            sleep.reset(later);
            block_on(&mut sleep);
            assert!(Instant::now() >= later);
        });
    }

    #[test]
    fn dropped_sleeps_leave_no_timers() {
        with_driver(|| {
            let handle = Handle::current();
            let waker = futures::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            for _ in 0..1000 {
                let mut sleep = sleep(Duration::from_secs(30));
                assert!(Pin::new(&mut sleep).poll(&mut cx).is_pending());
            }
            let mut wakers = Vec::new();
            assert_eq!(
                handle
                    .inner()
                    .timers
                    .fire_expired(Instant::now(), &mut wakers),
                None
            );
        });
    }

    #[test]
    fn shutdown_completes_pending_sleeps() {
        let handle = Handle::start("neptune-test-timer").unwrap();
        let _guard = enter(handle.clone());
        let sleeper = {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let _guard = enter(handle);
                block_on(sleep(Duration::from_secs(3600)));
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        handle.shutdown();
        sleeper.join().unwrap();
        block_on(sleep(Duration::from_secs(3600)));
    }

    #[test]
    #[should_panic(expected = "must be called from within a neptune runtime")]
    fn sleep_panics_outside_runtime() {
        drop(sleep(Duration::from_millis(1)));
    }
}
