//! `TaskControl`: pause, resume, cancel and inspect a job's task, wherever it runs.

use crate::cluster::RemoteTask;
use neptune_runtime::{Class, TaskHandle, TaskState};

/// A job's task: a runtime task of this process (local mode), or a task on an
/// executor process, driven by message (cluster mode). The same calls work on both;
/// on a remote task they are sent, and its state follows the executor's reports.
#[derive(Clone)]
pub enum TaskControl {
    /// A task of this process's runtime.
    Local(TaskHandle),
    /// A task on an executor process.
    Remote(RemoteTask),
}

impl std::fmt::Debug for TaskControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskControl::Local(h) => h.fmt(f),
            TaskControl::Remote(r) => f
                .debug_struct("RemoteTask")
                .field("key", &r.key())
                .field("executor", &r.executor())
                .field("state", &r.state())
                .finish(),
        }
    }
}

impl TaskControl {
    /// Asks the task to pause (see [`TaskHandle::pause`]); false if it finished.
    pub fn pause(&self) -> bool {
        match self {
            TaskControl::Local(h) => h.pause(),
            TaskControl::Remote(r) => r.pause(),
        }
    }

    /// Withdraws a pause (see [`TaskHandle::resume`]). For a remote task: false if it
    /// finished.
    pub fn resume(&self) -> bool {
        match self {
            TaskControl::Local(h) => h.resume(),
            TaskControl::Remote(r) => r.resume(),
        }
    }

    /// Cancels the task.
    pub fn cancel(&self) {
        match self {
            TaskControl::Local(h) => h.cancel(),
            TaskControl::Remote(r) => r.cancel(),
        }
    }

    /// The task's state now (for a remote task: as last reported).
    pub fn state(&self) -> TaskState {
        match self {
            TaskControl::Local(h) => h.state(),
            TaskControl::Remote(r) => r.state(),
        }
    }

    /// Times the task was parked so far.
    pub fn suspensions(&self) -> u32 {
        match self {
            TaskControl::Local(h) => h.suspensions(),
            TaskControl::Remote(r) => r.suspensions(),
        }
    }

    /// The task's class.
    pub fn class(&self) -> Class {
        match self {
            TaskControl::Local(h) => h.class(),
            TaskControl::Remote(r) => r.class(),
        }
    }

    /// The task's name (its task id).
    pub fn name(&self) -> Option<&str> {
        match self {
            TaskControl::Local(h) => h.name(),
            TaskControl::Remote(r) => Some(r.name()),
        }
    }

    /// The remote task, in cluster mode.
    pub fn remote(&self) -> Option<&RemoteTask> {
        match self {
            TaskControl::Local(_) => None,
            TaskControl::Remote(r) => Some(r),
        }
    }
}
