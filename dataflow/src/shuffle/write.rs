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

/// The most keys a map task combines in [`Combining::few`] before it turns to hash
/// tables.
const FEW_KEYS: usize = 8;

/// A map task's combined values so far.
///
/// Aggregations often group by a handful of keys (a flag and a status, a region).
/// Their first [`FEW_KEYS`] keys are kept in a short list, with their partitions, and
/// found by comparing keys: a record then costs a comparison or two instead of two
/// hashes (partition and table) and a probe. The first key past the list's capacity
/// moves the list into the tables, for good: a task with many keys pays the list once.
pub(crate) struct Combining<K, V> {
    /// Key, its reduce partition, its value.
    few: Vec<(K, usize, V)>,
    /// Whether `few` is still in use.
    few_open: bool,
    tables: Vec<Table<K, Option<V>>>,
}

/// Replaces the value of `list[i]` with `f(value, v)`.
///
/// The value is moved out and back in place, with no `Option` to take and put back
/// around it: on TPC-H Q1's map side (four groups) that was a tenth of the stage.
#[inline]
fn merge_in_place<K, V>(list: &mut Vec<(K, usize, V)>, i: usize, v: V, f: &impl Fn(V, V) -> V) {
    /// If `f` unwinds, takes the entry whose value it consumed out of the list without
    /// dropping it (its key leaks), so that the value is not dropped twice.
    struct Forget<'a, K, V> {
        list: &'a mut Vec<(K, usize, V)>,
        i: usize,
    }
    impl<K, V> Drop for Forget<'_, K, V> {
        fn drop(&mut self) {
            std::mem::forget(self.list.swap_remove(self.i));
        }
    }
    let guard = Forget { list, i };
    let slot: *mut V = &mut guard.list[i].2;
    // SAFETY: `slot` points to an initialised value inside the list, and nothing reads,
    // writes or drops it between the read and the write: while `f` runs, `old` is its
    // only owner. If `f` panics, `old` was dropped by the unwinding and `guard` takes
    // the entry out of the list unseen, so the list never drops it again.
    unsafe {
        let old = std::ptr::read(slot);
        std::ptr::write(slot, f(old, v));
    }
    std::mem::forget(guard);
}

impl<K: Hash + Eq, V> Combining<K, V> {
    /// Moves the short list into the tables.
    fn close_few(&mut self) {
        self.few_open = false;
        for (k, p, v) in self.few.drain(..) {
            self.tables[p].insert(k, Some(v));
        }
    }
}

impl<K, V, F> Writer<(K, V)> for CombineWriter<K, V, F>
where
    K: Hash + Eq + Data,
    V: Data,
    F: Fn(V, V) -> V + Send + Sync + 'static,
{
    type State = Combining<K, V>;
    type Bucket = Table<K, Option<V>>;

    fn start(&self, _map: usize, reduce_partitions: usize) -> Self::State {
        Combining {
            few: Vec::with_capacity(FEW_KEYS),
            few_open: true,
            tables: (0..reduce_partitions).map(|_| Table::default()).collect(),
        }
    }

    #[inline]
    fn push(&self, state: &mut Self::State, (k, v): (K, V)) {
        if state.few_open {
            if let Some(i) = state.few.iter().position(|e| e.0 == k) {
                merge_in_place(&mut state.few, i, v, &*self.f);
                return;
            }
            if state.few.len() < FEW_KEYS {
                let p = partition_of(&k, state.tables.len());
                state.few.push((k, p, v));
                return;
            }
            state.close_few();
        }
        let p = partition_of(&k, state.tables.len());
        combine_into(&mut state.tables[p], k, v, &*self.f);
    }

    fn finish(&self, mut state: Self::State) -> Vec<Self::Bucket> {
        state.close_few();
        state.tables
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Combines `keys` (each key `k` with value `k + 1`, three times over) into
    /// `partitions` buckets, and checks every bucket's keys and sums.
    fn combine(keys: u64, partitions: usize) {
        let w = CombineWriter::<u64, u64, _>::new(Arc::new(|a: u64, b: u64| a + b));
        let mut state = w.start(0, partitions);
        for _ in 0..3 {
            for k in 0..keys {
                w.push(&mut state, (k, k + 1));
            }
        }
        let buckets = w.finish(state);
        assert_eq!(buckets.len(), partitions);
        let mut seen = 0;
        for (p, bucket) in buckets.into_iter().enumerate() {
            for (k, v) in bucket {
                assert_eq!(
                    partition_of(&k, partitions),
                    p,
                    "key {k} in the wrong bucket"
                );
                assert_eq!(v, Some(3 * (k + 1)), "key {k}");
                seen += 1;
            }
        }
        assert_eq!(seen, keys);
    }

    #[test]
    fn a_few_keys_combine_in_the_short_list_into_their_partitions() {
        combine(FEW_KEYS as u64, 3);
        combine(1, 1);
    }

    /// A value that counts its drops.
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct Counted {
        #[serde(skip)]
        drops: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_merge_that_panics_drops_each_value_once() {
        let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let w = CombineWriter::<u8, Counted, _>::new(Arc::new(|_: Counted, _: Counted| {
            panic!("a merge that fails")
        }));
        let mut state = w.start(0, 2);
        w.push(
            &mut state,
            (
                1,
                Counted {
                    drops: drops.clone(),
                },
            ),
        );
        w.push(
            &mut state,
            (
                2,
                Counted {
                    drops: drops.clone(),
                },
            ),
        );
        let merge = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.push(
                &mut state,
                (
                    1,
                    Counted {
                        drops: drops.clone(),
                    },
                ),
            );
        }));
        assert!(merge.is_err());
        // Both values the merge consumed were dropped by its unwinding.
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The other key's value is still there, and is dropped with the state, once.
        let buckets = w.finish(state);
        assert_eq!(buckets.iter().map(|b| b.len()).sum::<usize>(), 1);
        drop(buckets);
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn more_keys_than_the_short_list_holds_move_to_the_tables_whole() {
        combine(FEW_KEYS as u64 + 1, 3);
        combine(1_000, 4);
    }
}
