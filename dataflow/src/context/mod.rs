//! The context: executors, the driver, and the entry points that make datasets.

mod builder;
mod driver;
mod executor;

pub(crate) use builder::default_slot_nice;
pub use builder::{ContextBuilder, DEFAULT_SLOT_NICE};
pub use executor::Executor;
pub(crate) use executor::{ExecutorLoad, RunningGuard};

use crate::cluster::broadcast::Broadcasts;
use crate::cluster::builders::{scope, Builders};
use crate::cluster::driver::ClusterDriver;
use crate::dataset::Dataset;
use crate::exec::OperatorRegistry;
use crate::plan::{JobId, NodeId, NodeRef, ShuffleId};
use crate::source::{FileReader, GenerateNode, ParallelizeNode, RangeNode};
use crate::status::{Status, StatusBoard};
use driver::Driver;
use neptune_scheduler::placement::Placement;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// The entry point of a dataflow program, as a SparkContext: it owns the executors and
/// makes datasets.
///
/// Cloning a context is cheap (it is shared); the executors shut down when the last
/// clone, and the last dataset and job made from it, are gone.
///
/// ```
/// use neptune_dataflow::Context;
/// let ctx = Context::builder().executors(2).slots_per_executor(1).build().unwrap();
/// let squares = ctx.parallelize((1..=4).collect::<Vec<u64>>(), 2).map(|x| x * x);
/// assert_eq!(*squares.collect().unwrap(), [1, 4, 9, 16]);
/// ```
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<ContextInner>,
}

pub(crate) struct ContextInner {
    /// First field: dropped (and joined) before the executors shut down.
    pub(crate) driver: Driver,
    pub(crate) placement: Mutex<Box<dyn Placement>>,
    pub(crate) placement_name: String,
    pub(crate) registry: OperatorRegistry,
    pub(crate) default_partitions: usize,
    /// The plan builders this program registered (run by name in cluster mode).
    pub(crate) builders: Builders,
    /// Cluster mode: the link to the executor processes (`executors` is then empty).
    pub(crate) cluster: Option<Arc<ClusterDriver>>,
    /// Values published by name (broadcast to executors in cluster mode).
    pub(crate) broadcasts: Broadcasts,
    /// Cluster mode: one plan build at a time (see `Context::build`).
    pub(crate) build_lock: Mutex<()>,
    /// What the job drivers record of jobs, stages and tasks.
    pub(crate) status: StatusBoard,
    next_node: AtomicU32,
    next_shuffle: AtomicU32,
    next_job: AtomicU64,
    pub(crate) executors: Vec<Executor>,
}

impl ContextInner {
    /// A context over `executors` (local mode) or `cluster`.
    pub(crate) fn context(
        driver: Driver,
        placement: Box<dyn Placement>,
        default_partitions: usize,
        builders: Builders,
        cluster: Option<Arc<ClusterDriver>>,
        broadcasts: Broadcasts,
        executors: Vec<Executor>,
    ) -> Context {
        Context {
            inner: Arc::new(ContextInner {
                driver,
                placement_name: placement.name().to_owned(),
                placement: Mutex::new(placement),
                registry: OperatorRegistry::default(),
                default_partitions: default_partitions.max(1),
                builders,
                cluster,
                broadcasts,
                build_lock: Mutex::new(()),
                status: StatusBoard::new(),
                next_node: AtomicU32::new(0),
                next_shuffle: AtomicU32::new(0),
                next_job: AtomicU64::new(0),
                executors,
            }),
        }
    }
    /// The next dataset id: from the build scope when a plan builder is rebuilding a
    /// driver's plan on this thread, from the context otherwise.
    pub(crate) fn next_node(&self) -> NodeId {
        scope::next_node().unwrap_or_else(|| NodeId(self.next_node.fetch_add(1, Relaxed)))
    }

    /// The next shuffle id, as [`next_node`](Self::next_node).
    pub(crate) fn next_shuffle(&self) -> ShuffleId {
        scope::next_shuffle().unwrap_or_else(|| ShuffleId(self.next_shuffle.fetch_add(1, Relaxed)))
    }

    /// The ids the next dataset and shuffle made here would get (where a build
    /// starts, so that executors can give the same plan the same names).
    pub(crate) fn id_bases(&self) -> (u32, u32) {
        (
            self.next_node.load(Relaxed),
            self.next_shuffle.load(Relaxed),
        )
    }

    pub(crate) fn next_job(&self) -> JobId {
        JobId(self.next_job.fetch_add(1, Relaxed))
    }

    /// Moves the id counters to at least `used` (dataset, shuffle): past a build.
    pub(crate) fn advance_ids(&self, used: (u32, u32)) {
        self.next_node.fetch_max(used.0, Relaxed);
        self.next_shuffle.fetch_max(used.1, Relaxed);
    }

    /// `n`, or the default partition count for 0.
    pub(crate) fn partitions_or_default(&self, n: usize) -> usize {
        if n == 0 {
            scope::default_partitions().unwrap_or(self.default_partitions)
        } else {
            n
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("executors", &self.inner.executors)
            .field("placement", &self.inner.placement_name)
            .field("default_partitions", &self.inner.default_partitions)
            .finish()
    }
}

impl Context {
    /// A builder (one executor with a slot per core, `neptune` policy, `lb` placement).
    pub fn builder() -> ContextBuilder {
        ContextBuilder::new()
    }

    /// A dataset of `data`, cut into `partitions` contiguous, nearly equal partitions
    /// (0: the default partition count). Records are cloned each time a job reads
    /// them, so the dataset can be used by any number of jobs.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let ds = ctx.parallelize(vec!["a", "b", "c"], 2);
    /// assert_eq!(ds.partitions(), 2);
    /// assert_eq!(*ds.collect().unwrap(), ["a", "b", "c"]);
    /// ```
    pub fn parallelize<T: Clone + Send + Sync + 'static>(
        &self,
        data: Vec<T>,
        partitions: usize,
    ) -> Dataset<T> {
        let partitions = self.inner.partitions_or_default(partitions);
        let node = ParallelizeNode::new(self.inner.next_node(), data, partitions);
        Dataset::from_node(self.inner.clone(), NodeRef::new(node))
    }

    /// The integers of `range`, in `partitions` contiguous partitions (0: the default
    /// partition count).
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let total = ctx.range(1..101, 4).reduce(|a, b| a + b).unwrap();
    /// assert_eq!(*total, Some(5050));
    /// ```
    pub fn range(&self, range: Range<u64>, partitions: usize) -> Dataset<u64> {
        let partitions = self.inner.partitions_or_default(partitions);
        let node = RangeNode::new(self.inner.next_node(), range, partitions);
        Dataset::from_node(self.inner.clone(), NodeRef::new(node))
    }

    /// A dataset of `partitions` partitions (0: the default count) whose partition `p`
    /// is `generate(p)`. The closure runs in the task, each time a job reads the
    /// partition.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let ds = ctx.generate(3, |p| (0..p as u32).map(move |i| (p, i)));
    /// assert_eq!(*ds.count().unwrap(), 3); // 0 + 1 + 2 records
    /// ```
    pub fn generate<T, I, F>(&self, partitions: usize, generate: F) -> Dataset<T>
    where
        T: Send + 'static,
        F: Fn(usize) -> I + Send + Sync + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        let partitions = self.inner.partitions_or_default(partitions);
        let node = GenerateNode::new(self.inner.next_node(), partitions, generate);
        Dataset::from_node(self.inner.clone(), NodeRef::new(node))
    }

    /// Reads files: a file, or every visible file of a directory (one partition per
    /// file). Choose the format on the returned [`FileReader`].
    pub fn read(&self, path: impl AsRef<Path>) -> FileReader {
        FileReader::new(self.inner.clone(), path.as_ref().to_owned())
    }

    /// The executors.
    pub fn executors(&self) -> &[Executor] {
        &self.inner.executors
    }

    /// The status board's counts (jobs running, tasks running and paused, per class,
    /// and the cumulative totals) without its lists: cheap enough to take at every
    /// metrics scrape, and the job drivers never wait long behind it.
    pub fn status_summary(&self) -> crate::status::StatusSummary {
        self.inner.status.summary()
    }

    /// Jobs, stages and tasks as the job drivers know them now: every running job and
    /// the last finished ones (see [`ContextBuilder::retained_jobs`] and
    /// [`status`](crate::status)), shaped like Spark's monitoring API.
    ///
    /// ```
    /// use neptune_dataflow::status::{JobState, StageState};
    /// let ctx = neptune_dataflow::Context::builder().slots_per_executor(2).build().unwrap();
    /// let sums = ctx.range(0..10, 2).map(|x| (x % 3, x)).reduce_by_key(|a, b| a + b);
    /// sums.collect().unwrap();
    /// let status = ctx.status();
    /// assert_eq!(status.jobs[0].status, JobState::Succeeded);
    /// assert_eq!(status.jobs[0].name, "collect at reduce_by_key#2");
    /// assert_eq!(status.stages.len(), 2);
    /// assert!(status.stages.iter().all(|s| s.status == StageState::Complete));
    /// ```
    pub fn status(&self) -> Status {
        self.inner.status.snapshot()
    }

    /// The registry of the running jobs' stages.
    pub fn registry(&self) -> &OperatorRegistry {
        &self.inner.registry
    }

    /// Partitions used where a count of 0 is given (in a plan builder rebuilding a
    /// driver's plan, the driver's).
    pub fn default_partitions(&self) -> usize {
        scope::default_partitions().unwrap_or(self.inner.default_partitions)
    }

    /// Cluster mode: the executor processes registered now (empty in local mode).
    pub fn cluster_executors(&self) -> Vec<crate::cluster::MemberInfo> {
        self.inner
            .cluster
            .as_ref()
            .map_or_else(Vec::new, |c| c.members())
    }

    /// Cluster mode: the executors that left (lost or stopped), oldest first, with
    /// when and why the driver counted them as gone.
    pub fn cluster_losses(&self) -> Vec<crate::cluster::LostExecutor> {
        self.inner
            .cluster
            .as_ref()
            .map_or_else(Vec::new, |c| c.losses())
    }

    /// A local cluster ([`local_cluster`](crate::ContextBuilder::local_cluster)): the
    /// executor processes' ids, in start order (empty otherwise). For fault tests and
    /// tools that signal them.
    pub fn local_executor_pids(&self) -> Vec<u32> {
        self.inner
            .cluster
            .as_ref()
            .map_or_else(Vec::new, |c| c.local_pids())
    }

    /// A local cluster: kills executor process `i` if it still runs and starts it
    /// again; it joins as a new executor (ids are never reused). Its new process id.
    ///
    /// # Errors
    /// Not a local cluster, no such process, or the process cannot start.
    pub fn restart_local_executor(&self, i: usize) -> crate::Result<u32> {
        match &self.inner.cluster {
            Some(c) => c.restart_local(i),
            None => Err(crate::DataflowError::Config("not in cluster mode".into())),
        }
    }

    /// Cluster mode: the cluster CA's certificate (DER), which a tool dialling the
    /// driver must trust (a local cluster's CA is made afresh for each context).
    pub fn cluster_ca_cert(&self) -> Option<Vec<u8>> {
        self.inner.cluster.as_ref().map(|c| c.ca.clone())
    }

    /// Cluster mode: the address executors dial (the bound one, if the driver was
    /// told to listen on port 0).
    pub fn cluster_addr(&self) -> Option<std::net::SocketAddr> {
        self.inner.cluster.as_ref().map(|c| c.addr())
    }

    /// True in cluster mode.
    pub fn is_cluster(&self) -> bool {
        self.inner.cluster.is_some()
    }

    /// The placement policy's name.
    pub fn placement_name(&self) -> &str {
        &self.inner.placement_name
    }
}
