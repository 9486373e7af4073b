//! Choosing a local policy by name (`static`, `fifo`, `fair`, `kill`, `neptune`,
//! `adaptive`).

use crate::local::{Adaptive, Fair, Fifo, Kill, KillLog, Neptune, Static};
use neptune_runtime::policy::Policy;
use std::fmt;
use std::str::FromStr;

/// The local policies this crate ships, by name.
///
/// ```
/// use neptune_scheduler::PolicyKind;
/// let kind: PolicyKind = "Neptune".parse().unwrap();
/// assert_eq!(kind, PolicyKind::Neptune);
/// assert_eq!(kind.to_string(), "neptune");
/// assert!("lottery".parse::<PolicyKind>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// [`Static`]: dedicated Stream and Batch slots.
    Static,
    /// [`Fifo`]: arrival order, no preemption.
    Fifo,
    /// [`Fair`]: weighted pools, no preemption.
    Fair,
    /// [`Kill`]: cancel Batch work for Stream arrivals.
    Kill,
    /// [`Neptune`]: pause Batch work for Stream arrivals.
    Neptune,
    /// [`Adaptive`]: one of the mechanisms above, chosen while it runs.
    Adaptive,
}

impl PolicyKind {
    /// Every kind, in the order of the design notes' table.
    pub const ALL: [PolicyKind; 6] = [
        PolicyKind::Static,
        PolicyKind::Fifo,
        PolicyKind::Fair,
        PolicyKind::Kill,
        PolicyKind::Neptune,
        PolicyKind::Adaptive,
    ];

    /// The policy's name (as its `Policy::name`).
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Static => "static",
            PolicyKind::Fifo => "fifo",
            PolicyKind::Fair => "fair",
            PolicyKind::Kill => "kill",
            PolicyKind::Neptune => "neptune",
            PolicyKind::Adaptive => "adaptive",
        }
    }

    /// Whether the policy pauses running Batch work for Stream arrivals (so a Batch
    /// task running under it can make room for Stream work without losing progress).
    pub fn pauses_batch(self) -> bool {
        self.build(1).preemption() == neptune_runtime::policy::Preemption::Pause
    }

    /// The policy with its default settings for a runtime of `slots` slots.
    pub fn build(self, slots: usize) -> Box<dyn Policy> {
        self.build_with_log(slots, &KillLog::new())
    }

    /// As [`build`](Self::build); KILL records its kills in `log` (other policies ignore
    /// it), so that one restart wrapper works whichever policy was chosen.
    pub fn build_with_log(self, slots: usize, log: &KillLog) -> Box<dyn Policy> {
        match self {
            PolicyKind::Static => Box::new(Static::for_slots(slots)),
            PolicyKind::Fifo => Box::new(Fifo),
            PolicyKind::Fair => Box::new(Fair::new()),
            PolicyKind::Kill => Box::new(Kill::with_log(log.clone())),
            PolicyKind::Neptune => Box::new(Neptune::new()),
            PolicyKind::Adaptive => Box::new(Adaptive::new()),
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PolicyKind {
    type Err = UnknownPolicy;

    /// Parses a policy name, ignoring ASCII case and surrounding whitespace.
    fn from_str(s: &str) -> Result<PolicyKind, UnknownPolicy> {
        let name = s.trim();
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownPolicy {
                name: name.to_owned(),
            })
    }
}

/// A policy name that is none of [`PolicyKind::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPolicy {
    /// The name given.
    pub name: String,
}

impl fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown policy {:?}; valid policies: ", self.name)?;
        for (i, k) in PolicyKind::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(k.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownPolicy {}

/// The local policy called `name` (`static`, `fifo`, `fair`, `kill`, `neptune` or
/// `adaptive`, any case), with default settings for a runtime of `slots` slots.
///
/// ```
/// let policy = neptune_scheduler::policy_by_name("kill", 2).unwrap();
/// let rt = neptune_runtime::Builder::new().slots(2).policy(policy).build().unwrap();
/// assert_eq!(rt.policy_name(), "kill");
///
/// let err = neptune_scheduler::policy_by_name("lottery", 2).err().unwrap();
/// assert_eq!(
///     err.to_string(),
///     "unknown policy \"lottery\"; valid policies: static, fifo, fair, kill, neptune, adaptive"
/// );
/// ```
pub fn policy_by_name(name: &str, slots: usize) -> Result<Box<dyn Policy>, UnknownPolicy> {
    Ok(name.parse::<PolicyKind>()?.build(slots))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_and_builds_its_namesake() {
        for k in PolicyKind::ALL {
            assert_eq!(k.name().parse::<PolicyKind>().unwrap(), k);
            assert_eq!(k.build(2).name(), k.name());
            assert_eq!(
                policy_by_name(&k.name().to_uppercase(), 4).unwrap().name(),
                k.name()
            );
        }
        assert_eq!(" fifo ".parse::<PolicyKind>().unwrap(), PolicyKind::Fifo);
    }
}
