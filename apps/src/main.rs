//! `neptune`: the unified stream/batch application on the embedded local executor.
//!
//! A batch job keeps training a logistic-regression model on a generated historical
//! data set, publishing a new version after every pass, while a stream job scores a
//! generated event stream against the latest version; the NEPTUNE policy pauses
//! training tasks whenever a micro-batch needs a slot. See [`neptune::apps::unified`].
//!
//! ```text
//! cargo run --release -- [--policy fifo|fair|kill|neptune|static|adaptive] [--all-policies] [--json] [--seconds S] …
//! ```
//!
//! A progress bar is drawn on standard error while it runs; the results go to standard
//! output (a table, or one JSON object per run with `--json`). `neptune run --help` lists
//! every option. The runtime's pause/resume demo is `cargo run --release --example demo`.
//!
//! `--cluster local:N` runs it on N executor processes of this binary instead.
//! `neptune driver --listen ADDR --expect N --certs DIR` runs it as the driver of a
//! cluster whose executors are started with `neptune executor --driver HOST:PORT --slots
//! K --certs DIR --name NAME`; `neptune hostfile --file FILE --index I --certs DIR`
//! starts entry I of a static hostfile as either; `neptune cert init DIR` and `neptune
//! cert issue --ca DIR NAME` make the cluster's certificates. `neptune --help` lists the
//! subcommands. See [`neptune::cli`] and `deploy/README.md`.

use neptune::apps::unified::Progress;
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
    // A process started as an executor of `--cluster local:N` runs only that.
    neptune::dataflow::cluster::main_or_executor(&neptune::apps::unified::builders());
    let mut bar = Bar {
        terminal: std::io::stderr().is_terminal(),
        last_tenth: None,
    };
    neptune::cli::main_with(std::env::args_os().skip(1), &mut |p| bar.draw(p))
}
