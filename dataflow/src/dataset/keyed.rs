//! Shuffling operators: each ends a stage and starts the next.

use super::Dataset;
use crate::shuffle::nodes::{ConcatNode, GroupNode, JoinNode, ReduceNode};
use crate::shuffle::{CombineWriter, HashWriter, MapSide, RoundRobinWriter};
use crate::Data;
use std::hash::Hash;
use std::sync::Arc;

impl<K, V> Dataset<(K, V)>
where
    K: Hash + Eq + Data,
    V: Data,
{
    /// One record per key, its values merged with `f` (which should be associative and
    /// commutative: values are merged in no fixed order). Values are combined in each
    /// map task before the shuffle, so a key costs one shuffled record per map task.
    /// As many partitions as this dataset.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let sums = ctx.parallelize(vec![('a', 1), ('b', 2), ('a', 3)], 2).reduce_by_key(|x, y| x + y);
    /// let mut sums = sums.collect().unwrap().into_value();
    /// sums.sort();
    /// assert_eq!(sums, [('a', 4), ('b', 2)]);
    /// ```
    pub fn reduce_by_key<F>(&self, f: F) -> Dataset<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        self.reduce_by_key_into(self.partitions(), f)
    }

    /// [`reduce_by_key`](Self::reduce_by_key) into `partitions` partitions (0: the
    /// context's default).
    pub fn reduce_by_key_into<F>(&self, partitions: usize, f: F) -> Dataset<(K, V)>
    where
        F: Fn(V, V) -> V + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let partitions = self.ctx.partitions_or_default(partitions);
        let side = MapSide::new(
            self.ctx.next_shuffle(),
            self.node.clone(),
            CombineWriter::new(f.clone()),
            partitions,
        );
        self.derive(ReduceNode::new(self.ctx.next_node(), side, f))
    }

    /// One record per key with all its values, in no fixed order. As many partitions
    /// as this dataset.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let groups = ctx.parallelize(vec![(1, 'x'), (2, 'y'), (1, 'z')], 2).group_by_key();
    /// let mut groups = groups.collect().unwrap().into_value();
    /// groups.sort();
    /// for (_, values) in &mut groups { values.sort(); }
    /// assert_eq!(groups, [(1, vec!['x', 'z']), (2, vec!['y'])]);
    /// ```
    pub fn group_by_key(&self) -> Dataset<(K, Vec<V>)> {
        self.group_by_key_into(self.partitions())
    }

    /// [`group_by_key`](Self::group_by_key) into `partitions` partitions (0: the
    /// context's default).
    pub fn group_by_key_into(&self, partitions: usize) -> Dataset<(K, Vec<V>)> {
        let partitions = self.ctx.partitions_or_default(partitions);
        let side = MapSide::new(
            self.ctx.next_shuffle(),
            self.node.clone(),
            HashWriter::new(),
            partitions,
        );
        self.derive(GroupNode::new(self.ctx.next_node(), side))
    }

    /// Inner join on the key: a record `(k, (v, w))` for every pair of a record
    /// `(k, v)` here and `(k, w)` in `other`. As many partitions as the larger side.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let names = ctx.parallelize(vec![(1, "ada".to_owned()), (2, "bob".to_owned())], 1);
    /// let langs = ctx.parallelize(vec![(1, 'r'), (1, 'm'), (3, 'c')], 2);
    /// let mut joined = names.join(&langs).collect().unwrap().into_value();
    /// joined.sort();
    /// assert_eq!(joined, [(1, ("ada".to_owned(), 'm')), (1, ("ada".to_owned(), 'r'))]);
    /// ```
    pub fn join<W>(&self, other: &Dataset<(K, W)>) -> Dataset<(K, (V, W))>
    where
        W: Data,
    {
        self.join_into(other, self.partitions().max(other.partitions()))
    }

    /// [`join`](Self::join) into `partitions` partitions (0: the context's default).
    pub fn join_into<W>(&self, other: &Dataset<(K, W)>, partitions: usize) -> Dataset<(K, (V, W))>
    where
        W: Data,
    {
        let partitions = self.ctx.partitions_or_default(partitions);
        let left = MapSide::new(
            self.ctx.next_shuffle(),
            self.node.clone(),
            HashWriter::new(),
            partitions,
        );
        let right = MapSide::new(
            self.ctx.next_shuffle(),
            other.node.clone(),
            HashWriter::new(),
            partitions,
        );
        self.derive(JoinNode::new(self.ctx.next_node(), left, right))
    }
}

impl<T: Data> Dataset<T> {
    /// The same records in `partitions` partitions (0: the context's default), dealt
    /// round robin so partitions end up within one record of each other when the input
    /// partitions are equal. Each map task's records stay in order within a partition.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let spread = ctx.parallelize((0..10).collect::<Vec<u32>>(), 1).repartition(4);
    /// assert_eq!(spread.partitions(), 4);
    /// assert_eq!(*spread.count().unwrap(), 10);
    /// ```
    pub fn repartition(&self, partitions: usize) -> Dataset<T> {
        let partitions = self.ctx.partitions_or_default(partitions);
        let side = MapSide::new(
            self.ctx.next_shuffle(),
            self.node.clone(),
            RoundRobinWriter::new(),
            partitions,
        );
        self.derive(ConcatNode::new(self.ctx.next_node(), side))
    }
}
