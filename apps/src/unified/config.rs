//! The application's settings, and the command line they come from.

use crate::cluster::local_cluster;
use clap::Parser;
use neptune::runtime::quic::ClusterIdentity;
use neptune::scheduler::PolicyKind;
use neptune_support::args::{at_least_one, available_cores, positive_f64};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The policies `--all-policies` compares, after the batch-alone baseline.
pub const POLICIES: [&str; 4] = ["fifo", "fair", "kill", "neptune"];

/// The label of the run without a stream job.
pub const BATCH_ALONE: &str = "batch-alone";

/// The label of the run without training: the stream job's ideal latency.
pub const STREAM_ALONE: &str = "stream-alone";

/// The application's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The policy of a single run (`--policy`, default `neptune`; `batch-alone` runs
    /// the training without the stream).
    pub policy: String,
    /// Runs batch-alone and every policy of [`POLICIES`] (`--all-policies`).
    pub all_policies: bool,
    /// Slots of the executor (`--slots`, default: the available cores).
    pub slots: usize,
    /// Wall time of each run (`--seconds`, default 7; with `--all-policies` each policy's
    /// run also gets a batch-alone run of 30% of that).
    pub seconds: f64,
    /// Training rows (`--rows`, default 1 000 000).
    pub rows: usize,
    /// The slot threads' nice value (`--slot-nice`; unset: the dataflow's default, see
    /// [`neptune::dataflow::ContextBuilder::slot_nice`]).
    pub slot_nice: Option<i32>,
    /// Held-out rows (`--holdout`, default 100 000).
    pub holdout: usize,
    /// Stream events per second (`--rate`, default 20 000).
    pub rate: f64,
    /// Stream trigger interval (`--trigger-ms`, default 10).
    pub trigger: Duration,
    /// Tasks per training pass (`--partitions`, default: the slots).
    pub partitions: usize,
    /// Tasks per stream micro-batch (`--stream-partitions`, default 1).
    pub stream_partitions: usize,
    /// SGD learning rate (`--learning-rate`, default 0.05).
    pub learning_rate: f32,
    /// Seed of the generated data (`--seed`, default 7).
    pub seed: u64,
    /// One JSON object per run on standard output (`--json`).
    pub json: bool,
    /// Where the executors are (`--cluster local:N`; default: in this process).
    pub cluster: Where,
    /// Serve the live UI here while it runs (`--ui ADDR`).
    pub ui: Option<SocketAddr>,
    /// Write the HTML report here (`--report FILE`).
    pub report: Option<PathBuf>,
}

/// Where the application's executors run.
#[derive(Clone, Debug)]
pub enum Where {
    /// One executor of `slots` slots in this process (local mode).
    Local,
    /// `--cluster local:N`: N executor processes of `slots` slots on loopback.
    LocalCluster(usize),
    /// `neptune driver`: executors of their own slots dial in.
    Driver {
        /// Where to listen.
        listen: std::net::SocketAddr,
        /// Executors to wait for.
        expect: usize,
        /// The driver's identity.
        identity: ClusterIdentity,
    },
}

impl Default for Config {
    /// The settings of a command line without options.
    fn default() -> Config {
        Args::parse_from(["unified"]).config()
    }
}

/// The application's command line: `neptune run unified`, and `neptune` by itself.
///
/// ```
/// use clap::Parser;
/// use neptune_apps::unified::Args;
/// let args = ["unified", "--policy", "fifo", "--seconds", "2", "--json"];
/// let cfg = Args::try_parse_from(args).unwrap().config();
/// assert_eq!((cfg.policy.as_str(), cfg.seconds, cfg.json), ("fifo", 2.0, true));
/// assert!(Args::try_parse_from(["unified", "--policy", "lottery"]).is_err());
/// ```
#[derive(Parser, Clone, Debug)]
#[command(name = "unified")]
pub struct Args {
    /// The policy of a single run (fifo, fair, kill, neptune, static, adaptive), or
    /// batch-alone (training only) or stream-alone (the stream only).
    #[arg(long, value_name = "NAME", default_value = "neptune", value_parser = policy)]
    pub policy: String,
    /// Runs batch-alone, stream-alone and fifo, fair, kill and neptune in turn, on the
    /// same data.
    #[arg(long)]
    pub all_policies: bool,
    /// One JSON object per run on standard output instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Slots of each executor, one per core by default.
    #[arg(long, value_name = "N", default_value_t = available_cores(), value_parser = at_least_one::<usize>)]
    pub slots: usize,
    /// The slot threads' nice value [default: the dataflow's].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub slot_nice: Option<i32>,
    /// Wall time of each run (with --all-policies each policy's run also gets a
    /// batch-alone run of 30% of it).
    #[arg(long, value_name = "S", default_value_t = 7.0, value_parser = positive_f64)]
    pub seconds: f64,
    /// Training rows.
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = at_least_one::<usize>)]
    pub rows: usize,
    /// Held-out rows the final model is scored on.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub holdout: usize,
    /// Stream events per second.
    #[arg(long, value_name = "EVENTS_PER_S", default_value_t = 20_000.0, value_parser = positive_f64)]
    pub rate: f64,
    /// Milliseconds between micro-batches.
    #[arg(long, value_name = "T", default_value_t = 10)]
    pub trigger_ms: u64,
    /// Tasks per training pass [default: the slots of every executor].
    #[arg(long, value_name = "P", value_parser = at_least_one::<usize>)]
    pub partitions: Option<usize>,
    /// Tasks per stream micro-batch.
    #[arg(long, value_name = "P", default_value_t = 1, value_parser = at_least_one::<usize>)]
    pub stream_partitions: usize,
    /// SGD learning rate.
    #[arg(long, value_name = "R", default_value_t = 0.05)]
    pub learning_rate: f32,
    /// Seed of the generated data.
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub seed: u64,
    /// Runs on N executor processes of this program (`local:N`, N > 0).
    #[arg(long, value_name = "local:N", value_parser = local_cluster)]
    pub cluster: Option<usize>,
    /// Serves the live UI (metrics, JSON API, pages) at ADDR while it runs, e.g.
    /// 127.0.0.1:4040 (port 0: any free port; the address is printed).
    #[arg(long, value_name = "ADDR", value_parser = crate::live::addr)]
    pub ui: Option<SocketAddr>,
    /// Writes an HTML report of the runs (tables and plots) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// `--policy`: a policy's name, or a run without one of the jobs.
fn policy(s: &str) -> Result<String, String> {
    if s == BATCH_ALONE || s == STREAM_ALONE {
        return Ok(s.to_owned());
    }
    s.parse::<PolicyKind>()
        .map(|_| s.to_owned())
        .map_err(|e| format!("{e}, or {BATCH_ALONE}, or {STREAM_ALONE}"))
}

impl Args {
    /// The settings these options ask for.
    pub fn config(&self) -> Config {
        let cluster = match self.cluster {
            Some(n) => Where::LocalCluster(n),
            None => Where::Local,
        };
        let mut cfg = Config {
            policy: self.policy.clone(),
            all_policies: self.all_policies,
            slots: self.slots,
            seconds: self.seconds,
            rows: self.rows,
            slot_nice: self.slot_nice,
            holdout: self.holdout,
            rate: self.rate,
            trigger: Duration::from_millis(self.trigger_ms),
            partitions: 0,
            stream_partitions: self.stream_partitions,
            learning_rate: self.learning_rate,
            seed: self.seed,
            json: self.json,
            cluster,
            ui: self.ui,
            report: self.report.clone(),
        };
        cfg.partitions = self.partitions.unwrap_or(cfg.slots * cfg.executors());
        cfg
    }
}

impl Config {
    /// Executor processes (1 in local mode; a driver's are those it expects).
    pub fn executors(&self) -> usize {
        match &self.cluster {
            Where::Local => 1,
            Where::LocalCluster(n) => *n,
            Where::Driver { expect, .. } => *expect,
        }
    }

    /// The runs this configuration reports, in order: a policy name, [`BATCH_ALONE`]
    /// or [`STREAM_ALONE`].
    pub fn runs(&self) -> Vec<String> {
        if self.all_policies {
            [BATCH_ALONE, STREAM_ALONE]
                .into_iter()
                .chain(POLICIES)
                .map(str::to_owned)
                .collect()
        } else {
            vec![self.policy.clone()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let parse = |args: &[&str]| {
            Args::try_parse_from(std::iter::once("unified").chain(args.iter().copied()))
        };
        let cfg = parse(&["--all-policies", "--slots=3"]).unwrap().config();
        assert_eq!(
            cfg.runs(),
            [
                "batch-alone",
                "stream-alone",
                "fifo",
                "fair",
                "kill",
                "neptune"
            ]
        );
        assert_eq!((cfg.slots, cfg.partitions), (3, 3));
        let cfg = parse(&["--slots=2", "--cluster", "local:3", "--slot-nice", "-5"])
            .unwrap()
            .config();
        assert_eq!(
            (cfg.partitions, cfg.executors(), cfg.slot_nice),
            (6, 3, Some(-5))
        );
        assert!(parse(&["--policy=stream-alone"]).is_ok());
        let cfg = parse(&["--ui", "127.0.0.1:0", "--report", "run.html"])
            .unwrap()
            .config();
        assert_eq!(cfg.ui, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(
            cfg.report.as_deref(),
            Some(std::path::Path::new("run.html"))
        );
        let e = parse(&["--help"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        neptune_support::args::assert_refused::<Args>(&[
            &["--policy=alone"][..],
            &["--rows"],
            &["--rows", "0"],
            &["--slots", "0"],
            &["--seconds", "0"],
            &["--rate", "inf"],
            &["--cluster", "local:0"],
            &["--jsno"],
            &["--ui", "nowhere"],
            &["--ui"],
            &["--report"],
        ]);
    }
}
