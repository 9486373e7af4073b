//! Narrow operators: computed partition by partition, in the same task.

use super::Dataset;
use crate::ops::{Filter, FlatMap, KeyBy, Map, MapAsync, NarrowNode, UnionNode};
use std::future::Future;

impl<T: Send + 'static> Dataset<T> {
    /// Each record transformed by `f`.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let lengths = ctx.parallelize(vec!["a", "bcd"], 1).map(|s| s.len());
    /// assert_eq!(*lengths.collect().unwrap(), [1, 3]);
    /// ```
    pub fn map<U, F>(&self, f: F) -> Dataset<U>
    where
        U: Send + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.derive(NarrowNode::new(
            self.ctx.next_node(),
            self.node.clone(),
            Map(f),
        ))
    }

    /// The records for which `keep` is true.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let even = ctx.range(0..10, 3).filter(|x| x % 2 == 0);
    /// assert_eq!(*even.collect().unwrap(), [0, 2, 4, 6, 8]);
    /// ```
    pub fn filter<F>(&self, keep: F) -> Dataset<T>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        self.derive(NarrowNode::new(
            self.ctx.next_node(),
            self.node.clone(),
            Filter(keep),
        ))
    }

    /// Every item of the iterable `f` returns for each record.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let ds = ctx.range(1..4, 2).flat_map(|n| 0..n);
    /// assert_eq!(*ds.collect().unwrap(), [0, 0, 1, 0, 1, 2]);
    /// ```
    pub fn flat_map<U, I, F>(&self, f: F) -> Dataset<U>
    where
        U: Send + 'static,
        F: Fn(T) -> I + Send + Sync + 'static,
        I: IntoIterator<Item = U> + 'static,
        I::IntoIter: Send + 'static,
    {
        self.derive(NarrowNode::new(
            self.ctx.next_node(),
            self.node.clone(),
            FlatMap(f),
        ))
    }

    /// Each record transformed by an async function (a closure returning a future),
    /// awaited in order, one record at a time per task.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// async fn score(x: u64) -> u64 { x * 10 }
    /// let scores = ctx.range(0..3, 1).map_async(score);
    /// assert_eq!(*scores.collect().unwrap(), [0, 10, 20]);
    /// ```
    pub fn map_async<U, Fut, F>(&self, f: F) -> Dataset<U>
    where
        U: Send + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = U> + Send + 'static,
    {
        self.derive(NarrowNode::new(
            self.ctx.next_node(),
            self.node.clone(),
            MapAsync(f),
        ))
    }

    /// Each record paired with its key, `(key(&record), record)`, for the keyed
    /// operators.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let by_len = ctx.parallelize(vec!["ab", "c"], 1).key_by(|s| s.len());
    /// assert_eq!(*by_len.collect().unwrap(), [(2, "ab"), (1, "c")]);
    /// ```
    pub fn key_by<K, F>(&self, key: F) -> Dataset<(K, T)>
    where
        K: Send + 'static,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        self.derive(NarrowNode::new(
            self.ctx.next_node(),
            self.node.clone(),
            KeyBy(key),
        ))
    }

    /// This dataset's partitions followed by `other`'s (no shuffle, no deduplication).
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let both = ctx.range(0..2, 1).union(&ctx.range(10..12, 2));
    /// assert_eq!(both.partitions(), 3);
    /// assert_eq!(*both.collect().unwrap(), [0, 1, 10, 11]);
    /// ```
    pub fn union(&self, other: &Dataset<T>) -> Dataset<T> {
        self.derive(UnionNode::new(
            self.ctx.next_node(),
            self.node.clone(),
            other.node.clone(),
        ))
    }
}
