//! Command-line settings of the `policies` harness, parsed strictly: an unknown flag, a
//! missing or malformed value, or settings that make no sense together are reported as
//! an error (the caller prints it and exits with status 2), never a panic.

use neptune::scheduler::PolicyKind;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub const USAGE: &str = "\
usage: cargo run --release --example policies -- [options]

Runs workload MW-1 (stream latency under batch load) once per row and prints one result
per row: a table, or one JSON object per line with --json.

options:
  --json                     one JSON object per row on stdout
  --svg FILE                 also write a plot of the results to FILE
  --rows A,B,...             rows to run, in this order (default: all of them)
                             stream-alone, batch-alone, static, fifo, fair, kill,
                             neptune, tokio-shared, tokio-yield, tokio-split
                             (also available: neptune-nostarve, NEPTUNE without its
                             anti-starvation quanta)
  --rounds R                 run every row R times, rows alternating within a round;
                             report per-row medians (default 1)
  --seconds S                wall time of one row, warm-up included (default 4)
  --slots W                  slots (worker threads) of the runtime (default: cores)
  --batch-tasks-per-slot N   batch tasks per slot in one batch job (default 4)
  --batch-ms MS              CPU work of one batch task (default 200)
  --stream-ms MS             CPU work of one stream task (default 0.5)
  --trigger-ms MS            interval between micro-batch releases (default 10)
  --unit-us US               CPU work of one unit between yield points (default 1)
  --warmup-ms MS             start of the row left out of the figures (default 100)
  --settle-ms MS             pause between rows (default 200)
  --static-stream-slots N    slots STATIC dedicates to Stream work (default: half of
                             them, rounded down, the split tokio-split makes; on one
                             slot, none: it runs both classes)
  --release-slice KIND       kernel time slice of the release thread: short (100 µs,
                             so it preempts busy workers when a release is due) or
                             default (the kernel's; releases wait for a busy
                             worker's slice to end) (default short)
  -h, --help                 this text";

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

    const EXTRA: [Row; 1] = [Row::NeptuneNoStarve];

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
    pub json: bool,
    pub svg: Option<PathBuf>,
    pub rows: Vec<Row>,
    pub rounds: usize,
    pub seconds: f64,
    pub slots: usize,
    pub batch_tasks_per_slot: usize,
    pub batch_ms: f64,
    pub stream_ms: f64,
    pub trigger_ms: f64,
    pub unit_us: f64,
    pub warmup_ms: f64,
    pub settle_ms: f64,
    /// Slots STATIC dedicates to Stream work (`None`: half of them).
    pub static_stream_slots: Option<usize>,
    /// The release thread asks for a short kernel time slice.
    pub short_release_slice: bool,
}

impl Config {
    fn defaults() -> Config {
        Config {
            json: false,
            svg: None,
            rows: Row::DEFAULT.to_vec(),
            rounds: 1,
            seconds: 4.0,
            slots: std::thread::available_parallelism().map_or(1, |n| n.get()),
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

/// What the command line asked for.
pub enum Parsed {
    Run(Config),
    Help,
}

/// Parses `args` (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut c = Config::defaults();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        // `--name=value` or `--name value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let is_flag = matches!(name.as_str(), "--json" | "-h" | "--help");
        if is_flag && inline.is_some() {
            return Err(format!("{name} takes no value"));
        }
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match name.as_str() {
            "--json" => c.json = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            "--svg" => {
                let v = value()?;
                if v.is_empty() {
                    return Err("--svg needs a file name".into());
                }
                c.svg = Some(PathBuf::from(v));
            }
            "--rows" => {
                let v = value()?;
                let mut rows = Vec::new();
                for part in v.split(',').filter(|p| !p.trim().is_empty()) {
                    let row: Row = part.parse()?;
                    if rows.contains(&row) {
                        return Err(format!("--rows: {row} is listed twice"));
                    }
                    rows.push(row);
                }
                if rows.is_empty() {
                    return Err("--rows: no row given".into());
                }
                c.rows = rows;
            }
            "--rounds" => c.rounds = int(&name, &value()?, 1, 1000)?,
            "--slots" => c.slots = int(&name, &value()?, 1, 4096)?,
            "--batch-tasks-per-slot" => c.batch_tasks_per_slot = int(&name, &value()?, 1, 1000)?,
            "--seconds" => c.seconds = num(&name, &value()?, 3600.0)?,
            "--batch-ms" => c.batch_ms = num(&name, &value()?, 3_600_000.0)?,
            "--stream-ms" => c.stream_ms = num(&name, &value()?, 3_600_000.0)?,
            "--trigger-ms" => c.trigger_ms = num(&name, &value()?, 3_600_000.0)?,
            "--unit-us" => c.unit_us = num(&name, &value()?, 1e9)?,
            "--warmup-ms" => c.warmup_ms = non_negative(&name, &value()?)?,
            "--settle-ms" => c.settle_ms = non_negative(&name, &value()?)?,
            "--static-stream-slots" => {
                c.static_stream_slots = Some(int(&name, &value()?, 1, 4096)?)
            }
            "--release-slice" => {
                c.short_release_slice = match value()?.as_str() {
                    "short" => true,
                    "default" => false,
                    other => {
                        return Err(format!(
                            "--release-slice: {other:?} is neither short nor default"
                        ))
                    }
                }
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
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
    Ok(Parsed::Run(c))
}

fn int(name: &str, v: &str, min: usize, max: usize) -> Result<usize, String> {
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{name}: expected an integer from {min} to {max}, got {v:?}"))
}

fn num(name: &str, v: &str, max: f64) -> Result<f64, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x > 0.0 && *x <= max)
        .ok_or_else(|| format!("{name}: expected a number above 0 and at most {max}, got {v:?}"))
}

fn non_negative(name: &str, v: &str) -> Result<f64, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0 && *x <= 3_600_000.0)
        .ok_or_else(|| format!("{name}: expected a number from 0 to 3600000, got {v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, String> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Parsed::Run(c) => Ok(c),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn values_rows_and_errors() {
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
        ] {
            assert!(run(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(run(&["--help"]).unwrap_err(), "help");
    }
}
