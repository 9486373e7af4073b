//! `ShuffleStore`: a job's shuffle buckets, in memory.
//!
//! Each map task of a shuffle leaves one bucket per reduce partition. The planner
//! counts how many times each bucket will be read in the job (once per pipeline path
//! from a stage to the shuffle: usually one, more when a shuffled dataset is used twice,
//! as in a self-join). All reads but the last clone the bucket; the last one takes it,
//! so in the usual case records move from the map task to the reduce task without a
//! copy, and a bucket's memory is freed as soon as it is consumed.
//!
//! In cluster mode (a store with remote blocks) reads never consume: every bucket
//! stays on the executor that wrote it until the job ends, because a reducer whose
//! executor was lost runs again and must find the same map outputs (Spark keeps its
//! shuffle files for the same reason).

use crate::context::ExecutorLoad;
use crate::error::{DataflowError, Result};
use crate::plan::ShuffleId;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

/// One shuffle of a job, as the planner sized it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShuffleShape {
    pub(crate) id: ShuffleId,
    pub(crate) map_partitions: usize,
    pub(crate) reduce_partitions: usize,
    /// Reads of each bucket in the job.
    pub(crate) reads: usize,
}

/// Where the buckets of map tasks that ran in another process come from (cluster mode).
pub(crate) trait RemoteBlocks: Send + Sync + 'static {
    /// The encoded bucket `map -> reduce` of shuffle `id`, fetched from the process
    /// that wrote it; `None` when that map task's output is in this process.
    fn fetch(
        &self,
        id: ShuffleId,
        map: usize,
        reduce: usize,
    ) -> Option<BoxFuture<'static, Result<Vec<u8>>>>;
}

/// Encodes a bucket (of the type it was stored with) for another process.
type Encode = fn(&(dyn Any + Send)) -> std::result::Result<Vec<u8>, postcard::Error>;

fn encode_as<B: Serialize + 'static>(
    data: &(dyn Any + Send),
) -> std::result::Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(
        data.downcast_ref::<B>()
            .expect("bucket of the planned type"),
    )
}

struct Bucket {
    data: Box<dyn Any + Send>,
    encode: Encode,
    remaining: usize,
    executor: usize,
    bytes: u64,
}

struct Shuffle {
    shape: ShuffleShape,
    /// `map * reduce_partitions + reduce`.
    buckets: Vec<Mutex<Option<Bucket>>>,
}

/// The buckets of every shuffle of one job.
pub(crate) struct ShuffleStore {
    shuffles: HashMap<ShuffleId, Shuffle>,
    /// Each executor's gauge of shuffle bytes held, for placement.
    loads: Vec<Arc<ExecutorLoad>>,
    /// Buckets written in other processes (cluster mode only).
    remote: Option<Arc<dyn RemoteBlocks>>,
}

impl ShuffleStore {
    pub(crate) fn new(shapes: &[ShuffleShape], loads: Vec<Arc<ExecutorLoad>>) -> ShuffleStore {
        let shuffles = shapes
            .iter()
            .map(|s| {
                let n = s.map_partitions * s.reduce_partitions;
                let buckets = (0..n).map(|_| Mutex::new(None)).collect();
                (s.id, Shuffle { shape: *s, buckets })
            })
            .collect();
        ShuffleStore {
            shuffles,
            loads,
            remote: None,
        }
    }

    /// A store whose missing buckets are fetched from `remote`.
    pub(crate) fn with_remote(mut self, remote: Arc<dyn RemoteBlocks>) -> ShuffleStore {
        self.remote = Some(remote);
        self
    }

    fn shuffle(&self, id: ShuffleId) -> &Shuffle {
        self.shuffles
            .get(&id)
            .unwrap_or_else(|| panic!("{id} is not part of this job's plan"))
    }

    /// Stores map partition `map`'s buckets (one per reduce partition), written on
    /// `executor`; `bytes` estimates each bucket's size.
    pub(crate) fn put<B: Serialize + Send + 'static>(
        &self,
        id: ShuffleId,
        map: usize,
        executor: usize,
        buckets: Vec<B>,
        bytes: impl Fn(&B) -> u64,
    ) {
        let shuffle = self.shuffle(id);
        let r = shuffle.shape.reduce_partitions;
        assert_eq!(buckets.len(), r, "{id}: one bucket per reduce partition");
        if shuffle.shape.reads == 0 {
            return;
        }
        for (reduce, data) in buckets.into_iter().enumerate() {
            let size = bytes(&data);
            self.loads[executor].shuffle_bytes.fetch_add(size, Relaxed);
            let old = shuffle.buckets[map * r + reduce]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .replace(Bucket {
                    data: Box::new(data),
                    encode: encode_as::<B>,
                    remaining: shuffle.shape.reads,
                    executor,
                    bytes: size,
                });
            if let Some(old) = old {
                self.release(&old);
            }
        }
    }

    /// Reads the bucket of map partition `map` for reduce partition `reduce`: a clone
    /// while other reads remain, the bucket itself on its last read; a bucket written
    /// in another process is fetched from it and decoded.
    ///
    /// # Panics
    /// If a local bucket was not written or was read more often than planned, or `B` is
    /// not its type: the planner schedules reads after writes, so this is a bug.
    pub(crate) async fn take<B: Clone + DeserializeOwned + Send + 'static>(
        &self,
        id: ShuffleId,
        map: usize,
        reduce: usize,
    ) -> Result<B> {
        if let Some(fetch) = self.remote.as_ref().and_then(|r| r.fetch(id, map, reduce)) {
            let bytes = fetch.await?;
            return postcard::from_bytes(&bytes).map_err(|e| {
                DataflowError::Cluster(format!("{id}: bucket {map}->{reduce} is malformed: {e}"))
            });
        }
        let shuffle = self.shuffle(id);
        let r = shuffle.shape.reduce_partitions;
        let mut slot = shuffle.buckets[map * r + reduce]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.remote.is_some() {
            // Cluster mode keeps every bucket until the job ends: a reducer that runs
            // again (its executor was lost) reads it again.
            let bucket = slot.as_ref().ok_or_else(|| {
                DataflowError::Cluster(format!(
                    "{id}: bucket {map}->{reduce} is not on this executor (it ran its map task \
                 under another plan)"
                ))
            })?;
            return Ok(bucket
                .data
                .downcast_ref::<B>()
                .expect("bucket of the planned type")
                .clone());
        }
        let bucket = slot.as_mut().unwrap_or_else(|| {
            panic!("{id}: bucket {map}->{reduce} read before written or too often")
        });
        bucket.remaining -= 1;
        if bucket.remaining > 0 {
            return Ok(bucket
                .data
                .downcast_ref::<B>()
                .expect("bucket of the planned type")
                .clone());
        }
        let bucket = slot.take().expect("checked above");
        drop(slot);
        self.release(&bucket);
        Ok(*bucket
            .data
            .downcast::<B>()
            .expect("bucket of the planned type"))
    }

    /// Reads a bucket for another process, encoded. The bucket stays until the job
    /// ends (a reducer that runs again fetches it again). `None` if this process
    /// holds no such bucket.
    pub(crate) fn encoded(
        &self,
        id: ShuffleId,
        map: usize,
        reduce: usize,
    ) -> Option<std::result::Result<Vec<u8>, postcard::Error>> {
        let shuffle = self.shuffles.get(&id)?;
        let r = shuffle.shape.reduce_partitions;
        let slot = shuffle.buckets.get(map * r + reduce)?;
        let slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = slot.as_ref()?;
        Some((bucket.encode)(&*bucket.data))
    }

    fn release(&self, bucket: &Bucket) {
        self.loads[bucket.executor]
            .shuffle_bytes
            .fetch_sub(bucket.bytes, Relaxed);
    }
}

impl Drop for ShuffleStore {
    fn drop(&mut self) {
        for shuffle in self.shuffles.values_mut() {
            for slot in &mut shuffle.buckets {
                let slot = slot.get_mut().unwrap_or_else(|e| e.into_inner());
                if let Some(b) = slot.take() {
                    self.loads[b.executor]
                        .shuffle_bytes
                        .fetch_sub(b.bytes, Relaxed);
                }
            }
        }
    }
}
