//! The unified stream/batch application, compared across scheduling policies: a batch
//! job keeps training a logistic-regression model (SGD over 1 000 000 generated rows of
//! 16 features, a new model version published after every pass) while a stream job
//! scores generated events against the latest version. The code is
//! [`neptune_apps::unified`], which `neptune run unified` (and a bare `neptune`) runs
//! too, with the same progress bars.
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
    // A process started as an executor of `--cluster local:N` runs only that.
    neptune::dataflow::cluster::main_or_executor(&neptune_apps::builders());
    let args = <neptune_apps::unified::Args as clap::Parser>::parse();
    neptune_apps::unified::main(
        &args,
        "unified",
        &mut neptune_apps::unified::progress_bars(),
    )
}
