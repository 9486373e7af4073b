//! The status board: what the job driver knows of jobs, stages and tasks, for a
//! monitoring view ([`Context::status`](crate::Context::status)).
//!
//! ## How it works
//!
//! Every context owns one board. The job driver writes to it at the moments it already
//! handles — a job submitted, a task launched, a task's completion received, a job's
//! answer ready — so the board costs one short mutex section per task launch and end,
//! and nothing per record. A running task's entry holds its [`TaskControl`]; its state
//! (running or paused), suspensions and slot are read from it when a snapshot is taken,
//! and copied into the entry when the task ends, at which point the handle is let go
//! (a runtime task's allocation lives as long as a handle to it).
//!
//! The board is **bounded**: running jobs are always kept, finished ones only the last
//! [`retained_jobs`](crate::ContextBuilder::retained_jobs) (a stream submits a job per
//! micro-batch, and a long-running stream must not grow memory without bound). What
//! leaves the board still counts in the cumulative [`StatusTotals`].
//!
//! A snapshot ([`Status`]) is shaped like Spark's monitoring REST API
//! (`/api/v1/applications/[app]/jobs`, `stages`, `executors`): the same field names in
//! camelCase, with Neptune's own beside them — the class (`Stream` or `Batch`), paused
//! tasks, suspensions and paused time.
//!
//! **Paused state.** Local mode reads it from the runtime's task handles: a task that
//! is parked in its slot's suspended queue (or held back from running) is `PAUSED`,
//! and `pausedTime` is the time it spent parked so far (the runtime's
//! `TaskHandle::paused_time`). Cluster mode reads the state from the executors'
//! reports: an executor reports when a task was parked and when it was resumed, so
//! remote tasks show `PAUSED` too (as of the last report); their paused time and slot
//! are not reported to the driver (`null`).

mod board;
mod time;

pub(crate) use board::{StatusBoard, TaskEnd};
pub use time::spark_time;

use neptune_runtime::Class;
use serde::Serialize;

/// A snapshot of the board (see the [module docs](self)).
///
/// ```
/// use neptune_dataflow::status::{JobState, TaskState};
/// let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
/// ctx.range(0..1000, 2).count().unwrap();
/// let status = ctx.status();
/// assert_eq!(status.jobs.len(), 1);
/// assert_eq!(status.jobs[0].status, JobState::Succeeded);
/// assert_eq!(status.jobs[0].num_completed_tasks, 2);
/// assert!(status.tasks.iter().all(|t| t.status == TaskState::Success));
/// let json = serde_json::to_value(&status.jobs[0]).unwrap();
/// assert_eq!(json["jobId"], 0);
/// assert_eq!(json["class"], "Batch");
/// ```
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Jobs on the board, oldest first: every running job, and the last finished ones.
    pub jobs: Vec<JobStatus>,
    /// The stages of those jobs, by job then stage.
    pub stages: Vec<StageStatus>,
    /// The tasks those jobs launched, by job then launch order.
    pub tasks: Vec<TaskStatus>,
    /// Tasks per executor, over the whole life of the context.
    pub executors: Vec<ExecutorTasks>,
    /// Cumulative counts, including jobs no longer on the board.
    pub totals: StatusTotals,
    /// Finished jobs the board keeps.
    pub retained_jobs: usize,
}

/// A job's state, as Spark names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Its stages run.
    Running,
    /// It answered.
    Succeeded,
    /// It failed or was cancelled.
    Failed,
}

/// A stage's state, as Spark names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StageState {
    /// Waiting for its parent stages.
    Pending,
    /// Some of its tasks run.
    Active,
    /// Every partition succeeded.
    Complete,
    /// Its job ended before every partition succeeded.
    Failed,
}

/// A task's state: Spark's, with `PAUSED` added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    /// Launched and not finished: queued, being polled, or waiting for a wake.
    Running,
    /// Suspended by a policy or by hand: parked, keeping its progress.
    Paused,
    /// Finished with its output.
    Success,
    /// Finished with an error or a panic.
    Failed,
    /// Cancelled, or cut short by the end of its job.
    Killed,
}

impl TaskState {
    /// Every state, in the order pages list them.
    pub const ALL: [TaskState; 5] = [
        TaskState::Running,
        TaskState::Paused,
        TaskState::Success,
        TaskState::Failed,
        TaskState::Killed,
    ];

    /// The state in lower case (a metric label value).
    pub fn label(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::Paused => "paused",
            TaskState::Success => "success",
            TaskState::Failed => "failed",
            TaskState::Killed => "killed",
        }
    }

    /// Whether the task has finished.
    pub fn is_finished(self) -> bool {
        !matches!(self, TaskState::Running | TaskState::Paused)
    }
}

/// A class as the API writes it: `Stream` or `Batch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ClassName {
    /// Latency-sensitive work, never paused.
    Stream,
    /// Latency-tolerant work, pausable.
    Batch,
}

impl From<Class> for ClassName {
    fn from(c: Class) -> ClassName {
        match c {
            Class::Stream => ClassName::Stream,
            Class::Batch => ClassName::Batch,
        }
    }
}

impl ClassName {
    /// The class in lower case (a metric label value).
    pub fn label(self) -> &'static str {
        match self {
            ClassName::Stream => "stream",
            ClassName::Batch => "batch",
        }
    }
}

/// A job, as `/api/v1/jobs` lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// The job's id (its number in the context).
    pub job_id: u64,
    /// The action and the dataset it ran on, as `count at map#3`.
    pub name: String,
    /// The class its tasks run in.
    pub class: ClassName,
    /// Running, succeeded or failed.
    pub status: JobState,
    /// When it was submitted (see [`spark_time`]).
    pub submission_time: String,
    /// When it ended.
    pub completion_time: Option<String>,
    /// From submission to its end (or to now), in milliseconds.
    pub duration: f64,
    /// Its stages (numbered within the job, parents first).
    pub stage_ids: Vec<u32>,
    /// Tasks it needs: one per partition per stage, plus every re-run.
    pub num_tasks: usize,
    /// Tasks launched and not finished, paused ones included.
    pub num_active_tasks: usize,
    /// Tasks that succeeded.
    pub num_completed_tasks: usize,
    /// Tasks that failed.
    pub num_failed_tasks: usize,
    /// Tasks cancelled or cut short.
    pub num_killed_tasks: usize,
    /// Of the active tasks, those paused now.
    pub num_paused_tasks: usize,
    /// Stages with tasks running.
    pub num_active_stages: usize,
    /// Stages complete.
    pub num_completed_stages: usize,
    /// Stages that ended incomplete.
    pub num_failed_stages: usize,
    /// Times its tasks were suspended, in all.
    pub suspensions: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// A stage, as `/api/v1/stages` lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageStatus {
    /// The stage's number within its job.
    pub stage_id: u32,
    /// Its job.
    pub job_id: u64,
    /// The name its pipeline is registered under (see [`StageInfo::name`](crate::StageInfo::name)).
    pub name: String,
    /// `ShuffleMap` or `Result`.
    pub kind: &'static str,
    /// The class of its job.
    pub class: ClassName,
    /// Pending, active, complete or failed.
    pub status: StageState,
    /// Stages that must finish first.
    pub parent_ids: Vec<u32>,
    /// Partitions.
    pub num_tasks: usize,
    /// Tasks launched and not finished.
    pub num_active_tasks: usize,
    /// Tasks that succeeded.
    pub num_complete_tasks: usize,
    /// Tasks that failed.
    pub num_failed_tasks: usize,
    /// Tasks cancelled or cut short.
    pub num_killed_tasks: usize,
    /// Of the active tasks, those paused now.
    pub num_paused_tasks: usize,
    /// When its first task was launched.
    pub submission_time: Option<String>,
    /// When its last partition succeeded.
    pub completion_time: Option<String>,
    /// Records its finished tasks read from sources.
    pub input_records: u64,
    /// Records its finished tasks handed on (to the action or a shuffle).
    pub output_records: u64,
    /// Times its tasks were suspended, in all.
    pub suspensions: u64,
}

/// A task attempt, as `/api/v1/tasks` lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// `job-J/stage-S/part-P`.
    pub task_id: String,
    /// Its job.
    pub job_id: u64,
    /// Its stage.
    pub stage_id: u32,
    /// Its partition.
    pub index: u32,
    /// Its attempt (0 first; cluster mode runs a task again when its executor is lost).
    pub attempt: u32,
    /// Where it runs: `executor-N`.
    pub executor_id: String,
    /// The slot that ran it last (local mode; `null` before its first poll and in
    /// cluster mode).
    pub slot: Option<usize>,
    /// The runtime's id of the task (local mode), as a runtime timeline names it.
    pub runtime_task_id: Option<u64>,
    /// The class it runs in.
    pub class: ClassName,
    /// Running, paused, success, failed or killed.
    pub status: TaskState,
    /// When it was launched.
    pub launch_time: String,
    /// From launch to its end (or to now), in milliseconds.
    pub duration: f64,
    /// Times it was suspended.
    pub suspensions: u32,
    /// Time it spent paused (parked) so far, in milliseconds: local tasks only (`null`
    /// in cluster mode; see the [module docs](self)).
    pub paused_time: Option<f64>,
    /// Records it read from sources (known once it finished).
    pub input_records: u64,
    /// Records it handed on (known once it finished).
    pub output_records: u64,
    /// Why it failed.
    pub error_message: Option<String>,
}

/// What ran on one executor, as `/api/v1/executors` counts it.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutorTasks {
    /// `executor-N`.
    pub id: String,
    /// Tasks running there now (of the jobs on the board), paused ones included.
    pub active_tasks: usize,
    /// Of those, tasks paused now.
    pub paused_tasks: usize,
    /// Tasks that succeeded there.
    pub completed_tasks: u64,
    /// Tasks that failed there.
    pub failed_tasks: u64,
    /// Tasks killed there.
    pub killed_tasks: u64,
    /// Time its finished tasks took, launch to end, in milliseconds.
    pub total_duration: f64,
}

/// The board's counts without its lists: what a metrics scrape needs, taken without
/// formatting or copying a job, so the job drivers that write the board never wait
/// long behind it ([`Context::status_summary`](crate::Context::status_summary)).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusSummary {
    /// Cumulative counts, as in [`Status::totals`].
    pub totals: StatusTotals,
    /// Jobs running now, per class (index with [`Class::index`]).
    pub active_jobs: [usize; 2],
    /// Task attempts launched and not finished that are running, per class.
    pub running_tasks: [usize; 2],
    /// Task attempts launched and not finished that are paused, per class.
    pub paused_tasks: [usize; 2],
}

/// Cumulative counts since the context started, per class (index with
/// [`Class::index`]: Stream first).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatusTotals {
    /// Jobs submitted.
    pub jobs_submitted: [u64; 2],
    /// Jobs that answered.
    pub jobs_succeeded: [u64; 2],
    /// Jobs that failed or were cancelled.
    pub jobs_failed: [u64; 2],
    /// Task attempts that succeeded.
    pub tasks_succeeded: [u64; 2],
    /// Task attempts that failed.
    pub tasks_failed: [u64; 2],
    /// Task attempts cancelled or cut short.
    pub tasks_killed: [u64; 2],
    /// Records read from sources by tasks that succeeded.
    pub input_records: [u64; 2],
    /// Records handed on by tasks that succeeded.
    pub output_records: [u64; 2],
    /// Suspensions of finished tasks.
    pub suspensions: [u64; 2],
    /// Seconds finished local tasks spent paused.
    pub paused_seconds: [f64; 2],
    /// Wasted work: seconds from launch to end of the task attempts that failed or
    /// were killed (their work was thrown away).
    pub wasted_seconds: [f64; 2],
    /// Finished jobs dropped from the board to keep it bounded.
    pub jobs_dropped: u64,
}
