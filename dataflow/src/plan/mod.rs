//! The plan: datasets as a graph of nodes, each computing its partitions lazily as a
//! stream of chunks of records.
//!
//! A node knows its partition count, how to compute one partition (as a stream pulled
//! from its parents), and its dependencies: *narrow* ones (partition `p` needs parent
//! partitions it can compute in the same task) and *shuffles* (partition `p` needs a
//! bucket from every partition of the parent, so the parent runs as an earlier stage).
//! The [`stages`] planner cuts the graph at shuffles.

mod chunk;
mod ids;
pub(crate) mod stages;

pub(crate) use chunk::{Chunk, SharedRecords, SharedRun};
pub use ids::{JobId, NodeId, ShuffleId, StageId, TaskId};

use crate::error::DataflowError;
use crate::exec::TaskEnv;
use crate::shuffle::ShuffleDep;
use futures::stream::BoxStream;
use std::sync::Arc;

/// A chunk of records in a pipeline (never empty), or the error that ends its task.
/// Records move through operators a chunk at a time, so that an operator is a tight
/// loop over a vector rather than a dynamic call per record (see
/// [`yielding`](crate::exec::yielding) for how large a chunk is). The error is boxed
/// so that the item stays small.
pub(crate) type Item<T> = std::result::Result<Chunk<T>, Box<DataflowError>>;

/// One partition's records, pulled a chunk at a time; an `Err` ends the task.
pub(crate) type Records<T> = BoxStream<'static, Item<T>>;

/// What every node tells the planner, whatever its record type.
pub(crate) trait AnyNode: Send + Sync + 'static {
    /// The node's id (its creation order in the context).
    fn id(&self) -> NodeId;

    /// The operator's name (`map`, `reduce_by_key`, …).
    fn op(&self) -> &'static str;

    /// Number of partitions.
    fn partitions(&self) -> usize;

    /// Parents: narrow dependencies are computed in the same task, shuffles in an
    /// earlier stage.
    fn deps(&self) -> Vec<Dep>;

    /// The shuffle buckets (shuffle, reduce partition) that computing partition `part`
    /// reads.
    fn shuffle_reads(&self, part: usize, out: &mut Vec<(ShuffleId, usize)>);

    /// `op#id`: how the node appears in stage names.
    fn label(&self) -> String {
        format!("{}#{}", self.op(), self.id())
    }
}

/// A node producing records of type `T`.
pub(crate) trait Node<T>: AnyNode {
    /// The records of partition `part` (`part < self.partitions()`).
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<T>;
}

/// A node, both typed (to compute) and erased (to plan).
pub(crate) struct NodeRef<T> {
    pub(crate) typed: Arc<dyn Node<T>>,
    pub(crate) erased: Arc<dyn AnyNode>,
}

impl<T> Clone for NodeRef<T> {
    fn clone(&self) -> Self {
        NodeRef {
            typed: self.typed.clone(),
            erased: self.erased.clone(),
        }
    }
}

impl<T: 'static> NodeRef<T> {
    pub(crate) fn new<N: Node<T>>(node: N) -> NodeRef<T> {
        let node = Arc::new(node);
        NodeRef {
            typed: node.clone(),
            erased: node,
        }
    }
}

/// A dependency of a node.
#[derive(Clone)]
pub(crate) enum Dep {
    /// Computed in the same task, partition by partition.
    Narrow(Arc<dyn AnyNode>),
    /// Computed by an earlier stage that writes hash-partitioned buckets.
    Shuffle(Arc<dyn ShuffleDep>),
}
