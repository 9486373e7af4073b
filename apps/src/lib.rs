//! # neptune-apps
//!
//! The applications and harnesses built on Neptune (through the `neptune` facade), and
//! the `neptune` command that runs them. Each application is a module with a clap
//! [`Args`](unified::Args)-style command line and a `main(args)` that runs it and
//! prints its figures (a table, or JSON lines with `--json`); [`cli`] gathers them into
//! one command tree:
//!
//! ```text
//! neptune [run unified] [OPTIONS]      the unified stream/batch application (unified)
//! neptune run ysb|tpch|mw1 [OPTIONS]   YSB (ysb), TPC-H Q1 and Q6 (tpch), workload MW-1 (mw1)
//! neptune bench vs-tokio|pause-latency|quic|cluster [OPTIONS]   the benchmarks (bench)
//! neptune demo [OPTIONS]               the runtime's pause/resume demo (demo)
//! neptune driver|executor|hostfile|cert …   cluster mode (cluster)
//! ```
//!
//! The examples of this package (`cargo run --release --example tpch -- …`) are thin
//! shims over the same modules, with the flags and output they always had.
//!
//! In cluster mode, executor processes rebuild plans by name from the builders they
//! registered, and the driver checks that they registered the ones it has: every
//! program of this package that may run cluster jobs calls
//! [`main_or_executor`](neptune::dataflow::cluster::main_or_executor) with
//! [`builders`] first, and builds its contexts with that same table.

#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod cluster;
pub mod demo;
pub mod faults;
pub mod html;
pub mod live;
pub mod mw1;
pub mod plot;
pub mod progress;
pub mod tpch;
pub mod unified;
pub mod ysb;

use neptune::dataflow::cluster::Builders;

/// Every plan builder of the applications: the unified application's, TPC-H's, the
/// cluster benchmark's and the fault scenarios'. Their names are distinct, so one
/// table serves every program of this package.
pub fn builders() -> Builders {
    let builders = unified::register(Builders::new());
    let builders = tpch::queries::register(builders);
    let builders = bench::cluster::register(builders);
    faults::register(builders)
}
