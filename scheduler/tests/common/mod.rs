//! Shared by the integration tests: waiting for conditions without timing
//! assertions.

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Generous: the machines are small and shared.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Waits until `cond` holds, polling every millisecond; panics with `what` after
/// [`DEADLINE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}
