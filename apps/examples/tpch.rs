//! TPC-H Q1 and Q6 as batch jobs, checked against a single-threaded loop.
//!
//! `cargo run --release --example tpch -- [OPTIONS]` is `neptune run tpch [OPTIONS]`,
//! with the same flags and output: both run [`neptune_apps::tpch`].

use clap::Parser;
use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: neptune::AppAllocator = neptune::app_allocator();

fn main() -> ExitCode {
    // A process started as an executor of a local cluster runs only that.
    neptune::dataflow::cluster::main_or_executor(&neptune_apps::builders());
    neptune_apps::tpch::main(neptune_apps::tpch::Args::parse())
}
