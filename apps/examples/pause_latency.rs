//! How fast a pause takes effect and a resumed task runs again.
//!
//! `cargo run --release --example pause_latency -- [OPTIONS]` is `neptune bench pause-latency [OPTIONS]`,
//! with the same flags and output: both run [`neptune_apps::bench::pause_latency`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    neptune_apps::bench::pause_latency::main(neptune_apps::bench::pause_latency::Args::parse())
}
