//! What the live UI costs the unified application: its runs without a UI and with one
//! scraped, side by side.
//!
//! ```text
//! neptune bench ui-cost [--rounds R] [--seconds S] [--scrape-ms MS] [--slots N] [--json]
//! ```
//!
//! Each round runs the unified application under NEPTUNE twice on the same data:
//! `plain` (no UI) and `ui` (`--ui 127.0.0.1:0`, `/metrics` scraped every `--scrape-ms`
//! over one kept-alive connection, as Prometheus does). Rounds alternate the two
//! (plain ui plain ui …), so drift on a shared machine hits both alike. The scraper is
//! a hyper client on a one-slot runtime of its own.
//!
//! Per run: the stream's p50 and p99 micro-batch latency and the training's rows per
//! second (the application's own figures), and for `ui` the scrapes made, their wall
//! time as the scraper saw it, and the CPU time of the UI's threads (its slot and its
//! I/O driver, from `/proc/self/task/*/schedstat`) per scrape, idle time included.
//! The summary gives each figure's median per mode, the ratios ui / plain, and the
//! spread (min–max) of the plain runs' p99: the noise a difference must clear.

use crate::unified::{self, Data, Live, RunReport};
use clap::Parser;
use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::Request;
use neptune::runtime::http::HyperIo;
use neptune::runtime::net::TcpStream;
use neptune::runtime::{time, Builder, SpawnOptions};
use neptune_support::args::{at_least_one, available_cores, positive_f64};
use neptune_support::stats::median;
use serde::Serialize;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "ui-cost")]
pub struct Args {
    /// Rounds; each runs the application without a UI, then with one scraped.
    #[arg(long, value_name = "R", default_value_t = 3, value_parser = at_least_one::<usize>)]
    rounds: usize,
    /// Wall time of each run.
    #[arg(long, value_name = "S", default_value_t = 10.0, value_parser = positive_f64)]
    seconds: f64,
    /// Interval between two scrapes of /metrics.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = at_least_one::<u64>)]
    scrape_ms: u64,
    /// Slots of the application's executor, one per core by default.
    #[arg(long, value_name = "N", default_value_t = available_cores(), value_parser = at_least_one::<usize>)]
    slots: usize,
    /// One JSON object per run, then the summary's, on standard output.
    #[arg(long)]
    json: bool,
}

/// One run's figures.
#[derive(Serialize, Debug, Clone)]
pub struct RunLine {
    /// `ui_cost_run`.
    figure: &'static str,
    round: usize,
    /// `plain` or `ui`.
    mode: &'static str,
    stream_p50_us: u64,
    stream_p99_us: u64,
    batch_rows_per_s: f64,
    /// Scrapes answered (`ui` only).
    scrapes: Option<u64>,
    /// Wall time of a scrape at the scraper, request to whole body (median, max).
    scrape_p50_us: Option<u64>,
    scrape_max_us: Option<u64>,
    /// CPU time of the UI's threads over the run, per scrape.
    ui_cpu_us_per_scrape: Option<f64>,
}

/// The medians per mode and the ratios.
#[derive(Serialize, Debug)]
pub struct Summary {
    /// `ui_cost`.
    figure: &'static str,
    rounds: usize,
    seconds: f64,
    scrape_ms: u64,
    plain_p99_us: f64,
    ui_p99_us: f64,
    /// ui / plain, of the medians.
    p99_ratio: f64,
    /// The plain runs' p99, lowest and highest: the run-to-run noise.
    plain_p99_min_us: u64,
    plain_p99_max_us: u64,
    plain_p50_us: f64,
    ui_p50_us: f64,
    plain_rows_per_s: f64,
    ui_rows_per_s: f64,
    /// ui / plain, of the medians.
    rows_ratio: f64,
    ui_cpu_us_per_scrape: f64,
}

/// Runs the benchmark; exit status 1 if a run fails.
pub fn main(args: Args) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ui-cost: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let cfg = unified::Args::try_parse_from([
        "unified".to_owned(),
        format!("--seconds={}", args.seconds),
        format!("--slots={}", args.slots),
    ])
    .map_err(|e| e.to_string())?
    .config();
    let data = Data::generate(&cfg);
    let total = 2 * args.rounds;
    let mut lines = Vec::with_capacity(total);
    for round in 0..args.rounds {
        for mode in ["plain", "ui"] {
            let position = (lines.len(), total);
            let line = if mode == "plain" {
                let report = unified::run_once(
                    &cfg,
                    &data,
                    "neptune",
                    position,
                    &Live::new(None),
                    &mut |_| {},
                )?;
                RunLine::of(round, mode, &report)?
            } else {
                run_scraped(&cfg, &data, round, position, args.scrape_ms)?
            };
            if args.json {
                println!("{}", to_json(&line));
            } else {
                eprintln!(
                    "round {} {:<5}: p50 {} µs, p99 {} µs, {:.2} M rows/s{}",
                    round + 1,
                    line.mode,
                    line.stream_p50_us,
                    line.stream_p99_us,
                    line.batch_rows_per_s / 1e6,
                    line.scrapes.map_or(String::new(), |n| format!(
                        ", {n} scrapes of {} µs (max {} µs), UI CPU {:.0} µs per scrape",
                        line.scrape_p50_us.unwrap_or(0),
                        line.scrape_max_us.unwrap_or(0),
                        line.ui_cpu_us_per_scrape.unwrap_or(f64::NAN)
                    ))
                );
            }
            lines.push(line);
        }
    }
    let summary = Summary::of(args, &lines);
    if args.json {
        println!("{}", to_json(&summary));
    } else {
        print!("{}", summary.table());
    }
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("a report serialises")
}

impl RunLine {
    fn of(round: usize, mode: &'static str, r: &RunReport) -> Result<RunLine, String> {
        let (Some(p50), Some(p99)) = (r.stream_p50_us, r.stream_p99_us) else {
            return Err(format!(
                "round {}, {mode}: no micro-batch finished",
                round + 1
            ));
        };
        Ok(RunLine {
            figure: "ui_cost_run",
            round,
            mode,
            stream_p50_us: p50,
            stream_p99_us: p99,
            batch_rows_per_s: r.batch_rows_per_s,
            scrapes: None,
            scrape_p50_us: None,
            scrape_max_us: None,
            ui_cpu_us_per_scrape: None,
        })
    }
}

/// A run with a UI, scraped every `scrape_ms` from another thread until it ends.
fn run_scraped(
    cfg: &unified::Config,
    data: &Data,
    round: usize,
    position: (usize, usize),
    scrape_ms: u64,
) -> Result<RunLine, String> {
    let cfg = unified::Config {
        ui: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..cfg.clone()
    };
    let live = Arc::new(Live::new(cfg.ui));
    let done = Arc::new(AtomicBool::new(false));
    let scraper = {
        let (live, done) = (live.clone(), done.clone());
        std::thread::Builder::new()
            .name("ui-cost-scraper".to_owned())
            .spawn(move || scrape_until(&live, &done, Duration::from_millis(scrape_ms)))
            .map_err(|e| format!("cannot start the scraper: {e}"))?
    };
    let report = unified::run_once(&cfg, data, "neptune", position, &live, &mut |_| {});
    // The UI still runs: its threads' CPU time covers the whole run.
    let ui_cpu = ui_threads_cpu();
    done.store(true, SeqCst);
    let scrapes = scraper
        .join()
        .map_err(|_| "the scraper panicked".to_owned())??;
    let report = report?;
    let mut line = RunLine::of(round, "ui", &report)?;
    let n = scrapes.len() as u64;
    line.scrapes = Some(n);
    let mut sorted = scrapes;
    sorted.sort_unstable();
    line.scrape_p50_us = sorted.get(sorted.len() / 2).copied();
    line.scrape_max_us = sorted.last().copied();
    line.ui_cpu_us_per_scrape = ui_cpu
        .filter(|_| n > 0)
        .map(|d| d.as_secs_f64() * 1e6 / n as f64);
    Ok(line)
}

/// Scrapes `/metrics` of `live`'s UI every `every` until `done`; returns each scrape's
/// wall time in µs. Waits for the UI to start first (it starts with the run).
fn scrape_until(live: &Live, done: &AtomicBool, every: Duration) -> Result<Vec<u64>, String> {
    let waited = Instant::now();
    let addr = loop {
        if let Some(addr) = live.local_addr() {
            break addr;
        }
        if done.load(SeqCst) || waited.elapsed() > Duration::from_secs(120) {
            return Err("the UI never started".to_owned());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let rt = Builder::new()
        .slots(1)
        .thread_name("ui-cost-scraper")
        .build()
        .map_err(|e| format!("cannot start the scraper's runtime: {e}"))?;
    rt.block_on(async move {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot reach the UI at {addr}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with the UI: {e}"))?;
        drop(neptune::runtime::spawn_with(
            SpawnOptions::stream(),
            async move {
                // Ends when the sender is dropped; failures show through the sender.
                let _ = connection.await;
            },
        ));
        let mut walls = Vec::new();
        let mut next = Instant::now() + every;
        while !done.load(SeqCst) {
            // Short sleeps, so the end of the run is noticed soon after it comes.
            let now = Instant::now();
            if now < next {
                time::sleep((next - now).min(Duration::from_millis(50))).await;
                continue;
            }
            next += every;
            let request = Request::get("/metrics")
                .header(HOST, "ui")
                .body(String::new())
                .map_err(|e| e.to_string())?;
            let started = Instant::now();
            sender
                .ready()
                .await
                .map_err(|e| format!("the UI closed the connection: {e}"))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("a scrape failed: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("a scrape answered {}", response.status()));
            }
            read_body(response.into_body()).await?;
            walls.push(started.elapsed().as_micros() as u64);
        }
        Ok(walls)
    })
}

/// Reads a response body whole (a scrape's, some kB).
async fn read_body(mut body: Incoming) -> Result<usize, String> {
    use hyper::body::Body;
    let mut len = 0;
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| format!("reading a scrape: {e}"))?;
        if let Some(data) = frame.data_ref() {
            len += data.len();
        }
    }
    Ok(len)
}

/// CPU time of this process's UI threads (named `neptune-ui…`) so far, from
/// `/proc/self/task/*/schedstat`; `None` where that is not available.
fn ui_threads_cpu() -> Option<Duration> {
    let mut ns = 0u64;
    let mut found = false;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        if !comm.starts_with("neptune-ui") {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("schedstat")) else {
            continue;
        };
        if let Some(on_cpu) = stat
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<u64>().ok())
        {
            ns += on_cpu;
            found = true;
        }
    }
    found.then(|| Duration::from_nanos(ns))
}

impl Summary {
    fn of(args: &Args, lines: &[RunLine]) -> Summary {
        let of = |mode: &str, f: &dyn Fn(&RunLine) -> f64| {
            median(lines.iter().filter(|l| l.mode == mode).map(f).collect())
        };
        let p99 = |l: &RunLine| l.stream_p99_us as f64;
        let p50 = |l: &RunLine| l.stream_p50_us as f64;
        let rows = |l: &RunLine| l.batch_rows_per_s;
        let plain_p99s = lines
            .iter()
            .filter(|l| l.mode == "plain")
            .map(|l| l.stream_p99_us);
        let (plain_p99, ui_p99) = (of("plain", &p99), of("ui", &p99));
        let (plain_rows, ui_rows) = (of("plain", &rows), of("ui", &rows));
        Summary {
            figure: "ui_cost",
            rounds: args.rounds,
            seconds: args.seconds,
            scrape_ms: args.scrape_ms,
            plain_p99_us: plain_p99,
            ui_p99_us: ui_p99,
            p99_ratio: ui_p99 / plain_p99,
            plain_p99_min_us: plain_p99s.clone().min().unwrap_or(0),
            plain_p99_max_us: plain_p99s.max().unwrap_or(0),
            plain_p50_us: of("plain", &p50),
            ui_p50_us: of("ui", &p50),
            plain_rows_per_s: plain_rows,
            ui_rows_per_s: ui_rows,
            rows_ratio: ui_rows / plain_rows,
            ui_cpu_us_per_scrape: of("ui", &|l| l.ui_cpu_us_per_scrape.unwrap_or(f64::NAN)),
        }
    }

    fn table(&self) -> String {
        format!(
            "{:<22}{:>12}{:>12}{:>10}\n\
             {:<22}{:>12.0}{:>12.0}{:>10.2}\n\
             {:<22}{:>12.0}{:>12.0}{:>10.2}\n\
             {:<22}{:>12.2}{:>12.2}{:>10.3}\n\
             plain p99 over its {} runs: {}..{} µs (the noise). UI CPU per scrape (idle \
             time included): {:.0} µs; one scrape every {} ms.\n",
            "median of runs",
            "plain",
            "ui",
            "ui/plain",
            "stream p50 (µs)",
            self.plain_p50_us,
            self.ui_p50_us,
            self.ui_p50_us / self.plain_p50_us,
            "stream p99 (µs)",
            self.plain_p99_us,
            self.ui_p99_us,
            self.p99_ratio,
            "training (M rows/s)",
            self.plain_rows_per_s / 1e6,
            self.ui_rows_per_s / 1e6,
            self.rows_ratio,
            self.rounds,
            self.plain_p99_min_us,
            self.plain_p99_max_us,
            self.ui_cpu_us_per_scrape,
            self.scrape_ms,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neptune_support::args::assert_refused;

    #[test]
    fn flags_are_checked() {
        let a = Args::try_parse_from(["ui-cost", "--rounds=2", "--seconds=0.5"]).unwrap();
        assert_eq!((a.rounds, a.seconds, a.scrape_ms), (2, 0.5, 1000));
        assert_refused::<Args>(&[
            &["--rounds", "0"],
            &["--seconds", "-1"],
            &["--scrape-ms", "0"],
            &["--scrapes"],
        ]);
    }

    #[test]
    fn a_short_round_scrapes_the_ui_and_summarises_both_modes() {
        let args = Args::try_parse_from([
            "ui-cost",
            "--rounds=1",
            "--seconds=1.5",
            "--scrape-ms=100",
            "--slots=2",
        ])
        .unwrap();
        let cfg = unified::Args::try_parse_from([
            "unified",
            "--seconds=1.5",
            "--slots=2",
            "--rows=20000",
            "--holdout=1000",
        ])
        .unwrap()
        .config();
        let data = Data::generate(&cfg);
        let line = run_scraped(&cfg, &data, 0, (0, 1), args.scrape_ms).unwrap();
        assert!(line.scrapes.unwrap() >= 3, "{line:?}");
        assert!(line.scrape_max_us.unwrap() >= line.scrape_p50_us.unwrap());
        assert!(line.ui_cpu_us_per_scrape.unwrap() > 0.0, "{line:?}");
        let plain = RunLine {
            mode: "plain",
            scrapes: None,
            ..line.clone()
        };
        let s = Summary::of(&args, &[plain, line]);
        assert!((s.p99_ratio - 1.0).abs() < 1e-9 && (s.rows_ratio - 1.0).abs() < 1e-9);
        assert!(s.table().contains("stream p99 (µs)"));
        let json: serde_json::Value = serde_json::from_str(&to_json(&s)).unwrap();
        assert_eq!(json["figure"], "ui_cost");
    }
}
