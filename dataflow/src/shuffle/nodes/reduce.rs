//! `reduce_by_key`'s reduce side: merges every map task's combined values per key.

use crate::error::DataflowError;
use crate::exec::feed::IterStream;
use crate::exec::yielding::Stride;
use crate::exec::TaskEnv;
use crate::plan::{AnyNode, Dep, Node, NodeId, Records, ShuffleId};
use crate::shuffle::write::combine_into;
use crate::shuffle::{CombineWriter, MapSide, ShuffleDep, Table};
use crate::Data;
use futures::{stream, StreamExt, TryStreamExt};
use std::hash::Hash;
use std::sync::Arc;

/// The map side of `reduce_by_key`.
type CombineSide<K, V, F> = Arc<MapSide<(K, V), CombineWriter<K, V, F>>>;

pub(crate) struct ReduceNode<K, V, F> {
    id: NodeId,
    side: CombineSide<K, V, F>,
    f: Arc<F>,
}

impl<K, V, F> ReduceNode<K, V, F> {
    pub(crate) fn new(id: NodeId, side: CombineSide<K, V, F>, f: Arc<F>) -> Self {
        ReduceNode { id, side, f }
    }
}

impl<K, V, F> AnyNode for ReduceNode<K, V, F>
where
    K: Hash + Eq + Data,
    V: Data,
    F: Fn(V, V) -> V + Send + Sync + 'static,
{
    reads_one_shuffle!("reduce_by_key");
}

impl<K, V, F> Node<(K, V)> for ReduceNode<K, V, F>
where
    K: Hash + Eq + Data,
    V: Data,
    F: Fn(V, V) -> V + Send + Sync + 'static,
{
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<(K, V)> {
        let (side, f, env) = (self.side.clone(), self.f.clone(), env.clone());
        stream::once(async move {
            let mut merged: Option<Table<K, Option<V>>> = None;
            let mut buckets = side.buckets(&env, part);
            while let Some(bucket) = buckets.next().await {
                let bucket = bucket?;
                match merged.as_mut() {
                    // The first bucket becomes the table as it is.
                    None => merged = Some(bucket),
                    Some(table) => {
                        let mut stride = Stride::default();
                        for (k, v) in bucket {
                            stride.tick().await;
                            combine_into(table, k, v.expect("a combined value"), &*f);
                        }
                    }
                }
            }
            let records = merged
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| Ok((k, v.expect("a combined value"))));
            Ok::<_, Box<DataflowError>>(IterStream::new(records))
        })
        .try_flatten()
        .boxed()
    }
}
