//! Neptune against tokio on tokio's multi-thread scheduler benchmarks.
//!
//! `cargo run --release --example vs_tokio -- [OPTIONS]` is `neptune bench vs-tokio [OPTIONS]`,
//! with the same flags and output: both run [`neptune_apps::bench::vs_tokio`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    neptune_apps::bench::vs_tokio::main(neptune_apps::bench::vs_tokio::Args::parse())
}
