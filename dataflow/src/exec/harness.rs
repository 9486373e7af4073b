//! The task harness: what every spawned task runs.
//!
//! It looks its stage up by name in the operator registry and runs its partition: the
//! stage's pipeline pulls records through the operators, each record entering through
//! a yield point (see [`yielding`](super::yielding)), so user code never mentions
//! pausing and a Batch task still pauses within one record's worth of work.

use super::registry::{OperatorRegistry, TaskOutput};
use super::{CounterSnapshot, TaskEnv};
use crate::context::RunningGuard;
use crate::error::{DataflowError, Result};

/// What a finished task reports to the driver.
pub(crate) struct TaskReport {
    pub(crate) output: TaskOutput,
    pub(crate) counters: CounterSnapshot,
    /// Cluster mode: the published values its executor's build read.
    pub(crate) published: Vec<(String, u64)>,
}

/// Runs partition `env.task.partition` of the stage registered as `stage`.
///
/// `running` counts the task on its executor until the future is dropped (finished or
/// cancelled).
pub(crate) async fn run_task(
    registry: OperatorRegistry,
    stage: std::sync::Arc<str>,
    env: TaskEnv,
    running: RunningGuard,
) -> Result<TaskReport> {
    let _running = running;
    let runner = registry
        .lookup(&stage)
        .ok_or_else(|| DataflowError::UnknownStage(stage.to_string()))?;
    let partition = env.task.partition as usize;
    let output = runner.run(partition, env.clone()).await?;
    Ok(TaskReport {
        output,
        counters: env.counters.snapshot(),
        published: Vec::new(),
    })
}
