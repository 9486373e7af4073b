//! Reduce-side nodes: the datasets whose partitions read shuffle buckets.
//!
//! Each one builds what it needs from its buckets (a hash table for `reduce_by_key`,
//! `group_by_key` and `join`; nothing for `repartition`) with a yield point every
//! [`LOOP_STRIDE`](crate::exec::yielding::LOOP_STRIDE) records merged, then emits its
//! records in chunks through yield points too.

/// The `AnyNode` methods of a node that reads one shuffle (fields `id` and `side`),
/// all alike but for the operation's name.
macro_rules! reads_one_shuffle {
    ($op:literal) => {
        fn id(&self) -> NodeId {
            self.id
        }

        fn op(&self) -> &'static str {
            $op
        }

        fn partitions(&self) -> usize {
            self.side.reduce_partitions()
        }

        fn deps(&self) -> Vec<Dep> {
            vec![Dep::Shuffle(self.side.clone())]
        }

        fn shuffle_reads(&self, part: usize, out: &mut Vec<(ShuffleId, usize)>) {
            out.push((self.side.id(), part));
        }
    };
}

mod concat;
mod group;
mod join;
mod reduce;

pub(crate) use concat::ConcatNode;
pub(crate) use group::GroupNode;
pub(crate) use join::JoinNode;
pub(crate) use reduce::ReduceNode;
