//! Writers: how a map task distributes its records over buckets.

use super::hash::{partition_of, Table};
use super::Writer;
use crate::Data;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

/// Merges `value` into `table[key]` with `f` (the value slot is `None` only while `f`
/// runs).
#[inline]
pub(crate) fn combine_into<K: Hash + Eq, V>(
    table: &mut Table<K, Option<V>>,
    key: K,
    value: V,
    f: &impl Fn(V, V) -> V,
) {
    match table.entry(key) {
        Entry::Occupied(mut e) => {
            let slot = e.get_mut();
            let old = slot.take().expect("a combined value");
            *slot = Some(f(old, value));
        }
        Entry::Vacant(e) => {
            e.insert(Some(value));
        }
    }
}

/// `reduce_by_key`'s writer: one table per reduce partition, combining values per key
/// as they arrive (partial aggregation before the shuffle).
pub(crate) struct CombineWriter<K, V, F> {
    f: Arc<F>,
    _kv: PhantomData<fn(K, V)>,
}

impl<K, V, F> CombineWriter<K, V, F> {
    pub(crate) fn new(f: Arc<F>) -> Self {
        CombineWriter {
            f,
            _kv: PhantomData,
        }
    }
}

impl<K, V, F> Writer<(K, V)> for CombineWriter<K, V, F>
where
    K: Hash + Eq + Data,
    V: Data,
    F: Fn(V, V) -> V + Send + Sync + 'static,
{
    type State = Vec<Table<K, Option<V>>>;
    type Bucket = Table<K, Option<V>>;

    fn start(&self, _map: usize, reduce_partitions: usize) -> Self::State {
        (0..reduce_partitions).map(|_| Table::default()).collect()
    }

    #[inline]
    fn push(&self, state: &mut Self::State, (k, v): (K, V)) {
        let p = partition_of(&k, state.len());
        combine_into(&mut state[p], k, v, &*self.f);
    }

    fn finish(&self, state: Self::State) -> Vec<Self::Bucket> {
        state
    }

    fn len(bucket: &Self::Bucket) -> usize {
        bucket.len()
    }

    fn record_bytes() -> u64 {
        std::mem::size_of::<(K, Option<V>)>() as u64
    }
}

/// `group_by_key`'s and `join`'s writer: records go, uncombined, to their key's bucket.
pub(crate) struct HashWriter<K, V>(PhantomData<fn(K, V)>);

impl<K, V> HashWriter<K, V> {
    pub(crate) fn new() -> Self {
        HashWriter(PhantomData)
    }
}

impl<K, V> Writer<(K, V)> for HashWriter<K, V>
where
    K: Hash + Eq + Data,
    V: Data,
{
    type State = Vec<Vec<(K, V)>>;
    type Bucket = Vec<(K, V)>;

    fn start(&self, _map: usize, reduce_partitions: usize) -> Self::State {
        (0..reduce_partitions).map(|_| Vec::new()).collect()
    }

    #[inline]
    fn push(&self, state: &mut Self::State, record: (K, V)) {
        let p = partition_of(&record.0, state.len());
        state[p].push(record);
    }

    fn finish(&self, state: Self::State) -> Vec<Self::Bucket> {
        state
    }

    fn len(bucket: &Self::Bucket) -> usize {
        bucket.len()
    }

    fn record_bytes() -> u64 {
        std::mem::size_of::<(K, V)>() as u64
    }
}

/// `repartition`'s writer: records dealt round robin, map task `m` starting at
/// partition `m mod n`, so equal-sized inputs give equal-sized outputs.
pub(crate) struct RoundRobinWriter<T>(PhantomData<fn(T)>);

impl<T> RoundRobinWriter<T> {
    pub(crate) fn new() -> Self {
        RoundRobinWriter(PhantomData)
    }
}

impl<T: Data> Writer<T> for RoundRobinWriter<T> {
    type State = (Vec<Vec<T>>, usize);
    type Bucket = Vec<T>;

    fn start(&self, map: usize, reduce_partitions: usize) -> Self::State {
        let buckets = (0..reduce_partitions).map(|_| Vec::new()).collect();
        (buckets, map % reduce_partitions.max(1))
    }

    #[inline]
    fn push(&self, (buckets, next): &mut Self::State, record: T) {
        buckets[*next].push(record);
        *next = (*next + 1) % buckets.len();
    }

    fn finish(&self, (buckets, _): Self::State) -> Vec<Self::Bucket> {
        buckets
    }

    fn len(bucket: &Self::Bucket) -> usize {
        bucket.len()
    }

    fn record_bytes() -> u64 {
        std::mem::size_of::<T>() as u64
    }
}
