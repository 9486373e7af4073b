//! What a run reports: its figures, as JSON lines or as a table.

use super::config::{Config, Where};
use super::model::FEATURES;
use neptune::dataflow::cluster::MemberInfo;
use std::fmt::Write as _;

/// The figures of one run.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The policy, or [`BATCH_ALONE`].
    pub policy: String,
    /// Stream micro-batch latency p50, µs (`None` without a stream).
    pub stream_p50_us: Option<u64>,
    /// Stream micro-batch latency p99, µs.
    pub stream_p99_us: Option<u64>,
    /// Events scored per second.
    pub events_per_s: Option<f64>,
    /// Micro-batches run.
    pub micro_batches: u64,
    /// Share of stream events the model in use labelled right.
    pub stream_accuracy: Option<f64>,
    /// Model versions the stream used.
    pub versions_used: u64,
    /// Training rows per second: `batch_rows / batch_seconds`.
    pub batch_rows_per_s: f64,
    /// Rows of the completed training passes.
    pub batch_rows: u64,
    /// Time from the run's start to the end of its last completed pass.
    pub batch_seconds: f64,
    /// `batch_rows_per_s` over batch-alone's, once known.
    pub batch_ratio: Option<f64>,
    /// Training passes completed.
    pub passes: u64,
    /// Training passes started again after a kill.
    pub restarts: u64,
    /// Accuracy of the final model on the held-out set.
    pub accuracy: f64,
    /// Wall time of the run.
    pub seconds: f64,
    /// Cluster mode: the executors at the end of the run, as their heartbeats
    /// described them (empty in local mode).
    pub executors: Vec<MemberInfo>,
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("null".to_owned(), |v| v.to_string())
}

impl RunReport {
    /// The run as one JSON object.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"policy\":\"{}\",\"stream_p50_us\":{},\"stream_p99_us\":{},\"events_per_s\":{},\"batch_rows_per_s\":{:.0},\"batch_ratio\":{},\"accuracy\":{:.4},\"stream_accuracy\":{},\"micro_batches\":{},\"model_versions_used\":{},\"passes\":{},\"restarts\":{},\"seconds\":{:.2},\"executors\":[{}]}}",
            self.policy,
            opt(self.stream_p50_us),
            opt(self.stream_p99_us),
            opt(self.events_per_s.map(|e| format!("{e:.0}"))),
            self.batch_rows_per_s,
            opt(self.batch_ratio.map(|r| format!("{r:.3}"))),
            self.accuracy,
            opt(self.stream_accuracy.map(|a| format!("{a:.4}"))),
            self.micro_batches,
            self.versions_used,
            self.passes,
            self.restarts,
            self.seconds,
            self.executors
                .iter()
                .map(|e| format!(
                    "{{\"name\":\"{}\",\"slots\":{},\"heartbeats\":{},\"memory_in_use\":{}}}",
                    e.name, e.slots, e.heartbeats, e.memory_in_use
                ))
                .collect::<Vec<_>>()
                .join(",")
        )
    }
}

/// The reports as a readable table.
pub fn table(cfg: &Config, reports: &[RunReport]) -> String {
    let mut out = String::new();
    let _ =
        writeln!(
        out,
        "Unified stream/batch: {}; training: {} rows x {FEATURES} features, {} tasks per pass; \
stream: {:.0} events/s, {} ms trigger; {:.0} s per run",
        match &cfg.cluster {
            Where::Local => format!("{} slots", cfg.slots),
            Where::LocalCluster(n) => {
                format!("local cluster of {n} executor processes x {} slots", cfg.slots)
            }
            Where::Driver { expect, .. } => format!("cluster of {expect} executors"),
        },
        cfg.rows,
        cfg.partitions,
        cfg.rate,
        cfg.trigger.as_millis(),
        cfg.seconds
    );
    let _ = writeln!(
        out,
        "{:<12} {:>10} {:>10} {:>10} {:>13} {:>7} {:>9} {:>7} {:>9}",
        "policy",
        "p50 (us)",
        "p99 (us)",
        "events/s",
        "train rows/s",
        "ratio",
        "accuracy",
        "passes",
        "restarts"
    );
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    for r in reports {
        let _ = writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>10} {:>13.0} {:>7} {:>9.4} {:>7} {:>9}",
            r.policy,
            dash(r.stream_p50_us.map(|v| v.to_string())),
            dash(r.stream_p99_us.map(|v| v.to_string())),
            dash(r.events_per_s.map(|v| format!("{v:.0}"))),
            r.batch_rows_per_s,
            dash(r.batch_ratio.map(|v| format!("{v:.3}"))),
            r.accuracy,
            r.passes,
            r.restarts
        );
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
