//! Timers: [`sleep()`], [`timeout()`] and [`interval()`].
//!
//! Timers are kept by the runtime's driver thread in a binary heap ordered by deadline
//! (see the crate's driver). A timer future registers itself on its first poll, unless
//! its deadline has already passed, in which case it completes at once; the driver wakes
//! its task when the deadline is reached, timers firing in deadline order and, for equal
//! deadlines, in the order they were scheduled. Dropping a timer future removes its entry,
//! so timeouts that never fire leave nothing behind.
//!
//! Timers never complete before their deadline. On Linux the driver thread waits for
//! the next deadline through a `timerfd`, so a timer fires within microseconds of its
//! deadline (plus the time its task waits for a slot); elsewhere, or where the kernel
//! refuses a timerfd, timers have the resolution of the poll timeout, a millisecond.
//!
//! All constructors capture the runtime of the calling thread and panic outside one.
//! After the runtime shuts down, every timer completes immediately so that no task waits
//! forever on a timer that can no longer fire.

mod interval;
mod sleep;
mod timeout;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};

pub use std::time::{Duration, Instant};
