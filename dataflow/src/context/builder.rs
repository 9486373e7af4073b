//! `ContextBuilder`: executors, slots, policies and placement.

use super::driver::Driver;
use super::executor::Executor;
use super::{Context, ContextInner};
use crate::cluster::broadcast::Broadcasts;
use crate::cluster::builders::Builders;
use crate::cluster::driver::ClusterDriver;
use crate::cluster::local::{ephemeral_ca, LocalCluster};
use crate::cluster::{DriverConfig, LocalClusterConfig};
use crate::error::{DataflowError, Result};
use neptune_runtime::policy::Policy;
use neptune_scheduler::placement::{Placement, PlacementKind};
use neptune_scheduler::ExecutorId;
use std::fmt;
use std::sync::Arc;

/// Makes a policy for executor `executor` with `slots` slots.
type PolicyFactory = Arc<dyn Fn(usize, usize) -> Box<dyn Policy> + Send + Sync>;

enum PolicyChoice {
    Named(String),
    Custom(PolicyFactory),
}

enum PlacementChoice {
    Named(String),
    Custom(Box<dyn Placement>),
}

/// Configures a [`Context`]: how many executors, their slots and policy, and how task
/// sets are placed on them.
///
/// ```
/// use neptune_dataflow::Context;
/// let ctx = Context::builder()
///     .executors(2)
///     .slots_per_executor(2)
///     .policy("neptune")   // each executor's local policy (neptune-scheduler)
///     .placement("lma")    // which executor gets each task (random, lb, lma)
///     .default_partitions(8)
///     .build()
///     .unwrap();
/// assert_eq!(ctx.executors().len(), 2);
/// assert_eq!(ctx.placement_name(), "lma");
/// assert_eq!(ctx.default_partitions(), 8);
///
/// let err = Context::builder().policy("lottery").build().unwrap_err();
/// assert!(err.to_string().contains("unknown policy \"lottery\""));
/// ```
pub struct ContextBuilder {
    executors: usize,
    slots: Option<usize>,
    policy: PolicyChoice,
    placement: PlacementChoice,
    placement_seed: u64,
    /// Whether `placement` was chosen (cluster mode defaults to LMA otherwise).
    placement_chosen: bool,
    default_partitions: Option<usize>,
    thread_name: String,
    slot_nice: Option<i32>,
    builders: Builders,
    cluster: Option<ClusterChoice>,
    /// Cluster mode: how long a job with no executor left waits for one.
    executor_grace: std::time::Duration,
    /// Finished jobs the status board keeps (0: its default).
    retained_jobs: usize,
    /// Spans each executor slot's timeline keeps (0: off).
    timeline: usize,
}

/// The slot threads' nice value when the executors' slots fill every core (see
/// [`ContextBuilder::slot_nice`]).
pub const DEFAULT_SLOT_NICE: i32 = 10;

/// The slot threads' default nice value for executors with `slots` slots in all on this
/// machine: [`DEFAULT_SLOT_NICE`] if they fill every core, else 0.
pub(crate) fn default_slot_nice(slots: usize) -> i32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if slots >= cores {
        DEFAULT_SLOT_NICE
    } else {
        0
    }
}

/// Where a cluster context's executors come from.
enum ClusterChoice {
    /// Executor processes dial in.
    Remote(DriverConfig),
    /// This context starts them on loopback.
    Local(LocalClusterConfig),
}

impl fmt::Debug for ContextBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy = match &self.policy {
            PolicyChoice::Named(n) => n.clone(),
            PolicyChoice::Custom(_) => "custom".to_owned(),
        };
        let placement = match &self.placement {
            PlacementChoice::Named(n) => n.clone(),
            PlacementChoice::Custom(p) => p.name().to_owned(),
        };
        f.debug_struct("ContextBuilder")
            .field("executors", &self.executors)
            .field("slots", &self.slots)
            .field("policy", &policy)
            .field("placement", &placement)
            .field("default_partitions", &self.default_partitions)
            .field("builders", &self.builders)
            .field("cluster", &self.cluster.is_some())
            .finish()
    }
}

impl Default for ContextBuilder {
    fn default() -> Self {
        ContextBuilder::new()
    }
}

impl ContextBuilder {
    /// One executor with a slot per core, the `neptune` policy, `lb` placement.
    pub fn new() -> ContextBuilder {
        ContextBuilder {
            executors: 1,
            slots: None,
            policy: PolicyChoice::Named("neptune".to_owned()),
            placement: PlacementChoice::Named("lb".to_owned()),
            placement_seed: 0,
            placement_chosen: false,
            default_partitions: None,
            thread_name: "neptune".to_owned(),
            slot_nice: None,
            builders: Builders::new(),
            cluster: None,
            executor_grace: crate::cluster::NO_EXECUTOR_GRACE,
            retained_jobs: 0,
            timeline: 0,
        }
    }

    /// The plan builders of this program (see [`Context::build`]); in cluster mode,
    /// executors must have the same table.
    pub fn builders(mut self, builders: Builders) -> ContextBuilder {
        self.builders = builders;
        self
    }

    /// Cluster mode: executor processes dial the driver at `config.listen`; the
    /// context is ready once `config.expect` of them registered. Placement is LMA
    /// unless chosen; `executors`, `slots_per_executor` and `policy` are the
    /// executors' own business then.
    pub fn cluster(mut self, config: DriverConfig) -> ContextBuilder {
        self.cluster = Some(ClusterChoice::Remote(config));
        self
    }

    /// Cluster mode on this machine: starts `n` executor processes of this program
    /// (each with `slots_per_executor` slots, 1 if unset, and this builder's policy) on
    /// loopback with an ephemeral CA, and stops them when the context is dropped. The
    /// program must call [`main_or_executor`](crate::cluster::main_or_executor) first
    /// thing in `main`; [`local_cluster_command`](Self::local_cluster_command) changes
    /// how executors are started.
    pub fn local_cluster(mut self, n: usize) -> ContextBuilder {
        self.cluster = Some(ClusterChoice::Local(LocalClusterConfig {
            executors: n,
            slots: 0,
            policy: String::new(),
            program: None,
            args: Vec::new(),
            env: Vec::new(),
        }));
        self
    }

    /// Cluster mode: how long a job whose executors are all gone waits for one to join
    /// before it fails (default [`NO_EXECUTOR_GRACE`](crate::cluster::NO_EXECUTOR_GRACE)).
    pub fn executor_grace(mut self, grace: std::time::Duration) -> ContextBuilder {
        self.executor_grace = grace;
        self
    }

    /// With [`local_cluster`](Self::local_cluster): set `key` to `value` in the
    /// environment of every executor process (e.g. an injected
    /// [`fault`](crate::cluster::fault)).
    pub fn local_cluster_env(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> ContextBuilder {
        if let Some(ClusterChoice::Local(c)) = &mut self.cluster {
            c.env.push((key.into(), value.into()));
        }
        self
    }

    /// With [`local_cluster`](Self::local_cluster): run `program` (None: this
    /// executable) with `args` as each executor.
    pub fn local_cluster_command(
        mut self,
        program: Option<std::path::PathBuf>,
        args: Vec<String>,
    ) -> ContextBuilder {
        if let Some(ClusterChoice::Local(c)) = &mut self.cluster {
            c.program = program;
            c.args = args;
        }
        self
    }

    /// Number of executors (runtimes). At least one.
    pub fn executors(mut self, n: usize) -> ContextBuilder {
        self.executors = n;
        self
    }

    /// Slots (worker threads) of each executor. Unset: the available cores shared
    /// among the executors, at least one each.
    pub fn slots_per_executor(mut self, k: usize) -> ContextBuilder {
        self.slots = Some(k);
        self
    }

    /// Each executor's local policy, by name: `static`, `fifo`, `fair`, `kill` or
    /// `neptune` (the default), as `neptune_scheduler::policy_by_name` knows them.
    pub fn policy(mut self, name: impl Into<String>) -> ContextBuilder {
        self.policy = PolicyChoice::Named(name.into());
        self
    }

    /// Each executor's local policy, from a function of the executor's index and its
    /// slot count (for a policy of your own, or one with non-default settings).
    pub fn policy_with<F>(mut self, make: F) -> ContextBuilder
    where
        F: Fn(usize, usize) -> Box<dyn Policy> + Send + Sync + 'static,
    {
        self.policy = PolicyChoice::Custom(Arc::new(make));
        self
    }

    /// The placement policy, by name: `random`, `lb` (the default in local mode) or
    /// `lma` (the default in cluster mode).
    pub fn placement(mut self, name: impl Into<String>) -> ContextBuilder {
        self.placement = PlacementChoice::Named(name.into());
        self.placement_chosen = true;
        self
    }

    /// A placement policy of your own.
    pub fn placement_policy(mut self, placement: impl Placement + 'static) -> ContextBuilder {
        self.placement = PlacementChoice::Custom(Box::new(placement));
        self.placement_chosen = true;
        self
    }

    /// The seed of `random` placement.
    pub fn placement_seed(mut self, seed: u64) -> ContextBuilder {
        self.placement_seed = seed;
        self
    }

    /// Partitions of datasets made with a partition count of 0, and of shuffles whose
    /// input has none. Unset: the total number of slots.
    pub fn default_partitions(mut self, n: usize) -> ContextBuilder {
        self.default_partitions = Some(n);
        self
    }

    /// Prefix of thread names: executor `i`'s slots are `PREFIX-eI-N`, the driver
    /// thread `PREFIX-driver`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> ContextBuilder {
        self.thread_name = prefix.into();
        self
    }

    /// The nice value of the executors' slot threads (Linux; 0 leaves them as they
    /// are). By default it is [`DEFAULT_SLOT_NICE`] when the slots of this process's
    /// executors are at least as many as its cores, and 0 otherwise. With every core
    /// busy with Batch work, the threads that hand a stream's micro-batches on (its
    /// trigger thread, the driver thread, the I/O driver) must get a core the moment
    /// they wake; at the slots' own weight they often waited for the next scheduler tick
    /// (2 ms). With a core to spare they find it free, and a low weight would only
    /// make the slots' placement on the cores less even. See
    /// [`neptune_runtime::Builder::slot_nice`].
    pub fn slot_nice(mut self, nice: i32) -> ContextBuilder {
        self.slot_nice = Some(nice);
        self
    }

    /// How many finished jobs [`Context::status`] keeps (default 200; 0 keeps the
    /// default). Running jobs are always kept; a stream submits one job per
    /// micro-batch, so this bounds the board's memory however long a stream runs.
    ///
    /// ```
    /// let ctx = neptune_dataflow::Context::builder()
    ///     .slots_per_executor(1)
    ///     .retained_jobs(2)
    ///     .build()
    ///     .unwrap();
    /// for _ in 0..5 {
    ///     ctx.range(0..10, 1).count().unwrap();
    /// }
    /// let status = ctx.status();
    /// let ids: Vec<u64> = status.jobs.iter().map(|j| j.job_id).collect();
    /// assert_eq!(ids, [3, 4]);
    /// assert_eq!(status.totals.jobs_dropped, 3);
    /// assert_eq!(status.totals.jobs_succeeded, [0, 5]);
    /// ```
    pub fn retained_jobs(mut self, n: usize) -> ContextBuilder {
        self.retained_jobs = n;
        self
    }

    /// Records a timeline of each local executor slot's last `spans_per_slot` spans
    /// (Stream runs, Batch runs, paused intervals; see
    /// [`neptune_runtime::Builder::timeline`]), read with [`Executor::timeline`]. Off
    /// (0) by default. Cluster mode: executor processes keep no timeline.
    ///
    /// ```
    /// let ctx = neptune_dataflow::Context::builder()
    ///     .slots_per_executor(1)
    ///     .timeline(1024)
    ///     .build()
    ///     .unwrap();
    /// ctx.range(0..1000, 1).count().unwrap();
    /// // The slot records a poll right after it returns, which may be a moment after
    /// // the job's result is out.
    /// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// loop {
    ///     let timeline = ctx.executors()[0].timeline();
    ///     assert_eq!(timeline.slots.len(), 1);
    ///     if !timeline.slots[0].spans.is_empty() {
    ///         break;
    ///     }
    ///     assert!(std::time::Instant::now() < deadline, "no span recorded");
    ///     std::thread::yield_now();
    /// }
    /// ```
    pub fn timeline(mut self, spans_per_slot: usize) -> ContextBuilder {
        self.timeline = spans_per_slot;
        self
    }

    /// Starts the executors and the driver thread.
    ///
    /// # Errors
    /// Zero executors or slots, an unknown policy or placement name, or a runtime that
    /// fails to start.
    pub fn build(self) -> Result<Context> {
        if self.cluster.is_some() {
            return self.build_cluster();
        }
        if self.executors == 0 {
            return Err(DataflowError::Config(
                "a context needs at least one executor".into(),
            ));
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let slots = self.slots.unwrap_or((cores / self.executors).max(1));
        let slot_nice = self
            .slot_nice
            .unwrap_or_else(|| default_slot_nice(slots * self.executors));
        if slots == 0 {
            return Err(DataflowError::Config(
                "an executor needs at least one slot".into(),
            ));
        }
        let make_policy: PolicyFactory = match self.policy {
            PolicyChoice::Named(name) => {
                neptune_scheduler::policy_by_name(&name, slots)
                    .map_err(|e| DataflowError::Config(e.to_string()))?;
                Arc::new(move |_, slots| {
                    neptune_scheduler::policy_by_name(&name, slots)
                        .expect("name checked when the context was built")
                })
            }
            PolicyChoice::Custom(f) => f,
        };
        let placement = match self.placement {
            PlacementChoice::Named(name) => name
                .parse::<PlacementKind>()
                .map_err(|e| DataflowError::Config(e.to_string()))?
                .build(self.placement_seed),
            PlacementChoice::Custom(p) => p,
        };
        let mut executors = Vec::with_capacity(self.executors);
        for i in 0..self.executors {
            let runtime = neptune_runtime::Builder::new()
                .slots(slots)
                .thread_name(format!("{}-e{i}", self.thread_name))
                .slot_nice(slot_nice)
                .policy(make_policy(i, slots))
                .timeline(self.timeline)
                .build()
                .map_err(DataflowError::Runtime)?;
            executors.push(Executor::new(ExecutorId(i as u32), runtime));
        }
        let driver = Driver::start(format!("{}-driver", self.thread_name))
            .map_err(DataflowError::Runtime)?;
        let default_partitions = self.default_partitions.unwrap_or(slots * self.executors);
        let ctx = ContextInner::context(
            driver,
            placement,
            default_partitions,
            self.builders,
            None,
            Broadcasts::default(),
            executors,
        );
        ctx.inner.status.retain(self.retained_jobs);
        Ok(ctx)
    }

    /// A context whose executors are processes.
    fn build_cluster(self) -> Result<Context> {
        let policy = match &self.policy {
            PolicyChoice::Named(name) => {
                neptune_scheduler::policy_by_name(name, 1)
                    .map_err(|e| DataflowError::Config(e.to_string()))?;
                name.clone()
            }
            PolicyChoice::Custom(_) => {
                return Err(DataflowError::Config(
                    "a custom policy cannot travel to executor processes: name one".into(),
                ))
            }
        };
        let placement = match self.placement {
            _ if !self.placement_chosen => PlacementKind::Lma.build(self.placement_seed),
            PlacementChoice::Named(name) => name
                .parse::<PlacementKind>()
                .map_err(|e| DataflowError::Config(e.to_string()))?
                .build(self.placement_seed),
            PlacementChoice::Custom(p) => p,
        };
        let names = self.builders.names();
        let (mut cluster, expect, wait, slots) = match self.cluster.expect("cluster mode") {
            ClusterChoice::Remote(c) => {
                let driver = ClusterDriver::start(c.listen, &c.identity, names, c.heartbeat)?;
                (driver, c.expect, c.wait, self.slots.unwrap_or(1))
            }
            ClusterChoice::Local(mut c) => {
                if c.executors == 0 {
                    return Err(DataflowError::Config(
                        "a local cluster needs at least one executor".into(),
                    ));
                }
                c.slots = self.slots.unwrap_or(1).max(1);
                c.policy = policy;
                let (identity, dir) = ephemeral_ca(c.executors)?;
                let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
                let driver = ClusterDriver::start(
                    listen,
                    &identity,
                    names,
                    std::time::Duration::from_secs(1),
                )?;
                driver.adopt(LocalCluster::spawn(&c, driver.addr(), dir)?);
                (
                    driver,
                    c.executors,
                    std::time::Duration::from_secs(60),
                    c.slots,
                )
            }
        };
        cluster.grace = self.executor_grace;
        cluster.wait_for(expect, wait)?;
        let driver = Driver::start(format!("{}-driver", self.thread_name))
            .map_err(DataflowError::Runtime)?;
        let cluster = Arc::new(cluster);
        let broadcasts = Broadcasts::default();
        let to = cluster.clone();
        broadcasts.set_sender(Arc::new(move |name, version, value| {
            to.broadcast(name, version, value)
        }));
        let default_partitions = self.default_partitions.unwrap_or(slots * expect);
        let ctx = ContextInner::context(
            driver,
            placement,
            default_partitions,
            self.builders,
            Some(cluster),
            broadcasts,
            Vec::new(),
        );
        ctx.inner.status.retain(self.retained_jobs);
        Ok(ctx)
    }
}
