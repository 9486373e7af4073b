//! Identifiers: datasets (plan nodes), shuffles, jobs, stages and tasks.
//!
//! Node and shuffle ids are drawn from per-context counters as the program builds its
//! datasets, and job ids as it runs actions, so the same program numbers its plan the
//! same way every time it runs: stage names built from them are stable.

use std::fmt;

/// A dataset in a context's plan (numbered in creation order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A shuffle: the hash-partitioned exchange between two stages (numbered in creation
/// order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShuffleId(pub u32);

impl fmt::Display for ShuffleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shuffle#{}", self.0)
    }
}

/// A job: one action on a dataset (numbered in submission order within a context).
///
/// ```
/// use neptune_dataflow::JobId;
/// assert_eq!(JobId(4).to_string(), "job-4");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job-{}", self.0)
    }
}

/// A stage of a job: its stages are numbered parents first, the result stage last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StageId(pub u32);

impl fmt::Display for StageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stage-{}", self.0)
    }
}

/// A task: one partition of one stage of one job.
///
/// It is everything an executor needs, besides the stage's registered name, to run the
/// task: the stage's pipeline is looked up by name in the
/// [`OperatorRegistry`](crate::OperatorRegistry) and run on `partition`.
///
/// ```
/// use neptune_dataflow::{JobId, StageId, TaskId};
/// let t = TaskId { job: JobId(2), stage: StageId(1), partition: 7 };
/// assert_eq!(t.to_string(), "job-2/stage-1/part-7");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// The job.
    pub job: JobId,
    /// The stage within the job.
    pub stage: StageId,
    /// The partition the task computes.
    pub partition: u32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/part-{}", self.job, self.stage, self.partition)
    }
}
