use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::{far_future, sleep_until, Sleep};

/// How late a tick may be before it counts as missed. Ticks are rarely exactly on time,
/// and treating every slightly late tick as missed would make [`MissedTickBehavior::Delay`]
/// and [`MissedTickBehavior::Skip`] drift for no reason.
const MISSED_TOLERANCE: Duration = Duration::from_millis(5);

/// Creates an [`Interval`] that ticks every `period`, the first tick completing
/// immediately.
///
/// # Panics
///
/// Panics if `period` is zero, and with "must be called from within a neptune runtime"
/// when called outside a runtime.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Creates an [`Interval`] whose first tick completes at `start` and that then ticks
/// every `period`.
///
/// # Panics
///
/// Panics if `period` is zero, and with "must be called from within a neptune runtime"
/// when called outside a runtime.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "`period` must be non-zero");
    Interval {
        sleep: sleep_until(start),
        period,
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when ticks were missed because it was not polled in time
/// (by more than a few milliseconds).
///
/// With a period of 10ms, a first tick at 0ms and the tick at 10ms delivered only at 35ms:
///
/// | behavior | following ticks are scheduled for |
/// |----------|-----------------------------------|
/// | `Burst`  | 20ms, 30ms (both at once), then 40ms, 50ms, ... |
/// | `Delay`  | 45ms, 55ms, 65ms, ... |
/// | `Skip`   | 40ms, 50ms, 60ms, ... |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Catch up by ticking as fast as possible until back on the original schedule. The
    /// default, because it keeps the number of ticks equal to elapsed time / period.
    #[default]
    Burst,
    /// Restart the schedule from the late tick: the next tick is one period after it was
    /// delivered.
    Delay,
    /// Drop the missed ticks and continue with the next tick of the original schedule.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline of the tick after the one due at `due` and delivered at `now`.
    fn next(self, due: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => due.checked_add(period),
            MissedTickBehavior::Delay => now.checked_add(period),
            MissedTickBehavior::Skip => {
                let behind = (now - due).as_nanos() % period.as_nanos();
                // `behind < period`, which is a `Duration`, so it fits in `u64` nanos
                // unless the period itself is longer than ~584 years.
                let behind = Duration::from_nanos(u64::try_from(behind).unwrap_or(u64::MAX));
                now.checked_add(period.saturating_sub(behind))
            }
        }
        .unwrap_or_else(|| far_future(now))
    }
}

/// A stream of evenly spaced ticks; see [`interval`].
///
/// Each tick yields the instant it was scheduled for, which can be earlier than when it is
/// delivered. Missed ticks are handled according to [`MissedTickBehavior`] (by default
/// [`Burst`](MissedTickBehavior::Burst), as in tokio).
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// Cancel safe: if the returned future is dropped before completing, no tick is lost.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick: returns the instant it was scheduled for once reached,
    /// otherwise arranges for `cx`'s task to be woken then.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let due = self.sleep.deadline();
        let now = Instant::now();
        let next = if now > due + MISSED_TOLERANCE {
            self.missed_tick_behavior.next(due, now, self.period)
        } else {
            due.checked_add(self.period)
                .unwrap_or_else(|| far_future(now))
        };
        // Later than the tick that just fired, so this only records the new deadline.
        self.sleep.reset(next);
        Poll::Ready(due)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        let now = Instant::now();
        self.sleep.reset(
            now.checked_add(self.period)
                .unwrap_or_else(|| far_future(now)),
        );
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// How missed ticks are handled.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets how missed ticks are handled.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_tick_schedules() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let period = ms(10);
        let due = start + ms(10);
        let now = start + ms(35);
        assert_eq!(
            MissedTickBehavior::Burst.next(due, now, period),
            start + ms(20)
        );
        assert_eq!(
            MissedTickBehavior::Delay.next(due, now, period),
            start + ms(45)
        );
        assert_eq!(
            MissedTickBehavior::Skip.next(due, now, period),
            start + ms(40)
        );
    }
}
