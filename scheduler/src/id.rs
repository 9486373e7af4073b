//! `ExecutorId`: names an executor in heartbeats and placement decisions.

use std::fmt;

/// The identity of an executor (one runtime, usually one process or machine).
///
/// ```
/// use neptune_scheduler::ExecutorId;
/// let e = ExecutorId(3);
/// assert_eq!(e.to_string(), "executor-3");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ExecutorId(pub u32);

impl fmt::Display for ExecutorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "executor-{}", self.0)
    }
}
