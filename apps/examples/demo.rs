//! The runtime's pause/resume demo.
//!
//! `cargo run --release --example demo -- [OPTIONS]` is `neptune demo [OPTIONS]`,
//! with the same flags and output: both run [`neptune_apps::demo`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    neptune_apps::demo::main(neptune_apps::demo::Args::parse())
}
