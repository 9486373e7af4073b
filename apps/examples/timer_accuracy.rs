//! How late a sleep completes: Neptune against tokio.
//!
//! ```text
//! cargo run --release --example timer_accuracy -- [--json] [--workers N] [--rounds R]
//! ```
//!
//! A task spawned on the runtime repeats `start = now; sleep(d).await` and records
//! `start.elapsed() - d`, the lateness: how long after its deadline the task ran again.
//! That includes the runtime's timer resolution (tokio's timer wheel ticks every
//! millisecond; Neptune's driver thread waits on a timerfd on Linux) and the wake-up of
//! the driver thread and of a worker. Sleeps of 50 µs, 100 µs, 1 ms and 10 ms.
//!
//! Both runtimes (N workers each, 2 by default) are built once and stay up; rounds
//! alternate, neptune then tokio, each round taking the same number of samples of every
//! duration on both, so that a change in the machine's load hits both alike. Printed:
//! the median (p50) and the 99th percentile (p99) of the lateness over all samples of
//! all rounds, per runtime and duration.

use clap::Parser;
use neptune_apps::progress::Progress;
use neptune_support::args::at_least_one;
use neptune_support::stats::{human_ns, quantile};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The sleeps measured, with the samples each round takes of each on each runtime
/// (fewer of the longer ones: a run of the default 20 rounds takes about 12 s).
const SLEEPS: [(Duration, usize); 4] = [
    (Duration::from_micros(50), 100),
    (Duration::from_micros(100), 100),
    (Duration::from_millis(1), 40),
    (Duration::from_millis(10), 10),
];

/// Sleeps on each runtime before the first round: threads started and parked once,
/// timer structures allocated.
const WARMUP: usize = 20;

/// A runtime under test: spawns the sampling loop on one of its workers.
trait Sampler {
    const NAME: &'static str;
    /// Lateness of `n` sleeps of `d` in a row, in nanoseconds.
    fn sample(&self, d: Duration, n: usize) -> Vec<u64>;
}

struct Neptune(neptune::runtime::Runtime);

impl Sampler for Neptune {
    const NAME: &'static str = "neptune";

    fn sample(&self, d: Duration, n: usize) -> Vec<u64> {
        let task = self.0.spawn(async move {
            let mut late = Vec::with_capacity(n);
            for _ in 0..n {
                let start = Instant::now();
                neptune::runtime::time::sleep(d).await;
                late.push(lateness(start, d));
            }
            late
        });
        self.0.block_on(task).expect("sampling task")
    }
}

struct Tokio(tokio::runtime::Runtime);

impl Sampler for Tokio {
    const NAME: &'static str = "tokio";

    fn sample(&self, d: Duration, n: usize) -> Vec<u64> {
        let task = self.0.spawn(async move {
            let mut late = Vec::with_capacity(n);
            for _ in 0..n {
                let start = Instant::now();
                tokio::time::sleep(d).await;
                late.push(lateness(start, d));
            }
            late
        });
        self.0.block_on(task).expect("sampling task")
    }
}

/// Nanoseconds past `start + d`.
fn lateness(start: Instant, d: Duration) -> u64 {
    start.elapsed().saturating_sub(d).as_nanos() as u64
}

/// One runtime and sleep: the `--json` line, and a row of the table.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Row {
    /// The sleep.
    sleep_us: u64,
    /// `neptune` or `tokio`.
    runtime: &'static str,
    /// Lateness over all samples of all rounds.
    p50_ns: u64,
    p99_ns: u64,
    samples: usize,
    rounds: usize,
    workers: usize,
}

impl Row {
    fn text(&self) -> String {
        format!(
            "{:>8} {:>8} {:>8} {:>12} {:>12}",
            human_ns(self.sleep_us as f64 * 1e3),
            self.runtime,
            self.samples,
            human_ns(self.p50_ns as f64),
            human_ns(self.p99_ns as f64)
        )
    }
}

/// How late a sleep completes (50 µs, 100 µs, 1 ms, 10 ms): Neptune against tokio.
#[derive(Parser, Debug)]
#[command(name = "timer_accuracy")]
struct Cli {
    /// Print one JSON object per runtime and sleep instead of a table.
    #[arg(long)]
    json: bool,
    /// Worker threads of each runtime.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = at_least_one::<usize>)]
    workers: usize,
    /// Rounds, each taking the same samples of every sleep on both runtimes.
    #[arg(long, value_name = "R", default_value_t = 20, value_parser = at_least_one::<usize>)]
    rounds: usize,
}

fn main() {
    let Cli {
        json,
        workers,
        rounds,
    } = Cli::parse();

    let neptune = Neptune(
        neptune::runtime::Builder::new()
            .slots(workers)
            .build()
            .expect("neptune runtime"),
    );
    let tokio = Tokio(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("tokio runtime"),
    );

    for &(d, _) in &SLEEPS {
        neptune.sample(d.min(Duration::from_millis(1)), WARMUP);
        tokio.sample(d.min(Duration::from_millis(1)), WARMUP);
    }

    // samples[duration][runtime]
    let mut samples: Vec<[Vec<u64>; 2]> = SLEEPS.iter().map(|_| Default::default()).collect();
    let started = Instant::now();
    let progress = Progress::new(rounds as u64, "timer_accuracy");
    for round in 0..rounds {
        for (i, &(d, n)) in SLEEPS.iter().enumerate() {
            samples[i][0].extend(neptune.sample(d, n));
            samples[i][1].extend(tokio.sample(d, n));
        }
        progress.set(round as u64 + 1, format!("round {}", round + 1));
    }
    let took = started.elapsed();
    progress.finish(format!("{rounds} rounds in {:.1} s", took.as_secs_f64()));

    if !json {
        println!(
            "sleep lateness (completion - deadline), {workers} workers each, {rounds} rounds, {:.1} s\n",
            took.as_secs_f64()
        );
        println!(
            "{:>8} {:>8} {:>8} {:>12} {:>12}",
            "sleep", "runtime", "samples", "p50", "p99"
        );
    }
    for (i, &(d, _)) in SLEEPS.iter().enumerate() {
        for (r, name) in [Neptune::NAME, Tokio::NAME].into_iter().enumerate() {
            let v = &mut samples[i][r];
            let row = Row {
                sleep_us: d.as_micros() as u64,
                runtime: name,
                p50_ns: quantile(v, 0.5),
                p99_ns: quantile(v, 0.99),
                samples: v.len(),
                rounds,
                workers,
            };
            if json {
                match serde_json::to_string(&row) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("timer_accuracy: {e}");
                        std::process::exit(1);
                    }
                }
            } else {
                println!("{}", row.text());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli() {
        Cli::command().debug_assert();
        let c = Cli::try_parse_from(["timer_accuracy"]).unwrap();
        assert!(!c.json);
        assert_eq!((c.workers, c.rounds), (2, 20));
        let c = Cli::try_parse_from(["timer_accuracy", "--json", "--workers=4", "--rounds", "3"])
            .unwrap();
        assert!(c.json);
        assert_eq!((c.workers, c.rounds), (4, 3));
        neptune_support::args::assert_refused::<Cli>(&[
            &["--jsno"][..],
            &["--workers", "0"],
            &["--rounds", "-1"],
            &["--rounds"],
        ]);
    }

    #[test]
    fn a_line_has_the_keys_it_always_had() {
        let row = Row {
            sleep_us: 50,
            runtime: "neptune",
            ..Row::default()
        };
        let line = serde_json::to_string(&row).unwrap();
        let keys = neptune_support::json::sorted_keys(&line);
        assert_eq!(
            keys,
            ["p50_ns", "p99_ns", "rounds", "runtime", "samples", "sleep_us", "workers"]
        );
        assert!(
            line.starts_with(r#"{"sleep_us":50,"runtime":"neptune","#),
            "{line}"
        );
        assert!(row.text().contains("neptune"));
    }
}
