//! The Yahoo Streaming Benchmark on micro-batch streams.
//!
//! `cargo run --release --example ysb -- [OPTIONS]` is `neptune run ysb [OPTIONS]`,
//! with the same flags and output: both run [`neptune_apps::ysb`].

use clap::Parser;
use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: neptune::AppAllocator = neptune::app_allocator();

fn main() -> ExitCode {
    neptune_apps::ysb::main(neptune_apps::ysb::Args::parse())
}
