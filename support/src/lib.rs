//! # neptune-support
//!
//! Small helpers that Neptune's tests, harnesses and applications share, kept in one
//! place so that no crate carries its own copy. The crate depends on no Neptune crate
//! (only on std, clap for the command-line helpers and serde_json for reading JSON
//! lines back), so every engine crate can
//! take it as a dev-dependency without a cycle.
//!
//! One module per job:
//!
//! - [`wait`]: condition waits with a generous [`wait::DEADLINE`] — tests wait for
//!   what they expect to happen rather than sleep and hope;
//! - [`temp`]: a fresh temporary directory, removed on drop;
//! - [`stats`]: nearest-rank quantiles, medians, readable durations;
//! - [`rng`]: SplitMix64, the deterministic generator behind generated data sets;
//! - [`args`]: clap value parsers, the default worker count, and a check that a
//!   command line refuses bad arguments;
//! - [`spin`]: calibrated units of CPU work for demos and benchmarks;
//! - [`json`]: the keys of a JSON line, for tests of the harnesses' output.

#![warn(missing_docs)]

pub mod args;
pub mod json;
pub mod rng;
pub mod spin;
pub mod stats;
pub mod temp;
pub mod wait;
