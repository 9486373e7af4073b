//! The anti-starvation budget of one Batch task under NEPTUNE.
//!
//! A task may be suspended `limit + 1` times; when it is next found running over that
//! budget it is granted a quantum during which it is not preempted. When the quantum
//! ends its budget starts again from its current suspension count.

use std::time::{Duration, Instant};

/// What the budget says about preempting its task now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The task may be preempted.
    Preemptible,
    /// The task is within a quantum granted earlier.
    Exempt,
    /// The task just went over its budget: a quantum starts now.
    Granted,
}

/// Per-task state: where its budget started and, during a quantum, when it ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Budget {
    /// The task's suspension count when its current budget started.
    baseline: u32,
    /// End of the quantum in progress.
    until: Option<Instant>,
}

impl Budget {
    /// Judges the task, which has been suspended `suspensions` times in total.
    pub(crate) fn check(
        &mut self,
        suspensions: u32,
        now: Instant,
        limit: u32,
        quantum: Duration,
    ) -> Verdict {
        if let Some(until) = self.until {
            if now < until {
                return Verdict::Exempt;
            }
            // The quantum is over: a fresh budget from here.
            self.until = None;
            self.baseline = suspensions;
        }
        if suspensions.saturating_sub(self.baseline) > limit {
            self.until = Some(now + quantum);
            Verdict::Granted
        } else {
            Verdict::Preemptible
        }
    }

    /// True while no quantum was ever granted and the budget starts at zero: such a
    /// budget need not be stored.
    pub(crate) fn is_initial(&self) -> bool {
        *self == Budget::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_grants_a_quantum_after_limit_plus_one_suspensions() {
        let q = Duration::from_millis(100);
        let t0 = Instant::now();
        let mut b = Budget::default();
        // limit 2: suspensions 0, 1, 2 are within budget...
        for s in 0..=2 {
            assert_eq!(b.check(s, t0, 2, q), Verdict::Preemptible);
        }
        assert!(b.is_initial());
        // ...and a third suspension is allowed (it happens after the check at 2);
        // found at 3 the task gets its quantum.
        assert_eq!(b.check(3, t0, 2, q), Verdict::Granted);
        assert_eq!(b.check(3, t0 + q / 2, 2, q), Verdict::Exempt);
        // The quantum ends: the budget starts again from 3.
        assert_eq!(b.check(3, t0 + q, 2, q), Verdict::Preemptible);
        assert_eq!(b.check(5, t0 + q, 2, q), Verdict::Preemptible);
        assert_eq!(b.check(6, t0 + q, 2, q), Verdict::Granted);
    }

    #[test]
    fn limit_zero_grants_after_every_suspension() {
        let q = Duration::from_millis(10);
        let t0 = Instant::now();
        let mut b = Budget::default();
        assert_eq!(b.check(0, t0, 0, q), Verdict::Preemptible);
        assert_eq!(b.check(1, t0, 0, q), Verdict::Granted);
        assert_eq!(b.check(1, t0 + q, 0, q), Verdict::Preemptible);
        assert_eq!(b.check(2, t0 + q, 0, q), Verdict::Granted);
    }
}
