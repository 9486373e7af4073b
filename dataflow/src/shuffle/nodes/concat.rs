//! `repartition`'s reduce side: the buckets of every map task, in map-task order.

use crate::error::DataflowError;
use crate::exec::feed::IterStream;
use crate::exec::TaskEnv;
use crate::plan::{AnyNode, Dep, Node, NodeId, Records, ShuffleId};
use crate::shuffle::{MapSide, RoundRobinWriter, ShuffleDep};
use crate::Data;
use futures::{stream, StreamExt, TryStreamExt};
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

impl<T: Data> AnyNode for ConcatNode<T> {
    reads_one_shuffle!("repartition");
}

impl<T: Data> Node<T> for ConcatNode<T> {
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<T> {
        let (side, env) = (self.side.clone(), env.clone());
        stream::once(async move {
            let buckets: Vec<Vec<T>> = side.buckets(&env, part).try_collect().await?;
            Ok::<_, Box<DataflowError>>(IterStream::new(buckets.into_iter().flatten().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }
}
