//! `group_by_key`'s reduce side: every value of a key in one vector.

use crate::error::DataflowError;
use crate::exec::feed::IterStream;
use crate::exec::yielding::Stride;
use crate::exec::TaskEnv;
use crate::plan::{AnyNode, Dep, Node, NodeId, Records, ShuffleId};
use crate::shuffle::{HashWriter, MapSide, ShuffleDep, Table};
use crate::Data;
use futures::{stream, StreamExt, TryStreamExt};
use std::hash::Hash;
use std::sync::Arc;

pub(crate) struct GroupNode<K, V> {
    id: NodeId,
    side: Arc<MapSide<(K, V), HashWriter<K, V>>>,
}

impl<K, V> GroupNode<K, V> {
    pub(crate) fn new(id: NodeId, side: Arc<MapSide<(K, V), HashWriter<K, V>>>) -> Self {
        GroupNode { id, side }
    }
}

impl<K, V> AnyNode for GroupNode<K, V>
where
    K: Hash + Eq + Data,
    V: Data,
{
    reads_one_shuffle!("group_by_key");
}

impl<K, V> Node<(K, Vec<V>)> for GroupNode<K, V>
where
    K: Hash + Eq + Data,
    V: Data,
{
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<(K, Vec<V>)> {
        let (side, env) = (self.side.clone(), env.clone());
        stream::once(async move {
            let mut groups: Table<K, Vec<V>> = Table::default();
            let mut buckets = side.buckets(&env, part);
            let mut stride = Stride::default();
            while let Some(bucket) = buckets.next().await {
                for (k, v) in bucket? {
                    stride.tick().await;
                    groups.entry(k).or_default().push(v);
                }
            }
            Ok::<_, Box<DataflowError>>(IterStream::new(groups.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }
}
