//! Execution: the per-task environment, the yield points, the operator registry, the
//! task harness and the job driver that turns a plan into stages and tasks.

pub(crate) mod blocking;
mod control;
mod env;
pub(crate) mod feed;
pub(crate) mod harness;
pub(crate) mod job;
mod registry;
mod stats;
pub(crate) mod yielding;

pub use control::TaskControl;
pub(crate) use env::{CounterSnapshot, TaskCounters, TaskEnv};
pub(crate) use job::panic_message;
pub use job::{JobHandle, JobTask, StageInfo, StageKind};
pub use registry::OperatorRegistry;
pub(crate) use registry::{StageRunner, TaskOutput};
pub use stats::{JobResult, JobStats};
