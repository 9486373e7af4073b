//! What a run reports: its figures as one serde struct, printed as a JSON line or as a
//! row of the table, and read back by `neptune report` to draw the HTML report.

use super::config::{Config, Where};
use super::model::FEATURES;
use neptune::dataflow::cluster::MemberInfo;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt::Write as _;

/// The figures of one run: one JSON line with `--json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    /// The policy, or [`BATCH_ALONE`](super::BATCH_ALONE) /
    /// [`STREAM_ALONE`](super::STREAM_ALONE).
    pub policy: String,
    /// Stream micro-batch latency p50, µs (`None` without a stream).
    pub stream_p50_us: Option<u64>,
    /// Stream micro-batch latency p99, µs.
    pub stream_p99_us: Option<u64>,
    /// Events scored per second.
    #[serde(serialize_with = "round0_opt")]
    pub events_per_s: Option<f64>,
    /// Training rows per second: `batch_rows / batch_seconds`.
    #[serde(serialize_with = "round0")]
    pub batch_rows_per_s: f64,
    /// `batch_rows_per_s` over batch-alone's, once known.
    #[serde(serialize_with = "round3_opt")]
    pub batch_ratio: Option<f64>,
    /// Accuracy of the final model on the held-out set.
    #[serde(serialize_with = "round4")]
    pub accuracy: f64,
    /// Share of stream events the model in use labelled right.
    #[serde(serialize_with = "round4_opt")]
    pub stream_accuracy: Option<f64>,
    /// Micro-batches run.
    pub micro_batches: u64,
    /// Model versions the stream used.
    #[serde(rename = "model_versions_used")]
    pub versions_used: u64,
    /// Training passes completed.
    pub passes: u64,
    /// Training passes started again after a kill.
    pub restarts: u64,
    /// Wall time of the run.
    #[serde(serialize_with = "round2")]
    pub seconds: f64,
    /// Cluster mode: the executors at the end of the run, as their heartbeats
    /// described them (empty in local mode).
    pub executors: Vec<ExecutorSummary>,
    /// Rows of the completed training passes.
    pub batch_rows: u64,
    /// Time from the run's start to the end of its last completed pass, in seconds.
    #[serde(serialize_with = "round3")]
    pub batch_seconds: f64,
    /// Wasted work: seconds of Batch task attempts that were killed or failed while
    /// the run lasted (their work thrown away; KILL's cost). The pass cut short at the
    /// run's end is not counted.
    #[serde(serialize_with = "round3")]
    pub wasted_task_seconds: f64,
    /// Tasks parked (paused) during the run, on every slot (local mode; `None` in a
    /// cluster, whose executors' runtimes are in other processes).
    pub suspensions: Option<u64>,
    /// What ran: the settings the figures come from.
    pub settings: Settings,
    /// Every micro-batch's latency, µs, in the order they ran.
    #[serde(default)]
    pub stream_latencies_us: Vec<u64>,
    /// The run in windows of [`WINDOW_SECONDS`]: stream p99, model version and
    /// suspensions over time.
    #[serde(default)]
    pub over_time: Vec<Window>,
    /// Each slot's spans over a short window before the run's end (local mode, with
    /// the executors' timeline on: `--report` or `--ui`).
    #[serde(default)]
    pub timeline: Option<TimelineWindow>,
}

/// The length of an [`over_time`](RunReport::over_time) window, seconds.
pub const WINDOW_SECONDS: f64 = 0.25;

/// An executor as a report lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExecutorSummary {
    /// Its node name.
    pub name: String,
    /// Its slots.
    pub slots: usize,
    /// Heartbeats the driver received from it.
    pub heartbeats: usize,
    /// Memory in use at its last heartbeat, bytes.
    pub memory_in_use: u64,
}

impl From<&MemberInfo> for ExecutorSummary {
    fn from(m: &MemberInfo) -> ExecutorSummary {
        ExecutorSummary {
            name: m.name.clone(),
            slots: m.slots,
            heartbeats: m.heartbeats,
            memory_in_use: m.memory_in_use,
        }
    }
}

/// The settings of a run, as its report carries them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    /// Where it ran: `N slots`, or the cluster.
    pub placement: String,
    /// Slots per executor.
    pub slots: usize,
    /// Executor processes (1 in local mode).
    pub executors: usize,
    /// Training rows.
    pub rows: usize,
    /// Tasks per training pass.
    pub partitions: usize,
    /// Stream events per second.
    pub rate: f64,
    /// Milliseconds between micro-batches.
    pub trigger_ms: u64,
    /// Seconds per run.
    pub seconds: f64,
}

impl Settings {
    /// The settings of `cfg`.
    pub fn of(cfg: &Config) -> Settings {
        Settings {
            placement: match &cfg.cluster {
                Where::Local => format!("{} slots", cfg.slots),
                Where::LocalCluster(n) => {
                    format!(
                        "local cluster of {n} executor processes x {} slots",
                        cfg.slots
                    )
                }
                Where::Driver { expect, .. } => format!("cluster of {expect} executors"),
            },
            slots: cfg.slots,
            executors: cfg.executors(),
            rows: cfg.rows,
            partitions: cfg.partitions,
            rate: cfg.rate,
            trigger_ms: cfg.trigger.as_millis() as u64,
            seconds: cfg.seconds,
        }
    }

    /// One line: what ran.
    pub fn line(&self) -> String {
        format!(
            "Unified stream/batch: {}; training: {} rows x {FEATURES} features, {} tasks per \
pass; stream: {:.0} events/s, {} ms trigger; {:.0} s per run",
            self.placement, self.rows, self.partitions, self.rate, self.trigger_ms, self.seconds
        )
    }
}

/// One window of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Window {
    /// The window's end, seconds from the run's start.
    pub t: f64,
    /// p99 of the micro-batches that ended in the window, µs.
    pub stream_p99_us: Option<u64>,
    /// Micro-batches that ended in the window.
    pub micro_batches: u64,
    /// The latest model version at the window's end.
    pub model_version: u64,
    /// Tasks parked during the window (local mode).
    pub suspensions: Option<u64>,
}

/// Each slot's spans over the last moments of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TimelineWindow {
    /// The window's length, seconds; spans are offsets into it.
    pub seconds: f64,
    /// One lane per slot.
    pub slots: Vec<SlotSpans>,
}

/// One slot's spans.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SlotSpans {
    /// `executor/slot`.
    pub slot: String,
    /// `(kind, start, end)`: kind `stream`, `batch` or `paused`; seconds into the
    /// window.
    pub spans: Vec<(String, f64, f64)>,
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

macro_rules! rounding {
    ($name:ident, $opt:ident, $decimals:expr) => {
        fn $name<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_f64(round_to(*x, $decimals))
        }

        fn $opt<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match x {
                Some(x) => s.serialize_some(&round_to(*x, $decimals)),
                None => s.serialize_none(),
            }
        }
    };
}

// The JSON lines print figures to the precision they are good for, as they always did.
rounding!(round0, round0_opt, 0);
rounding!(round2, _round2_opt, 2);
rounding!(round3, round3_opt, 3);
rounding!(round4, round4_opt, 4);

impl RunReport {
    /// The run as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report is plain data")
    }

    /// A run read back from its JSON line.
    pub fn from_json(line: &str) -> Result<RunReport, String> {
        serde_json::from_str(line).map_err(|e| e.to_string())
    }
}

/// The reports as a readable table.
pub fn table(cfg: &Config, reports: &[RunReport]) -> String {
    table_of(&Settings::of(cfg), reports)
}

/// The reports as a readable table under their settings' line.
pub fn table_of(settings: &Settings, reports: &[RunReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", settings.line());
    let _ = writeln!(out, "{}", TABLE_HEADERS.map(|(h, w)| pad(h, w)).join(" "));
    for r in reports {
        let cells = r.cells();
        let line: Vec<String> = cells
            .iter()
            .zip(TABLE_HEADERS)
            .map(|(c, (_, w))| pad(c, w))
            .collect();
        let _ = writeln!(out, "{}", line.join(" "));
    }
    if let Some(last) = reports.last().filter(|r| !r.executors.is_empty()) {
        let executors: Vec<String> = last
            .executors
            .iter()
            .map(|e| {
                format!(
                    "{} ({} slots): {:.1} MiB in use, {} heartbeats",
                    e.name,
                    e.slots,
                    e.memory_in_use as f64 / (1 << 20) as f64,
                    e.heartbeats
                )
            })
            .collect();
        let _ = writeln!(out, "executors at the end: {}", executors.join("; "));
    }
    out
}

/// The table's columns: header and width (negative: left-aligned).
pub const TABLE_HEADERS: [(&str, i32); 9] = [
    ("policy", -12),
    ("p50 (us)", 10),
    ("p99 (us)", 10),
    ("events/s", 10),
    ("train rows/s", 13),
    ("ratio", 7),
    ("accuracy", 9),
    ("passes", 7),
    ("restarts", 9),
];

fn pad(s: &str, width: i32) -> String {
    if width < 0 {
        format!("{s:<w$}", w = (-width) as usize)
    } else {
        format!("{s:>w$}", w = width as usize)
    }
}

impl RunReport {
    /// The run's cells under [`TABLE_HEADERS`] (`-` where a figure does not apply).
    pub fn cells(&self) -> [String; 9] {
        let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
        [
            self.policy.clone(),
            dash(self.stream_p50_us.map(|v| v.to_string())),
            dash(self.stream_p99_us.map(|v| v.to_string())),
            dash(self.events_per_s.map(|v| format!("{v:.0}"))),
            format!("{:.0}", self.batch_rows_per_s),
            dash(self.batch_ratio.map(|v| format!("{v:.3}"))),
            format!("{:.4}", self.accuracy),
            self.passes.to_string(),
            self.restarts.to_string(),
        ]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A report with every field set, for tests.
    pub(crate) fn sample(policy: &str) -> RunReport {
        RunReport {
            policy: policy.to_owned(),
            stream_p50_us: Some(310),
            stream_p99_us: Some(720),
            events_per_s: Some(19_999.6),
            batch_rows_per_s: 25_000_000.4,
            batch_ratio: Some(0.99123),
            accuracy: 0.912_345,
            stream_accuracy: Some(0.9),
            micro_batches: 700,
            versions_used: 12,
            passes: 170,
            restarts: 0,
            seconds: 7.0049,
            executors: vec![],
            batch_rows: 170_000_000,
            batch_seconds: 6.8,
            wasted_task_seconds: 0.0,
            suspensions: Some(340),
            settings: Settings {
                placement: "2 slots".into(),
                slots: 2,
                executors: 1,
                rows: 1_000_000,
                partitions: 2,
                rate: 20_000.0,
                trigger_ms: 10,
                seconds: 7.0,
            },
            stream_latencies_us: vec![300, 310, 720],
            over_time: vec![Window {
                t: 0.25,
                stream_p99_us: Some(720),
                micro_batches: 25,
                model_version: 3,
                suspensions: Some(12),
            }],
            timeline: Some(TimelineWindow {
                seconds: 0.05,
                slots: vec![SlotSpans {
                    slot: "0/0".into(),
                    spans: vec![
                        ("stream".into(), 0.001, 0.0013),
                        ("paused".into(), 0.0, 0.002),
                    ],
                }],
            }),
        }
    }

    #[test]
    fn a_json_line_has_the_fields_it_always_had_and_reads_back() {
        let r = sample("neptune");
        let line = r.to_json();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for key in [
            "policy",
            "stream_p50_us",
            "stream_p99_us",
            "events_per_s",
            "batch_rows_per_s",
            "batch_ratio",
            "accuracy",
            "stream_accuracy",
            "micro_batches",
            "model_versions_used",
            "passes",
            "restarts",
            "seconds",
            "executors",
        ] {
            assert!(keys.contains(&key), "{key} missing from {line}");
        }
        // Rounded as they always were printed.
        assert_eq!(v["events_per_s"], 20_000.0);
        assert_eq!(v["batch_ratio"], 0.991);
        assert_eq!(v["accuracy"], 0.9123);
        assert_eq!(v["seconds"], 7.0);
        let back = RunReport::from_json(&line).unwrap();
        assert_eq!((back.policy.as_str(), back.micro_batches), ("neptune", 700));
        assert_eq!(back.stream_latencies_us, r.stream_latencies_us);
        assert_eq!(back.timeline, r.timeline);
        assert!(RunReport::from_json("{\"policy\":\"x\"}").is_err());
    }

    #[test]
    fn the_table_has_a_row_per_run_under_the_settings() {
        let mut alone = sample("batch-alone");
        alone.stream_p50_us = None;
        let t = table_of(&alone.settings.clone(), &[alone, sample("neptune")]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("Unified stream/batch: 2 slots;"));
        assert!(lines[1].starts_with("policy ") && lines[1].ends_with("restarts"));
        assert!(lines[2].starts_with("batch-alone ") && lines[2].contains(" - "));
        assert!(lines[3].contains("720") && lines[3].contains("0.991"));
    }
}
