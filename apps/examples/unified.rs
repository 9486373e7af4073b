//! The unified stream/batch application, compared across scheduling policies: a batch
//! job keeps training a logistic-regression model (SGD over 1 000 000 generated rows of
//! 16 features, a new model version published after every pass) while a stream job
//! scores generated events against the latest version. The code is
//! [`neptune::apps::unified`], which the `neptune` binary runs too (with a progress
//! bar).
//!
//! ```text
//! cargo run --release --example unified -- [--json] [--all-policies | --policy NAME]
//!     [--seconds S] [--rate EVENTS_PER_S] [--trigger-ms T] [--slots N] [--rows N] …
//! ```
//!
//! Per policy: stream latency p50/p99 (µs, trigger to scored results), events/s,
//! training rows/s and their ratio to batch-alone, and the final model's accuracy on a
//! held-out set. `--all-policies` runs batch-alone, fifo, fair, kill and neptune, one
//! after the other, on the same data.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: neptune::AppAllocator = neptune::app_allocator();

fn main() -> std::process::ExitCode {
    neptune::apps::unified::main_with(std::env::args().skip(1), "unified", &mut |_| {})
}
