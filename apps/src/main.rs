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
use neptune_apps::unified::Progress;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: neptune::AppAllocator = neptune::app_allocator();

/// Draws `progress` as a bar on standard error: redrawn in place on a terminal, one
/// line per tenth of each run otherwise.
struct Bar {
    terminal: bool,
    last_tenth: Option<(usize, u32)>,
}

impl Bar {
    const WIDTH: usize = 30;

    fn draw(&mut self, p: &Progress) {
        let total = p.total.as_secs_f64().max(1e-9);
        let done = (p.elapsed.as_secs_f64() / total).clamp(0.0, 1.0);
        let filled = (done * Self::WIDTH as f64).round() as usize;
        let line = format!(
            "[{}{}] run {}/{} {:<11} {:>4.1}/{:.0} s  model v{:<4} passes {:<4} micro-batches {}",
            "#".repeat(filled),
            "-".repeat(Self::WIDTH - filled),
            p.run + 1,
            p.runs,
            p.policy,
            p.elapsed.as_secs_f64(),
            total,
            p.version,
            p.passes,
            p.micro_batches
        );
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r{line}\x1b[K");
            if done >= 1.0 {
                let _ = writeln!(err);
            }
        } else {
            let tenth = (done * 10.0).floor() as u32;
            if self.last_tenth != Some((p.run, tenth)) {
                self.last_tenth = Some((p.run, tenth));
                let _ = writeln!(err, "{line}");
            }
        }
        let _ = err.flush();
    }
}

fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    neptune::scheduler::metrics::count_process_allocations(&ALLOC);
    // A process started as an executor of a local cluster runs only that.
    neptune::dataflow::cluster::main_or_executor(&neptune_apps::builders());
    // Usage errors, --help and --version end here (clap picks the exit status).
    let command = Cli::parse().into_command();
    let mut bar = Bar {
        terminal: std::io::stderr().is_terminal(),
        last_tenth: None,
    };
    cli::run(command, &mut |p| bar.draw(p))
}
