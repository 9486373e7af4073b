//! The micro-batch node: the records a source delivered at one trigger, as the first
//! dataset of that micro-batch's job.
//!
//! Unlike `parallelize`, it *moves* its records into the tasks instead of cloning them:
//! a micro-batch is read by exactly one job. Before the job is submitted the stream
//! counts how many times the job's plan will compute each partition of this node (once,
//! unless the pipeline uses the micro-batch twice, as in a self-join); every read but
//! the last clones the partition, the last one takes it.

use crate::exec::feed::IterStream;
use crate::exec::TaskEnv;
use crate::plan::{AnyNode, Dep, Node, NodeId, Records, ShuffleId};
use crate::source::split;
use futures::StreamExt;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// One partition's records and the reads still expected.
struct Part<T> {
    records: Vec<T>,
    reads_left: usize,
}

/// The records of one micro-batch, cut into contiguous partitions.
pub(crate) struct MicroBatchNode<T> {
    id: NodeId,
    parts: Vec<Mutex<Part<T>>>,
}

impl<T> MicroBatchNode<T> {
    /// `records` cut into `partitions` (at least one) contiguous, nearly equal
    /// partitions, each expected to be read once.
    pub(crate) fn new(id: NodeId, mut records: Vec<T>, partitions: usize) -> Self {
        let partitions = partitions.max(1);
        let len = records.len() as u64;
        let mut parts = Vec::with_capacity(partitions);
        for p in (0..partitions).rev() {
            let start = split(len, partitions, p).start as usize;
            parts.push(Mutex::new(Part {
                records: records.split_off(start),
                reads_left: 1,
            }));
        }
        parts.reverse();
        MicroBatchNode { id, parts }
    }
}

/// What the stream needs of a micro-batch node once the job's plan is known.
pub(crate) trait ReadCounted: Send + Sync {
    /// The node's id in the plan.
    fn node_id(&self) -> NodeId;

    /// Sets how many times each partition will be computed by the job.
    fn set_reads(&self, reads: usize);
}

impl<T: Send + 'static> ReadCounted for MicroBatchNode<T> {
    fn node_id(&self) -> NodeId {
        self.id
    }

    fn set_reads(&self, reads: usize) {
        for part in &self.parts {
            part.lock().unwrap_or_else(|e| e.into_inner()).reads_left = reads;
        }
    }
}

impl<T: Send + 'static> AnyNode for MicroBatchNode<T> {
    fn id(&self) -> NodeId {
        self.id
    }

    fn op(&self) -> &'static str {
        "micro_batch"
    }

    fn partitions(&self) -> usize {
        self.parts.len()
    }

    fn deps(&self) -> Vec<Dep> {
        Vec::new()
    }

    fn shuffle_reads(&self, _part: usize, _out: &mut Vec<(ShuffleId, usize)>) {}
}

impl<T: Clone + Send + 'static> Node<T> for MicroBatchNode<T> {
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<T> {
        let records = {
            let mut p = self.parts[part].lock().unwrap_or_else(|e| e.into_inner());
            match p.reads_left {
                0 => panic!(
                    "micro-batch partition {part} of node {} computed more often than its job's plan reads it",
                    self.id
                ),
                1 => {
                    p.reads_left = 0;
                    std::mem::take(&mut p.records)
                }
                _ => {
                    p.reads_left -= 1;
                    p.records.clone()
                }
            }
        };
        IterStream::counted(records.into_iter().map(Ok), env.counters.clone()).boxed()
    }
}

/// How many times a job whose result stage ends at `root` computes each partition of
/// node `target`: once per narrow path from a stage's root to it, where each shuffle's
/// map stage is planned once however many paths reach it (as the stage planner does).
pub(crate) fn reads_of(root: &Arc<dyn AnyNode>, target: NodeId) -> usize {
    let mut planned = HashSet::new();
    let mut stage_roots = vec![root.clone()];
    let mut reads = 0;
    while let Some(stage_root) = stage_roots.pop() {
        reads += narrow_paths(&stage_root, target, &mut planned, &mut stage_roots);
    }
    reads
}

fn narrow_paths(
    node: &Arc<dyn AnyNode>,
    target: NodeId,
    planned: &mut HashSet<ShuffleId>,
    stage_roots: &mut Vec<Arc<dyn AnyNode>>,
) -> usize {
    if node.id() == target {
        return 1;
    }
    let mut paths = 0;
    for dep in node.deps() {
        match dep {
            Dep::Narrow(parent) => paths += narrow_paths(&parent, target, planned, stage_roots),
            Dep::Shuffle(shuffle) => {
                if planned.insert(shuffle.id()) {
                    stage_roots.push(shuffle.source());
                }
            }
        }
    }
    paths
}
