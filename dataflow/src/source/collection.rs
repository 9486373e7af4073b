//! Collections, ranges and generators.

use super::split;
use crate::exec::feed::{IterStream, SliceStream};
use crate::exec::TaskEnv;
use crate::plan::{AnyNode, Dep, Node, NodeId, Records, SharedRecords, ShuffleId};
use futures::StreamExt;
use std::ops::Range;
use std::sync::Arc;

/// `Context::parallelize`: a vector cut into contiguous partitions. Its chunks are
/// runs of the vector, and operators copy out the records they need by value, so the
/// dataset can be used by any number of jobs.
pub(crate) struct ParallelizeNode<T> {
    id: NodeId,
    data: Arc<dyn SharedRecords<T>>,
    partitions: usize,
}

impl<T: Clone + Send + Sync + 'static> ParallelizeNode<T> {
    pub(crate) fn new(id: NodeId, data: Vec<T>, partitions: usize) -> Self {
        ParallelizeNode {
            id,
            data: Arc::new(data),
            partitions,
        }
    }
}

/// The plan-facing part shared by every source: no dependencies, no shuffle reads.
macro_rules! source_node {
    ($op:literal) => {
        fn id(&self) -> NodeId {
            self.id
        }

        fn op(&self) -> &'static str {
            $op
        }

        fn partitions(&self) -> usize {
            self.partitions
        }

        fn deps(&self) -> Vec<Dep> {
            Vec::new()
        }

        fn shuffle_reads(&self, _part: usize, _out: &mut Vec<(ShuffleId, usize)>) {}
    };
}

impl<T: Clone + Send + Sync + 'static> AnyNode for ParallelizeNode<T> {
    source_node!("parallelize");
}

impl<T: Clone + Send + Sync + 'static> Node<T> for ParallelizeNode<T> {
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<T> {
        let range = split(self.data.records().len() as u64, self.partitions, part);
        let range = range.start as usize..range.end as usize;
        SliceStream::counted(self.data.clone(), range, env.counters.clone()).boxed()
    }
}

/// `Context::range`: integers cut into contiguous partitions.
pub(crate) struct RangeNode {
    id: NodeId,
    range: Range<u64>,
    partitions: usize,
}

impl RangeNode {
    pub(crate) fn new(id: NodeId, range: Range<u64>, partitions: usize) -> Self {
        RangeNode {
            id,
            range,
            partitions,
        }
    }
}

impl AnyNode for RangeNode {
    source_node!("range");
}

impl Node<u64> for RangeNode {
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<u64> {
        let len = self.range.end.saturating_sub(self.range.start);
        let r = split(len, self.partitions, part);
        let start = self.range.start;
        IterStream::counted(
            (r.start + start..r.end + start).map(Ok),
            env.counters.clone(),
        )
        .boxed()
    }
}

/// `Context::generate`: a closure producing each partition's records.
pub(crate) struct GenerateNode<F> {
    id: NodeId,
    f: Arc<F>,
    partitions: usize,
}

impl<F> GenerateNode<F> {
    pub(crate) fn new(id: NodeId, partitions: usize, f: F) -> Self {
        GenerateNode {
            id,
            f: Arc::new(f),
            partitions,
        }
    }
}

impl<F: Send + Sync + 'static> AnyNode for GenerateNode<F> {
    source_node!("generate");
}

impl<T, I, F> Node<T> for GenerateNode<F>
where
    T: Send + 'static,
    F: Fn(usize) -> I + Send + Sync + 'static,
    I: IntoIterator<Item = T>,
    I::IntoIter: Send + 'static,
{
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<T> {
        let records = (self.f)(part).into_iter().map(Ok);
        IterStream::counted(records, env.counters.clone()).boxed()
    }
}
