//! Quinn on Neptune's runtime against the same quinn on tokio.
//!
//! `cargo run --release --example quic_bench -- [OPTIONS]` is `neptune bench quic [OPTIONS]`,
//! with the same flags and output: both run [`neptune_apps::bench::quic`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    neptune_apps::bench::quic::main(neptune_apps::bench::quic::Args::parse())
}
