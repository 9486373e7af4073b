//! The unified stream/batch application: a batch job continuously trains a
//! logistic-regression model while a stream job scores an event stream against the
//! latest version of it, both on the same executor's slots.
//!
//! - **Data**: a historical data set of `rows` examples (1 000 000 by default) with
//!   [`FEATURES`] features each, and a held-out set, generated deterministically in
//!   process from a hidden "true" model: features uniform in `[-1, 1)`, labels drawn
//!   with the true model's probability. Stream events come from the same distribution.
//! - **Batch job**: one pass of stochastic gradient descent over the data set is one
//!   job of `partitions` Batch tasks. Each task runs SGD over its contiguous share of
//!   the rows, starting from the latest model, one row per record (so a yield point
//!   per row: the task can be paused between any two rows); the partitions' models
//!   are averaged (weighted by rows) into the next version, which is published. Then
//!   the next pass starts. A pass whose task was killed (KILL policy) is started
//!   again from scratch.
//! - **Stream job**: events arrive from a generator at a target rate; every trigger
//!   interval a Stream-class micro-batch scores them. Each micro-batch reads the
//!   latest model once, through [`Published`], without locks, and
//!   scores every event of the micro-batch with that version.
//! - **Figures** per policy: the stream's micro-batch latency (trigger to scored
//!   results emitted) p50 and p99 in µs, events scored per second, training
//!   throughput (rows per second of completed passes), its ratio to the same training
//!   running alone, and the final model's accuracy on the held-out set.
//!
//! [`run`] drives it; [`Config::from_args`] reads the command line shared by the
//! `neptune` binary and `examples/unified.rs`.

use neptune_dataflow::cluster::{Builders, DriverConfig, MemberInfo};
use neptune_dataflow::stream::{generator, sinks, MicroBatch, Published, StreamStats};
use neptune_dataflow::{Context, DataflowError, Dataset, JobHandle};
use neptune_runtime::quic::ClusterIdentity;
use neptune_scheduler::PolicyKind;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Features per example.
pub const FEATURES: usize = 16;

/// The policies `--all-policies` compares, after the batch-alone baseline.
pub const POLICIES: [&str; 4] = ["fifo", "fair", "kill", "neptune"];

/// The label of the run without a stream job.
pub const BATCH_ALONE: &str = "batch-alone";

/// The label of the run without training: the stream job's ideal latency.
pub const STREAM_ALONE: &str = "stream-alone";

/// One labelled example.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Its features.
    pub x: [f32; FEATURES],
    /// Its label.
    pub y: bool,
}

/// A logistic-regression model: `P(y) = sigmoid(w · x + b)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Weights.
    pub w: [f32; FEATURES],
    /// Bias.
    pub b: f32,
}

impl Default for Model {
    fn default() -> Model {
        Model {
            w: [0.0; FEATURES],
            b: 0.0,
        }
    }
}

#[inline]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Model {
    /// `w · x + b`.
    #[inline]
    pub fn margin(&self, x: &[f32; FEATURES]) -> f32 {
        let mut z = self.b;
        for (w, x) in self.w.iter().zip(x) {
            z += w * x;
        }
        z
    }

    /// The predicted label.
    #[inline]
    pub fn predict(&self, x: &[f32; FEATURES]) -> bool {
        self.margin(x) > 0.0
    }

    /// One SGD step on the logistic loss.
    #[inline]
    pub fn step(&mut self, e: &Example, learning_rate: f32) {
        let g = (sigmoid(self.margin(&e.x)) - if e.y { 1.0 } else { 0.0 }) * learning_rate;
        for (w, x) in self.w.iter_mut().zip(&e.x) {
            *w -= g * x;
        }
        self.b -= g;
    }

    /// The share of `examples` it labels right.
    pub fn accuracy(&self, examples: &[Example]) -> f64 {
        if examples.is_empty() {
            return 0.0;
        }
        let right = examples
            .iter()
            .filter(|e| self.predict(&e.x) == e.y)
            .count();
        right as f64 / examples.len() as f64
    }
}

/// SplitMix64 of `z`: the deterministic source of every generated number.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in `[0, 1)` from 24 bits of `bits`.
#[inline]
fn unit(bits: u64) -> f32 {
    (bits >> 40) as f32 / (1u64 << 24) as f32
}

/// Makes examples from the hidden true model, each a pure function of its index.
#[derive(Clone, Copy, Debug)]
pub struct DataGen {
    truth: Model,
    seed: u64,
}

impl DataGen {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> DataGen {
        let mut truth = Model::default();
        for (j, w) in truth.w.iter_mut().enumerate() {
            *w = (unit(mix(seed ^ (0x7700 + j as u64))) * 2.0 - 1.0) * 3.0;
        }
        truth.b = 0.25;
        DataGen { truth, seed }
    }

    /// The true model.
    pub fn truth(&self) -> Model {
        self.truth
    }

    /// Example number `i`.
    #[inline]
    pub fn example(&self, i: u64) -> Example {
        let base = mix(self.seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let mut x = [0.0f32; FEATURES];
        for (j, v) in x.iter_mut().enumerate() {
            *v = unit(mix(base.wrapping_add(j as u64))) * 2.0 - 1.0;
        }
        let p = sigmoid(self.truth.margin(&x));
        let y = unit(mix(base ^ 0xFFFF)) < p;
        Example { x, y }
    }

    /// Examples `from..from + n`.
    pub fn examples(&self, from: u64, n: usize) -> Vec<Example> {
        (from..from + n as u64).map(|i| self.example(i)).collect()
    }
}

/// Where the stream's examples start, far from the training and held-out ones.
const STREAM_OFFSET: u64 = 1 << 40;

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
    /// [`neptune_dataflow::ContextBuilder::slot_nice`]).
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
    fn default() -> Config {
        let slots = std::thread::available_parallelism().map_or(1, |n| n.get());
        Config {
            policy: "neptune".into(),
            all_policies: false,
            slots,
            seconds: 7.0,
            rows: 1_000_000,
            holdout: 100_000,
            slot_nice: None,
            rate: 20_000.0,
            trigger: Duration::from_millis(10),
            partitions: slots,
            stream_partitions: 1,
            learning_rate: 0.05,
            seed: 7,
            json: false,
            cluster: Where::Local,
        }
    }
}

/// The command-line usage.
pub const USAGE: &str =
    "usage: [--policy fifo|fair|kill|neptune|static|adaptive|batch-alone|stream-alone] [--all-policies] [--json] \
[--slots N] [--slot-nice N] [--seconds S] [--rows N] [--holdout N] [--rate EVENTS_PER_S] [--trigger-ms T] \
[--partitions P] [--stream-partitions P] [--learning-rate R] [--seed N] [--cluster local:N]";

fn parse<T: std::str::FromStr>(name: &str, v: Option<String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{name} needs a value"))?;
    v.parse().map_err(|_| format!("{name}: cannot read {v:?}"))
}

impl Config {
    /// Reads the command line (without the program name). `Err` holds what to print:
    /// the usage for `--help`, or what is wrong.
    ///
    /// ```
    /// use neptune::apps::unified::Config;
    /// let args = ["--policy", "fifo", "--seconds", "2", "--json"].map(String::from);
    /// let cfg = Config::from_args(args).unwrap();
    /// assert_eq!((cfg.policy.as_str(), cfg.seconds, cfg.json), ("fifo", 2.0, true));
    /// assert!(Config::from_args(["--policy".to_owned(), "lottery".to_owned()]).is_err());
    /// ```
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut partitions_set = false;
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || inline.clone().or_else(|| it.next());
            match name.as_str() {
                "--policy" => cfg.policy = parse(&name, value())?,
                "--all-policies" => cfg.all_policies = true,
                "--json" => cfg.json = true,
                "--slots" => cfg.slots = parse(&name, value())?,
                "--seconds" => cfg.seconds = parse(&name, value())?,
                "--rows" => cfg.rows = parse(&name, value())?,
                "--holdout" => cfg.holdout = parse(&name, value())?,
                "--slot-nice" => cfg.slot_nice = Some(parse(&name, value())?),
                "--rate" => cfg.rate = parse(&name, value())?,
                "--trigger-ms" => {
                    cfg.trigger = Duration::from_millis(parse(&name, value())?);
                }
                "--partitions" => {
                    cfg.partitions = parse(&name, value())?;
                    partitions_set = true;
                }
                "--stream-partitions" => cfg.stream_partitions = parse(&name, value())?,
                "--learning-rate" => cfg.learning_rate = parse(&name, value())?,
                "--seed" => cfg.seed = parse(&name, value())?,
                "--cluster" => {
                    let v: String = parse(&name, value())?;
                    let n = v
                        .strip_prefix("local:")
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|&n| n > 0)
                        .ok_or_else(|| {
                            format!("--cluster: expected local:N with N > 0, got {v:?}")
                        })?;
                    cfg.cluster = Where::LocalCluster(n);
                }
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        if !partitions_set {
            cfg.partitions = cfg.slots * cfg.executors();
        }
        if cfg.policy != BATCH_ALONE && cfg.policy != STREAM_ALONE {
            cfg.policy
                .parse::<PolicyKind>()
                .map_err(|e| format!("{e}, or {BATCH_ALONE}, or {STREAM_ALONE}"))?;
        }
        if cfg.slots == 0 || cfg.partitions == 0 || cfg.stream_partitions == 0 || cfg.rows == 0 {
            return Err(
                "--slots, --partitions, --stream-partitions and --rows must be positive".into(),
            );
        }
        if !(cfg.seconds > 0.0 && cfg.seconds.is_finite()) {
            return Err("--seconds must be a positive number".into());
        }
        if !(cfg.rate > 0.0 && cfg.rate.is_finite()) {
            return Err("--rate must be a positive number".into());
        }
        Ok(cfg)
    }

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

/// The generated data sets.
#[derive(Debug)]
pub struct Data {
    /// The generator.
    pub gen: DataGen,
    /// Training examples.
    pub train: Arc<Vec<Example>>,
    /// Held-out examples.
    pub holdout: Vec<Example>,
}

impl Data {
    /// Generates the data sets of `cfg` (on up to four threads).
    pub fn generate(cfg: &Config) -> Data {
        let gen = DataGen::new(cfg.seed);
        let threads = cfg.slots.clamp(1, 4);
        let rows = cfg.rows;
        let train: Vec<Example> = std::thread::scope(|s| {
            let parts: Vec<_> = (0..threads)
                .map(|t| {
                    let from = rows * t / threads;
                    let to = rows * (t + 1) / threads;
                    s.spawn(move || gen.examples(from as u64, to - from))
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().expect("a generating thread"))
                .collect()
        });
        let holdout = gen.examples(rows as u64, cfg.holdout);
        let train = Arc::new(train);
        *TRAINING.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(((cfg.seed, rows), train.clone()));
        Data {
            gen,
            train,
            holdout,
        }
    }
}

/// The training set last generated in this process, by (seed, rows): executors make
/// it once, on the first task that needs it, and keep it for every later pass.
static TRAINING: Mutex<Option<TrainingSet>> = Mutex::new(None);

/// A training set and its (seed, rows).
type TrainingSet = ((u64, usize), Arc<Vec<Example>>);

/// The training set of `seed` and `rows`, generated on first use in this process.
fn training_set(seed: u64, rows: usize) -> Arc<Vec<Example>> {
    let mut cache = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    match &*cache {
        Some((key, data)) if *key == (seed, rows) => data.clone(),
        _ => {
            let data = Arc::new(DataGen::new(seed).examples(0, rows));
            *cache = Some(((seed, rows), data.clone()));
            data
        }
    }
}

/// A sum of models weighted by the rows they were trained on.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Weighted {
    w: [f64; FEATURES],
    b: f64,
    rows: u64,
}

impl Weighted {
    fn of(m: &Model, rows: u64) -> Weighted {
        let mut w = [0.0; FEATURES];
        for (s, m) in w.iter_mut().zip(&m.w) {
            *s = *m as f64 * rows as f64;
        }
        Weighted {
            w,
            b: m.b as f64 * rows as f64,
            rows,
        }
    }

    fn add(mut self, o: Weighted) -> Weighted {
        for (a, b) in self.w.iter_mut().zip(&o.w) {
            *a += b;
        }
        self.b += o.b;
        self.rows += o.rows;
        self
    }

    fn average(&self) -> Model {
        let n = self.rows.max(1) as f64;
        let mut m = Model::default();
        for (w, s) in m.w.iter_mut().zip(&self.w) {
            *w = (s / n) as f32;
        }
        m.b = (self.b / n) as f32;
        m
    }
}

/// One task's SGD over its rows, as an iterator with one item per row (so that every
/// row enters the pipeline through a yield point), then the task's model.
struct SgdTask {
    data: Arc<Vec<Example>>,
    next: usize,
    end: usize,
    model: Model,
    rows: u64,
    learning_rate: f32,
    done: bool,
}

impl Iterator for SgdTask {
    /// A step per row (`None`), then the task's model: boxed, so that the items of the
    /// steps, which carry nothing, are a word rather than the model's size.
    type Item = Option<Box<Weighted>>;

    #[inline]
    fn next(&mut self) -> Option<Option<Box<Weighted>>> {
        if self.next < self.end {
            self.model.step(&self.data[self.next], self.learning_rate);
            self.next += 1;
            self.rows += 1;
            Some(None)
        } else if !self.done {
            self.done = true;
            Some(Some(Box::new(Weighted::of(&self.model, self.rows))))
        } else {
            None
        }
    }
}

/// What a training pass is built from: everything travels, the data set is
/// regenerated from its seed where the tasks run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pass {
    /// The data set's seed.
    pub seed: u64,
    /// Its rows.
    pub rows: usize,
    /// Tasks.
    pub partitions: usize,
    /// The model the pass starts from.
    pub model: Model,
    /// SGD learning rate.
    pub learning_rate: f32,
}

/// The plan builder of a training pass: each task runs SGD over its share of the rows
/// and yields its model, weighted by its rows.
pub fn pass(ctx: &Context, pass: Pass) -> Dataset<Weighted> {
    let Pass {
        seed,
        rows,
        partitions,
        model,
        learning_rate,
    } = pass;
    ctx.generate(partitions, move |p| SgdTask {
        data: training_set(seed, rows),
        next: rows * p / partitions,
        end: rows * (p + 1) / partitions,
        model,
        rows: 0,
        learning_rate,
        done: false,
    })
    .flat_map(|m| m.map(|w| *w))
}

/// The plan builder of a stream micro-batch: every event scored by the latest model
/// version this process has (one read per micro-batch), with that version.
pub fn score(ctx: &Context, batch: MicroBatch<Example>) -> Dataset<(bool, u64)> {
    let m = ctx
        .published(MODEL, Model::default())
        .expect("the model is only ever published as a Model")
        .latest();
    batch
        .into_dataset(ctx)
        .map(move |e| (m.predict(&e.x) == e.y, m.version))
}

/// The name the model is published under.
const MODEL: &str = "unified-model";

/// The application's plan builders: the `neptune` binary's executors run them.
pub fn builders() -> Builders {
    Builders::new()
        .register("unified-pass", pass)
        .register("unified-score", score)
}

/// Starts one training pass from `model` as a Batch job.
fn start_pass(
    ctx: &Context,
    cfg: &Config,
    model: Model,
) -> Result<JobHandle<Vec<Weighted>>, String> {
    let args = Pass {
        seed: cfg.seed,
        rows: cfg.rows,
        partitions: cfg.partitions,
        model,
        learning_rate: cfg.learning_rate,
    };
    let pass: Dataset<Weighted> = ctx.build("unified-pass", args).map_err(|e| e.to_string())?;
    Ok(pass.job().batch().collect())
}

/// What training did in one run.
#[derive(Clone, Copy, Debug, Default)]
struct Training {
    /// Passes completed (each published a version).
    passes: u64,
    /// Rows of the completed passes.
    rows: u64,
    /// Passes started again because a task was killed.
    restarts: u64,
    /// When the last completed pass ended, from the run's start.
    last_pass_end: Duration,
}

/// Trains until `stop`, publishing a version after each pass.
fn train(
    ctx: &Context,
    model: &Published<Model>,
    cfg: &Config,
    stop: &AtomicBool,
    started: Instant,
    progress: &Mutex<Training>,
) -> Result<Training, String> {
    let mut t = Training::default();
    while !stop.load(Ordering::Relaxed) {
        let from = model.latest().value;
        let mut job = start_pass(ctx, cfg, from)?;
        let outcome = loop {
            if let Some(outcome) = futures::FutureExt::now_or_never(&mut job) {
                break Some(outcome);
            }
            if stop.load(Ordering::Relaxed) {
                job.cancel();
                let _ = job.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        match outcome {
            None => break,
            Some(Ok(result)) => {
                let sum = result
                    .value
                    .into_iter()
                    .reduce(Weighted::add)
                    .expect("a pass over at least one row");
                model.publish(sum.average());
                t.passes += 1;
                t.rows += sum.rows;
                t.last_pass_end = started.elapsed();
            }
            Some(Err(DataflowError::TaskCancelled(_))) => t.restarts += 1,
            Some(Err(e)) => return Err(format!("training pass failed: {e}")),
        }
        *progress.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }
    Ok(t)
}

/// What the stream's sink counted.
#[derive(Clone, Copy, Debug, Default)]
struct Scoring {
    scored: u64,
    right: u64,
    /// Distinct model versions the micro-batches used, counted as they change.
    versions_used: u64,
    last_version: Option<u64>,
}

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

/// A snapshot of a run in progress, for progress reporting.
#[derive(Clone, Debug)]
pub struct Progress {
    /// The run's policy, or [`BATCH_ALONE`].
    pub policy: String,
    /// Which run this is (from 0), and how many there are.
    pub run: usize,
    /// Runs in all.
    pub runs: usize,
    /// Time into this run.
    pub elapsed: Duration,
    /// This run's length.
    pub total: Duration,
    /// Training passes completed in this run.
    pub passes: u64,
    /// Stream micro-batches run.
    pub micro_batches: u64,
    /// The latest model version.
    pub version: u64,
}

/// Runs the application once: under `policy` with the stream and the training, as
/// [`BATCH_ALONE`] without the stream, or as [`STREAM_ALONE`] without the training
/// (both under NEPTUNE, which has nothing to decide then). `progress` is called about
/// every 100 ms.
pub fn run_once(
    cfg: &Config,
    data: &Data,
    policy: &str,
    position: (usize, usize),
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunReport, String> {
    let with_stream = policy != BATCH_ALONE;
    let with_training = policy != STREAM_ALONE;
    let policy_name = if with_stream && with_training {
        policy
    } else {
        "neptune"
    };
    let builder = Context::builder()
        .slots_per_executor(cfg.slots)
        .policy(policy_name)
        .thread_name(format!("unified-{policy}"))
        .builders(builders());
    let builder = match cfg.slot_nice {
        Some(nice) => builder.slot_nice(nice),
        None => builder,
    };
    let builder = match &cfg.cluster {
        Where::Local => builder.executors(1),
        Where::LocalCluster(n) => builder.local_cluster(*n),
        Where::Driver {
            listen,
            expect,
            identity,
        } => builder.cluster(DriverConfig::new(*listen, identity.clone(), *expect)),
    };
    let ctx = builder.build().map_err(|e| e.to_string())?;
    let model = ctx
        .published(MODEL, Model::default())
        .map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let training = Arc::new(Mutex::new(Training::default()));
    let started = Instant::now();
    let trainer = if with_training {
        let (ctx, model, cfg) = (ctx.clone(), model.clone(), cfg.clone());
        let (stop, training) = (stop.clone(), training.clone());
        Some(
            std::thread::Builder::new()
                .name("unified-trainer".into())
                .spawn(move || train(&ctx, &model, &cfg, &stop, started, &training))
                .map_err(|e| e.to_string())?,
        )
    } else {
        None
    };

    let scoring = Arc::new(Mutex::new(Scoring::default()));
    let stream = if with_stream {
        let gen = data.gen;
        let counts = scoring.clone();
        let events = generator(cfg.rate, move |seq, _time| gen.example(STREAM_OFFSET + seq));
        let sink = sinks::from_fn(move |scored: Vec<(bool, u64)>| {
            let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
            c.scored += scored.len() as u64;
            c.right += scored.iter().filter(|s| s.0).count() as u64;
            if let Some(&(_, version)) = scored.first() {
                if c.last_version != Some(version) {
                    c.versions_used += 1;
                    c.last_version = Some(version);
                }
            }
        });
        let handle = ctx
            .stream(events)
            .name("scoring")
            .trigger(cfg.trigger)
            .partitions(cfg.stream_partitions)
            // The model is read once per micro-batch, without a lock, where the
            // micro-batch runs; every event of it is scored by that version.
            .build_batches::<(bool, u64)>("unified-score")
            .start(sink);
        match handle {
            Ok(h) => Some(h),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                if let Some(trainer) = trainer {
                    let _ = trainer.join();
                }
                return Err(e.to_string());
            }
        }
    } else {
        None
    };

    let total = Duration::from_secs_f64(cfg.seconds);
    loop {
        let elapsed = started.elapsed();
        let t = *training.lock().unwrap_or_else(|e| e.into_inner());
        progress(&Progress {
            policy: policy.to_owned(),
            run: position.0,
            runs: position.1,
            elapsed: elapsed.min(total),
            total,
            passes: t.passes,
            micro_batches: stream.as_ref().map_or(0, |s| s.stats().micro_batches),
            version: model.version(),
        });
        if elapsed >= total {
            break;
        }
        std::thread::sleep((total - elapsed).min(Duration::from_millis(100)));
    }
    let stream_stats: Option<StreamStats> = match stream {
        Some(h) => Some(h.stop().map_err(|e| format!("stream failed: {e}"))?),
        None => None,
    };
    stop.store(true, Ordering::Relaxed);
    let t = match trainer {
        Some(trainer) => trainer
            .join()
            .map_err(|_| "the training thread panicked".to_owned())??,
        None => Training::default(),
    };
    let seconds = started.elapsed().as_secs_f64();
    let scoring = *scoring.lock().unwrap_or_else(|e| e.into_inner());
    let final_model = model.latest();
    let batch_rows_per_s = if t.passes > 0 {
        t.rows as f64 / t.last_pass_end.as_secs_f64()
    } else {
        0.0
    };
    let us = |s: &StreamStats, q| s.batch_latency(q).map(|d| d.as_micros() as u64);
    Ok(RunReport {
        policy: policy.to_owned(),
        stream_p50_us: stream_stats.as_ref().and_then(|s| us(s, 0.5)),
        stream_p99_us: stream_stats.as_ref().and_then(|s| us(s, 0.99)),
        events_per_s: stream_stats.as_ref().map(StreamStats::records_per_sec),
        micro_batches: stream_stats.as_ref().map_or(0, |s| s.micro_batches),
        stream_accuracy: (scoring.scored > 0).then(|| scoring.right as f64 / scoring.scored as f64),
        versions_used: scoring.versions_used,
        batch_rows_per_s,
        batch_rows: t.rows,
        batch_seconds: t.last_pass_end.as_secs_f64(),
        batch_ratio: None,
        passes: t.passes,
        restarts: t.restarts,
        accuracy: final_model.accuracy(&data.holdout),
        seconds,
        executors: ctx.cluster_executors(),
    })
}

/// Runs every run of `cfg` on freshly generated data.
///
/// With `--all-policies`, each policy's run is preceded by a shorter batch-alone run
/// (30% of its length) on the same data, and the policy's batch ratio is its training
/// throughput over that adjacent baseline's: on a shared machine, throughput drifts
/// between runs far apart more than between neighbours. The batch-alone report sums
/// all those baseline runs.
pub fn run(cfg: &Config, progress: &mut dyn FnMut(&Progress)) -> Result<Vec<RunReport>, String> {
    let data = Data::generate(cfg);
    let runs = cfg.runs();
    let mut reports = Vec::with_capacity(runs.len());
    if !cfg.all_policies {
        for (i, policy) in runs.iter().enumerate() {
            reports.push(run_once(cfg, &data, policy, (i, runs.len()), progress)?);
        }
        return Ok(reports);
    }
    let baseline_cfg = Config {
        seconds: cfg.seconds * 0.3,
        ..cfg.clone()
    };
    let total = 2 * POLICIES.len() + 1;
    // The stream job's ideal first, the policies' runs then measured against it.
    let stream_alone = run_once(cfg, &data, STREAM_ALONE, (0, total), progress)?;
    let mut alone: Option<RunReport> = None;
    for (i, policy) in POLICIES.iter().enumerate() {
        let base = run_once(
            &baseline_cfg,
            &data,
            BATCH_ALONE,
            (2 * i + 1, total),
            progress,
        )?;
        let mut report = run_once(cfg, &data, policy, (2 * i + 2, total), progress)?;
        if base.batch_rows_per_s > 0.0 {
            report.batch_ratio = Some(report.batch_rows_per_s / base.batch_rows_per_s);
        }
        alone = Some(match alone {
            None => base,
            Some(sum) => {
                let rows = sum.batch_rows + base.batch_rows;
                let batch_seconds = sum.batch_seconds + base.batch_seconds;
                RunReport {
                    batch_rows_per_s: if batch_seconds > 0.0 {
                        rows as f64 / batch_seconds
                    } else {
                        0.0
                    },
                    batch_rows: rows,
                    batch_seconds,
                    passes: sum.passes + base.passes,
                    restarts: sum.restarts + base.restarts,
                    accuracy: base.accuracy,
                    seconds: sum.seconds + base.seconds,
                    executors: base.executors,
                    ..sum
                }
            }
        });
        reports.push(report);
    }
    reports.insert(0, stream_alone);
    if let Some(mut alone) = alone {
        alone.batch_ratio = Some(1.0);
        reports.insert(0, alone);
    }
    Ok(reports)
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

/// Parses the command line, runs, and prints the reports (JSON lines with `--json`,
/// else a table) on standard output; `progress` sees the runs as they go. Returns the
/// process's exit status.
pub fn main_with(
    args: impl IntoIterator<Item = String>,
    program: &str,
    progress: &mut dyn FnMut(&Progress),
) -> std::process::ExitCode {
    use std::process::ExitCode;
    let cfg = match Config::from_args(args) {
        Ok(cfg) => cfg,
        Err(e) if e == USAGE => {
            println!("{program} {USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            return ExitCode::from(2);
        }
    };
    run_config(&cfg, program, progress)
}

/// Runs `cfg` and prints its report (a table, or JSON lines); the exit code says
/// whether it ran.
pub fn run_config(
    cfg: &Config,
    program: &str,
    progress: &mut dyn FnMut(&Progress),
) -> std::process::ExitCode {
    use std::process::ExitCode;
    match run(cfg, progress) {
        Ok(reports) => {
            if cfg.json {
                for r in &reports {
                    println!("{}", r.to_json());
                }
            } else {
                print!("{}", table(cfg, &reports));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_learns_the_true_model() {
        let gen = DataGen::new(3);
        let train = gen.examples(0, 20_000);
        let test = gen.examples(20_000, 5_000);
        let mut m = Model::default();
        for e in &train {
            m.step(e, 0.05);
        }
        let ideal = gen.truth().accuracy(&test);
        assert!(
            m.accuracy(&test) > ideal - 0.03,
            "{} vs {ideal}",
            m.accuracy(&test)
        );
        assert!(ideal > 0.8);
    }

    #[test]
    fn a_pass_through_the_dataflow_averages_the_tasks_models() {
        let cfg = Config {
            rows: 4_000,
            holdout: 1_000,
            slots: 2,
            partitions: 2,
            learning_rate: 0.05,
            ..Config::default()
        };
        let data = Data::generate(&cfg);
        let ctx = Context::builder()
            .slots_per_executor(2)
            .builders(builders())
            .build()
            .unwrap();
        let parts = start_pass(&ctx, &cfg, Model::default())
            .unwrap()
            .wait()
            .unwrap()
            .into_value();
        assert_eq!(parts.len(), 2);
        let sum = parts.into_iter().reduce(Weighted::add).unwrap();
        assert_eq!(sum.rows, 4_000);
        // The same by hand: two halves, each from zero, averaged.
        let mut halves = [Model::default(); 2];
        for (h, m) in halves.iter_mut().enumerate() {
            for e in &data.train[h * 2_000..(h + 1) * 2_000] {
                m.step(e, 0.05);
            }
        }
        let by_hand = Weighted::of(&halves[0], 2_000).add(Weighted::of(&halves[1], 2_000));
        assert_eq!(sum.average(), by_hand.average());
    }

    #[test]
    fn stream_alone_runs_the_stream_without_training() {
        let args = ["--rows=2000", "--holdout=500", "--seconds=0.5", "--slots=2"];
        let cfg = Config::from_args(args.map(String::from)).unwrap();
        let data = Data::generate(&cfg);
        let r = run_once(&cfg, &data, STREAM_ALONE, (0, 1), &mut |_| {}).unwrap();
        assert_eq!(r.policy, STREAM_ALONE);
        assert_eq!((r.passes, r.batch_rows), (0, 0));
        assert!(r.micro_batches > 0, "{r:?}");
        assert!(r.stream_p99_us.is_some());
    }

    #[test]
    fn arguments() {
        let cfg = Config::from_args(["--all-policies".to_owned(), "--slots=3".to_owned()]).unwrap();
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
        assert!(Config::from_args(["--policy=stream-alone".to_owned()]).is_ok());
        assert!(Config::from_args(["--policy=alone".to_owned()]).is_err());
        assert_eq!((cfg.slots, cfg.partitions), (3, 3));
        assert_eq!(Config::from_args(["--help".to_owned()]).unwrap_err(), USAGE);
        assert!(Config::from_args(["--rows".to_owned()]).is_err());
    }
}
