//! Timer wake-ups finer than a millisecond for the driver thread (Linux).
//!
//! `epoll_wait` takes its timeout in whole milliseconds and mio rounds up, so a driver
//! thread that waits for a deadline through the poll timeout fires a 100 µs sleep about
//! a millisecond late, and every timer up to a millisecond late. Instead the driver
//! thread arms a `timerfd` registered with its `mio::Poll` for the earliest deadline (an
//! absolute `CLOCK_MONOTONIC` instant, which is the clock `Instant` reads on Linux) and
//! blocks without a timeout: the descriptor turns readable at the deadline, give or take
//! the kernel's wake-up latency. Its hrtimer has no slack, unlike a `poll`-family timeout.
//! (A dormant driver thread waits on a condition variable instead, whose timeout is
//! already finer than a millisecond, give or take the thread's 50 µs timer slack.)
//!
//! Why a timerfd rather than the alternatives:
//!
//! - `epoll_pwait2` takes a nanosecond timeout, but only from Linux 5.11 on, and mio
//!   makes the `epoll_wait` call itself and fills its own event buffer, so the driver
//!   cannot substitute it.
//! - Waiting in `ppoll` on the epoll descriptor, then polling mio without blocking, works
//!   everywhere but costs two system calls per wake-up (and the thread's timer slack).
//!
//! The timerfd costs one `timerfd_settime` (about 0.6 µs measured on a small VM) when the
//! earliest deadline changes; an unchanged one is not re-armed. It is used for every
//! deadline rather than only for near ones: a re-arm happens at most once per timer
//! wake-up, which itself costs a context switch (several µs), and with a threshold the
//! timers above it would still be up to a millisecond late.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A `timerfd` registered with the driver's poll instance.
pub(super) struct TimerFd {
    fd: OwnedFd,
    /// The deadline the descriptor was last armed for. While the driver's earliest
    /// deadline is still this one, it is in the future, so the timer has not expired
    /// yet and needs no re-arming (an expiry would mean the clock passed it, and the
    /// driver would have fired that timer).
    armed: Option<Instant>,
}

impl TimerFd {
    /// Creates a non-blocking timerfd and registers it with `registry` under `token`.
    ///
    /// Errors (too many descriptors, a sandbox that forbids the call) are the caller's
    /// to handle by falling back to the poll timeout.
    pub(super) fn new(registry: &Registry, token: Token) -> io::Result<TimerFd> {
        // SAFETY: a plain system call with constant arguments; no memory is passed.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` was just returned by `timerfd_create`, is open, and nothing else
        // owns it; the `OwnedFd` closes it exactly once.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Edge-triggered (mio's mode): each expiry queues one event, and re-arming resets
        // the expiry count, so the descriptor never needs to be read.
        registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
        Ok(TimerFd { fd, armed: None })
    }

    /// Makes the descriptor turn readable at `deadline` (at once if it has passed);
    /// false if the kernel refused, in which case the caller falls back to the poll
    /// timeout for this wait.
    pub(super) fn arm(&mut self, deadline: Instant) -> bool {
        if self.armed == Some(deadline) {
            return true;
        }
        // `Instant` is opaque, so the deadline is translated through a reading of both
        // clocks: `Instant::now()` first, so that the absolute time computed is never
        // before the deadline (the timer may fire a few ns late, never early).
        let now = Instant::now();
        let mut mono = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `mono` is a valid, writable `timespec` for the duration of the call.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut mono) } != 0 {
            self.armed = None;
            return false;
        }
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: add(mono, deadline.saturating_duration_since(now)),
        };
        // SAFETY: `self.fd` is an open timerfd owned by `self`; `spec` is a valid
        // `itimerspec` for the duration of the call, and a null old value is allowed.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        self.armed = (rc == 0).then_some(deadline);
        rc == 0
    }
}

/// `base + by`, saturating: a deadline decades away may as well be never.
fn add(base: libc::timespec, by: Duration) -> libc::timespec {
    let mut sec = libc::time_t::try_from(by.as_secs())
        .unwrap_or(libc::time_t::MAX)
        .saturating_add(base.tv_sec);
    // Both below 1e9, so the cast is lossless and the sum fits any `c_long`.
    let mut nsec = base.tv_nsec + by.subsec_nanos() as libc::c_long;
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        sec = sec.saturating_add(1);
    }
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_carries_and_saturates() {
        let base = libc::timespec {
            tv_sec: 10,
            tv_nsec: 900_000_000,
        };
        let sum = add(base, Duration::from_millis(250));
        assert_eq!((sum.tv_sec, sum.tv_nsec), (11, 150_000_000));
        let far = add(base, Duration::MAX);
        assert_eq!(far.tv_sec, libc::time_t::MAX);
        assert!(far.tv_nsec < 1_000_000_000);
    }

    #[test]
    fn fires_at_the_deadline_not_before() {
        let mut poll = mio::Poll::new().unwrap();
        let mut events = mio::Events::with_capacity(4);
        let mut timer = TimerFd::new(poll.registry(), Token(7)).unwrap();
        let deadline = Instant::now() + Duration::from_micros(300);
        assert!(timer.arm(deadline));
        // Re-arming for the same deadline is a no-op.
        assert!(timer.arm(deadline));
        loop {
            poll.poll(&mut events, None).unwrap();
            if events.iter().any(|e| e.token() == Token(7)) {
                break;
            }
        }
        assert!(Instant::now() >= deadline);
        // A deadline already passed fires at once.
        assert!(timer.arm(Instant::now() - Duration::from_millis(1)));
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == Token(7)));
    }
}
