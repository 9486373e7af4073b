//! Reduce-side nodes: the datasets whose partitions read shuffle buckets.
//!
//! Each one builds what it needs from its buckets (a hash table for `reduce_by_key`,
//! `group_by_key` and `join`; nothing for `repartition`) with a yield point per record
//! merged, then emits its records through yield points too.

mod concat;
mod group;
mod join;
mod reduce;

pub(crate) use concat::ConcatNode;
pub(crate) use group::GroupNode;
pub(crate) use join::JoinNode;
pub(crate) use reduce::ReduceNode;
