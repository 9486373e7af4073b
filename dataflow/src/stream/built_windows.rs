//! Event-time windows whose per-micro-batch work runs in plan builders, so that they
//! also run in cluster mode.
//!
//! A windowed micro-batch assigns each record to its windows and merges values per
//! (window, key) — in the tasks, with the program's `extract` and `reduce` functions.
//! Closures cannot travel, so here they are plain `fn`s registered with
//! [`Builders::register_windows`] under a name in every process; each micro-batch is
//! built by that name from a [`WindowBatch`] (its records, the windows, and the
//! watermark the stream's thread had when it was cut), and its partial results are
//! merged on the stream's thread exactly as local windows are.

use super::window::{Assigned, Partial, Slot};
use super::{launch, BuiltBatches, EventTime, Merging, Stream, StreamHandle, StreamSink, Windows};
use crate::cluster::Builders;
use crate::context::Context;
use crate::error::{DataflowError, Result};
use crate::{Data, Dataset};
use serde::{Deserialize, Serialize};
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// What a windowed plan builder receives for one micro-batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowBatch<T> {
    /// The records that arrived since the previous trigger.
    pub records: Vec<T>,
    /// The stream's partition count.
    pub partitions: usize,
    /// The windows.
    pub windows: Windows,
    /// The watermark before this micro-batch (`None` before any record).
    pub watermark: Option<EventTime>,
}

/// The `reduce` of a windowed builder, kept for the stream's thread; its type names
/// the records, keys and values the builder was registered for.
pub(crate) struct WindowFns<T, K, V> {
    pub(crate) reduce: fn(V, V) -> V,
    _types: PhantomData<fn(T) -> K>,
}

impl Builders {
    /// Registers windows under `name`: each record's key, event time and value come
    /// from `extract`, and values of one key and window merge with `reduce`
    /// (associative and commutative). Start a stream on them with
    /// [`Stream::window_built`].
    pub fn register_windows<T, K, V>(
        self,
        name: &str,
        extract: fn(T) -> (K, EventTime, V),
        reduce: fn(V, V) -> V,
    ) -> Builders
    where
        T: Data + Sync,
        K: Hash + Eq + Data,
        V: Data,
    {
        let builder =
            move |ctx: &Context, batch: WindowBatch<T>| -> Dataset<(Slot<K>, Partial<V>)> {
                let (windows, watermark) = (batch.windows, batch.watermark);
                ctx.parallelize(batch.records, batch.partitions)
                    .flat_map(move |record| {
                        let (key, time, value) = extract(record);
                        Assigned::new(windows, watermark, key, time, value)
                    })
                    .reduce_by_key(move |a: Partial<V>, b| a.merge(b, &reduce))
            };
        self.register(name, builder).with_extra(
            name,
            Arc::new(WindowFns::<T, K, V> {
                reduce,
                _types: PhantomData,
            }),
        )
    }
}

/// A stream grouped in event-time windows by a registered windowed builder: made by
/// [`Stream::window_built`], run by [`start`](Self::start).
pub struct BuiltWindowedStream<K, V> {
    stream: Stream<(Slot<K>, Partial<V>)>,
    windows: Windows,
    reduce: fn(V, V) -> V,
    watermark: Arc<Mutex<Option<EventTime>>>,
}

impl<K, V> std::fmt::Debug for BuiltWindowedStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltWindowedStream")
            .field("stream", &self.stream)
            .field("windows", &self.windows)
            .finish()
    }
}

impl<T: Data + Sync> Stream<T> {
    /// Groups records in `windows` with the windowed builder registered as `builder`
    /// ([`Builders::register_windows`]): the form of [`window`](Self::window) that also
    /// runs in cluster mode. Comes right after [`Context::stream`].
    ///
    /// ```
    /// use neptune_dataflow::cluster::Builders;
    /// use neptune_dataflow::stream::{batches, sinks, EventTime, Windows};
    /// use neptune_dataflow::Context;
    /// use std::time::Duration;
    ///
    /// fn extract((key, time): (char, EventTime)) -> (char, EventTime, u64) {
    ///     (key, time, 1)
    /// }
    /// fn add(a: u64, b: u64) -> u64 {
    ///     a + b
    /// }
    /// let builders = Builders::new().register_windows("counts", extract, add);
    /// let ctx = Context::builder().slots_per_executor(1).builders(builders).build().unwrap();
    /// let (sink, out) = sinks::channel();
    /// let script: Vec<Vec<(char, EventTime)>> = vec![vec![('a', 1_000), ('b', 2_000)], vec![('a', 12_000)]];
    /// let stats = ctx
    ///     .stream(batches(script))
    ///     .window_built::<char, u64>(Windows::tumbling(Duration::from_secs(10)), "counts")
    ///     .unwrap()
    ///     .start(sink)
    ///     .unwrap()
    ///     .wait()
    ///     .unwrap();
    /// assert_eq!(stats.records_in, 3);
    /// let results: Vec<(char, u64)> = out.try_iter().map(|r| (r.key, r.value)).collect();
    /// assert_eq!(results.len(), 3); // a and b in [0, 10 s), a in [10 s, 20 s)
    /// ```
    ///
    /// # Errors
    /// No windowed builder of that name for these record, key and value types.
    pub fn window_built<K, V>(
        self,
        windows: Windows,
        builder: &str,
    ) -> Result<BuiltWindowedStream<K, V>>
    where
        K: Hash + Eq + Data,
        V: Data,
    {
        let fns = self
            .ctx
            .inner
            .builders
            .extra::<WindowFns<T, K, V>>(builder)
            .ok_or_else(|| {
                DataflowError::Config(format!(
                    "no windows registered as {builder:?} for records {}, keys {} and values {}",
                    std::any::type_name::<T>(),
                    std::any::type_name::<K>(),
                    std::any::type_name::<V>()
                ))
            })?;
        let watermark = Arc::new(Mutex::new(None));
        let current = watermark.clone();
        // Each micro-batch is cut with the watermark the stream's thread has then.
        let args = move |records, partitions| WindowBatch {
            records,
            partitions,
            windows,
            watermark: *current.lock().unwrap_or_else(|e| e.into_inner()),
        };
        let stream = Stream {
            ctx: self.ctx,
            input: Box::new(BuiltBatches::<T, WindowBatch<T>, (Slot<K>, Partial<V>)> {
                inner: self.input,
                builder: builder.to_owned(),
                op: "window_built",
                args: Box::new(args),
                _records: PhantomData,
            }),
            trigger: self.trigger,
            partitions: self.partitions,
            name: self.name,
        };
        Ok(BuiltWindowedStream {
            stream,
            windows,
            reduce: fns.reduce,
            watermark,
        })
    }
}

impl<K: Hash + Eq + Data, V: Data> BuiltWindowedStream<K, V> {
    /// Starts the stream; window results go to `sink` as windows fire and update.
    ///
    /// # Errors
    /// As [`Stream::start`].
    pub fn start<S: StreamSink<super::WindowResult<K, V>>>(self, sink: S) -> Result<StreamHandle> {
        let step = Merging::new(self.windows, Arc::new(self.reduce), sink, self.watermark);
        launch(self.stream, Box::new(step))
    }
}
