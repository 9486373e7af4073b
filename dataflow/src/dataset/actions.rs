//! Actions: each runs a job. `Dataset`'s action methods block until the answer; the
//! same actions on [`Job`] return a [`JobHandle`] at once.

use super::Dataset;
use crate::error::Result;
use crate::exec::{job, JobHandle, JobResult};
use crate::sink::{
    prepare_output_dir, Collect, Count, ForEach, ForEachAsync, Reduce, ResultStage, SaveCsv,
    SaveJsonLines, SaveSummary, Sink,
};
use neptune_runtime::Class;
use serde::Serialize;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

/// A job about to be submitted: choose its class, then its action.
///
/// ```
/// use neptune_dataflow::{Class, Context};
/// # let ctx = Context::builder().slots_per_executor(1).build().unwrap();
/// let ds = ctx.range(0..1000, 4);
/// let batch = ds.job().count();                      // the dataset's class: Batch
/// let stream = ds.job().class(Class::Stream).count(); // this job only: Stream
/// assert_eq!(*stream.wait().unwrap(), 1000);
/// assert_eq!(*batch.wait().unwrap(), 1000);
/// ```
#[derive(Debug)]
pub struct Job<T> {
    dataset: Dataset<T>,
    class: Class,
}

impl<T: Send + 'static> Dataset<T> {
    /// A job over this dataset, in the dataset's class.
    pub fn job(&self) -> Job<T> {
        Job {
            dataset: self.clone(),
            class: self.class,
        }
    }

    /// Every record, partitions in order, each partition's records in the order it
    /// computed them.
    pub fn collect(&self) -> Result<JobResult<Vec<T>>> {
        self.job().collect().wait()
    }

    /// The number of records.
    pub fn count(&self) -> Result<JobResult<u64>> {
        self.job().count().wait()
    }

    /// The records merged with `f` (associative; the order of merging is not fixed), or
    /// `None` for an empty dataset.
    pub fn reduce<F>(&self, f: F) -> Result<JobResult<Option<T>>>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
    {
        self.job().reduce(f).wait()
    }

    /// Calls `f` on every record, in the tasks.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(2).build().unwrap();
    /// let total = Arc::new(AtomicU64::new(0));
    /// let t = total.clone();
    /// ctx.range(0..100, 4).for_each(move |x| { t.fetch_add(x, Ordering::Relaxed); }).unwrap();
    /// assert_eq!(total.load(Ordering::Relaxed), 4950);
    /// ```
    pub fn for_each<F>(&self, f: F) -> Result<JobResult<()>>
    where
        F: Fn(T) + Send + Sync + 'static,
    {
        self.job().for_each(f).wait()
    }

    /// Awaits `f` on every record, in order within each task.
    pub fn for_each_async<F, Fut>(&self, f: F) -> Result<JobResult<()>>
    where
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.job().for_each_async(f).wait()
    }

    /// Writes the records as JSON lines, one file `part-NNNNN.jsonl` per partition, in
    /// directory `dir`, which must not exist or be empty. [`Context::read`] reads it
    /// back.
    ///
    /// [`Context::read`]: crate::Context::read
    pub fn save_json_lines(&self, dir: impl AsRef<Path>) -> Result<JobResult<SaveSummary>>
    where
        T: Serialize,
    {
        self.job().save_json_lines(dir).wait()
    }

    /// Writes the records as CSV with a header line, one file `part-NNNNN.csv` per
    /// partition, in directory `dir`, which must not exist or be empty. Records are
    /// serialized with serde: structs become one column per field.
    ///
    /// ```
    /// #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    /// struct Row { id: u64, square: u64 }
    ///
    /// # let dir = std::env::temp_dir().join(format!("neptune-doc-save-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let rows = ctx.range(0..5, 2).map(|id| Row { id, square: id * id });
    /// let saved = rows.save_csv(&dir).unwrap();
    /// assert_eq!((saved.files.len(), saved.records), (2, 5));
    /// let back = ctx.read(&dir).csv::<Row>().unwrap().collect().unwrap();
    /// assert_eq!(*back, *rows.collect().unwrap());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn save_csv(&self, dir: impl AsRef<Path>) -> Result<JobResult<SaveSummary>>
    where
        T: Serialize,
    {
        self.job().save_csv(dir).wait()
    }
}

impl<T: Send + 'static> Job<T> {
    /// Runs the job's tasks in `class`.
    pub fn class(mut self, class: Class) -> Job<T> {
        self.class = class;
        self
    }

    /// Runs the job's tasks in the Stream class.
    pub fn stream(self) -> Job<T> {
        self.class(Class::Stream)
    }

    /// Runs the job's tasks in the Batch class.
    pub fn batch(self) -> Job<T> {
        self.class(Class::Batch)
    }

    fn submit<S: Sink<T>>(self, sink: S) -> JobHandle<S::Answer> {
        let sink = Arc::new(sink);
        let runner = Arc::new(ResultStage {
            node: self.dataset.node.clone(),
            sink: sink.clone(),
        });
        let combine = Box::new(move |parts: Vec<Box<dyn std::any::Any + Send>>| {
            let parts = parts
                .into_iter()
                .map(|p| {
                    *p.downcast::<S::Part>()
                        .expect("a result of the action's type")
                })
                .collect();
            sink.combine(parts)
        });
        job::submit(
            &self.dataset.ctx,
            &self.dataset.node.erased,
            self.dataset.origin.as_ref(),
            self.class,
            S::ACTION,
            runner,
            combine,
        )
    }

    /// Starts [`Dataset::collect`].
    pub fn collect(self) -> JobHandle<Vec<T>> {
        self.submit(Collect)
    }

    /// Starts [`Dataset::count`].
    pub fn count(self) -> JobHandle<u64> {
        self.submit(Count)
    }

    /// Starts [`Dataset::reduce`].
    pub fn reduce<F>(self, f: F) -> JobHandle<Option<T>>
    where
        F: Fn(T, T) -> T + Send + Sync + 'static,
    {
        self.submit(Reduce::new(f))
    }

    /// Starts [`Dataset::for_each`].
    pub fn for_each<F>(self, f: F) -> JobHandle<()>
    where
        F: Fn(T) + Send + Sync + 'static,
    {
        self.submit(ForEach(Arc::new(f)))
    }

    /// Starts [`Dataset::for_each_async`].
    pub fn for_each_async<F, Fut>(self, f: F) -> JobHandle<()>
    where
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.submit(ForEachAsync(Arc::new(f)))
    }

    /// Starts [`Dataset::save_json_lines`]. An output directory that is not empty
    /// fails the job before it starts.
    pub fn save_json_lines(self, dir: impl AsRef<Path>) -> JobHandle<SaveSummary>
    where
        T: Serialize,
    {
        let dir = dir.as_ref().to_owned();
        match prepare_output_dir(&dir) {
            Ok(()) => self.submit(SaveJsonLines(dir)),
            Err(e) => self.failed(<SaveJsonLines as Sink<T>>::ACTION, e),
        }
    }

    /// Starts [`Dataset::save_csv`]. An output directory that is not empty fails the
    /// job before it starts.
    pub fn save_csv(self, dir: impl AsRef<Path>) -> JobHandle<SaveSummary>
    where
        T: Serialize,
    {
        let dir = dir.as_ref().to_owned();
        match prepare_output_dir(&dir) {
            Ok(()) => self.submit(SaveCsv(dir)),
            Err(e) => self.failed(<SaveCsv as Sink<T>>::ACTION, e),
        }
    }

    fn failed<R>(self, action: &str, error: crate::DataflowError) -> JobHandle<R> {
        let name = format!("{action} at {}", self.dataset.node.erased.label());
        job::failed(&self.dataset.ctx, self.class, name, error)
    }
}
