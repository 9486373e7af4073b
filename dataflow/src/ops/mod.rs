//! Narrow operators: each partition of the output is computed from the same partition
//! of the input, in the same task, by transforming its record stream.

mod flat_map;
mod narrow;
mod union;

pub(crate) use flat_map::FlatMap;
pub(crate) use narrow::{Filter, KeyBy, Map, MapAsync, NarrowNode};
pub(crate) use union::UnionNode;
