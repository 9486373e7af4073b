//! Waiting for conditions without timing assertions: poll a condition until it holds,
//! and fail only past a deadline so generous that only a hang reaches it.

use std::time::{Duration, Instant};

/// How long a wait for something that should happen "soon" lasts before it fails:
/// generous, because the machines tests run on are small and shared.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The pause between two checks of a condition: short enough not to delay a test,
/// long enough to leave the cores to the code being waited for.
const POLL: Duration = Duration::from_micros(500);

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Waits up to [`DEADLINE`] for `cond`; panics, naming `what`, if it never holds.
#[track_caller]
pub fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    assert!(wait_until(DEADLINE, cond), "timed out waiting for {what}");
}

/// Whether `cond` holds at every sample during `period` (and at its end): the check
/// that something must *not* happen.
pub fn holds_for(period: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < period {
        if !cond() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    cond()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

    #[test]
    fn waits_see_a_condition_come_true_and_stay_true() {
        let n = AtomicU32::new(0);
        assert!(wait_until(DEADLINE, || n.fetch_add(1, Relaxed) >= 3));
        wait_for("the fifth check", || n.fetch_add(1, Relaxed) >= 5);
        assert!(!wait_until(Duration::ZERO, || false));
        assert!(holds_for(Duration::from_millis(5), || true));
        assert!(!holds_for(Duration::from_millis(5), || false));
    }
}
