//! Command-line settings of workload MW-1 (`neptune run mw1`, the `policies`
//! example), parsed strictly: an unknown flag, a missing or malformed value, or
//! settings that make no sense together are reported as an error (exit status 2),
//! never a panic.

use clap::builder::PossibleValuesParser;
use clap::Parser;
use neptune::scheduler::PolicyKind;
use neptune_support::args::available_cores;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// One row of the report: a reference run, a local policy of the scheduler crate, or a
/// tokio peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// Only the stream job (ideal latency), on a NEPTUNE runtime.
    StreamAlone,
    /// Only the batch job (ideal throughput), on a NEPTUNE runtime.
    BatchAlone,
    /// Both jobs on a runtime with this policy.
    Policy(PolicyKind),
    /// NEPTUNE with anti-starvation turned off (not in the default set).
    NeptuneNoStarve,
    /// One tokio runtime, no yields.
    TokioShared,
    /// One tokio runtime, `yield_now` per unit.
    TokioYield,
    /// Two tokio runtimes splitting the cores.
    TokioSplit,
}

impl Row {
    /// The rows run by default, in report order.
    pub const DEFAULT: [Row; 10] = [
        Row::StreamAlone,
        Row::BatchAlone,
        Row::Policy(PolicyKind::Static),
        Row::Policy(PolicyKind::Fifo),
        Row::Policy(PolicyKind::Fair),
        Row::Policy(PolicyKind::Kill),
        Row::Policy(PolicyKind::Neptune),
        Row::TokioShared,
        Row::TokioYield,
        Row::TokioSplit,
    ];

    const EXTRA: [Row; 2] = [Row::NeptuneNoStarve, Row::Policy(PolicyKind::Adaptive)];

    /// The row's name, as `--rows` takes it and the report prints it.
    pub fn name(self) -> &'static str {
        match self {
            Row::StreamAlone => "stream-alone",
            Row::BatchAlone => "batch-alone",
            Row::Policy(k) => k.name(),
            Row::NeptuneNoStarve => "neptune-nostarve",
            Row::TokioShared => "tokio-shared",
            Row::TokioYield => "tokio-yield",
            Row::TokioSplit => "tokio-split",
        }
    }

    /// Whether the row runs the stream job.
    pub fn has_stream(self) -> bool {
        self != Row::BatchAlone
    }

    /// Whether the row runs the batch job.
    pub fn has_batch(self) -> bool {
        self != Row::StreamAlone
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Row {
    type Err = String;

    fn from_str(s: &str) -> Result<Row, String> {
        let s = s.trim();
        Row::DEFAULT
            .into_iter()
            .chain(Row::EXTRA)
            .find(|r| r.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Row::DEFAULT
                    .iter()
                    .chain(&Row::EXTRA)
                    .map(|r| r.name())
                    .collect();
                format!("unknown row {s:?}; valid rows: {}", names.join(", "))
            })
    }
}

/// Every setting of one invocation.
#[derive(Clone, Debug)]
pub struct Config {
    /// One JSON object per row on stdout.
    pub json: bool,
    /// Where to write a plot of the results.
    pub svg: Option<PathBuf>,
    /// Where to write the HTML report (settings, table, notes and plot in one file).
    pub report: Option<PathBuf>,
    /// Where to serve the live UI while the rows run.
    pub ui: Option<SocketAddr>,
    /// The rows to run, in order.
    pub rows: Vec<Row>,
    /// Times every row runs (figures are medians over rounds).
    pub rounds: usize,
    /// Wall time of one row, warm-up included.
    pub seconds: f64,
    /// Slots (worker threads) of the runtime.
    pub slots: usize,
    /// Batch tasks per slot in one batch job.
    pub batch_tasks_per_slot: usize,
    /// CPU work of one batch task, in ms.
    pub batch_ms: f64,
    /// CPU work of one stream task, in ms.
    pub stream_ms: f64,
    /// Interval between micro-batch releases, in ms.
    pub trigger_ms: f64,
    /// CPU work of one unit between yield points, in µs.
    pub unit_us: f64,
    /// Start of a row left out of the figures, in ms.
    pub warmup_ms: f64,
    /// Pause between rows, in ms.
    pub settle_ms: f64,
    /// Slots STATIC dedicates to Stream work (`None`: half of them).
    pub static_stream_slots: Option<usize>,
    /// The release thread asks for a short kernel time slice.
    pub short_release_slice: bool,
}

impl Config {
    /// The default settings on `slots` slots (what a command line without options
    /// gives on a machine of `slots` cores).
    pub fn new(slots: usize) -> Config {
        Config {
            json: false,
            svg: None,
            report: None,
            ui: None,
            rows: Row::DEFAULT.to_vec(),
            rounds: 1,
            seconds: 4.0,
            slots,
            batch_tasks_per_slot: 4,
            batch_ms: 200.0,
            stream_ms: 0.5,
            trigger_ms: 10.0,
            unit_us: 1.0,
            warmup_ms: 100.0,
            settle_ms: 200.0,
            static_stream_slots: None,
            short_release_slice: true,
        }
    }

    /// Units of work in one batch task.
    pub fn batch_units(&self) -> u64 {
        ((self.batch_ms * 1e3 / self.unit_us).round() as u64).max(1)
    }

    /// Units of work in one stream task.
    pub fn stream_units(&self) -> u64 {
        ((self.stream_ms * 1e3 / self.unit_us).round() as u64).max(1)
    }

    /// Slots STATIC dedicates to Stream work, as tokio-split splits the cores (none on
    /// a single slot, which then runs both classes).
    pub fn static_stream_slots(&self) -> usize {
        self.static_stream_slots.unwrap_or(self.slots / 2)
    }

    /// Tasks in one batch job.
    pub fn batch_tasks(&self) -> usize {
        self.batch_tasks_per_slot * self.slots
    }
}

/// The rows of `--rows`, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rows(pub Vec<Row>);

/// `--rows A,B,...`: known rows, each at most once.
fn rows(v: &str) -> Result<Rows, String> {
    let mut rows = Vec::new();
    for part in v.split(',').filter(|p| !p.trim().is_empty()) {
        let row: Row = part.parse()?;
        if rows.contains(&row) {
            return Err(format!("{row} is listed twice"));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err("no row given".into());
    }
    Ok(Rows(rows))
}

/// A whole number from `min` to `max`.
fn int(v: &str, min: usize, max: usize) -> Result<usize, String> {
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("expected an integer from {min} to {max}"))
}

/// A number above 0 and at most `max`.
fn num(v: &str, max: f64) -> Result<f64, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x > 0.0 && *x <= max)
        .ok_or_else(|| format!("expected a number above 0 and at most {max}"))
}

/// A number from 0 to an hour in ms.
fn non_negative(v: &str) -> Result<f64, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0 && *x <= 3_600_000.0)
        .ok_or_else(|| "expected a number from 0 to 3600000".to_owned())
}

/// Runs workload MW-1 (stream latency under batch load) once per row and prints one
/// result per row: a table, or one JSON object per line with --json.
#[derive(Parser, Debug)]
#[command(name = "policies")]
pub struct Args {
    /// One JSON object per row on stdout.
    #[arg(long)]
    json: bool,
    /// Also write a plot of the results to FILE.
    #[arg(long, value_name = "FILE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    svg: Option<String>,
    /// Also write a self-contained HTML report (settings, table, notes, plot) to FILE.
    #[arg(long, value_name = "FILE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    report: Option<String>,
    /// Serves the live UI (metrics, JSON API, pages) of each Neptune row's runtime at
    /// ADDR while the rows run, e.g. 127.0.0.1:4040 (port 0: any free port; the
    /// address is printed).
    #[arg(long, value_name = "ADDR", value_parser = crate::live::addr)]
    ui: Option<SocketAddr>,
    /// Rows to run, in this order [default: all but neptune-nostarve and adaptive]:
    /// stream-alone, batch-alone, static, fifo, fair, kill, neptune, tokio-shared,
    /// tokio-yield, tokio-split, neptune-nostarve (NEPTUNE without its anti-starvation
    /// quanta) and adaptive.
    #[arg(long, value_name = "A,B,...", value_parser = rows, conflicts_with_all = ["policy", "all_policies"])]
    rows: Option<Rows>,
    /// Runs one row only: the policy of the other applications' --policy (fifo, fair,
    /// kill, neptune, static, adaptive), or any other row name; `--policy neptune` is
    /// `--rows neptune`.
    #[arg(long, value_name = "NAME", conflicts_with = "all_policies")]
    policy: Option<Row>,
    /// Runs the default rows: stream-alone and batch-alone, every policy but adaptive,
    /// and the tokio peers (what no --rows or --policy runs too).
    #[arg(long)]
    all_policies: bool,
    /// Run every row R times, rows alternating within a round; report per-row medians.
    #[arg(long, value_name = "R", default_value_t = 1, value_parser = |v: &str| int(v, 1, 1000))]
    rounds: usize,
    /// Wall time of one row, warm-up included.
    #[arg(long, value_name = "S", default_value_t = 4.0, value_parser = |v: &str| num(v, 3600.0))]
    seconds: f64,
    /// Slots (worker threads) of the runtime, one per core by default.
    #[arg(long, value_name = "W", default_value_t = available_cores(), value_parser = |v: &str| int(v, 1, 4096))]
    slots: usize,
    /// Batch tasks per slot in one batch job.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = |v: &str| int(v, 1, 1000))]
    batch_tasks_per_slot: usize,
    /// CPU work of one batch task.
    #[arg(long, value_name = "MS", default_value_t = 200.0, value_parser = |v: &str| num(v, 3_600_000.0))]
    batch_ms: f64,
    /// CPU work of one stream task.
    #[arg(long, value_name = "MS", default_value_t = 0.5, value_parser = |v: &str| num(v, 3_600_000.0))]
    stream_ms: f64,
    /// Interval between micro-batch releases (at least 0.05).
    #[arg(long, value_name = "MS", default_value_t = 10.0, value_parser = |v: &str| num(v, 3_600_000.0))]
    trigger_ms: f64,
    /// CPU work of one unit between yield points.
    #[arg(long, value_name = "US", default_value_t = 1.0, value_parser = |v: &str| num(v, 1e9))]
    unit_us: f64,
    /// Start of the row left out of the figures.
    #[arg(long, value_name = "MS", default_value_t = 100.0, value_parser = non_negative)]
    warmup_ms: f64,
    /// Pause between rows.
    #[arg(long, value_name = "MS", default_value_t = 200.0, value_parser = non_negative)]
    settle_ms: f64,
    /// Slots STATIC dedicates to Stream work [default: half of them, rounded down, the
    /// split tokio-split makes; on one slot, none: it runs both classes].
    #[arg(long, value_name = "N", value_parser = |v: &str| int(v, 1, 4096))]
    static_stream_slots: Option<usize>,
    /// Kernel time slice of the release thread: short (100 µs, so it preempts busy
    /// workers when a release is due) or default (the kernel's; releases wait for a
    /// busy worker's slice to end).
    #[arg(long, value_name = "KIND", default_value = "short",
          value_parser = PossibleValuesParser::new(["short", "default"]))]
    release_slice: String,
}

impl Args {
    /// The settings, once checked together: `Err` says what makes no sense.
    pub fn config(&self) -> Result<Config, String> {
        let c = Config {
            json: self.json,
            svg: self.svg.as_ref().map(PathBuf::from),
            report: self.report.as_ref().map(PathBuf::from),
            ui: self.ui,
            rows: match (&self.rows, self.policy) {
                (Some(rows), _) => rows.0.clone(),
                (None, Some(row)) => vec![row],
                (None, None) => Row::DEFAULT.to_vec(),
            },
            rounds: self.rounds,
            seconds: self.seconds,
            slots: self.slots,
            batch_tasks_per_slot: self.batch_tasks_per_slot,
            batch_ms: self.batch_ms,
            stream_ms: self.stream_ms,
            trigger_ms: self.trigger_ms,
            unit_us: self.unit_us,
            warmup_ms: self.warmup_ms,
            settle_ms: self.settle_ms,
            static_stream_slots: self.static_stream_slots,
            short_release_slice: self.release_slice == "short",
        };
        if c.warmup_ms >= c.seconds * 1e3 {
            return Err(format!(
                "--seconds {} leaves nothing after the {} ms warm-up",
                c.seconds, c.warmup_ms
            ));
        }
        if c.unit_us > c.batch_ms * 1e3 || c.unit_us > c.stream_ms * 1e3 {
            return Err(format!(
                "--unit-us {} is longer than a batch task ({} ms) or a stream task ({} ms)",
                c.unit_us, c.batch_ms, c.stream_ms
            ));
        }
        if c.static_stream_slots.is_some_and(|n| n >= c.slots) {
            return Err(format!(
                "--static-stream-slots {} leaves no slot of {} for Batch work",
                c.static_stream_slots.unwrap_or(0),
                c.slots
            ));
        }
        if c.trigger_ms < 0.05 {
            return Err(format!(
                "--trigger-ms {} is too short (at least 0.05)",
                c.trigger_ms
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn run(args: &[&str]) -> Result<Config, String> {
        let argv = std::iter::once("policies").chain(args.iter().copied());
        Args::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .config()
    }

    #[test]
    fn values_rows_and_errors() {
        Args::command().debug_assert();
        let c = run(&[
            "--json",
            "--rows",
            "fifo,NEPTUNE",
            "--seconds=2",
            "--slots",
            "3",
        ])
        .unwrap();
        assert!(c.json);
        assert_eq!(
            c.rows,
            vec![
                Row::Policy(PolicyKind::Fifo),
                Row::Policy(PolicyKind::Neptune)
            ]
        );
        assert_eq!((c.seconds, c.slots, c.batch_tasks()), (2.0, 3, 12));
        assert_eq!((c.batch_units(), c.stream_units()), (200_000, 500));
        let d = run(&[]).unwrap();
        assert_eq!((d.rows.len(), d.rounds, d.seconds), (10, 1, 4.0));
        assert_eq!(run(&["--all-policies"]).unwrap().rows, d.rows);
        assert_eq!(
            run(&["--policy", "adaptive"]).unwrap().rows,
            vec![Row::Policy(PolicyKind::Adaptive)]
        );
        assert!(d.short_release_slice && d.svg.is_none() && d.report.is_none());
        let r = run(&["--report", "mw1.html", "--svg", "mw1.svg"]).unwrap();
        assert_eq!(r.report, Some(PathBuf::from("mw1.html")));
        assert_eq!(r.svg, Some(PathBuf::from("mw1.svg")));
        for bad in [
            &["--slots", "0"][..],
            &["--slots"],
            &["--seconds", "nan"],
            &["--seconds", "0.05"],
            &["--rows", "fifo,fifo"],
            &["--rows", "lottery"],
            &["--json=1"],
            &["--frobnicate"],
            &["--unit-us", "1000"],
            &["--svg", ""],
            &["--report", ""],
            &["--report"],
            &["--release-slice", "long"],
            &["--static-stream-slots", "2", "--slots", "2"],
            &["--trigger-ms", "0.01"],
            &["--policy", "lottery"],
            &["--policy", "fifo", "--rows", "fair"],
            &["--policy", "fifo", "--all-policies"],
            &["--all-policies", "--rows", "fair"],
        ] {
            assert!(run(bad).is_err(), "{bad:?} should be rejected");
        }
        let help = Args::try_parse_from(["policies", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }
}
