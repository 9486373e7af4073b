//! `Data`: what a record must be to cross a shuffle, or a process.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A record that can cross a shuffle: cloneable (a bucket read twice in one job is
/// copied for all reads but the last), sendable, and serde-serializable, so that the
/// same shuffle works when its map and reduce tasks run in different processes.
///
/// Implemented for every type that qualifies; a record type that cannot travel is a
/// compile error at the operator that would shuffle it, in local mode too, so that a
/// program never compiles for one mode and not the other.
///
/// ```
/// fn shuffles<T: neptune_dataflow::Data>() {}
/// shuffles::<(String, Vec<u64>)>();
/// ```
pub trait Data: Clone + Send + Serialize + DeserializeOwned + 'static {}

impl<T: Clone + Send + Serialize + DeserializeOwned + 'static> Data for T {}
