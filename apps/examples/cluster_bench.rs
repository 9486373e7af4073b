//! Cluster mode's figures on a loopback cluster, against local mode.
//!
//! `cargo run --release --example cluster_bench -- [OPTIONS]` is `neptune bench cluster [OPTIONS]`,
//! with the same flags and output: both run [`neptune_apps::bench::cluster`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // A process started as an executor of a local cluster runs only that.
    neptune::dataflow::cluster::main_or_executor(&neptune_apps::builders());
    neptune_apps::bench::cluster::main(neptune_apps::bench::cluster::Args::parse())
}
