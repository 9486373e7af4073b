//! Errors: [`DataflowError`] for everything that can fail, and [`BadRecord`] for one
//! input record that could not be read.

use crate::plan::{JobId, TaskId};
use std::fmt;
use std::io;
use std::path::PathBuf;

/// The format of an input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON value per line.
    JsonLines,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "CSV",
            Format::JsonLines => "JSON lines",
        })
    }
}

/// An input record that could not be read: where it is, which field failed, and why.
///
/// Displayed as `FILE:LINE: field `NAME`: MESSAGE`.
///
/// ```
/// use neptune_dataflow::{BadRecord, Format};
/// let bad = BadRecord {
///     format: Format::Csv,
///     file: "sales.csv".into(),
///     line: 14,
///     field: Some("price".into()),
///     message: "invalid float literal".into(),
/// };
/// assert_eq!(bad.to_string(), "sales.csv:14: field `price`: invalid float literal");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord {
    /// The file's format.
    pub format: Format,
    /// The file.
    pub file: PathBuf,
    /// The line the record starts on, counting from 1 (a CSV header is line 1).
    pub line: u64,
    /// The field that failed (a CSV column name, or a JSON path such as `items[0].price`),
    /// when the failure is in one field.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for BadRecord {}

/// Everything that can go wrong building a context or running a job.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataflowError {
    /// The context's settings are invalid (zero executors or slots, an unknown policy).
    Config(String),
    /// An executor's runtime could not start.
    Runtime(io::Error),
    /// The placement policy could not place a task set.
    Placement(neptune_scheduler::placement::PlacementError),
    /// An input record could not be read (and bad records are not being skipped).
    BadRecord(BadRecord),
    /// Reading or writing a file failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        source: io::Error,
    },
    /// A record could not be written in the output format.
    Write {
        /// The file being written.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A save's output directory exists and is not empty.
    OutputExists(PathBuf),
    /// A user function panicked in a task.
    TaskPanicked {
        /// The task.
        task: TaskId,
        /// The panic message, when it was a string.
        message: String,
    },
    /// A task was cancelled (through its `TaskHandle`, by the executor's policy, or by
    /// shutdown) before it finished.
    TaskCancelled(TaskId),
    /// The job was cancelled through its [`JobHandle`](crate::JobHandle).
    JobCancelled(JobId),
    /// A task named a stage that is not in the operator registry.
    UnknownStage(String),
    /// The job's driver stopped before reporting a result (the context shut down).
    DriverGone(JobId),
    /// Cluster mode: a link, a peer or a message failed, or the program asked for
    /// something that cannot run across processes. The message says which.
    Cluster(String),
    /// Cluster mode: the executor running a task was lost (its connection closed, or
    /// it missed its heartbeats); the task is run again elsewhere unless none is left.
    ExecutorLost {
        /// The executor.
        executor: u32,
        /// The task it was running.
        task: TaskId,
        /// Why it counts as lost.
        reason: String,
    },
    /// Cluster mode: a task failed on its executor; the message is the executor's.
    TaskFailed {
        /// The task.
        task: TaskId,
        /// The executor's error.
        message: String,
    },
    /// Cluster mode: a shuffle block could not be fetched from the executor that
    /// wrote it (it was lost, or its link failed): the block's map task must run
    /// again.
    FetchFailed {
        /// The executor that held the block.
        executor: u32,
        /// The shuffle.
        shuffle: u32,
        /// The map partition.
        map: u32,
        /// Why the fetch failed.
        message: String,
    },
}

impl fmt::Display for DataflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataflowError::Config(m) => write!(f, "invalid context settings: {m}"),
            DataflowError::Runtime(e) => write!(f, "an executor failed to start: {e}"),
            DataflowError::Placement(e) => write!(f, "placement failed: {e}"),
            DataflowError::BadRecord(b) => write!(f, "bad {} record at {b}", b.format),
            DataflowError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            DataflowError::Write { path, message } => {
                write!(f, "{}: cannot write a record: {message}", path.display())
            }
            DataflowError::OutputExists(p) => {
                write!(
                    f,
                    "{}: output directory exists and is not empty",
                    p.display()
                )
            }
            DataflowError::TaskPanicked { task, message } => {
                write!(f, "task {task} panicked: {message}")
            }
            DataflowError::TaskCancelled(t) => write!(f, "task {t} was cancelled"),
            DataflowError::JobCancelled(j) => write!(f, "{j} was cancelled"),
            DataflowError::UnknownStage(n) => {
                write!(f, "no stage named {n:?} in the operator registry")
            }
            DataflowError::DriverGone(j) => write!(f, "the driver of {j} stopped"),
            DataflowError::Cluster(m) => write!(f, "cluster: {m}"),
            DataflowError::ExecutorLost {
                executor,
                task,
                reason,
            } => write!(
                f,
                "executor {executor} was lost while running {task}: {reason}"
            ),
            DataflowError::TaskFailed { task, message } => {
                write!(f, "task {task} failed: {message}")
            }
            DataflowError::FetchFailed {
                executor,
                shuffle,
                map,
                message,
            } => write!(
                f,
                "cannot fetch shuffle#{shuffle} map partition {map} from executor {executor}: {message}"
            ),
        }
    }
}

impl std::error::Error for DataflowError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataflowError::Runtime(e) => Some(e),
            DataflowError::Placement(e) => Some(e),
            DataflowError::BadRecord(b) => Some(b),
            DataflowError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<BadRecord> for DataflowError {
    fn from(b: BadRecord) -> DataflowError {
        DataflowError::BadRecord(b)
    }
}

/// Unboxes an error (records carry their task's error boxed, to stay small).
impl From<Box<DataflowError>> for DataflowError {
    fn from(e: Box<DataflowError>) -> DataflowError {
        *e
    }
}

/// `Result` with a [`DataflowError`].
pub type Result<T, E = DataflowError> = std::result::Result<T, E>;
