//! The messages between a driver and its executors, and between executors.
//!
//! Every message is one [`wire`](super::wire) frame. One QUIC connection joins the
//! driver and each executor; every request gets a fresh stream, so requests never wait
//! behind each other:
//!
//! - executor → driver, bidirectional: [`Register`] → [`Registered`] (first, always),
//!   [`ExecutorRequest::GetJob`] → `Option<JobSpec>`;
//! - executor → driver, unidirectional: [`ExecutorEvent::Heartbeat`];
//! - driver → executor, bidirectional: [`Launch`], answered by [`TaskUpdate`]s on the
//!   same stream until `Finished` or `Failed` (the stream *is* the task's status
//!   channel, so a lost executor shows as an error on each of its tasks' streams);
//! - driver → executor, unidirectional: [`Control`] (pause, resume, kill, end of job):
//!   fire and forget, acknowledged by the task's updates;
//! - executor → executor, bidirectional: [`FetchBlock`] → [`Block`], one stream per
//!   shuffle block.
//!
//! Tasks are named by [`TaskKey`] (job, stage, partition, attempt); executor ids are
//! handed out by the driver and never reused, so a restarted executor is a new one.

use super::builders::RemoteAction;
use crate::plan::{JobId, StageId, TaskId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;

/// The largest control frame either side accepts (launches carry builder arguments).
pub const MAX_CONTROL_FRAME: usize = super::wire::DEFAULT_MAX_FRAME;

/// The largest shuffle block frame.
pub const MAX_BLOCK_FRAME: usize = 1 << 30;

/// A task attempt: job, stage, partition and attempt number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskKey {
    /// The job (the driver's numbering).
    pub job: u64,
    /// The stage in its job.
    pub stage: u32,
    /// The partition.
    pub partition: u32,
    /// The attempt, from 0.
    pub attempt: u32,
}

impl TaskKey {
    /// The dataflow task id (without the attempt).
    pub fn task(&self) -> TaskId {
        TaskId {
            job: JobId(self.job),
            stage: StageId(self.stage),
            partition: self.partition,
        }
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.task(), self.attempt)
    }
}

/// An executor's first message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// A hash of the executable: every process of a cluster runs the same binary.
    pub fingerprint: u64,
    /// The plan builders it has, sorted.
    pub builders: Vec<String>,
    /// Its slots.
    pub slots: u32,
    /// Its local scheduling policy.
    pub policy: String,
    /// Whether that policy pauses running Batch work for Stream work (placement then
    /// counts its Batch tasks as room for Stream tasks).
    pub pauses_batch: bool,
    /// Where other executors fetch its shuffle blocks.
    #[serde(with = "super::wire::socket_addr")]
    pub shuffle_addr: SocketAddr,
    /// Its process id (for logs).
    pub pid: u32,
}

/// The driver's answer to [`Register`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Registered {
    /// Welcome: the executor's id (never reused) and how often to send heartbeats.
    Accepted {
        /// The executor's id.
        executor: u32,
        /// Heartbeat period, in milliseconds.
        heartbeat_ms: u64,
    },
    /// Refused, with the reason (binary or builder table mismatch).
    Refused {
        /// Why.
        reason: String,
    },
}

/// What a job is: enough for an executor to rebuild its plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The job.
    pub job: u64,
    /// The plan builder.
    pub builder: String,
    /// Its postcard-encoded arguments.
    #[serde(with = "serde_bytes")]
    pub args: Vec<u8>,
    /// The first dataset id and shuffle id of the build.
    pub bases: (u32, u32),
    /// The driver's default partition count.
    pub default_partitions: usize,
    /// What the result stage does.
    pub action: RemoteAction,
}

/// Where each map task of a shuffle ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShuffleLocations {
    /// The shuffle.
    pub shuffle: u32,
    /// Per map partition: the executor holding its output.
    pub maps: Vec<u32>,
}

/// An executor that holds blocks a task reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Its id.
    pub id: u32,
    /// Where it serves blocks.
    #[serde(with = "super::wire::socket_addr")]
    pub addr: SocketAddr,
    /// Its node name (its certificate's).
    pub name: String,
}

/// Runs a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    /// The task attempt.
    pub key: TaskKey,
    /// The stage's name in the driver's plan (the executor checks its own).
    pub stage: String,
    /// True for a Stream task.
    pub stream: bool,
    /// The job, on the first launch of the job to this executor.
    pub spec: Option<JobSpec>,
    /// Where the shuffles this stage reads were written.
    pub locations: Vec<ShuffleLocations>,
    /// The executors named in `locations`.
    pub peers: Vec<Peer>,
    /// The newest version of every broadcast value when the driver launched it: the
    /// executor builds the job once it has them.
    pub broadcasts: Vec<(String, u64)>,
}

/// A task's progress, on its launch stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TaskUpdate {
    /// First polled, at this wall-clock time (ns since the UNIX epoch).
    Started {
        /// When.
        at_ns: u64,
        /// When its launch arrived.
        received_ns: u64,
    },
    /// Parked after a pause, at this wall-clock time.
    Paused {
        /// When.
        at_ns: u64,
        /// When the pause arrived.
        received_ns: u64,
    },
    /// Running again after a pause.
    Resumed,
    /// Done.
    Finished(TaskDone),
    /// Failed, with the executor's error.
    Failed {
        /// Why.
        message: String,
        /// What kind of failure, which decides what the driver does next.
        kind: FailureKind,
    },
}

/// How a task failed, as its executor tells the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureKind {
    /// An error: the task may succeed on another attempt.
    Error,
    /// A user function panicked: a bug, not retried.
    Panic,
    /// It was cancelled (by the driver's kill, or by its executor's policy).
    Cancelled,
    /// It could not fetch a shuffle block written by another executor: that map
    /// output is lost, and its map task must run again before this one can.
    FetchFailed {
        /// The executor that held the block.
        executor: u32,
        /// The shuffle.
        shuffle: u32,
        /// The map partition.
        map: u32,
    },
}

/// A finished task's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskDone {
    /// What it produced.
    pub output: TaskResult,
    /// Its counters: records in, records out, shuffle records written and read, bad
    /// records skipped.
    pub counters: [u64; 5],
    /// Times it was parked.
    pub suspensions: u32,
    /// The published values its job's build read on the executor, with versions.
    pub published: Vec<(String, u64)>,
    /// When its slot finished running it (wall clock, ns since the UNIX epoch).
    pub finished_ns: u64,
}

/// What a finished task produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskResult {
    /// A map task: records per reduce partition, kept on the executor.
    Shuffle {
        /// The shuffle.
        shuffle: u32,
        /// Records per reduce partition.
        records: Vec<u64>,
    },
    /// A result task's encoded part of the answer.
    Result(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// Driver → executor, fire and forget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// Pause a task (it parks at its next yield point).
    Pause(TaskKey),
    /// Resume it.
    Resume(TaskKey),
    /// Cancel it.
    Kill(TaskKey),
    /// The job is over: drop its plan and shuffle blocks.
    EndJob(u64),
    /// The driver counts this executor as lost: stop fetching from it (a fetch
    /// in flight fails at once instead of waiting for the link's idle timeout).
    ExecutorLost(u32),
    /// A new version of a published value.
    Broadcast {
        /// Its name.
        name: String,
        /// Its version.
        version: u64,
        /// The postcard-encoded value.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
}

/// Executor → driver requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutorRequest {
    /// The spec of a job a launch named without one.
    GetJob(u64),
}

/// Executor → driver events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutorEvent {
    /// A heartbeat, in `neptune_scheduler::metrics::Heartbeat`'s encoding.
    Heartbeat(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// Asks an executor for one shuffle block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchBlock {
    /// The job.
    pub job: u64,
    /// The shuffle.
    pub shuffle: u32,
    /// The map partition.
    pub map: u32,
    /// The reduce partition.
    pub reduce: u32,
}

/// The answer to [`FetchBlock`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Block {
    /// The postcard-encoded bucket.
    Data(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Not here (never written, already consumed, or its job is gone).
    Missing(String),
}

/// Wall-clock nanoseconds since the UNIX epoch: comparable between processes on one
/// host, which is what the latency figures need.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
