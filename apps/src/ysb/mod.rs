//! The Yahoo Streaming Benchmark on Neptune's micro-batch streams.
//!
//! Ad events (100 campaigns × 10 ads; user, page, ad, ad type, event type — view,
//! click or purchase —, event time, IP) arrive as JSON strings from a generator at a
//! target rate. Each micro-batch parses them, keeps the views, joins each ad to its
//! campaign, and counts views per campaign in 10 s tumbling event-time windows. A
//! window's latency is when its counts are emitted minus the window's end.
//!
//! ```text
//! neptune run ysb [--json] [--slots N] [--rate EVENTS_PER_S]
//!     [--seconds S] [--trigger-ms T] [--delay-ms D] [--window-ms W]
//!     [--cost [--cost-events N] [--batch B] [--rounds R]]
//!     [--report FILE] [--ui ADDR]
//! ```
//!
//! (`cargo run --release --example ysb -- …` runs the same.)
//!
//! `--report FILE` writes one self-contained HTML page: the settings, the figures and
//! a plot of them. `--ui ADDR` serves the live UI ([`neptune::ui`]) of the run's
//! context at `ADDR` (port 0 picks one; the address is printed on standard error),
//! with the executors' timeline on.
//!
//! `--cost` then measures what the engine costs against a hand-written single-threaded
//! loop doing the same work (the same parse, filter, join and window count functions)
//! on the same generated input, in the same micro-batches: engine and loop alternate
//! (A B A B …, after one warm-up run of each) and the medians of their event rates are
//! compared. Both must count the same views per campaign and window.
//!
//! The join is a hash lookup in the ad → campaign table (1 000 rows), held by every
//! task: a broadcast join, as YSB's reference implementations do with their cached
//! table, rather than a shuffle of every view.
//!
//! Build with `--features no-yield-points` to compile the per-record yield points out
//! and compare (`"yield_points": false` in the output).

pub mod events;

use crate::html::{self, Section};
use crate::live::LiveUi;
use crate::plot::{self, BarChart, Bars};
use crate::progress::Progress;
use clap::Parser;
use events::{Ads, Counts};
use neptune::dataflow::stream::{batches, generator, sinks, Source, WindowResult, WindowedStream};
use neptune::dataflow::{Context, Windows};
use neptune_support::args::{at_least_one, available_cores, positive_f64};
use neptune_support::stats::{median, quantile, round};
use serde::Serialize;
use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the stream run's progress is updated.
const PROGRESS_TICK: Duration = Duration::from_millis(250);

struct Config {
    slots: usize,
    rate: f64,
    seconds: f64,
    trigger: Duration,
    delay_ms: i64,
    window_ms: i64,
    json: bool,
    cost: bool,
    cost_events: u64,
    batch: usize,
    rounds: usize,
    report: Option<PathBuf>,
    ui: Option<SocketAddr>,
}

/// The Yahoo Streaming Benchmark on Neptune's micro-batch streams; with --cost, also
/// the engine against a hand-written single-threaded loop.
#[derive(Parser, Debug)]
#[command(name = "ysb")]
pub struct Args {
    /// Print JSON objects instead of a table.
    #[arg(long)]
    json: bool,
    /// Slots, and partitions of every micro-batch; one per core by default.
    #[arg(long, value_name = "N", default_value_t = available_cores(), value_parser = at_least_one::<usize>)]
    slots: usize,
    /// Events per second that the generator targets.
    #[arg(long, value_name = "EVENTS_PER_S", default_value_t = 50_000.0, value_parser = positive_f64)]
    rate: f64,
    /// Seconds the stream runs.
    #[arg(long, value_name = "S", default_value_t = 30.0, value_parser = positive_f64)]
    seconds: f64,
    /// Milliseconds between micro-batches.
    #[arg(long, value_name = "T", default_value_t = 100, value_parser = at_least_one::<u64>)]
    trigger_ms: u64,
    /// Watermark delay in milliseconds: how late an event may be and still count.
    #[arg(long, value_name = "D", default_value_t = 100, value_parser = clap::value_parser!(i64).range(0..))]
    delay_ms: i64,
    /// Tumbling event-time window length in milliseconds.
    #[arg(long, value_name = "W", default_value_t = 10_000, value_parser = at_least_one::<i64>)]
    window_ms: i64,
    /// Then measure the engine against a single-threaded loop on the same input.
    #[arg(long)]
    cost: bool,
    /// --cost: events generated for the comparison.
    #[arg(long, value_name = "N", default_value_t = 400_000, value_parser = at_least_one::<u64>)]
    cost_events: u64,
    /// --cost: events per micro-batch.
    #[arg(long, value_name = "B", default_value_t = 20_000, value_parser = at_least_one::<usize>)]
    batch: usize,
    /// --cost: measured rounds, alternating engine and loop (after one warm-up).
    #[arg(long, value_name = "R", default_value_t = 5, value_parser = at_least_one::<usize>)]
    rounds: usize,
    /// Also write a self-contained HTML report (settings, figures, plots) to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Serve the live UI of the run's context at ADDR (HOST:PORT; port 0 picks one).
    #[arg(long, value_name = "ADDR", value_parser = crate::live::addr)]
    ui: Option<SocketAddr>,
}

impl Config {
    fn from_cli(cli: Args) -> Config {
        Config {
            slots: cli.slots,
            rate: cli.rate,
            seconds: cli.seconds,
            trigger: Duration::from_millis(cli.trigger_ms),
            delay_ms: cli.delay_ms,
            window_ms: cli.window_ms,
            json: cli.json,
            cost: cli.cost,
            cost_events: cli.cost_events,
            batch: cli.batch,
            rounds: cli.rounds,
            report: cli.report,
            ui: cli.ui,
        }
    }

    fn windows(&self) -> Windows {
        Windows::tumbling(Duration::from_millis(self.window_ms as u64))
            .watermark_delay(Duration::from_millis(self.delay_ms as u64))
    }
}

/// The stream run's figures: its `--json` line, and what its table and report show.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct StreamReport {
    /// Always `ysb`.
    bench: &'static str,
    /// Always `stream`.
    mode: &'static str,
    slots: usize,
    yield_points: bool,
    /// Events per second the generator targeted.
    target_rate: f64,
    /// Seconds the stream ran, to 0.01 s.
    seconds: f64,
    /// Events the source delivered.
    events: u64,
    events_per_s: u64,
    views_counted: u64,
    micro_batches: u64,
    batch_p50_us: u64,
    batch_p99_us: u64,
    /// Windows fired.
    windows: u64,
    /// Windows fired by the watermark, whose emission latency is known.
    windows_timed: usize,
    /// Emission latencies, to 0.1 ms.
    window_p50_ms: f64,
    window_p99_ms: f64,
    window_max_ms: f64,
    late_dropped: u64,
}

impl StreamReport {
    fn print_text(&self, cfg: &Config) {
        println!(
            "YSB stream: {} slots, target {:.0} events/s, {} ms trigger, {} ms windows, {} ms watermark delay, yield points {}",
            self.slots,
            self.target_rate,
            cfg.trigger.as_millis(),
            cfg.window_ms,
            cfg.delay_ms,
            if self.yield_points { "on" } else { "off" }
        );
        println!(
            "  {} events in {:.1} s: {} events/s; {} views counted",
            self.events, self.seconds, self.events_per_s, self.views_counted
        );
        println!(
            "  {} micro-batches: latency p50 {:.2} ms, p99 {:.2} ms",
            self.micro_batches,
            self.batch_p50_us as f64 / 1e3,
            self.batch_p99_us as f64 / 1e3
        );
        println!(
            "  {} windows ({} fired by the watermark): emission latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; late dropped {}",
            self.windows,
            self.windows_timed,
            self.window_p50_ms,
            self.window_p99_ms,
            self.window_max_ms,
            self.late_dropped
        );
    }

    /// The report's section: the figures as a table, and the latencies as bars.
    fn section(&self) -> Result<Section, plot::PlotError> {
        let rows = [
            ("events", self.events.to_string()),
            ("events/s", self.events_per_s.to_string()),
            ("views counted", self.views_counted.to_string()),
            ("seconds", self.seconds.to_string()),
            ("micro-batches", self.micro_batches.to_string()),
            (
                "micro-batch latency p50 (µs)",
                self.batch_p50_us.to_string(),
            ),
            (
                "micro-batch latency p99 (µs)",
                self.batch_p99_us.to_string(),
            ),
            ("windows", self.windows.to_string()),
            (
                "windows fired by the watermark",
                self.windows_timed.to_string(),
            ),
            ("window emission p50 (ms)", self.window_p50_ms.to_string()),
            ("window emission p99 (ms)", self.window_p99_ms.to_string()),
            ("window emission max (ms)", self.window_max_ms.to_string()),
            ("late dropped", self.late_dropped.to_string()),
        ];
        let rows: Vec<Vec<String>> = rows.into_iter().map(|(k, v)| vec![k.into(), v]).collect();
        let mut chart = BarChart::new(
            "YSB stream latency",
            "latency",
            vec!["micro-batch".into(), "window emission".into()],
            vec![
                Bars {
                    name: "p50".into(),
                    values: vec![
                        Some(self.batch_p50_us as f64),
                        Some(self.window_p50_ms * 1e3),
                    ],
                },
                Bars {
                    name: "p99".into(),
                    values: vec![
                        Some(self.batch_p99_us as f64),
                        Some(self.window_p99_ms * 1e3),
                    ],
                },
            ],
        );
        chart.label = plot::short_us;
        chart.marks = vec![None, Some(self.window_max_ms * 1e3)];
        chart.notes = vec![
            format!("{} micro-batches", self.micro_batches),
            format!("{} windows", self.windows_timed),
        ];
        let caption = format!(
            "{} events/s against a target of {:.0}; the black line is the largest window emission latency",
            self.events_per_s, self.target_rate
        );
        Ok(Section {
            heading: "Stream".into(),
            html: html::table(&["figure", "value"], &rows)
                + &html::figure(&chart.svg(800, 400)?, &caption),
        })
    }
}

/// The engine against the loop: the `--cost` `--json` line, and what its table and
/// report show.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct CostReport {
    /// Always `ysb`.
    bench: &'static str,
    /// Always `cost`.
    mode: &'static str,
    /// Medians over the measured rounds.
    engine_events_per_s: u64,
    single_thread_events_per_s: u64,
    /// Engine over loop, to 0.001.
    ratio: f64,
    slots: usize,
    yield_points: bool,
    events: u64,
    micro_batch: usize,
    rounds: usize,
    /// Whether both counted the same views per campaign and window in every round.
    results_match: bool,
}

impl CostReport {
    fn print_text(&self) {
        println!(
            "YSB cost: {} events in micro-batches of {}, {} slots, medians of {} alternating rounds",
            self.events, self.micro_batch, self.slots, self.rounds
        );
        println!(
            "  engine               {:>12} events/s",
            self.engine_events_per_s
        );
        println!(
            "  single-threaded loop {:>12} events/s",
            self.single_thread_events_per_s
        );
        println!(
            "  ratio {:.3}; counts per campaign and window {}",
            self.ratio,
            if self.results_match {
                "match"
            } else {
                "DIFFER"
            }
        );
    }

    /// The report's section: both rates as a table and as bars, the ratio noted.
    fn section(&self) -> Result<Section, plot::PlotError> {
        let table = html::table(
            &["", "events/s", "ratio", "results"],
            &[
                vec![
                    "engine".into(),
                    self.engine_events_per_s.to_string(),
                    format!("{:.3}", self.ratio),
                    if self.results_match {
                        "match"
                    } else {
                        "DIFFER"
                    }
                    .into(),
                ],
                vec![
                    "single-threaded loop".into(),
                    self.single_thread_events_per_s.to_string(),
                    "1".into(),
                    String::new(),
                ],
            ],
        );
        let mut chart = BarChart::new(
            "YSB COST: the engine against a single-threaded loop",
            "events/s",
            vec!["engine".into(), "single-threaded loop".into()],
            vec![Bars {
                name: format!("median of {} rounds", self.rounds),
                values: vec![
                    Some(self.engine_events_per_s as f64),
                    Some(self.single_thread_events_per_s as f64),
                ],
            }],
        );
        chart.notes = vec![format!("ratio {:.3}", self.ratio), String::new()];
        let caption = format!(
            "{} events in micro-batches of {} on {} slots",
            self.events, self.micro_batch, self.slots
        );
        Ok(Section {
            heading: "Cost".into(),
            html: table + &html::figure(&chart.svg(800, 400)?, &caption),
        })
    }
}

/// The benchmark's pipeline on a stream of JSON events: parse, keep views, join to the
/// campaign, count per campaign per window.
fn pipeline<S: Source<String>>(
    ctx: &Context,
    source: S,
    cfg: &Config,
    trigger: Duration,
    ads: &Arc<Ads>,
) -> WindowedStream<(u32, i64), u32, u64> {
    let table = ads.clone();
    ctx.stream(source)
        .name("ysb")
        .trigger(trigger)
        .partitions(cfg.slots)
        .flat_map(|line: String| events::parse(&line))
        .filter(events::is_view)
        .flat_map(move |e| events::join(&table.campaign_of, &e))
        .window(
            cfg.windows(),
            |(campaign, time)| (campaign, time, 1u64),
            |a, b| a + b,
        )
}

/// A sink keeping the latest count of every (window, campaign).
fn counting_sink(
    counts: Arc<Mutex<Counts>>,
) -> impl neptune::dataflow::stream::StreamSink<WindowResult<u32, u64>> {
    sinks::from_fn(move |results: Vec<WindowResult<u32, u64>>| {
        let mut c = counts.lock().unwrap();
        for r in results {
            c.insert((r.window.start, r.key), r.value);
        }
    })
}

fn yield_points() -> bool {
    !cfg!(feature = "no-yield-points")
}

/// The benchmark at the target rate for the configured time.
fn run_stream(ctx: &Context, cfg: &Config, ads: &Arc<Ads>) -> Result<StreamReport, String> {
    let producer = ads.clone();
    let source = generator(cfg.rate, move |seq, time| producer.event(seq, time));
    let counts = Arc::new(Mutex::new(Counts::new()));
    let handle = pipeline(ctx, source, cfg, cfg.trigger, ads)
        .start(counting_sink(counts.clone()))
        .map_err(|e| e.to_string())?;
    // The stream runs for the configured time; the progress line reads its figures
    // so far every tick.
    let run = Duration::from_secs_f64(cfg.seconds);
    let progress = Progress::new(run.as_millis() as u64, "ysb stream");
    let started = Instant::now();
    while let Some(left) = run.checked_sub(started.elapsed()).filter(|d| !d.is_zero()) {
        std::thread::sleep(left.min(PROGRESS_TICK));
        let so_far = handle.stats();
        progress.set(
            started.elapsed().as_millis() as u64,
            format!(
                "{} events, {} micro-batches",
                so_far.records_in, so_far.micro_batches
            ),
        );
    }
    let stats = handle.stop().map_err(|e| e.to_string())?;
    progress.finish(format!("{} events", stats.records_in));
    let views: u64 = counts.lock().unwrap().values().sum();
    let secs = stats.elapsed.as_secs_f64();
    let mut batch = stats.batch_latencies_us.clone();
    let mut window = stats.window_latencies_us.clone();
    let q = |v: &mut Vec<u64>, p: f64| if v.is_empty() { 0 } else { quantile(v, p) };
    let ms = |us: u64| round(us as f64 / 1e3, 1);
    Ok(StreamReport {
        bench: "ysb",
        mode: "stream",
        slots: cfg.slots,
        yield_points: yield_points(),
        target_rate: cfg.rate,
        seconds: round(secs, 2),
        events: stats.records_in,
        events_per_s: (stats.records_in as f64 / secs).round() as u64,
        views_counted: views,
        micro_batches: stats.micro_batches,
        batch_p50_us: q(&mut batch, 0.5),
        batch_p99_us: q(&mut batch, 0.99),
        windows: stats.windows_fired,
        windows_timed: window.len(),
        window_p50_ms: ms(q(&mut window, 0.5)),
        window_p99_ms: ms(q(&mut window, 0.99)),
        window_max_ms: ms(q(&mut window, 1.0)),
        late_dropped: stats.late_dropped,
    })
}

/// Engine against the hand-written loop on the same input, alternating.
fn run_cost(ctx: &Context, cfg: &Config, ads: &Arc<Ads>) -> Result<CostReport, String> {
    // Event times 20 µs apart (50 000 events per second of event time), so that the
    // input spans several windows.
    let base = neptune::dataflow::stream::now_millis();
    let input: Vec<String> = (0..cfg.cost_events)
        .map(|seq| ads.event(seq, base + (seq / 50) as i64))
        .collect();
    let chunks: Vec<Vec<String>> = input.chunks(cfg.batch).map(<[String]>::to_vec).collect();
    drop(input);
    let n = cfg.cost_events as f64;

    let engine = |chunks: Vec<Vec<String>>| -> Result<(f64, Counts), String> {
        let counts = Arc::new(Mutex::new(Counts::new()));
        let t = Instant::now();
        pipeline(ctx, batches(chunks), cfg, Duration::ZERO, ads)
            .start(counting_sink(counts.clone()))
            .and_then(|h| h.wait())
            .map_err(|e| e.to_string())?;
        let secs = t.elapsed().as_secs_f64();
        let counts = std::mem::take(&mut *counts.lock().unwrap());
        Ok((n / secs, counts))
    };
    let single = || -> (f64, Counts) {
        let t = Instant::now();
        let counts = events::single_thread(&chunks, &ads.campaign_of, cfg.window_ms, cfg.delay_ms);
        (n / t.elapsed().as_secs_f64(), counts)
    };

    let (mut e_rates, mut s_rates) = (Vec::new(), Vec::new());
    let mut agree = true;
    let progress = Progress::new(cfg.rounds as u64 + 1, "ysb cost");
    for round in 0..=cfg.rounds {
        let copy = chunks.clone();
        let (e_rate, e_counts) = engine(copy)?;
        let (s_rate, s_counts) = single();
        agree &= e_counts == s_counts;
        if round > 0 {
            e_rates.push(e_rate);
            s_rates.push(s_rate);
        }
        let what = if round == 0 { "warm-up" } else { "round" };
        progress.set(
            round as u64 + 1,
            format!("{what}: engine {e_rate:.0}, loop {s_rate:.0} events/s"),
        );
    }
    let (e, s) = (median(e_rates), median(s_rates));
    progress.finish(format!("ratio {:.3}", e / s));
    Ok(CostReport {
        bench: "ysb",
        mode: "cost",
        engine_events_per_s: e.round() as u64,
        single_thread_events_per_s: s.round() as u64,
        ratio: round(e / s, 3),
        slots: cfg.slots,
        yield_points: yield_points(),
        events: cfg.cost_events,
        micro_batch: cfg.batch,
        rounds: cfg.rounds,
        results_match: agree,
    })
}

/// Prints `report` as one JSON line.
fn print_json(report: &impl Serialize) -> Result<(), String> {
    let line = serde_json::to_string(report).map_err(|e| e.to_string())?;
    println!("{line}");
    Ok(())
}

/// The HTML report of a run: its settings, then each part's figures and plot.
fn report_page(
    cfg: &Config,
    stream: &StreamReport,
    cost: Option<&CostReport>,
) -> Result<String, plot::PlotError> {
    let mut settings = vec![
        ("slots", cfg.slots.to_string()),
        ("target rate (events/s)", format!("{:.0}", cfg.rate)),
        ("seconds", cfg.seconds.to_string()),
        ("trigger (ms)", cfg.trigger.as_millis().to_string()),
        ("window (ms)", cfg.window_ms.to_string()),
        ("watermark delay (ms)", cfg.delay_ms.to_string()),
        ("yield points", yield_points().to_string()),
    ];
    if cfg.cost {
        settings.extend([
            ("cost: events", cfg.cost_events.to_string()),
            ("cost: micro-batch", cfg.batch.to_string()),
            ("cost: rounds", cfg.rounds.to_string()),
        ]);
    }
    let settings: Vec<Vec<String>> = settings
        .into_iter()
        .map(|(k, v)| vec![k.into(), v])
        .collect();
    let mut sections = vec![
        Section {
            heading: "Settings".into(),
            html: html::table(&["setting", "value"], &settings),
        },
        stream.section()?,
    ];
    if let Some(cost) = cost {
        sections.push(cost.section()?);
    }
    let meta = format!(
        "{} slots, {:.0} events/s targeted for {} s",
        cfg.slots, cfg.rate, cfg.seconds
    );
    Ok(html::page("YSB on Neptune", &meta, &sections))
}

/// Runs the stream and, with `--cost`, the comparison; prints each part's figures as
/// it ends, then writes the report if asked.
fn run(cfg: &Config, report: Option<File>) -> Result<(), String> {
    let builder = Context::builder()
        .executors(1)
        .slots_per_executor(cfg.slots)
        .policy("neptune");
    let live = LiveUi::new(cfg.ui);
    let ctx = builder
        .timeline(live.timeline_spans())
        .build()
        .map_err(|e| e.to_string())?;
    live.show_context(&ctx)?;
    let ads = Arc::new(Ads::new());
    let stream = run_stream(&ctx, cfg, &ads)?;
    if cfg.json {
        print_json(&stream)?;
    } else {
        stream.print_text(cfg);
    }
    let cost = if cfg.cost {
        let cost = run_cost(&ctx, cfg, &ads)?;
        if cfg.json {
            print_json(&cost)?;
        } else {
            cost.print_text();
        }
        Some(cost)
    } else {
        None
    };
    if let (Some(mut file), Some(path)) = (report, &cfg.report) {
        let page = report_page(cfg, &stream, cost.as_ref()).map_err(|e| e.to_string())?;
        file.write_all(page.as_bytes())
            .map_err(|e| format!("cannot write the report to {}: {e}", path.display()))?;
    }
    match cost {
        Some(c) if !c.results_match => {
            Err("the engine's window counts differ from the loop's".into())
        }
        _ => Ok(()),
    }
}

/// Runs the benchmark as `args` say and prints its figures.
pub fn main(args: Args) -> ExitCode {
    let cfg = Config::from_cli(args);
    // Created before the run, so that a path that cannot be written fails at once
    // rather than after it.
    let report = match cfg.report.as_ref().map(|p| (p, File::create(p))) {
        None => None,
        Some((_, Ok(file))) => Some(file),
        Some((path, Err(e))) => {
            eprintln!("ysb: cannot write the report to {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    match run(&cfg, report) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ysb: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use neptune_support::args::assert_refused;

    #[test]
    fn cli() {
        Args::command().debug_assert();
        let c = Config::from_cli(Args::try_parse_from(["ysb"]).unwrap());
        assert!(!c.json && !c.cost);
        assert_eq!(
            (c.slots, c.rate, c.seconds),
            (available_cores(), 50_000.0, 30.0)
        );
        assert_eq!(c.trigger, Duration::from_millis(100));
        assert_eq!((c.delay_ms, c.window_ms), (100, 10_000));
        assert_eq!((c.cost_events, c.batch, c.rounds), (400_000, 20_000, 5));
        let c = Config::from_cli(
            Args::try_parse_from([
                "ysb",
                "--json",
                "--cost",
                "--slots=1",
                "--rate",
                "1e5",
                "--delay-ms",
                "0",
                "--trigger-ms",
                "50",
                "--report",
                "ysb.html",
                "--ui",
                "127.0.0.1:0",
            ])
            .unwrap(),
        );
        assert!(c.json && c.cost);
        assert_eq!(c.report, Some(PathBuf::from("ysb.html")));
        assert_eq!(c.ui, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!((c.slots, c.rate, c.delay_ms), (1, 100_000.0, 0));
        assert_eq!(c.trigger, Duration::from_millis(50));
        assert_refused::<Args>(&[
            &["--jsno"][..],
            &["--slots", "0"],
            &["--rate", "0"],
            &["--rate", "fast"],
            &["--seconds", "inf"],
            &["--trigger-ms", "0"],
            &["--delay-ms=-5"],
            &["--window-ms", "0"],
            &["--cost-events", "0"],
            &["--batch", "0"],
            &["--ui", "nowhere"],
            &["--ui", "127.0.0.1"],
            &["--ui"],
            &["--report"],
        ]);
    }

    /// The keys of `report`'s JSON line, sorted.
    fn keys(report: &impl Serialize) -> Vec<String> {
        neptune_support::json::sorted_keys(&serde_json::to_string(report).unwrap())
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn the_stream_line_has_the_keys_it_always_had() {
        let r = StreamReport {
            bench: "ysb",
            mode: "stream",
            ..StreamReport::default()
        };
        assert_eq!(
            keys(&r),
            sorted(&[
                "bench",
                "mode",
                "slots",
                "yield_points",
                "target_rate",
                "seconds",
                "events",
                "events_per_s",
                "views_counted",
                "micro_batches",
                "batch_p50_us",
                "batch_p99_us",
                "windows",
                "windows_timed",
                "window_p50_ms",
                "window_p99_ms",
                "window_max_ms",
                "late_dropped",
            ])
        );
        let line = serde_json::to_string(&r).unwrap();
        assert!(
            line.starts_with(r#"{"bench":"ysb","mode":"stream","#),
            "{line}"
        );
    }

    #[test]
    fn the_cost_line_has_the_keys_it_always_had() {
        let r = CostReport {
            bench: "ysb",
            mode: "cost",
            ratio: round(0.793_61, 3),
            ..CostReport::default()
        };
        assert_eq!(
            keys(&r),
            sorted(&[
                "bench",
                "mode",
                "engine_events_per_s",
                "single_thread_events_per_s",
                "ratio",
                "slots",
                "yield_points",
                "events",
                "micro_batch",
                "rounds",
                "results_match",
            ])
        );
        assert!(serde_json::to_string(&r)
            .unwrap()
            .contains(r#""ratio":0.794,"#));
    }

    /// A tiny run of both parts with the UI and a report: the report holds the
    /// settings, both tables and inline plots.
    #[test]
    fn a_tiny_run_serves_the_ui_and_writes_the_report() {
        let dir = neptune_support::temp::TempDir::new("ysb-report");
        let path = dir.path().join("ysb.html");
        let args = Args::try_parse_from([
            "ysb",
            "--json",
            "--slots=1",
            "--rate=2000",
            "--seconds=0.3",
            "--trigger-ms=50",
            "--window-ms=100",
            "--cost",
            "--cost-events=2000",
            "--batch=500",
            "--rounds=1",
            "--ui=127.0.0.1:0",
            "--report",
            path.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(main(args), ExitCode::SUCCESS);
        let page = std::fs::read_to_string(&path).unwrap();
        for part in [
            "<h2>Settings</h2>",
            "<h2>Stream</h2>",
            "<h2>Cost</h2>",
            "<table>",
        ] {
            assert!(page.contains(part), "{part} missing");
        }
        assert_eq!(page.matches("<svg").count(), 2);
        assert!(page.contains("single-threaded loop"));
    }

    #[test]
    fn a_report_that_cannot_be_written_fails_before_the_run() {
        let dir = neptune_support::temp::TempDir::new("ysb-report");
        let path = dir.path().join("no-such-dir").join("ysb.html");
        let args = Args::try_parse_from([
            "ysb",
            "--slots=1",
            "--seconds=0.1",
            "--report",
            path.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(main(args), ExitCode::FAILURE);
        assert!(!path.exists());
    }
}
