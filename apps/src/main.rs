//! `neptune`: the unified stream/batch application, and every other application and
//! benchmark of this package, as subcommands.
//!
//! With no subcommand it runs the unified application on the embedded local executor:
//! a batch job keeps training a logistic-regression model on a generated historical
//! data set, publishing a new version after every pass, while a stream job scores a
//! generated event stream against the latest version; the NEPTUNE policy pauses
//! training tasks whenever a micro-batch needs a slot. See [`neptune_apps::unified`].
//!
//! ```text
//! cargo run --release -- [--policy fifo|fair|kill|neptune|static|adaptive] [--all-policies] [--json] [--seconds S] …
//! cargo run --release -- run tpch --json            # also: run ysb|mw1|unified
//! cargo run --release -- bench cluster --json       # also: bench vs-tokio|pause-latency|quic
//! ```
//!
//! A progress bar is drawn on standard error while the unified application runs; the
//! results go to standard output (a table, or one JSON object per run with `--json`).
//! `neptune --help` lists the subcommands, `neptune run unified --help` the options.
//!
//! `--cluster local:N` runs it on N executor processes of this binary instead.
//! `neptune driver --listen ADDR --expect N --certs DIR` runs it as the driver of a
//! cluster whose executors are started with `neptune executor --driver HOST:PORT --slots
//! K --certs DIR --name NAME`; `neptune hostfile --file FILE --index I --certs DIR`
//! starts entry I of a static hostfile as either; `neptune cert init DIR` and `neptune
//! cert issue --ca DIR NAME` make the cluster's certificates. See
//! [`neptune_apps::cli`] and `deploy/README.md`.

use clap::Parser;
use neptune_apps::cli::{self, Cli};
use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: neptune::AppAllocator = neptune::app_allocator();

fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    neptune::scheduler::metrics::count_process_allocations(&ALLOC);
    // A process started as an executor of a local cluster runs only that.
    neptune::dataflow::cluster::main_or_executor(&neptune_apps::builders());
    // Usage errors, --help and --version end here (clap picks the exit status).
    let command = Cli::parse().into_command();
    cli::run(command, &mut neptune_apps::unified::progress_bars())
}
