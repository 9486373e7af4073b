//! Neptune against tokio on tokio's own multi-thread scheduler benchmarks
//! (`benches/rt_multi_threaded.rs` in tokio), with the same number of worker threads.
//!
//! ```text
//! neptune bench vs-tokio [--json] [--workers N] [--rounds R] [--only WORKLOAD]
//! ```
//!
//! (`cargo run --release --example vs_tokio -- …` runs the same.)
//!
//! Both runtimes are built once per process and stay up for the whole run, as tokio's
//! benchmark builds its runtime once and iterates on it: this keeps thread start-up
//! out of the figures and lets both runtimes reach a steady state (idle worker threads of
//! either runtime park, so the one not being measured takes no CPU time). Every
//! workload is first warmed up on both runtimes; then rounds alternate, neptune then
//! tokio, each round running the workload the same number of times on both runtimes.
//! The figure reported is the median over rounds of the time per run.

use super::workloads::{Bench, Neptune, Rt, Tokio, Workload};
use crate::progress::Progress;
use clap::Parser;
use neptune_support::args::{at_least_one, available_cores};
use neptune_support::stats::{human_ns, quantile, round};
use serde::Serialize;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Aim for rounds of about this long (for the slower runtime), to keep timer noise low.
const ROUND_TARGET: Duration = Duration::from_millis(50);
/// Warm-up runs of each workload on each runtime before it is measured.
const WARMUP_RUNS: usize = 3;
/// A run that takes longer than this is reported as a hang.
const HANG_AFTER: Duration = Duration::from_secs(30);

/// What is running now, for the hang watchdog.
type Beat = Arc<Mutex<(&'static str, &'static str, Instant)>>;

fn start_watchdog() -> Beat {
    let beat: Beat = Arc::new(Mutex::new(("start-up", "", Instant::now())));
    let watched = beat.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        let (workload, runtime, since) = *watched.lock().unwrap();
        if since.elapsed() > HANG_AFTER {
            eprintln!(
                "vs_tokio: {workload} on {runtime} made no progress for {:?}: giving up",
                since.elapsed()
            );
            std::process::exit(3);
        }
    });
    beat
}

/// Runs `w` `iters` times on `b`; returns the mean time per run in nanoseconds.
fn timed<R: Rt>(b: &mut Bench<R>, w: Workload, iters: u32, beat: &Beat) -> u64 {
    *beat.lock().unwrap() = (w.name(), R::NAME, Instant::now());
    let start = Instant::now();
    for _ in 0..iters {
        b.run(w);
    }
    (start.elapsed().as_nanos() / iters as u128) as u64
}

/// One workload's figures: its `--json` line, and a row of the table.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Row {
    workload: &'static str,
    /// Medians over the rounds of the time per run.
    neptune_ns: u64,
    tokio_ns: u64,
    /// neptune over tokio, to 0.001: below 1 means neptune is faster.
    ratio: f64,
    rounds: usize,
    workers: usize,
    /// Runs of the workload per round (the table shows it; the JSON line never had it).
    #[serde(skip)]
    iters: u32,
}

impl Row {
    fn new(workload: &'static str, neptune_ns: u64, tokio_ns: u64, iters: u32) -> Row {
        let ratio = neptune_ns as f64 / tokio_ns.max(1) as f64;
        Row {
            workload,
            neptune_ns,
            tokio_ns,
            ratio: round(ratio, 3),
            rounds: 0,
            workers: 0,
            iters,
        }
    }

    fn text(&self) -> String {
        format!(
            "{:<24} {:>12} {:>12} {:>8.2} {:>8}",
            self.workload,
            human_ns(self.neptune_ns as f64),
            human_ns(self.tokio_ns as f64),
            self.ratio,
            self.iters
        )
    }
}

/// Neptune against tokio on tokio's multi-thread scheduler benchmarks, with the same
/// number of worker threads; rounds alternate neptune, tokio.
#[derive(Parser, Debug)]
#[command(name = "vs_tokio")]
pub struct Args {
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    json: bool,
    /// Worker threads of each runtime, one per core by default.
    #[arg(long, value_name = "N", default_value_t = available_cores(), value_parser = at_least_one::<usize>)]
    workers: usize,
    /// Measured rounds per workload (at least 10: fewer are raised to 10).
    #[arg(long, value_name = "R", default_value_t = 15)]
    rounds: usize,
    /// One workload only, by its name as printed (for profiling one hot path).
    #[arg(
        long,
        value_name = "WORKLOAD",
        value_parser = clap::builder::PossibleValuesParser::new(Workload::ALL.map(Workload::name))
    )]
    only: Option<String>,
}

/// Runs the comparison as `args` say and prints the figures.
pub fn main(args: Args) -> ExitCode {
    let Args {
        json,
        workers,
        mut rounds,
        only,
    } = args;
    if rounds < 10 {
        eprintln!("--rounds {rounds} is too few: using 10");
        rounds = 10;
    }
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| only.as_deref().is_none_or(|o| w.name() == o))
        .collect();

    let beat = start_watchdog();
    let mut neptune = Bench::<Neptune>::new(workers);
    let mut tokio = Bench::<Tokio>::new(workers);

    let mut rows = Vec::new();
    let progress = Progress::new((workloads.len() * rounds) as u64, "vs_tokio");
    for (done, w) in workloads.into_iter().enumerate() {
        // Warm up both runtimes on this workload; the last warm-up runs size the rounds.
        let (mut tn, mut tt) = (0, 0);
        for _ in 0..WARMUP_RUNS {
            tn = timed(&mut neptune, w, 1, &beat);
            tt = timed(&mut tokio, w, 1, &beat);
        }
        let slower = tn.max(tt).max(1);
        let iters = (ROUND_TARGET.as_nanos() as u64 / slower).clamp(1, 200) as u32;

        let mut n = Vec::with_capacity(rounds);
        let mut t = Vec::with_capacity(rounds);
        for round in 0..rounds {
            n.push(timed(&mut neptune, w, iters, &beat));
            t.push(timed(&mut tokio, w, iters, &beat));
            progress.set((done * rounds + round + 1) as u64, w.name());
        }
        let row = Row {
            rounds,
            workers,
            ..Row::new(
                w.name(),
                quantile(&mut n, 0.5),
                quantile(&mut t, 0.5),
                iters,
            )
        };
        if json {
            match serde_json::to_string(&row) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("vs_tokio: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        rows.push(row);
    }
    *beat.lock().unwrap() = ("shut-down", "", Instant::now());
    progress.finish(format!("{} workloads", rows.len()));

    if !json {
        println!(
            "tokio's multi-thread benchmarks, {workers} workers each, median of {rounds} rounds (time per run)\n"
        );
        println!(
            "{:<24} {:>12} {:>12} {:>8} {:>8}",
            "workload", "neptune", "tokio", "ratio", "runs/rd"
        );
        for r in &rows {
            println!("{}", r.text());
        }
        println!("\nratio = neptune / tokio: below 1 means neptune is faster");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use neptune_support::args::assert_refused;

    #[test]
    fn cli() {
        Args::command().debug_assert();
        let c = Args::try_parse_from(["vs_tokio"]).unwrap();
        assert!(!c.json);
        assert_eq!((c.workers, c.rounds, c.only), (available_cores(), 15, None));
        let c = Args::try_parse_from([
            "vs_tokio",
            "--json",
            "--workers=3",
            "--rounds",
            "12",
            "--only",
            "ping_pong",
        ])
        .unwrap();
        assert!(c.json);
        assert_eq!((c.workers, c.rounds), (3, 12));
        assert_eq!(c.only.as_deref(), Some("ping_pong"));
        assert_refused::<Args>(&[
            &["--jsno"][..],
            &["--help-me"],
            &["--workers", "0"],
            &["--rounds", "x"],
            &["--only", "no_such_workload"],
        ]);
    }

    #[test]
    fn a_workload_line_has_the_keys_it_always_had() {
        let row = Row {
            rounds: 15,
            workers: 2,
            ..Row::new("ping_pong", 1_500, 1_000, 7)
        };
        let line = serde_json::to_string(&row).unwrap();
        let keys = neptune_support::json::sorted_keys(&line);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            keys,
            [
                "neptune_ns",
                "ratio",
                "rounds",
                "tokio_ns",
                "workers",
                "workload"
            ]
        );
        assert_eq!(value["ratio"], 1.5);
        assert!(row.text().starts_with("ping_pong"));
    }
}
