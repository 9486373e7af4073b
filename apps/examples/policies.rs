//! Workload MW-1 (stream latency under batch load) for every policy.
//!
//! `cargo run --release --example policies -- [OPTIONS]` is `neptune run mw1 [OPTIONS]`,
//! with the same flags and output: both run [`neptune_apps::mw1`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    neptune_apps::mw1::main(neptune_apps::mw1::Args::parse())
}
