//! The anti-starvation budget of one Batch task under NEPTUNE.
//!
//! Starvation is not being paused often; it is being paused before getting any real work
//! done. So the budget counts *strikes*: pauses that came less than a quantum after the
//! task last started running. A pause after a run of at least a quantum starts a new
//! count at one. When a task is found running with more than `limit` strikes, it is granted a
//! quantum during which it is not preempted, and its count starts again.
//!
//! The bound: between two runs of at least a quantum, a task is paused at most
//! `limit + 1` times. A task that is paused once per stream trigger but runs longer than
//! a quantum in between (the common case of a periodic stream job) is never exempted, so
//! it never delays Stream work.

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

/// Per-task state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Pauses since (and including) the last one that came after a run of a whole
    /// quantum; the others each cut a run shorter than a quantum.
    strikes: u32,
    /// End of the quantum in progress.
    until: Option<Instant>,
}

impl Budget {
    /// Judges the task now.
    pub(crate) fn check(&mut self, now: Instant, limit: u32) -> Verdict {
        if let Some(until) = self.until {
            if now < until {
                return Verdict::Exempt;
            }
            // The quantum is over: the task ran a whole quantum.
            self.until = None;
            self.strikes = 0;
        }
        if self.strikes > limit {
            self.strikes = 0;
            Verdict::Granted
        } else {
            Verdict::Preemptible
        }
    }

    /// When the quantum in progress ends, if one is.
    pub(crate) fn exempt_until(&self) -> Option<Instant> {
        self.until
    }

    /// Starts the quantum of a `Granted` verdict.
    pub(crate) fn grant(&mut self, now: Instant, quantum: Duration) {
        self.until = Some(now + quantum);
    }

    /// The policy pauses the task now, after it ran for `ran` since it last started
    /// (the runtime's `RunningTask::running_for`: from the task's first poll after its
    /// last resume, so time spent queued after a resume is not counted as running).
    pub(crate) fn charge(&mut self, ran: Duration, quantum: Duration) {
        self.strikes = if ran < quantum {
            self.strikes.saturating_add(1)
        } else {
            1
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Duration = Duration::from_millis(10);

    #[test]
    fn short_runs_earn_strikes_and_a_quantum() {
        let t0 = Instant::now();
        let mut b = Budget::default();
        // limit 2: three short-run pauses are allowed, the fourth check grants.
        for i in 0..3 {
            let now = t0 + Duration::from_millis(i);
            assert_eq!(b.check(now, 2), Verdict::Preemptible);
            b.charge(Duration::from_millis(1), Q);
        }
        let now = t0 + Duration::from_millis(3);
        assert_eq!(b.check(now, 2), Verdict::Granted);
        b.grant(now, Q);
        assert_eq!(b.check(now + Q / 2, 2), Verdict::Exempt);
        // After the quantum the count starts again.
        assert_eq!(b.check(now + Q, 2), Verdict::Preemptible);
    }

    #[test]
    fn a_run_of_a_whole_quantum_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Budget::default();
        let mut now = t0;
        // Paused once per 2 quanta, like a batch task under a periodic stream job.
        for _ in 0..100 {
            assert_eq!(b.check(now, 1), Verdict::Preemptible);
            b.charge(Q * 2, Q);
            now += Q * 2;
        }
    }

    #[test]
    fn limit_zero_grants_after_every_pause() {
        let t0 = Instant::now();
        let mut b = Budget::default();
        assert_eq!(b.check(t0, 0), Verdict::Preemptible);
        b.charge(Duration::ZERO, Q);
        assert_eq!(b.check(t0, 0), Verdict::Granted);
    }
}
