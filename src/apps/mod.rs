//! Applications built on Neptune, shared by the `neptune` binary and the examples.
//!
//! - [`unified`]: the motivating unified stream/batch application — a batch job keeps
//!   training a model while a stream job scores events against its latest version.

pub mod unified;
