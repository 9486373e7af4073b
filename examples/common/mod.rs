//! Value parsers for the examples' command lines, and statistics they share (from
//! neptune-support).

// Each example uses only some of these.
#![allow(unused_imports)]

pub use neptune_support::args::{assert_refused, at_least_one, available_cores, positive_f64};
pub use neptune_support::stats::{human_ns, median, quantile};
