//! Actions: what a result stage does with its records, and how the driver combines the
//! partitions' answers.

mod basic;
mod save;

pub(crate) use basic::{Collect, Count, ForEach, ForEachAsync, Reduce};
pub use save::SaveSummary;
pub(crate) use save::{prepare_output_dir, SaveCsv, SaveJsonLines};

use crate::error::Result;
use crate::exec::feed::CountOut;
use crate::exec::{StageRunner, TaskEnv, TaskOutput};
use crate::plan::{NodeRef, Records};
use futures::future::BoxFuture;
use futures::FutureExt;
use std::sync::Arc;

/// The records a result task hands to its action (counted as records out).
pub(crate) type Output<T> = CountOut<Records<T>>;

/// An action.
pub(crate) trait Sink<T>: Send + Sync + 'static {
    /// One partition's answer.
    type Part: Send + 'static;
    /// The job's answer.
    type Answer: Send + 'static;
    /// The action's name in stage names.
    const ACTION: &'static str;

    /// Consumes partition `part`'s records in the task.
    fn consume(
        &self,
        part: usize,
        records: Output<T>,
        env: &TaskEnv,
    ) -> BoxFuture<'static, Result<Self::Part>>;

    /// Combines the partitions' answers, in partition order, on the driver.
    fn combine(&self, parts: Vec<Self::Part>) -> Result<Self::Answer>;
}

/// A result stage's runner: the pipeline's last node and the action.
pub(crate) struct ResultStage<T, S> {
    pub(crate) node: NodeRef<T>,
    pub(crate) sink: Arc<S>,
}

impl<T: Send + 'static, S: Sink<T>> StageRunner for ResultStage<T, S> {
    fn run(&self, partition: usize, env: TaskEnv) -> BoxFuture<'static, Result<TaskOutput>> {
        let records = CountOut::new(
            self.node.typed.compute(partition, &env),
            env.counters.clone(),
        );
        let part = self.sink.consume(partition, records, &env);
        async move { Ok(TaskOutput::Result(Box::new(part.await?))) }.boxed()
    }
}
