//! Streams as micro-batches: records arrive from a [`Source`], and at every trigger
//! interval the records that arrived since the previous trigger run as one
//! **Stream-class job** through the same operators as any dataset; the results go to a
//! [`StreamSink`].
//!
//! ## How it works
//!
//! - [`Context::stream`] makes a [`Stream`] from a source. Operators on a stream
//!   (`map`, `filter`, `flat_map`, or any dataset pipeline through
//!   [`map_batches`](Stream::map_batches)) describe what each micro-batch goes through.
//! - [`Stream::start`] starts the stream's own thread (never a slot of an executor).
//!   At each trigger it takes the records that arrived from the source, makes them the
//!   first dataset of a job (cut into [`partitions`](Stream::partitions), records
//!   *moved*, not copied, into the tasks), builds the pipeline, and runs the job in the
//!   Stream class: its tasks preempt batch work under the executors' policy. It waits
//!   for the job, hands the results to the sink, and records the micro-batch's latency
//!   (trigger time to results emitted). A micro-batch that overruns the interval
//!   delays the next trigger; the missed ones are skipped, not queued. A trigger that
//!   brings no record runs no job.
//! - [`Stream::window`] groups records in event-time windows ([`Windows`]: tumbling or
//!   sliding, with a watermark and allowed lateness). Each micro-batch's job assigns
//!   records to windows and merges values per (window, key) with `reduce_by_key`; the
//!   stream's thread merges those partial results into the open windows, moves the
//!   watermark, and emits the windows it passed. Late records within the lateness
//!   update their window (the result is emitted again); later ones are counted in
//!   [`StreamStats::late_dropped`].
//! - [`StreamHandle`] reports [`StreamStats`] while the stream runs, and stops it: the
//!   records that arrived by then run as a last micro-batch, and windows still open
//!   fire.
//! - [`Published`] shares state between jobs: a batch job publishes new versions of a
//!   model that a stream job reads once per micro-batch, without locks.
//!
//! ```
//! use neptune_dataflow::stream::{generator, sinks, Windows};
//! use neptune_dataflow::Context;
//! use std::time::Duration;
//!
//! let ctx = Context::builder().executors(1).slots_per_executor(2).build().unwrap();
//! // 2 000 readings a second for 1 000 readings: (sensor, value), timed by the generator.
//! let readings = generator(2000.0, |seq, time_ms| (seq % 4, time_ms, seq as f64)).limit(1000);
//! let (sink, results) = sinks::channel();
//! let per_sensor = ctx
//!     .stream(readings)
//!     .trigger(Duration::from_millis(20))
//!     .window(
//!         Windows::tumbling(Duration::from_millis(100)),
//!         |(sensor, time, _value)| (sensor, time, 1u64),
//!         |a, b| a + b,
//!     );
//! let stats = per_sensor.start(sink).unwrap().wait().unwrap();
//! let counted: u64 = results.try_iter().map(|r| r.value).sum();
//! assert_eq!((stats.records_in, counted), (1000, 1000));
//! ```

mod built_windows;
mod node;
mod shared;
mod sink;
mod source;
mod stats;
mod window;

pub use built_windows::{BuiltWindowedStream, WindowBatch};
pub use shared::{Published, Versioned};
pub use sink::StreamSink;
pub use source::{
    batches, generator, memory, now_millis, socket, tail, Generator, MemoryInput, MemorySource,
    SocketSource, Source, SourceBatch, TailSource,
};
pub use stats::StreamStats;
pub use window::{EventTime, Window, WindowResult, Windows};

/// Sinks: standard output, JSON lines files, channels and functions.
pub mod sinks {
    pub use super::sink::{channel, from_fn, json_file, stdout, Channel, FnSink, JsonFile, Stdout};
}

use crate::context::Context;
use crate::dataset::Dataset;
use crate::error::{DataflowError, Result};
use crate::plan::NodeRef;
use crate::Data;
use neptune_runtime::time_slice::make_urgent;
use neptune_runtime::Class;
use node::{reads_of, MicroBatchNode, ReadCounted};
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};
use window::{Assigned, Partial, Slot, WindowState};

/// The trigger interval unless set.
const DEFAULT_TRIGGER: Duration = Duration::from_millis(100);

/// How often a stream with a zero trigger interval looks again at a source that had
/// nothing.
const IDLE_POLL: Duration = Duration::from_millis(1);

impl Context {
    /// A stream of the records `source` delivers, run as micro-batches (every 100 ms
    /// unless [`trigger`](Stream::trigger) says otherwise) of the context's default
    /// partition count.
    pub fn stream<T, S>(&self, source: S) -> Stream<T>
    where
        T: Clone + Send + 'static,
        S: Source<T>,
    {
        Stream {
            ctx: self.clone(),
            input: Box::new(SourceInput {
                source,
                _records: PhantomData,
            }),
            trigger: DEFAULT_TRIGGER,
            partitions: self.default_partitions(),
            name: "stream".to_owned(),
        }
    }
}

/// One trigger's records as a dataset, with the node that holds them.
struct Fresh<T> {
    dataset: Dataset<T>,
    /// The micro-batch's records, when they are still a node of this process (not
    /// when a plan builder made the dataset from them).
    node: Option<Arc<dyn ReadCounted>>,
    records: u64,
}

/// A micro-batch, as a plan builder registered for
/// [`Stream::build_batches`] receives it: its records, and the partitions to cut them
/// into. It travels to executors in cluster mode, so its records are [`Data`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MicroBatch<T> {
    /// The records that arrived since the previous trigger.
    pub records: Vec<T>,
    /// The stream's partition count.
    pub partitions: usize,
}

impl<T: Data + Sync> MicroBatch<T> {
    /// The records as a dataset of `partitions` partitions.
    pub fn into_dataset(self, ctx: &Context) -> Dataset<T> {
        ctx.parallelize(self.records, self.partitions)
    }
}

/// A stream's input: a source, then the pipelines applied to each micro-batch.
trait Input<T>: Send {
    fn start(&mut self, ctx: &Context) -> Result<()>;

    /// This trigger's micro-batch (`None` when no record arrived), and whether the
    /// source is finished.
    fn next(
        &mut self,
        ctx: &Context,
        partitions: usize,
        trigger: Instant,
    ) -> Result<(Option<Fresh<T>>, bool)>;

    fn stop(&mut self);

    /// This trigger's records themselves, for an input that is a source.
    fn next_records(&mut self, _trigger: Instant) -> Result<Option<(Vec<T>, bool)>> {
        Ok(None)
    }
}

struct SourceInput<S, T> {
    source: S,
    _records: PhantomData<fn() -> T>,
}

impl<T: Clone + Send + 'static, S: Source<T>> Input<T> for SourceInput<S, T> {
    fn start(&mut self, ctx: &Context) -> Result<()> {
        self.source.start(ctx)
    }

    fn next(
        &mut self,
        ctx: &Context,
        partitions: usize,
        trigger: Instant,
    ) -> Result<(Option<Fresh<T>>, bool)> {
        let batch = self.source.next_batch(trigger)?;
        if batch.records.is_empty() {
            return Ok((None, batch.finished));
        }
        let records = batch.records.len() as u64;
        let inner = ctx.inner.clone();
        let node = Arc::new(MicroBatchNode::new(
            inner.next_node(),
            batch.records,
            partitions,
        ));
        let node_ref = NodeRef {
            typed: node.clone(),
            erased: node.clone(),
        };
        let dataset = Dataset::from_node(inner, node_ref).with_class(Class::Stream);
        Ok((
            Some(Fresh {
                dataset,
                node: Some(node),
                records,
            }),
            batch.finished,
        ))
    }

    fn stop(&mut self) {
        self.source.stop();
    }

    fn next_records(&mut self, trigger: Instant) -> Result<Option<(Vec<T>, bool)>> {
        let batch = self.source.next_batch(trigger)?;
        Ok(Some((batch.records, batch.finished)))
    }
}

/// Micro-batches handed to a plan builder (see [`Stream::build_batches`] and
/// [`Stream::window_built`]), as the builder arguments `args` makes of each one's
/// records and the stream's partition count.
struct BuiltBatches<T, A, U> {
    inner: Box<dyn Input<T>>,
    builder: String,
    /// The stream operation, for the error when it is misplaced.
    op: &'static str,
    args: Box<dyn FnMut(Vec<T>, usize) -> A + Send>,
    _records: PhantomData<fn() -> U>,
}

impl<T, A, U> Input<U> for BuiltBatches<T, A, U>
where
    T: Send + 'static,
    A: serde::Serialize + serde::de::DeserializeOwned + 'static,
    U: Data,
{
    fn start(&mut self, ctx: &Context) -> Result<()> {
        self.inner.start(ctx)
    }

    fn next(
        &mut self,
        ctx: &Context,
        partitions: usize,
        trigger: Instant,
    ) -> Result<(Option<Fresh<U>>, bool)> {
        let Some((records, finished)) = self.inner.next_records(trigger)? else {
            return Err(DataflowError::Config(format!(
                "{} must come right after Context::stream",
                self.op
            )));
        };
        if records.is_empty() {
            return Ok((None, finished));
        }
        let n = records.len() as u64;
        let args = (self.args)(records, partitions);
        let dataset = ctx.build::<A, U>(&self.builder, args)?;
        let fresh = Fresh {
            dataset: dataset.with_class(Class::Stream),
            node: None,
            records: n,
        };
        Ok((Some(fresh), finished))
    }

    fn stop(&mut self) {
        self.inner.stop();
    }
}

type Pipeline<T, U> = Arc<dyn Fn(Dataset<T>) -> Dataset<U> + Send + Sync>;

struct Mapped<T, U> {
    inner: Box<dyn Input<T>>,
    pipeline: Pipeline<T, U>,
}

impl<T: 'static, U: 'static> Input<U> for Mapped<T, U> {
    fn start(&mut self, ctx: &Context) -> Result<()> {
        self.inner.start(ctx)
    }

    fn next(
        &mut self,
        ctx: &Context,
        partitions: usize,
        trigger: Instant,
    ) -> Result<(Option<Fresh<U>>, bool)> {
        let (fresh, finished) = self.inner.next(ctx, partitions, trigger)?;
        let fresh = fresh.map(|f| Fresh {
            dataset: (self.pipeline)(f.dataset),
            node: f.node,
            records: f.records,
        });
        Ok((fresh, finished))
    }

    fn stop(&mut self) {
        self.inner.stop();
    }
}

/// A stream of records of type `T`, processed in micro-batches: made by
/// [`Context::stream`], configured and transformed here, run by [`start`](Self::start).
///
/// ```
/// use neptune_dataflow::stream::{batches, sinks};
/// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
/// let (sink, out) = sinks::channel();
/// let words = ctx
///     .stream(batches(vec![vec!["to be", "or not"], vec!["to be"]]))
///     .flat_map(|line| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
///     .map_batches(|words| words.map(|w| (w, 1u32)).reduce_by_key(|a, b| a + b));
/// let stats = words.start(sink).unwrap().wait().unwrap();
/// assert_eq!((stats.micro_batches, stats.records_in), (2, 3));
/// let mut counts: Vec<(String, u32)> = out.try_iter().collect();
/// counts.sort();
/// assert_eq!(counts[0], ("be".to_owned(), 1)); // one count per micro-batch
/// assert_eq!(counts.len(), 6);
/// ```
pub struct Stream<T> {
    ctx: Context,
    input: Box<dyn Input<T>>,
    trigger: Duration,
    partitions: usize,
    name: String,
}

impl<T> fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl<T: Send + 'static> Stream<T> {
    /// Runs a micro-batch every `interval` (zero: back to back, as fast as the jobs
    /// go, looking again every millisecond while the source has nothing).
    pub fn trigger(mut self, interval: Duration) -> Stream<T> {
        self.trigger = interval;
        self
    }

    /// Cuts each micro-batch into `n` partitions (tasks); 0 means the context's
    /// default.
    pub fn partitions(mut self, n: usize) -> Stream<T> {
        self.partitions = if n == 0 {
            self.ctx.default_partitions()
        } else {
            n
        };
        self
    }

    /// Names the stream (its thread is `neptune-stream-NAME`).
    pub fn name(mut self, name: impl Into<String>) -> Stream<T> {
        self.name = name.into();
        self
    }

    /// Applies a dataset pipeline to every micro-batch: `f` gets the micro-batch's
    /// dataset and returns the dataset whose records are the results. It is called
    /// once per micro-batch, on the stream's thread, before the job is submitted: the
    /// place to read shared state once per micro-batch (see [`Published`]). Whatever
    /// class the returned dataset has, the job runs in the Stream class.
    pub fn map_batches<U, F>(self, f: F) -> Stream<U>
    where
        U: Send + 'static,
        F: Fn(Dataset<T>) -> Dataset<U> + Send + Sync + 'static,
    {
        Stream {
            ctx: self.ctx,
            input: Box::new(Mapped {
                inner: self.input,
                pipeline: Arc::new(f),
            }),
            trigger: self.trigger,
            partitions: self.partitions,
            name: self.name,
        }
    }

    /// Runs every micro-batch through the plan builder registered as `builder` (with
    /// arguments [`MicroBatch<T>`] and records `U`): the form of
    /// [`map_batches`](Self::map_batches) that also runs in cluster mode, where each
    /// micro-batch's records travel to the executors with its tasks. Comes right after
    /// [`Context::stream`]; the builder reads shared state with
    /// [`Context::published`].
    ///
    /// ```
    /// use neptune_dataflow::cluster::Builders;
    /// use neptune_dataflow::stream::{batches, sinks, MicroBatch};
    /// use neptune_dataflow::{Context, Dataset};
    ///
    /// fn doubled(ctx: &Context, batch: MicroBatch<u64>) -> Dataset<u64> {
    ///     batch.into_dataset(ctx).map(|x| 2 * x)
    /// }
    /// let ctx = Context::builder()
    ///     .slots_per_executor(1)
    ///     .builders(Builders::new().register("doubled", doubled))
    ///     .build()
    ///     .unwrap();
    /// let (sink, out) = sinks::channel();
    /// let stats = ctx
    ///     .stream(batches(vec![vec![1u64, 2], vec![3]]))
    ///     .build_batches::<u64>("doubled")
    ///     .start(sink)
    ///     .unwrap()
    ///     .wait()
    ///     .unwrap();
    /// assert_eq!(stats.micro_batches, 2);
    /// assert_eq!(out.try_iter().collect::<Vec<_>>(), [2, 4, 6]);
    /// ```
    pub fn build_batches<U: Data>(self, builder: &str) -> Stream<U>
    where
        T: Data + Sync,
    {
        Stream {
            ctx: self.ctx,
            input: Box::new(BuiltBatches::<T, MicroBatch<T>, U> {
                inner: self.input,
                builder: builder.to_owned(),
                op: "build_batches",
                args: Box::new(|records, partitions| MicroBatch {
                    records,
                    partitions,
                }),
                _records: PhantomData,
            }),
            trigger: self.trigger,
            partitions: self.partitions,
            name: self.name,
        }
    }

    /// Each record transformed by `f` ([`Dataset::map`] on every micro-batch).
    pub fn map<U, F>(self, f: F) -> Stream<U>
    where
        U: Send + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        self.map_batches(move |ds| {
            let f = f.clone();
            ds.map(move |t| f(t))
        })
    }

    /// The records for which `keep` is true ([`Dataset::filter`] on every micro-batch).
    pub fn filter<F>(self, keep: F) -> Stream<T>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        let keep = Arc::new(keep);
        self.map_batches(move |ds| {
            let keep = keep.clone();
            ds.filter(move |t| keep(t))
        })
    }

    /// Every item of what `f` returns for each record ([`Dataset::flat_map`] on every
    /// micro-batch).
    pub fn flat_map<U, I, F>(self, f: F) -> Stream<U>
    where
        U: Send + 'static,
        F: Fn(T) -> I + Send + Sync + 'static,
        I: IntoIterator<Item = U> + 'static,
        I::IntoIter: Send + 'static,
    {
        let f = Arc::new(f);
        self.map_batches(move |ds| {
            let f = f.clone();
            ds.flat_map(move |t| f(t))
        })
    }

    /// Groups records in event-time `windows`: `extract` gives each record's key,
    /// event time and value; values of one key in one window are merged with `reduce`
    /// (associative and commutative). The stream's results are [`WindowResult`]s.
    pub fn window<K, V, E, R>(
        self,
        windows: Windows,
        extract: E,
        reduce: R,
    ) -> WindowedStream<T, K, V>
    where
        K: Hash + Eq + Data,
        V: Data,
        E: Fn(T) -> (K, EventTime, V) + Send + Sync + 'static,
        R: Fn(V, V) -> V + Send + Sync + 'static,
    {
        WindowedStream {
            stream: self,
            windows,
            extract: Arc::new(extract),
            reduce: Arc::new(reduce),
        }
    }

    /// Starts the stream: micro-batches run until the source is finished or the stream
    /// is stopped, and each one's results go to `sink`.
    ///
    /// # Errors
    /// If the stream's thread cannot start. Errors while running (a source's, a job's,
    /// a sink's) end the stream and are reported by [`StreamHandle::stop`] and
    /// [`StreamHandle::wait`].
    pub fn start<S: StreamSink<T>>(self, sink: S) -> Result<StreamHandle> {
        let step = Plain {
            sink,
            _records: PhantomData,
        };
        launch(self, Box::new(step))
    }
}

/// A stream grouped in event-time windows, made by [`Stream::window`]: its results are
/// a [`WindowResult`] per window and key.
pub struct WindowedStream<T, K, V> {
    stream: Stream<T>,
    windows: Windows,
    extract: Arc<dyn Fn(T) -> (K, EventTime, V) + Send + Sync>,
    reduce: Arc<dyn Fn(V, V) -> V + Send + Sync>,
}

impl<T, K, V> fmt::Debug for WindowedStream<T, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowedStream")
            .field("stream", &self.stream)
            .field("windows", &self.windows)
            .finish()
    }
}

impl<T, K, V> WindowedStream<T, K, V>
where
    T: Send + 'static,
    K: Hash + Eq + Data,
    V: Data,
{
    /// Starts the stream; window results go to `sink` as windows fire and update.
    ///
    /// # Errors
    /// As [`Stream::start`].
    pub fn start<S: StreamSink<WindowResult<K, V>>>(self, sink: S) -> Result<StreamHandle> {
        let step = Windowed {
            state: WindowState::new(self.windows),
            windows: self.windows,
            extract: self.extract,
            reduce: self.reduce,
            sink,
        };
        launch(self.stream, Box::new(step))
    }
}

/// What the stream's thread does with each micro-batch's dataset.
trait Step<T>: Send {
    /// Runs the micro-batch's job and emits its results; returns how many.
    fn batch(&mut self, fresh: Fresh<T>, stats: &Mutex<StreamStats>) -> Result<u64>;

    /// After the last micro-batch; returns how many results it emitted.
    fn finish(&mut self, stats: &Mutex<StreamStats>) -> Result<u64>;
}

/// Runs a micro-batch's job, in the Stream class, and returns its records.
fn run_job<U: Send + 'static>(
    root: Dataset<U>,
    node: &Option<Arc<dyn ReadCounted>>,
    stats: &Mutex<StreamStats>,
) -> Result<Vec<U>> {
    if let Some(node) = node {
        node.set_reads(reads_of(&root.node.erased, node.node_id()));
    }
    let result = root.job().class(Class::Stream).collect().wait()?;
    lock(stats).published.push(result.stats.published.clone());
    Ok(result.into_value())
}

struct Plain<T, S> {
    sink: S,
    _records: PhantomData<fn(T)>,
}

impl<T: Send + 'static, S: StreamSink<T>> Step<T> for Plain<T, S> {
    fn batch(&mut self, fresh: Fresh<T>, stats: &Mutex<StreamStats>) -> Result<u64> {
        let out = run_job(fresh.dataset, &fresh.node, stats)?;
        let n = out.len() as u64;
        self.sink.emit(out)?;
        Ok(n)
    }

    fn finish(&mut self, _stats: &Mutex<StreamStats>) -> Result<u64> {
        self.sink.finish()?;
        Ok(0)
    }
}

struct Windowed<T, K, V, S> {
    state: WindowState<K, V>,
    windows: Windows,
    extract: Arc<dyn Fn(T) -> (K, EventTime, V) + Send + Sync>,
    reduce: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    sink: S,
}

/// Windows whose micro-batch jobs a windowed plan builder made (see
/// [`Stream::window_built`]): the stream's records are already partial results.
struct Merging<K, V, S> {
    state: WindowState<K, V>,
    reduce: Arc<dyn Fn(V, V) -> V + Send + Sync>,
    sink: S,
    /// Shared with the input, which cuts each micro-batch with the current watermark.
    watermark: Arc<Mutex<Option<EventTime>>>,
}

impl<K, V, S> Merging<K, V, S>
where
    K: Hash + Eq + Data,
    V: Data,
    S: StreamSink<WindowResult<K, V>>,
{
    fn new(
        windows: Windows,
        reduce: Arc<dyn Fn(V, V) -> V + Send + Sync>,
        sink: S,
        watermark: Arc<Mutex<Option<EventTime>>>,
    ) -> Self {
        Merging {
            state: WindowState::new(windows),
            reduce,
            sink,
            watermark,
        }
    }
}

impl<K, V, S> Step<(Slot<K>, Partial<V>)> for Merging<K, V, S>
where
    K: Hash + Eq + Data,
    V: Data,
    S: StreamSink<WindowResult<K, V>>,
{
    fn batch(
        &mut self,
        fresh: Fresh<(Slot<K>, Partial<V>)>,
        stats: &Mutex<StreamStats>,
    ) -> Result<u64> {
        let partials = run_job(fresh.dataset, &fresh.node, stats)?;
        let counts = self.state.absorb(partials, &*self.reduce);
        let n = emit(&mut self.state, &mut self.sink, false, counts, stats)?;
        *lock(&self.watermark) = self.state.watermark();
        Ok(n)
    }

    fn finish(&mut self, stats: &Mutex<StreamStats>) -> Result<u64> {
        let n = emit(
            &mut self.state,
            &mut self.sink,
            true,
            window::WindowCounts::default(),
            stats,
        )?;
        self.sink.finish()?;
        Ok(n)
    }
}

impl<T, K, V, S> Windowed<T, K, V, S>
where
    K: Hash + Eq + Data,
    V: Data,
    S: StreamSink<WindowResult<K, V>>,
{
    fn emit(
        &mut self,
        end_of_input: bool,
        counts: window::WindowCounts,
        stats: &Mutex<StreamStats>,
    ) -> Result<u64> {
        emit(&mut self.state, &mut self.sink, end_of_input, counts, stats)
    }
}

/// Moves the watermark, emits what fired to `sink`, and counts it all.
fn emit<K, V, S>(
    state: &mut WindowState<K, V>,
    sink: &mut S,
    end_of_input: bool,
    mut counts: window::WindowCounts,
    stats: &Mutex<StreamStats>,
) -> Result<u64>
where
    K: Hash + Eq + Data,
    V: Data,
    S: StreamSink<WindowResult<K, V>>,
{
    {
        let mut out = Vec::new();
        let mut ends = Vec::new();
        let fired = state.advance(end_of_input, &mut out, |end| ends.push(end));
        counts.windows_fired += fired.windows_fired;
        counts.updates += fired.updates;
        let n = out.len() as u64;
        sink.emit(out)?;
        let now_us = source::now_micros();
        let mut s = lock(stats);
        s.window_latencies_us.extend(
            ends.iter()
                .map(|&end| now_us.saturating_sub(end.saturating_mul(1000)).max(0) as u64),
        );
        s.windows_fired += counts.windows_fired;
        s.window_updates += counts.updates;
        s.late_accepted += counts.late_accepted;
        s.late_dropped += counts.late_dropped;
        s.watermark = state.watermark();
        Ok(n)
    }
}

impl<T, K, V, S> Step<T> for Windowed<T, K, V, S>
where
    T: Send + 'static,
    K: Hash + Eq + Data,
    V: Data,
    S: StreamSink<WindowResult<K, V>>,
{
    fn batch(&mut self, fresh: Fresh<T>, stats: &Mutex<StreamStats>) -> Result<u64> {
        let (windows, watermark) = (self.windows, self.state.watermark());
        let extract = self.extract.clone();
        let reduce = self.reduce.clone();
        let root = fresh
            .dataset
            .flat_map(move |record| {
                let (key, time, value) = extract(record);
                Assigned::new(windows, watermark, key, time, value)
            })
            .reduce_by_key(move |a: Partial<V>, b| a.merge(b, &*reduce));
        let partials = run_job(root, &fresh.node, stats)?;
        let counts = self.state.absorb(partials, &*self.reduce);
        self.emit(false, counts, stats)
    }

    fn finish(&mut self, stats: &Mutex<StreamStats>) -> Result<u64> {
        let n = self.emit(true, window::WindowCounts::default(), stats)?;
        self.sink.finish()?;
        Ok(n)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A stop request, and waiting for the next trigger or a stop, whichever comes first.
#[derive(Default)]
struct Control {
    stop: Mutex<bool>,
    wake: Condvar,
}

impl Control {
    fn request_stop(&self) {
        *lock(&self.stop) = true;
        self.wake.notify_all();
    }

    /// Waits until `deadline` or a stop request; true if a stop was requested.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut stop = lock(&self.stop);
        loop {
            if *stop {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stop = self
                .wake
                .wait_timeout(stop, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// What the handle and the stream's thread share.
struct Shared {
    control: Control,
    stats: Mutex<StreamStats>,
    started: Instant,
}

/// A running stream: its statistics, and the way to stop it.
///
/// Dropping the handle stops the stream and waits for its last micro-batch.
pub struct StreamHandle {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<Result<()>>>,
}

impl fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl StreamHandle {
    /// What the stream did so far.
    pub fn stats(&self) -> StreamStats {
        let mut stats = lock(&self.shared.stats).clone();
        if !self.is_finished() {
            stats.elapsed = self.shared.started.elapsed();
        }
        stats
    }

    /// True once the stream ended (its source finished, it was stopped, or it failed).
    pub fn is_finished(&self) -> bool {
        match &self.thread {
            Some(t) => t.is_finished(),
            None => true,
        }
    }

    /// Stops the stream: the records that arrived by now run as a last micro-batch,
    /// windows still open fire, and the sink is finished. Returns what the stream did.
    ///
    /// # Errors
    /// The error that ended the stream, if one did.
    pub fn stop(mut self) -> Result<StreamStats> {
        self.shared.control.request_stop();
        self.join()
    }

    /// Waits until the source is finished and the stream ended.
    ///
    /// # Errors
    /// The error that ended the stream, if one did.
    pub fn wait(mut self) -> Result<StreamStats> {
        self.join()
    }

    fn join(&mut self) -> Result<StreamStats> {
        let outcome = match self.thread.take() {
            Some(t) => t.join(),
            None => Ok(Ok(())),
        };
        match outcome {
            Ok(result) => result.map(|()| lock(&self.shared.stats).clone()),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shared.control.request_stop();
            let _ = t.join();
        }
    }
}

/// Starts the stream's thread.
fn launch<T: Send + 'static>(stream: Stream<T>, step: Box<dyn Step<T>>) -> Result<StreamHandle> {
    let shared = Arc::new(Shared {
        control: Control::default(),
        stats: Mutex::new(StreamStats::default()),
        started: Instant::now(),
    });
    let Stream {
        ctx,
        input,
        trigger,
        partitions,
        name,
    } = stream;
    let runner = Runner {
        ctx,
        input,
        step,
        trigger,
        partitions,
        shared: shared.clone(),
    };
    let thread = thread::Builder::new()
        .name(format!("neptune-stream-{name}"))
        .spawn(move || runner.run())
        .map_err(DataflowError::Runtime)?;
    Ok(StreamHandle {
        shared,
        thread: Some(thread),
    })
}

struct Runner<T> {
    ctx: Context,
    input: Box<dyn Input<T>>,
    step: Box<dyn Step<T>>,
    trigger: Duration,
    partitions: usize,
    shared: Arc<Shared>,
}

impl<T: Send + 'static> Runner<T> {
    fn run(mut self) -> Result<()> {
        // The trigger thread wakes every interval to start a micro-batch: with every
        // core busy with batch work it would otherwise wait for a worker's kernel time
        // slice to end (milliseconds) before it can. Best effort.
        let _ = make_urgent();
        let result = self
            .input
            .start(&self.ctx)
            .and_then(|()| self.trigger_loop());
        self.input.stop();
        lock(&self.shared.stats).elapsed = self.shared.started.elapsed();
        result
    }

    fn trigger_loop(&mut self) -> Result<()> {
        let mut due = Instant::now();
        loop {
            let stopping = self.shared.control.wait_until(due);
            let (fresh, finished) = self
                .input
                .next(&self.ctx, self.partitions, Instant::now())?;
            let ran = fresh.is_some();
            if let Some(fresh) = fresh {
                let records_in = fresh.records;
                let out = self.step.batch(fresh, &self.shared.stats)?;
                let latency = due.elapsed();
                let mut s = lock(&self.shared.stats);
                s.micro_batches += 1;
                s.records_in += records_in;
                s.records_out += out;
                s.batch_latencies_us.push(latency.as_micros() as u64);
                s.elapsed = self.shared.started.elapsed();
            }
            if finished || stopping {
                let out = self.step.finish(&self.shared.stats)?;
                lock(&self.shared.stats).records_out += out;
                return Ok(());
            }
            let now = Instant::now();
            due += self.trigger;
            if due < now {
                due = now;
            }
            if !ran && self.trigger.is_zero() {
                due = now + IDLE_POLL;
            }
        }
    }
}
