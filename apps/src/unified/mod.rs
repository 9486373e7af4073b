//! The unified stream/batch application: a batch job continuously trains a
//! logistic-regression model while a stream job scores an event stream against the
//! latest version of it, both on the same executor's slots.
//!
//! - **Data**: a historical data set of `rows` examples (1 000 000 by default) with
//!   [`FEATURES`] features each, and a held-out set, generated deterministically in
//!   process from a hidden "true" model: features uniform in `[-1, 1)`, labels drawn
//!   with the true model's probability. Stream events come from the same distribution.
//! - **Batch job**: one pass of stochastic gradient descent over the data set is one
//!   job of `partitions` Batch tasks. Each task runs SGD over its contiguous share of
//!   the rows, starting from the latest model, one row per record (so a yield point
//!   per row: the task can be paused between any two rows); the partitions' models
//!   are averaged (weighted by rows) into the next version, which is published. Then
//!   the next pass starts. A pass whose task was killed (KILL policy) is started
//!   again from scratch.
//! - **Stream job**: events arrive from a generator at a target rate; every trigger
//!   interval a Stream-class micro-batch scores them. Each micro-batch reads the
//!   latest model once, through [`Published`](neptune::dataflow::stream::Published), without locks, and
//!   scores every event of the micro-batch with that version.
//! - **Figures** per policy: the stream's micro-batch latency (trigger to scored
//!   results emitted) p50 and p99 in µs, events scored per second, training
//!   throughput (rows per second of completed passes), its ratio to the same training
//!   running alone, and the final model's accuracy on the held-out set.
//!
//! The code is split by concern: `model` (the model and the generated data), `config`
//! (the settings and their command line, [`Args`]), `run` (the jobs, their plan
//! builders, and [`run`], which drives the runs), `report` (what a run reports: one
//! serde struct, [`RunReport`], for the JSON lines and the table), `page` (the HTML
//! report with its plots) and `live` (the `--ui` view and the application's metrics).
//! [`main`] runs a command line and prints the reports; `neptune run unified` (and a
//! bare `neptune`) and `examples/unified.rs` call it.

mod config;
mod live;
mod model;
mod page;
mod report;
mod run;

pub use config::{Args, Config, Where, BATCH_ALONE, POLICIES, STREAM_ALONE};
pub use live::{AppMetrics, Live};
pub use model::{DataGen, Example, Model, FEATURES};
pub use page::{html, read_runs};
pub use report::{
    table, table_of, ExecutorSummary, RunReport, Settings, SlotSpans, TimelineWindow, Window,
    TABLE_HEADERS, WINDOW_SECONDS,
};
pub use run::{pass, register, run, run_once, score, Data, Pass, Progress, Weighted};

/// Runs the command line `args` and prints the reports (JSON lines with `--json`, else
/// a table) on standard output; `progress` sees the runs as they go. Errors are
/// printed after `program`'s name. Returns the process's exit status.
pub fn main(
    args: &Args,
    program: &str,
    progress: &mut dyn FnMut(&Progress),
) -> std::process::ExitCode {
    run_config(&args.config(), program, progress)
}

/// Runs `cfg` and prints its report (a table, or JSON lines); the exit code says
/// whether it ran.
pub fn run_config(
    cfg: &Config,
    program: &str,
    progress: &mut dyn FnMut(&Progress),
) -> std::process::ExitCode {
    use std::process::ExitCode;
    let reports = match run(cfg, progress) {
        Ok(reports) => reports,
        Err(e) => {
            eprintln!("{program}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cfg.json {
        for r in &reports {
            println!("{}", r.to_json());
        }
    } else {
        print!("{}", table(cfg, &reports));
    }
    if let Some(path) = &cfg.report {
        if let Err(e) = write_report(&reports, path) {
            eprintln!("{program}: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("report: {}", path.display());
    }
    ExitCode::SUCCESS
}

/// Draws the runs' progress on standard error, a bar per run (see
/// [`crate::progress`]): pass it as `main`'s `progress`.
pub fn progress_bars() -> impl FnMut(&Progress) {
    let mut current: Option<(usize, crate::progress::Progress)> = None;
    move |p: &Progress| {
        if current.as_ref().map(|c| c.0) != Some(p.run) {
            let bar = crate::progress::Progress::new(
                PERMILLE,
                format!("run {}/{} {}", p.run + 1, p.runs, p.policy),
            );
            current = Some((p.run, bar));
        }
        if let Some((_, bar)) = &current {
            let total = p.total.as_secs_f64().max(1e-9);
            let done = (p.elapsed.as_secs_f64() / total).clamp(0.0, 1.0);
            let msg = format!(
                "{:>4.1}/{:.0} s  model v{:<4} passes {:<4} micro-batches {}",
                p.elapsed.as_secs_f64(),
                total,
                p.version,
                p.passes,
                p.micro_batches
            );
            if done >= 1.0 {
                bar.finish(msg);
            } else {
                bar.set((done * PERMILLE as f64) as u64, msg);
            }
        }
    }
}

/// Steps of a run's progress bar.
const PERMILLE: u64 = 1000;

/// Writes the HTML report of `reports` to `path`.
pub fn write_report(reports: &[RunReport], path: &std::path::Path) -> Result<(), String> {
    let page = html(reports)?;
    std::fs::write(path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `neptune report RUN.jsonl -o FILE.html`: the HTML report of the runs a `--json`
/// output saved.
pub fn report_from_file(runs: &std::path::Path, out: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read_to_string(runs)
        .map_err(|e| format!("cannot read {}: {e}", runs.display()))?;
    let reports = read_runs(&text).map_err(|e| format!("{}: {e}", runs.display()))?;
    write_report(&reports, out)
}
