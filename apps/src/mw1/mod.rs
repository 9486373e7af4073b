//! The scheduling policies side by side on workload MW-1: stream latency under batch
//! load, and what each policy costs the batch job.
//!
//! ```text
//! neptune run mw1 [--json] [--svg FILE] [--report FILE] [--ui ADDR] [--rows a,b,...]
//!     [--rounds R] [--seconds S] [--slots W] [--batch-tasks-per-slot N]
//!     [--batch-ms MS] [--stream-ms MS] [--trigger-ms MS] [--unit-us US]
//! ```
//!
//! (`cargo run --release --example policies -- …` runs the same.)
//!
//! On W slots (default: one per core):
//!
//! - **batch job**: 4×W tasks, each 200 ms of CPU work in ~1 µs units with a yield
//!   point (`preemption_point().await`) after each; resubmitted whenever it finishes.
//!   Throughput counts useful units per second (under KILL, units of killed attempts
//!   are wasted, not useful).
//! - **stream job**: every 10 ms a micro-batch of W Stream tasks of 0.5 ms each (no
//!   yield points). A micro-batch's latency is the end of its last task minus its
//!   scheduled release time; releases keep to the schedule even when the previous
//!   micro-batch is still running, so queueing counts.
//!
//! Rows: `stream-alone` and `batch-alone` (each job by itself: ideal latency and ideal
//! throughput), the scheduler's local policies `static`, `fifo`, `fair`, `kill` and
//! `neptune`, and three tokio peers: `tokio-shared` (one runtime, no yields),
//! `tokio-yield` (one runtime, `yield_now` per unit) and `tokio-split` (two runtimes
//! with half the cores each, stream on one and batch on the other). tokio has no task
//! classes: its stream and batch tasks are plain tasks.
//!
//! Each row runs for `--seconds` (default 4; the first 100 ms are left out of every
//! figure), then the runtime is dropped and the machine settles for 200 ms. With
//! `--rounds R` the whole set of rows runs R times, row after row (A B C … A B C …),
//! and each figure is the median over rounds; batch ratios are taken within a round.
//! The defaults finish in under a minute on two cores.
//!
//! Output, per row: stream latency p50/p99/p99.9/max in µs over every micro-batch
//! released after the warm-up; useful batch units per second and their ratio to
//! batch-alone's; units wasted by killed attempts; suspensions (parks, for policies
//! that pause). With `--json` each row is one object with those fields first
//! (`policy`, `stream_p50_us`, `stream_p99_us`, `stream_p999_us`, `stream_max_us`,
//! `batch_units_per_s`, `batch_ratio`, `wasted_units`, `suspensions`; `null` where a
//! row has no such figure), then diagnostics: micro-batches measured and those still
//! running when the harness stopped waiting for them (their latency so far is a lower
//! bound), the release thread's p99 lateness, release → last task started and the
//! longest task run (p99), the CPU the process got (in cores, from `/proc/self/stat`),
//! the runtime's pause → parked and resume → polled latencies, and kills.
//!
//! `--svg FILE` writes the figure (latency percentiles per row on a log axis, batch
//! throughput against batch-alone's); `--report FILE` writes one self-contained HTML
//! page with the settings, the table, its notes and the figure. `--ui ADDR` serves the
//! live view of each Neptune row's runtime while the rows run (see [`live`]).
//!
//! After its measured stretch a row keeps the batch job running until every released
//! micro-batch has finished (at most three batch-job lengths, at least 2 s), so that
//! queued micro-batches are measured as they would have finished.

mod args;
pub mod live;
mod report;
pub mod workload;

pub use args::{Args, Config, Row, Rows};

use crate::progress::Progress;
use neptune_support::spin::iters_per_micro;
use std::io::{ErrorKind, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Runs every row as `args` say and prints the results (and writes the plot with
/// `--svg`, the HTML report with `--report`). Settings that make no sense together, or
/// a file that cannot be written, exit with status 2.
pub fn main(args: Args) -> ExitCode {
    let cfg = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("policies: {e}");
            eprintln!("(run with --help for the options)");
            return ExitCode::from(2);
        }
    };
    // Fail now, not after the whole run, if the plot or the report cannot be written.
    for (flag, path) in [("--svg", &cfg.svg), ("--report", &cfg.report)] {
        if let Some(path) = path {
            if let Err(e) = std::fs::File::create(path) {
                eprintln!("policies: {flag}: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    match run(&cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("policies: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cfg: &Config) -> Result<(), String> {
    // Calibrate the work unit before any runtime competes for the cores.
    let iters = iters_per_micro();
    eprintln!(
        "policies: {} slots, {} rows x {} round(s) of {} s; 1 µs = {iters} spin rounds",
        cfg.slots,
        cfg.rows.len(),
        cfg.rounds,
        cfg.seconds
    );
    let began = Instant::now();
    let settle = Duration::from_secs_f64(cfg.settle_ms / 1e3);
    let progress = Progress::new((cfg.rows.len() * cfg.rounds) as u64, "mw1");
    let live = live::Live::new(cfg.ui);
    let mut rounds = Vec::with_capacity(cfg.rounds);
    for round in 0..cfg.rounds {
        let mut samples = Vec::with_capacity(cfg.rows.len());
        for &row in &cfg.rows {
            let sample = workload::run_row(cfg, row, &live)?;
            progress.set(
                (round * cfg.rows.len() + samples.len() + 1) as u64,
                format!(
                    "round {}/{} {}: {} micro-batches, {} batch units/s",
                    round + 1,
                    cfg.rounds,
                    row.name(),
                    sample.latencies_us.len(),
                    sample
                        .batch_units_per_s
                        .map_or("-".to_owned(), |u| format!("{u:.0}")),
                ),
            );
            samples.push(sample);
            std::thread::sleep(settle);
        }
        rounds.push(samples);
    }
    progress.finish(format!(
        "measured in {:.1} s",
        began.elapsed().as_secs_f64()
    ));
    let results = report::summarize(&cfg.rows, &rounds);
    let reports: Vec<report::RowReport> = results
        .iter()
        .map(|r| report::RowReport::new(cfg, r))
        .collect();
    let text = if cfg.json {
        reports.iter().map(|r| r.json() + "\n").collect()
    } else {
        report::table(cfg, &results, &reports)
    };
    emit(&text)?;
    if let Some(path) = &cfg.svg {
        let svg = report::figure(cfg, &reports).map_err(|e| e.to_string())?;
        write(path, &svg)?;
        eprintln!("policies: plot written to {}", path.display());
    }
    if let Some(path) = &cfg.report {
        let html = report::html(cfg, &results, &reports).map_err(|e| e.to_string())?;
        write(path, &html)?;
        eprintln!("policies: report written to {}", path.display());
    }
    Ok(())
}

fn write(path: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes `text` to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(format!("cannot write results: {e}")),
        _ => Ok(()),
    }
}
