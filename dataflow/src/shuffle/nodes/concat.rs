//! `repartition`'s reduce side: the buckets of every map task, in map-task order.

use crate::exec::yielding::IterStream;
use crate::exec::TaskEnv;
use crate::plan::{AnyNode, Dep, Node, NodeId, Records, ShuffleId};
use crate::shuffle::{MapSide, RoundRobinWriter, ShuffleDep};
use futures::StreamExt;
use std::sync::Arc;

pub(crate) struct ConcatNode<T> {
    id: NodeId,
    side: Arc<MapSide<T, RoundRobinWriter<T>>>,
}

impl<T> ConcatNode<T> {
    pub(crate) fn new(id: NodeId, side: Arc<MapSide<T, RoundRobinWriter<T>>>) -> Self {
        ConcatNode { id, side }
    }
}

impl<T: Clone + Send + 'static> AnyNode for ConcatNode<T> {
    reads_one_shuffle!("repartition");
}

impl<T: Clone + Send + 'static> Node<T> for ConcatNode<T> {
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<T> {
        let buckets: Vec<Vec<T>> = (0..self.side.map_partitions())
            .map(|map| self.side.take(env, map, part))
            .collect();
        IterStream::new(buckets.into_iter().flatten().map(Ok)).boxed()
    }
}
