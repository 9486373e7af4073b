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
//! ```
//!
//! (`cargo run --release --example ysb -- …` runs the same.)
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

use clap::Parser;
use events::{Ads, Counts};
use neptune::dataflow::stream::{batches, generator, sinks, Source, WindowResult, WindowedStream};
use neptune::dataflow::{Context, Windows};
use neptune_support::args::{at_least_one, available_cores, positive_f64};
use neptune_support::stats::{median, quantile};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
        }
    }

    fn windows(&self) -> Windows {
        Windows::tumbling(Duration::from_millis(self.window_ms as u64))
            .watermark_delay(Duration::from_millis(self.delay_ms as u64))
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
fn run_stream(ctx: &Context, cfg: &Config, ads: &Arc<Ads>) -> Result<(), String> {
    let producer = ads.clone();
    let source = generator(cfg.rate, move |seq, time| producer.event(seq, time));
    let counts = Arc::new(Mutex::new(Counts::new()));
    let handle = pipeline(ctx, source, cfg, cfg.trigger, ads)
        .start(counting_sink(counts.clone()))
        .map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_secs_f64(cfg.seconds));
    let stats = handle.stop().map_err(|e| e.to_string())?;
    let views: u64 = counts.lock().unwrap().values().sum();
    let secs = stats.elapsed.as_secs_f64();
    let mut batch = stats.batch_latencies_us.clone();
    let mut window = stats.window_latencies_us.clone();
    let q = |v: &mut Vec<u64>, p: f64| if v.is_empty() { 0 } else { quantile(v, p) };
    let (b50, b99) = (q(&mut batch, 0.5), q(&mut batch, 0.99));
    let (w50, w99, wmax) = (
        q(&mut window, 0.5),
        q(&mut window, 0.99),
        q(&mut window, 1.0),
    );
    if cfg.json {
        println!(
            "{{\"bench\":\"ysb\",\"mode\":\"stream\",\"slots\":{},\"yield_points\":{},\"target_rate\":{},\"seconds\":{secs:.2},\"events\":{},\"events_per_s\":{:.0},\"views_counted\":{views},\"micro_batches\":{},\"batch_p50_us\":{b50},\"batch_p99_us\":{b99},\"windows\":{},\"windows_timed\":{},\"window_p50_ms\":{:.1},\"window_p99_ms\":{:.1},\"window_max_ms\":{:.1},\"late_dropped\":{}}}",
            cfg.slots,
            yield_points(),
            cfg.rate,
            stats.records_in,
            stats.records_in as f64 / secs,
            stats.micro_batches,
            stats.windows_fired,
            window.len(),
            w50 as f64 / 1e3,
            w99 as f64 / 1e3,
            wmax as f64 / 1e3,
            stats.late_dropped
        );
    } else {
        println!(
            "YSB stream: {} slots, target {:.0} events/s, {} ms trigger, {} ms windows, {} ms watermark delay, yield points {}",
            cfg.slots,
            cfg.rate,
            cfg.trigger.as_millis(),
            cfg.window_ms,
            cfg.delay_ms,
            if yield_points() { "on" } else { "off" }
        );
        println!(
            "  {} events in {secs:.1} s: {:.0} events/s; {views} views counted",
            stats.records_in,
            stats.records_in as f64 / secs
        );
        println!(
            "  {} micro-batches: latency p50 {:.2} ms, p99 {:.2} ms",
            stats.micro_batches,
            b50 as f64 / 1e3,
            b99 as f64 / 1e3
        );
        println!(
            "  {} windows ({} fired by the watermark): emission latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; late dropped {}",
            stats.windows_fired,
            window.len(),
            w50 as f64 / 1e3,
            w99 as f64 / 1e3,
            wmax as f64 / 1e3,
            stats.late_dropped
        );
    }
    Ok(())
}

/// Engine against the hand-written loop on the same input, alternating.
fn run_cost(ctx: &Context, cfg: &Config, ads: &Arc<Ads>) -> Result<(), String> {
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
    for round in 0..=cfg.rounds {
        let copy = chunks.clone();
        let (e_rate, e_counts) = engine(copy)?;
        let (s_rate, s_counts) = single();
        agree &= e_counts == s_counts;
        if round > 0 {
            e_rates.push(e_rate);
            s_rates.push(s_rate);
        }
    }
    let (e, s) = (median(e_rates), median(s_rates));
    if cfg.json {
        println!(
            "{{\"bench\":\"ysb\",\"mode\":\"cost\",\"engine_events_per_s\":{e:.0},\"single_thread_events_per_s\":{s:.0},\"ratio\":{:.3},\"slots\":{},\"yield_points\":{},\"events\":{},\"micro_batch\":{},\"rounds\":{},\"results_match\":{agree}}}",
            e / s,
            cfg.slots,
            yield_points(),
            cfg.cost_events,
            cfg.batch,
            cfg.rounds
        );
    } else {
        println!(
            "YSB cost: {} events in micro-batches of {}, {} slots, medians of {} alternating rounds",
            cfg.cost_events, cfg.batch, cfg.slots, cfg.rounds
        );
        println!("  engine               {e:>12.0} events/s");
        println!("  single-threaded loop {s:>12.0} events/s");
        println!(
            "  ratio {:.3}; counts per campaign and window {}",
            e / s,
            if agree { "match" } else { "DIFFER" }
        );
    }
    if agree {
        Ok(())
    } else {
        Err("the engine's window counts differ from the loop's".into())
    }
}

/// Runs the benchmark as `args` say and prints its figures.
pub fn main(args: Args) -> ExitCode {
    let cfg = Config::from_cli(args);
    let ctx = match Context::builder()
        .executors(1)
        .slots_per_executor(cfg.slots)
        .policy("neptune")
        .build()
    {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("ysb: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ads = Arc::new(Ads::new());
    let mut outcome = run_stream(&ctx, &cfg, &ads);
    if outcome.is_ok() && cfg.cost {
        outcome = run_cost(&ctx, &cfg, &ads);
    }
    match outcome {
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
            ])
            .unwrap(),
        );
        assert!(c.json && c.cost);
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
        ]);
    }
}
