//! Shuffles: the exchange between two stages, in memory.
//!
//! A shuffle's *map side* runs as a stage of its own: each of its tasks pulls its
//! partition through the pipeline and a [`Writer`] distributes the records over one
//! bucket per reduce partition (by key hash, or round robin for `repartition`);
//! `reduce_by_key` combines values per key while it writes, so a bucket holds one
//! value per key and map task. The buckets go to the job's [`ShuffleStore`]. The
//! *reduce side* is a dataset node (`reduce_by_key`, `group_by_key`, `join`,
//! `repartition`) whose partition `r` reads bucket `r` of every map task, in map-task
//! order, and starts the next stage's pipeline.

mod hash;
pub(crate) mod nodes;
mod store;
mod write;

pub(crate) use hash::Table;
pub(crate) use store::{RemoteBlocks, ShuffleShape, ShuffleStore};
pub(crate) use write::{CombineWriter, HashWriter, RoundRobinWriter};

use crate::error::Result;
use crate::exec::{StageRunner, TaskEnv, TaskOutput};
use crate::plan::{AnyNode, NodeRef, ShuffleId};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use std::sync::Arc;

/// What a map task wrote: records per reduce partition.
#[derive(Clone, Debug)]
pub(crate) struct MapStatus {
    pub(crate) shuffle: ShuffleId,
    pub(crate) records: Vec<u64>,
}

/// A shuffle as the planner sees it.
pub(crate) trait ShuffleDep: Send + Sync + 'static {
    fn id(&self) -> ShuffleId;

    /// The last node of the map side's pipeline.
    fn source(&self) -> Arc<dyn AnyNode>;

    fn reduce_partitions(&self) -> usize;

    /// Runs map partition `partition`: pulls it through the pipeline and stores its
    /// buckets.
    fn run_map(&self, partition: usize, env: TaskEnv) -> BoxFuture<'static, Result<MapStatus>>;
}

/// Distributes a map task's records over buckets.
pub(crate) trait Writer<T>: Send + Sync + 'static {
    /// Buckets under construction.
    type State: Send + 'static;
    /// One reduce partition's share of a map task's output.
    type Bucket: Clone + Send + serde::Serialize + serde::de::DeserializeOwned + 'static;

    fn start(&self, map: usize, reduce_partitions: usize) -> Self::State;
    fn push(&self, state: &mut Self::State, record: T);
    fn finish(&self, state: Self::State) -> Vec<Self::Bucket>;
    /// Records in a bucket.
    fn len(bucket: &Self::Bucket) -> usize;
    /// Shallow bytes per record (what the bucket's table or vector holds inline).
    fn record_bytes() -> u64;
}

/// The map side of a shuffle: a pipeline and a writer.
pub(crate) struct MapSide<T, W> {
    id: ShuffleId,
    parent: NodeRef<T>,
    writer: Arc<W>,
    reduce_partitions: usize,
}

impl<T: Send + 'static, W: Writer<T>> MapSide<T, W> {
    pub(crate) fn new(
        id: ShuffleId,
        parent: NodeRef<T>,
        writer: W,
        reduce_partitions: usize,
    ) -> Arc<Self> {
        Arc::new(MapSide {
            id,
            parent,
            writer: Arc::new(writer),
            reduce_partitions,
        })
    }

    pub(crate) fn map_partitions(&self) -> usize {
        self.parent.erased.partitions()
    }

    /// The buckets of every map partition for reduce partition `reduce`, in map order.
    /// A bucket written in another process is fetched while the one before it is
    /// merged: at most two fetches are under way, so memory stays bounded by two
    /// blocks besides what the reducer holds.
    pub(crate) fn buckets(
        self: &Arc<Self>,
        env: &TaskEnv,
        reduce: usize,
    ) -> impl futures::Stream<Item = Result<W::Bucket>> + Send + 'static {
        let (side, env) = (self.clone(), env.clone());
        futures::stream::iter(0..self.map_partitions())
            .map(move |map| {
                let (side, env) = (side.clone(), env.clone());
                async move { side.take(&env, map, reduce).await }
            })
            .buffered(2)
    }

    /// Reads the bucket of map partition `map` for reduce partition `reduce`.
    pub(crate) async fn take(&self, env: &TaskEnv, map: usize, reduce: usize) -> Result<W::Bucket> {
        let bucket = env.shuffles.take::<W::Bucket>(self.id, map, reduce).await?;
        env.counters.add_shuffle_read(W::len(&bucket) as u64);
        Ok(bucket)
    }
}

impl<T: Send + 'static, W: Writer<T>> ShuffleDep for MapSide<T, W> {
    fn id(&self) -> ShuffleId {
        self.id
    }

    fn source(&self) -> Arc<dyn AnyNode> {
        self.parent.erased.clone()
    }

    fn reduce_partitions(&self) -> usize {
        self.reduce_partitions
    }

    fn run_map(&self, partition: usize, env: TaskEnv) -> BoxFuture<'static, Result<MapStatus>> {
        let mut records = self.parent.typed.compute(partition, &env);
        let writer = self.writer.clone();
        let (id, reduce_partitions) = (self.id, self.reduce_partitions);
        async move {
            let mut state = writer.start(partition, reduce_partitions);
            while let Some(chunk) = records.next().await {
                for record in chunk? {
                    writer.push(&mut state, record);
                }
            }
            drop(records);
            let buckets = writer.finish(state);
            let lens: Vec<u64> = buckets.iter().map(|b| W::len(b) as u64).collect();
            env.counters.add_shuffle_written(lens.iter().sum());
            let per_record = W::record_bytes();
            env.shuffles.put(id, partition, env.executor, buckets, |b| {
                W::len(b) as u64 * per_record
            });
            Ok(MapStatus {
                shuffle: id,
                records: lens,
            })
        }
        .boxed()
    }
}

/// A shuffle-map stage's runner: the shuffle's map side.
pub(crate) struct MapStage(pub(crate) Arc<dyn ShuffleDep>);

impl StageRunner for MapStage {
    fn run(&self, partition: usize, env: TaskEnv) -> BoxFuture<'static, Result<TaskOutput>> {
        let map = self.0.run_map(partition, env);
        async move { Ok(TaskOutput::Shuffle(map.await?)) }.boxed()
    }
}
