//! Running the application: the training passes and the scoring stream as dataflow
//! jobs on one context, the plan builders that executors rebuild them from, and the
//! runs a configuration asks for.

use super::config::{Config, Where, BATCH_ALONE, POLICIES, STREAM_ALONE};
use super::live::{AppMetrics, Live};
use super::model::{DataGen, Example, Model, FEATURES, STREAM_OFFSET};
use super::report::{
    ExecutorSummary, RunReport, Settings, SlotSpans, TimelineWindow, Window, WINDOW_SECONDS,
};
use neptune::dataflow::cluster::{Builders, DriverConfig};
use neptune::dataflow::stream::{generator, sinks, MicroBatch, Published, StreamStats};
use neptune::dataflow::{Context, DataflowError, Dataset, JobHandle};
use neptune::runtime::Class;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Adds the application's plan builders to `builders`: every process of a cluster
/// that runs it registers them.
pub fn register(builders: Builders) -> Builders {
    builders
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
    metrics: &AppMetrics,
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
                metrics.published(model.publish(sum.average()));
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

/// The window of a run's end that its report shows as a per-slot timeline: a few
/// micro-batches.
const TIMELINE_WINDOW: Duration = Duration::from_millis(50);

/// Held-out rows the live model accuracy is measured on (a sample: the whole set
/// would take the sampling thread a millisecond every window).
const LIVE_ACCURACY_SAMPLE: usize = 10_000;

/// Runs the application once: under `policy` with the stream and the training, as
/// [`BATCH_ALONE`] without the stream, or as [`STREAM_ALONE`] without the training
/// (both under NEPTUNE, which has nothing to decide then). `progress` is called about
/// every 50 ms; `live` is shown the run's context and sees its figures.
pub fn run_once(
    cfg: &Config,
    data: &Data,
    policy: &str,
    position: (usize, usize),
    live: &Live,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunReport, String> {
    let with_stream = policy != BATCH_ALONE;
    let with_training = policy != STREAM_ALONE;
    let policy_name = if with_stream && with_training {
        policy
    } else {
        "neptune"
    };
    let record_timeline = cfg.report.is_some() || live.serving();
    let builder = Context::builder()
        .slots_per_executor(cfg.slots)
        .policy(policy_name)
        .thread_name(format!("unified-{policy}"))
        .timeline(if record_timeline {
            crate::live::TIMELINE_SPANS
        } else {
            0
        })
        .builders(crate::builders());
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
    live.show(&ctx)?;
    let metrics = live.metrics().clone();
    let model = ctx
        .published(MODEL, Model::default())
        .map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let training = Arc::new(Mutex::new(Training::default()));
    let started = Instant::now();
    metrics.run_started(started);
    let parks_at_start = parks(&ctx);
    let trainer = if with_training {
        let (ctx, model, cfg) = (ctx.clone(), model.clone(), cfg.clone());
        let (stop, training, metrics) = (stop.clone(), training.clone(), metrics.clone());
        Some(
            std::thread::Builder::new()
                .name("unified-trainer".into())
                .spawn(move || train(&ctx, &model, &cfg, &stop, started, &training, &metrics))
                .map_err(|e| e.to_string())?,
        )
    } else {
        None
    };

    let scoring = Arc::new(Mutex::new(Scoring::default()));
    let stream = if with_stream {
        let gen = data.gen;
        let counts = scoring.clone();
        let metrics = metrics.clone();
        let events = generator(cfg.rate, move |seq, _time| gen.example(STREAM_OFFSET + seq));
        let sink = sinks::from_fn(move |scored: Vec<(bool, u64)>| {
            let right = scored.iter().filter(|s| s.0).count() as u64;
            let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
            c.scored += scored.len() as u64;
            c.right += right;
            if let Some(&(_, version)) = scored.first() {
                if c.last_version != Some(version) {
                    c.versions_used += 1;
                    c.last_version = Some(version);
                }
                metrics.scored(scored.len() as u64, right, version);
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
    let mut windows = Windows::new(parks_at_start);
    let sample = &data.holdout[..data.holdout.len().min(LIVE_ACCURACY_SAMPLE)];
    let mut timeline = None;
    let mut micro_batches = 0;
    loop {
        let elapsed = started.elapsed();
        let t = *training.lock().unwrap_or_else(|e| e.into_inner());
        if windows.due(elapsed) {
            // A copy of the stream's statistics, taken under the lock its thread takes
            // after every micro-batch, and growing with the run: once a window, not at
            // every tick.
            let stats = stream.as_ref().map(|s| s.stats());
            micro_batches = stats.as_ref().map_or(0, |s| s.micro_batches);
            windows.close(elapsed, stats.as_ref(), model.version(), parks(&ctx));
            if live.serving() {
                metrics.model_accuracy(model.latest().accuracy(sample));
            }
        }
        progress(&Progress {
            policy: policy.to_owned(),
            run: position.0,
            runs: position.1,
            elapsed: elapsed.min(total),
            total,
            passes: t.passes,
            micro_batches,
            version: model.version(),
        });
        if elapsed >= total {
            break;
        }
        if record_timeline && timeline.is_none() && total - elapsed <= TIMELINE_WINDOW * 2 {
            // Taken while both jobs still run, a little before the end.
            std::thread::sleep((total - elapsed).saturating_sub(TIMELINE_WINDOW));
            timeline = timeline_window(&ctx);
            continue;
        }
        std::thread::sleep((total - elapsed).min(Duration::from_millis(50)));
    }
    // Before the training stops: the pass it cancels then wasted nothing of the run.
    let wasted = ctx.status_summary().totals.wasted_seconds[Class::Batch.index()];
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
        executors: ctx
            .cluster_executors()
            .iter()
            .map(ExecutorSummary::from)
            .collect(),
        wasted_task_seconds: wasted,
        suspensions: parks(&ctx).map(|end| end - parks_at_start.unwrap_or(0)),
        settings: Settings::of(cfg),
        stream_latencies_us: stream_stats.map_or_else(Vec::new, |s| s.batch_latencies_us),
        over_time: windows.done,
        timeline,
    })
}

/// Tasks parked so far on every slot of the context's local executors (`None` in a
/// cluster: the executors' runtimes are in other processes).
fn parks(ctx: &Context) -> Option<u64> {
    (!ctx.is_cluster()).then(|| {
        ctx.executors()
            .iter()
            .map(|e| e.metrics().total(|s| s.parks))
            .sum()
    })
}

/// A run cut into windows of [`WINDOW_SECONDS`] as it goes.
struct Windows {
    done: Vec<Window>,
    /// Micro-batches counted into closed windows.
    batches_seen: usize,
    parks_seen: Option<u64>,
}

impl Windows {
    fn new(parks_at_start: Option<u64>) -> Windows {
        Windows {
            done: Vec::new(),
            batches_seen: 0,
            parks_seen: parks_at_start,
        }
    }

    /// Whether the window open at `elapsed` has ended.
    fn due(&self, elapsed: Duration) -> bool {
        elapsed.as_secs_f64() >= WINDOW_SECONDS * (self.done.len() + 1) as f64
    }

    /// Closes the window ending at `elapsed` with the stream's statistics so far.
    fn close(
        &mut self,
        elapsed: Duration,
        stats: Option<&StreamStats>,
        model_version: u64,
        parks: Option<u64>,
    ) {
        let latencies = stats.map_or(&[][..], |s| &s.batch_latencies_us[..]);
        let mut new: Vec<u64> = latencies[self.batches_seen.min(latencies.len())..].to_vec();
        self.batches_seen = latencies.len();
        let suspensions = match (parks, self.parks_seen) {
            (Some(now), Some(before)) => Some(now.saturating_sub(before)),
            _ => None,
        };
        self.parks_seen = parks;
        self.done.push(Window {
            t: elapsed.as_secs_f64(),
            stream_p99_us: (!new.is_empty())
                .then(|| neptune_support::stats::quantile(&mut new, 0.99)),
            micro_batches: new.len() as u64,
            model_version,
            suspensions,
        });
    }
}

/// Each local slot's spans over the last [`TIMELINE_WINDOW`], if the timeline is on.
fn timeline_window(ctx: &Context) -> Option<TimelineWindow> {
    let window = TIMELINE_WINDOW.as_secs_f64();
    let mut slots = Vec::new();
    for e in ctx.executors() {
        let tl = e.timeline();
        let from = tl.now.as_secs_f64() - window;
        for slot in &tl.slots {
            let spans = slot
                .spans
                .iter()
                .filter(|s| s.end.as_secs_f64() > from)
                .map(|s| {
                    (
                        s.kind.as_str().to_owned(),
                        (s.start.as_secs_f64() - from).max(0.0),
                        s.end.as_secs_f64() - from,
                    )
                })
                .collect();
            slots.push(SlotSpans {
                slot: format!("{}/{}", e.id(), slot.slot),
                spans,
            });
        }
    }
    (!slots.is_empty()).then_some(TimelineWindow {
        seconds: window,
        slots,
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
    let live = Live::new(cfg.ui);
    let runs = cfg.runs();
    let mut reports = Vec::with_capacity(runs.len());
    if !cfg.all_policies {
        for (i, policy) in runs.iter().enumerate() {
            reports.push(run_once(
                cfg,
                &data,
                policy,
                (i, runs.len()),
                &live,
                progress,
            )?);
        }
        return Ok(reports);
    }
    let baseline_cfg = Config {
        seconds: cfg.seconds * 0.3,
        ..cfg.clone()
    };
    let total = 2 * POLICIES.len() + 1;
    // The stream job's ideal first, the policies' runs then measured against it.
    let stream_alone = run_once(cfg, &data, STREAM_ALONE, (0, total), &live, progress)?;
    let mut alone: Option<RunReport> = None;
    for (i, policy) in POLICIES.iter().enumerate() {
        let base = run_once(
            &baseline_cfg,
            &data,
            BATCH_ALONE,
            (2 * i + 1, total),
            &live,
            progress,
        )?;
        let mut report = run_once(cfg, &data, policy, (2 * i + 2, total), &live, progress)?;
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
                    wasted_task_seconds: sum.wasted_task_seconds + base.wasted_task_seconds,
                    suspensions: sum.suspensions.zip(base.suspensions).map(|(a, b)| a + b),
                    timeline: base.timeline,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unified::Args;
    use clap::Parser;

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
            .builders(crate::builders())
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
        let args = [
            "unified",
            "--rows=2000",
            "--holdout=500",
            "--seconds=0.5",
            "--slots=2",
        ];
        let cfg = Args::parse_from(args).config();
        let data = Data::generate(&cfg);
        let r = run_once(
            &cfg,
            &data,
            STREAM_ALONE,
            (0, 1),
            &Live::new(None),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(r.policy, STREAM_ALONE);
        assert_eq!((r.passes, r.batch_rows), (0, 0));
        assert!(r.micro_batches > 0, "{r:?}");
        assert!(r.stream_p99_us.is_some());
    }
}
