//! `JobResult` and `JobStats`: what a job answers, and what it did.

use crate::error::BadRecord;
use crate::plan::JobId;
use neptune_runtime::Class;
use std::ops::Deref;
use std::time::Duration;

/// What a job did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct JobStats {
    /// The job.
    pub job: JobId,
    /// The class its tasks ran in.
    pub class: Class,
    /// Stages run (shuffle-map stages and the result stage).
    pub stages: usize,
    /// Tasks run (one per partition per stage).
    pub tasks: usize,
    /// Records read by sources (collections, ranges, generators, files), bad records
    /// excluded.
    pub records_in: u64,
    /// Records handed to the action by the result stage.
    pub records_out: u64,
    /// Records written to shuffles (after map-side combining).
    pub shuffle_records: u64,
    /// Bad input records skipped (only with
    /// [`skip_bad_records`](crate::FileReader::skip_bad_records); otherwise the first
    /// one fails the job).
    pub skipped_bad_records: u64,
    /// The first few skipped records, with file, line, field and reason.
    pub bad_record_samples: Vec<BadRecord>,
    /// Times the job's tasks were suspended (paused and parked) in all.
    pub suspensions: u64,
    /// Tasks run on each executor, by executor index.
    pub tasks_per_executor: Vec<usize>,
    /// Cluster mode: tasks run again (their executor was lost, they failed with an
    /// error, or their map output was lost); every attempt counts in `tasks` too.
    pub tasks_rerun: u64,
    /// Cluster mode: times a map stage ran again (in part) because map outputs it
    /// wrote were lost with their executor.
    pub stages_resubmitted: u64,
    /// The published values ([`Context::published`](crate::Context::published)) the
    /// job's plan builder read, with the versions it found, sorted: the driver's build
    /// in local mode, every executor's build of the job in cluster mode (so one name
    /// may show several versions).
    pub published: Vec<(String, u64)>,
    /// Wall time from submission to the answer.
    pub elapsed: Duration,
}

/// A job's answer and its statistics. Dereferences to the answer.
///
/// ```
/// use neptune_dataflow::Context;
/// let ctx = Context::builder().executors(1).slots_per_executor(2).build().unwrap();
/// let n = ctx.range(0..1000, 4).filter(|x| x % 3 == 0).count().unwrap();
/// assert_eq!(*n, 334);
/// assert_eq!(n.stats.records_in, 1000);
/// assert_eq!(n.stats.records_out, 334);
/// assert_eq!(n.stats.tasks, 4);
/// assert_eq!(n.into_value(), 334);
/// ```
#[derive(Clone, Debug)]
pub struct JobResult<R> {
    /// The action's answer.
    pub value: R,
    /// What the job did.
    pub stats: JobStats,
}

impl<R> JobResult<R> {
    /// The answer, without the statistics.
    pub fn into_value(self) -> R {
        self.value
    }
}

impl<R> Deref for JobResult<R> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.value
    }
}
