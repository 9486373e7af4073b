//! Jobs: submitting an action, the driver that runs its stages, and `JobHandle`.
//!
//! The driver launches every stage whose parent stages are done (independent stages,
//! such as the two sides of a join, run at the same time). Launching a stage places
//! its task set on the executors with the context's placement policy (each task
//! preferring the executor that wrote most of the shuffle records it reads), then
//! spawns one task per partition, in the job's class, each named by its
//! [`TaskId`]. A task's only instructions are its stage's name and its partition: the
//! harness finds the pipeline in the operator registry.

use super::control::TaskControl;
use super::harness::{run_task, TaskReport};
use super::registry::{Registration, StageRunner, TaskOutput};
use super::stats::{JobResult, JobStats};
use super::{CounterSnapshot, TaskCounters, TaskEnv};
use crate::cluster::builders::{decode_part, Origin};
use crate::cluster::driver::{remote_action, ClusterDriver};
use crate::cluster::protocol::{
    JobSpec, Launch, Peer, ShuffleLocations, TaskDone, TaskKey, TaskResult,
};
use crate::context::ContextInner;
use crate::error::{DataflowError, Result};
use crate::plan::stages::{self, JobPlan};
use crate::plan::{AnyNode, JobId, ShuffleId, StageId, TaskId};
use crate::shuffle::{MapStatus, ShuffleStore};
use crate::status::{TaskEnd, TaskState};
use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use neptune_runtime::{Class, JoinError, SpawnOptions};
use neptune_scheduler::placement::TaskRequest;
use neptune_scheduler::ExecutorId;
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What a stage produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageKind {
    /// It writes a shuffle, read by a later stage.
    ShuffleMap {
        /// The shuffle.
        shuffle: ShuffleId,
    },
    /// It hands its records to the job's action.
    Result,
}

/// A stage of a job, as planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageInfo {
    /// The stage's number in its job (parents first).
    pub id: StageId,
    /// The name its pipeline is registered under: `ROOT>shuffle#S` for a shuffle-map
    /// stage, `ROOT>ACTION@job-J` for the result stage, where `ROOT` is the stage's
    /// last dataset as `op#id` (datasets are numbered in creation order, so the same
    /// program gives the same names).
    pub name: String,
    /// Tasks (one per partition).
    pub partitions: usize,
    /// Stages that must finish first.
    pub parents: Vec<StageId>,
    /// What it produces.
    pub kind: StageKind,
}

/// A task the job launched.
#[derive(Clone, Debug)]
pub struct JobTask {
    /// Job, stage and partition.
    pub id: TaskId,
    /// Where it was placed.
    pub executor: ExecutorId,
    /// The task: pause, resume, cancel or inspect it.
    pub handle: TaskControl,
}

/// What a job's handle and its driver share.
struct JobShared {
    id: JobId,
    class: Class,
    stages: Vec<StageInfo>,
    tasks: Mutex<Vec<JobTask>>,
    cancelled: AtomicBool,
}

impl JobShared {
    fn tasks(&self) -> MutexGuard<'_, Vec<JobTask>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cancel_tasks(&self) {
        for t in self.tasks().iter() {
            t.handle.cancel();
        }
    }
}

/// A running job: its stages and tasks, and its answer once it is done.
///
/// Made by the methods of [`Job`](crate::Job); the job runs whether or not the handle
/// is waited on (dropping the handle detaches it). Wait with [`wait`](Self::wait), or
/// `.await` the handle in async code.
///
/// ```
/// use neptune_dataflow::Context;
/// let ctx = Context::builder().executors(1).slots_per_executor(2).build().unwrap();
/// let job = ctx.range(0..100_000, 4).map(|x| x % 7).job().count();
/// for task in job.tasks() {
///     task.handle.pause(); // parks at its next record, keeping its progress
///     task.handle.resume();
/// }
/// assert_eq!(*job.wait().unwrap(), 100_000);
/// ```
pub struct JobHandle<R> {
    shared: Arc<JobShared>,
    result: oneshot::Receiver<Result<JobResult<R>>>,
}

impl<R> fmt::Debug for JobHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("id", &self.shared.id)
            .field("class", &self.shared.class)
            .field("stages", &self.shared.stages.len())
            .field("tasks", &self.shared.tasks().len())
            .finish()
    }
}

impl<R> JobHandle<R> {
    /// The job's id.
    pub fn id(&self) -> JobId {
        self.shared.id
    }

    /// The class its tasks run in.
    pub fn class(&self) -> Class {
        self.shared.class
    }

    /// The job's stages, parents first.
    pub fn stages(&self) -> Vec<StageInfo> {
        self.shared.stages.clone()
    }

    /// The tasks launched so far (a stage's tasks appear when its parents are done).
    pub fn tasks(&self) -> Vec<JobTask> {
        self.shared.tasks().clone()
    }

    /// Cancels the job: its tasks are cancelled, no new stage starts, and the job
    /// answers [`DataflowError::JobCancelled`] (unless it had already finished).
    pub fn cancel(&self) {
        self.shared.cancelled.store(true, SeqCst);
        self.shared.cancel_tasks();
    }

    /// Blocks until the job is done. Do not call it from a task running on an
    /// executor (it would hold the slot); `.await` the handle there.
    pub fn wait(self) -> Result<JobResult<R>> {
        futures::executor::block_on(self)
    }
}

impl<R> Future for JobHandle<R> {
    type Output = Result<JobResult<R>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let id = self.shared.id;
        self.result
            .poll_unpin(cx)
            .map(|r| r.unwrap_or(Err(DataflowError::DriverGone(id))))
    }
}

/// Turns the result tasks' outputs, in partition order, into the action's answer.
pub(crate) type Combine<R> = Box<dyn FnOnce(Vec<Box<dyn Any + Send>>) -> Result<R> + Send>;

/// A result part as an executor sent it, decoded when the job is done.
struct Encoded(Vec<u8>);

/// Encoded answers up to this size are decoded on the network runtime (a few tens of
/// microseconds); larger ones on the context's driver thread.
const INLINE_ANSWER: usize = 64 * 1024;

/// The encoded size of a job's result parts.
fn encoded_len(parts: &[Box<dyn Any + Send>]) -> usize {
    parts
        .iter()
        .filter_map(|p| p.downcast_ref::<Encoded>())
        .map(|e| e.0.len())
        .sum()
}

/// A cluster job: where its tasks run and how executors rebuild it.
struct RemoteJob {
    cluster: Arc<ClusterDriver>,
    spec: JobSpec,
    origin: Arc<Origin>,
}

/// Plans and submits a job running `result` (named `action`) over `root`. In cluster
/// mode, `origin` says how executors rebuild `root`.
pub(crate) fn submit<R: Send + 'static>(
    ctx: &Arc<ContextInner>,
    root: &Arc<dyn AnyNode>,
    origin: Option<&Arc<Origin>>,
    class: Class,
    action: &str,
    result: Arc<dyn StageRunner>,
    combine: Combine<R>,
) -> JobHandle<R> {
    let started = Instant::now();
    let name = format!("{action} at {}", root.label());
    let job = ctx.next_job();
    let remote = match &ctx.cluster {
        None => None,
        Some(cluster) => match remote_job(cluster, job, root, origin, action) {
            Ok(remote) => Some(remote),
            Err(e) => return failed_as(ctx, job, class, name, e),
        },
    };
    let plan = stages::plan(job, root, action, result);
    let stages = plan
        .stages
        .iter()
        .map(|s| StageInfo {
            id: s.id,
            name: s.name.to_string(),
            partitions: s.partitions,
            parents: s.parents.clone(),
            kind: match s.shuffle {
                Some(shuffle) => StageKind::ShuffleMap { shuffle },
                None => StageKind::Result,
            },
        })
        .collect::<Vec<_>>();
    ctx.status.job_submitted(job, name, class, &stages);
    let registrations = plan
        .stages
        .iter()
        .map(|s| ctx.registry.register(s.name.clone(), s.runner.clone()))
        .collect();
    let shared = Arc::new(JobShared {
        id: job,
        class,
        stages,
        tasks: Mutex::new(Vec::new()),
        cancelled: AtomicBool::new(false),
    });
    let (tx, rx) = oneshot::channel();
    if let Some(r) = &remote {
        r.cluster.begin_job(r.spec.clone());
    }
    let mut driver = JobDriver::new(
        ctx.clone(),
        plan,
        shared.clone(),
        registrations,
        remote,
        origin,
    );
    let answer_of = move |driver: &JobDriver, outcome: Result<Vec<Box<dyn Any + Send>>>| {
        let answer = match outcome.and_then(|parts| driver.decode(parts)) {
            Ok(outputs) => combine(outputs).map(|value| JobResult {
                value,
                stats: driver.stats(started),
            }),
            Err(e) => {
                driver.shared.cancel_tasks();
                Err(e)
            }
        };
        let error = answer.as_ref().err().map(ToString::to_string);
        driver.ctx.status.job_ended(driver.shared.id, error);
        answer
    };
    let stream_runtime = (class == Class::Stream)
        .then(|| ctx.executors.first().map(|e| e.handle().clone()))
        .flatten();
    match (
        driver.remote.as_ref().map(|r| r.cluster.clone()),
        stream_runtime,
    ) {
        (None, Some(runtime)) => {
            // A Stream job is driven as a Stream task on the executor's runtime: never
            // paused, and taking a core from Batch work within microseconds. On the
            // driver thread each of its hand-offs (stages to start, tasks that end)
            // would be an OS wake-up of that thread, and with every core busy with
            // Batch work one waited for the next scheduler tick (2 ms here) about one
            // micro-batch in ten. The answer is delivered as in cluster mode.
            let to_driver_thread = ctx.driver.sender();
            let run = async move {
                let outcome = driver.run().await;
                let answer = answer_of(&driver, outcome);
                deliver_off_driver_thread(driver, to_driver_thread.as_ref(), tx, answer);
            };
            drop(runtime.spawn_with(SpawnOptions::stream().name(format!("job-{job}")), run));
        }
        (None, None) => {
            let run = async move {
                let outcome = driver.run().await;
                let answer = answer_of(&driver, outcome);
                // The stages leave the registry before the answer is delivered.
                drop(driver);
                let _ = tx.send(answer);
            };
            ctx.driver.submit(run.boxed());
        }
        (Some(cluster), _) => {
            // The stages are driven on the cluster's network runtime, where launches
            // and task updates are handled, so a launch costs no hop between threads.
            // A small answer is decoded and delivered there too; a large one (decoding
            // the program's types takes as long as its size) is left to the context's
            // driver thread, and so is dropping the job, which may hold the context's
            // last reference (a runtime cannot stop itself).
            let to_driver_thread = ctx.driver.sender();
            let run = async move {
                let outcome = driver.run().await;
                if let Some(r) = &driver.remote {
                    r.cluster.end_job(r.spec.job);
                }
                let small = outcome
                    .as_ref()
                    .map_or(true, |parts| encoded_len(parts) <= INLINE_ANSWER);
                let Some(to_driver_thread) = to_driver_thread else {
                    return;
                };
                if small {
                    let answer = answer_of(&driver, outcome);
                    deliver_off_driver_thread(driver, Some(&to_driver_thread), tx, answer);
                } else {
                    let rest = async move {
                        let answer = answer_of(&driver, outcome);
                        drop(driver);
                        let _ = tx.send(answer);
                    };
                    let _ = to_driver_thread.unbounded_send(rest.boxed());
                }
            };
            cluster.spawn_job(run.boxed());
        }
    }
    JobHandle { shared, result: rx }
}

/// Delivers a job's `answer` from a runtime thread. The job lets go of the context
/// first (a program that drops its context then stops at once), and the last reference,
/// if the job held it, is dropped on the driver thread: a runtime cannot stop itself.
fn deliver_off_driver_thread<T>(
    driver: JobDriver,
    to_driver_thread: Option<&futures::channel::mpsc::UnboundedSender<BoxFuture<'static, ()>>>,
    tx: oneshot::Sender<T>,
    answer: T,
) {
    if let Some(last) = Arc::into_inner(driver.into_context()) {
        if let Some(to) = to_driver_thread {
            let _ = to.unbounded_send(async move { drop(last) }.boxed());
        }
    }
    let _ = tx.send(answer);
}

/// What executors need to rebuild a job over `root`; an error if it cannot run in
/// cluster mode.
fn remote_job(
    cluster: &Arc<ClusterDriver>,
    job: JobId,
    root: &Arc<dyn AnyNode>,
    origin: Option<&Arc<Origin>>,
    action: &str,
) -> Result<RemoteJob> {
    let origin = origin.filter(|o| o.root == root.id()).ok_or_else(|| {
        DataflowError::Cluster(format!(
            "{} was not made by a plan builder: in cluster mode a job runs on a dataset \
             returned by Context::build (derive datasets inside the builder)",
            root.label()
        ))
    })?;
    let action = remote_action(action)?;
    Ok(RemoteJob {
        cluster: cluster.clone(),
        spec: JobSpec {
            job: job.0,
            builder: origin.builder.clone(),
            args: origin.args.clone(),
            bases: origin.bases,
            default_partitions: origin.default_partitions,
            action,
        },
        origin: origin.clone(),
    })
}

/// A handle to a job named `name` that failed with `error` before it could start.
pub(crate) fn failed<R>(
    ctx: &Arc<ContextInner>,
    class: Class,
    name: String,
    error: DataflowError,
) -> JobHandle<R> {
    failed_as(ctx, ctx.next_job(), class, name, error)
}

/// [`failed`], for a job already numbered `job`. The status board lists it as failed.
fn failed_as<R>(
    ctx: &Arc<ContextInner>,
    job: JobId,
    class: Class,
    name: String,
    error: DataflowError,
) -> JobHandle<R> {
    ctx.status.job_submitted(job, name, class, &[]);
    ctx.status.job_ended(job, Some(error.to_string()));
    let (tx, result) = oneshot::channel();
    let _ = tx.send(Err(error));
    let shared = Arc::new(JobShared {
        id: job,
        class,
        stages: Vec::new(),
        tasks: Mutex::new(Vec::new()),
        cancelled: AtomicBool::new(false),
    });
    JobHandle { shared, result }
}

/// Per map partition of a shuffle: the executor that wrote it and its bucket sizes.
type Written = Vec<Option<(usize, Vec<u64>)>>;

/// A task's completion, as the driver receives it.
type Finished = (usize, TaskId, usize, Result<TaskReport>);

/// Runs one job's stages.
struct JobDriver {
    ctx: Arc<ContextInner>,
    plan: JobPlan,
    shared: Arc<JobShared>,
    _registrations: Vec<Registration>,
    store: Arc<ShuffleStore>,
    launched: Vec<bool>,
    /// Tasks of each stage not yet finished.
    remaining: Vec<usize>,
    /// What each shuffle's map tasks wrote, and where.
    written: HashMap<ShuffleId, Written>,
    outputs: Vec<Option<Box<dyn Any + Send>>>,
    counters: CounterSnapshot,
    running: FuturesUnordered<BoxFuture<'static, Finished>>,
    /// Cluster mode: the executors and the job's spec.
    remote: Option<RemoteJob>,
    /// The published values the job's builds read: the driver's (which local tasks
    /// use), or the executors' as their tasks report them.
    published: Vec<(String, u64)>,
    /// Tasks to run again once their stage's parents are complete: their executor
    /// was lost, they failed, or they could not fetch a map output.
    waiting: Vec<(usize, TaskId)>,
    /// The latest attempt number of each task run again (the first is 0).
    attempts: HashMap<TaskId, u32>,
    /// Attempts of each task that failed with an error.
    failures: HashMap<TaskId, u32>,
    /// Per stage: times in a row its map outputs were lost and it ran again.
    resubmissions: Vec<u32>,
    /// Tasks run again, for any reason.
    rerun: u64,
    /// Map stage re-runs for lost outputs.
    stages_resubmitted: u64,
}

impl JobDriver {
    fn new(
        ctx: Arc<ContextInner>,
        plan: JobPlan,
        shared: Arc<JobShared>,
        registrations: Vec<Registration>,
        remote: Option<RemoteJob>,
        origin: Option<&Arc<Origin>>,
    ) -> Self {
        // Local tasks run the driver's build; remote ones report their executor's.
        let published = match (&remote, origin) {
            (None, Some(o)) => o.published.clone(),
            _ => Vec::new(),
        };
        let loads = ctx.executors.iter().map(|e| e.load.clone()).collect();
        let store = Arc::new(ShuffleStore::new(&plan.shuffles, loads));
        let written = plan
            .shuffles
            .iter()
            .map(|s| (s.id, vec![None; s.map_partitions]))
            .collect();
        let n = plan.stages.len();
        let result_partitions = plan.stages.last().map_or(0, |s| s.partitions);
        JobDriver {
            remaining: plan.stages.iter().map(|s| s.partitions).collect(),
            launched: vec![false; n],
            outputs: (0..result_partitions).map(|_| None).collect(),
            ctx,
            plan,
            shared,
            _registrations: registrations,
            store,
            written,
            counters: CounterSnapshot::default(),
            running: FuturesUnordered::new(),
            remote,
            published,
            waiting: Vec::new(),
            attempts: HashMap::new(),
            failures: HashMap::new(),
            resubmissions: vec![0; n],
            rerun: 0,
            stages_resubmitted: 0,
        }
    }

    /// Runs every stage; the result stage's outputs in partition order.
    async fn run(&mut self) -> Result<Vec<Box<dyn Any + Send>>> {
        loop {
            if let Some((wait, grace)) = self.executors_to_wait_for() {
                if !matches!(wait.await, Ok(true)) {
                    return Err(DataflowError::Cluster(format!(
                        "{} cannot run: no executor is left, and none joined within {grace:?}",
                        self.shared.id
                    )));
                }
            }
            self.launch_ready()?;
            self.launch_waiting()?;
            if self.remaining.iter().all(|&r| r == 0) {
                break;
            }
            let Some((stage, task, executor, outcome)) = self.running.next().await else {
                unreachable!("stages remain but no task runs: a stage waits on itself");
            };
            self.finished(stage, task, executor, outcome)?;
        }
        Ok(self
            .outputs
            .drain(..)
            .map(|o| o.expect("every result partition reported"))
            .collect())
    }

    /// Cluster mode with no executor left: the wait, up to the grace period, for one
    /// to join (true if one did).
    fn executors_to_wait_for(&self) -> Option<(neptune_runtime::JoinHandle<bool>, Duration)> {
        let remote = self.remote.as_ref()?;
        let grace = remote.cluster.grace;
        (!remote.cluster.has_executors()).then(|| (remote.cluster.any_executor(grace), grace))
    }

    /// Runs again the waiting tasks whose stage's parents are complete (again).
    fn launch_waiting(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.waiting.len() {
            let (s, task) = self.waiting[i];
            if self.parents_complete(s)? {
                self.waiting.swap_remove(i);
                self.relaunch(s, task)?;
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Whether every parent stage of `s` is done and, in cluster mode, its outputs
    /// are still on live executors (outputs found lost are resubmitted first).
    fn parents_complete(&mut self, s: usize) -> Result<bool> {
        if let Some(remote) = &self.remote {
            // Once per executor holding the parents' outputs, not once per output.
            let mut holders: Vec<usize> = self.plan.stages[s]
                .parents
                .iter()
                .filter_map(|p| self.plan.stages[p.0 as usize].shuffle)
                .flat_map(|shuffle| self.written[&shuffle].iter().flatten().map(|(e, _)| *e))
                .collect();
            holders.sort_unstable();
            holders.dedup();
            holders.retain(|&e| remote.cluster.peer(e as u32).is_none());
            for e in holders {
                self.lose_outputs(e)?;
            }
        }
        let parents = &self.plan.stages[s].parents;
        Ok(parents.iter().all(|p| self.remaining[p.0 as usize] == 0))
    }

    /// Map outputs on `executor` are lost: every map task that wrote one that a stage
    /// still needs runs again (once its own parents are complete).
    fn lose_outputs(&mut self, executor: usize) -> Result<()> {
        for m in 0..self.plan.stages.len() {
            let Some(shuffle) = self.plan.stages[m].shuffle else {
                continue;
            };
            let id = self.plan.stages[m].id;
            let needed = self
                .plan
                .stages
                .iter()
                .enumerate()
                .any(|(c, stage)| stage.parents.contains(&id) && self.remaining[c] > 0);
            if !needed {
                continue;
            }
            let written = self.written.get_mut(&shuffle).expect("a planned shuffle");
            let lost: Vec<usize> = written
                .iter()
                .enumerate()
                .filter(|(_, w)| matches!(w, Some((e, _)) if *e == executor))
                .map(|(p, _)| p)
                .collect();
            if lost.is_empty() {
                continue;
            }
            self.resubmissions[m] += 1;
            if self.resubmissions[m] > crate::cluster::MAX_STAGE_RESUBMISSIONS {
                return Err(DataflowError::Cluster(format!(
                    "{} failed: the map outputs of stage {} were lost {} times in a row \
                     (the last time on executor {executor})",
                    self.shared.id,
                    self.plan.stages[m].name,
                    crate::cluster::MAX_STAGE_RESUBMISSIONS + 1
                )));
            }
            self.stages_resubmitted += 1;
            for &p in &lost {
                written[p] = None;
            }
            self.remaining[m] += lost.len();
            for p in lost {
                let task = TaskId {
                    job: self.shared.id,
                    stage: id,
                    partition: p as u32,
                };
                self.waiting.push((m, task));
            }
        }
        Ok(())
    }

    /// Runs a task again (a new attempt number), placed as its stage was.
    fn relaunch(&mut self, s: usize, task: TaskId) -> Result<()> {
        let remote = self.remote.as_ref().expect("cluster mode");
        let request = TaskRequest {
            preferred: self.preferred(&self.plan.stages[s].root, task.partition as usize),
            class: self.shared.class,
        };
        let views = remote.cluster.views();
        let placed = self
            .ctx
            .placement
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .place(&[request], &views)
            .map_err(DataflowError::Placement)?;
        let executor = placed[0];
        let attempt = self.attempts.entry(task).or_insert(0);
        *attempt += 1;
        let attempt = *attempt;
        self.rerun += 1;
        let (handle, done) = self.spawn_remote(s, task, executor.0, attempt);
        let launched = self.track(s, task, executor, handle, done);
        self.ctx
            .status
            .task_launched(task, attempt, executor.0, launched.handle.clone());
        self.shared.tasks().push(launched);
        Ok(())
    }

    /// Follows a launched task of stage `s` until it ends; the task, to list.
    fn track(
        &mut self,
        s: usize,
        task: TaskId,
        executor: ExecutorId,
        handle: TaskControl,
        done: BoxFuture<'static, Result<TaskReport>>,
    ) -> JobTask {
        let index = executor.0 as usize;
        self.running
            .push(async move { (s, task, index, done.await) }.boxed());
        JobTask {
            id: task,
            executor,
            handle,
        }
    }

    /// Launches every stage whose parents are done.
    fn launch_ready(&mut self) -> Result<()> {
        for s in 0..self.plan.stages.len() {
            if !self.launched[s] && self.parents_complete(s)? {
                if self.shared.cancelled.load(SeqCst) {
                    return Err(DataflowError::JobCancelled(self.shared.id));
                }
                self.launched[s] = true;
                self.launch(s)?;
            }
        }
        Ok(())
    }

    /// Places and spawns stage `s`'s tasks.
    fn launch(&mut self, s: usize) -> Result<()> {
        let stage = &self.plan.stages[s];
        let class = self.shared.class;
        let requests: Vec<TaskRequest> = (0..stage.partitions)
            .map(|p| TaskRequest {
                preferred: self.preferred(&stage.root, p),
                class,
            })
            .collect();
        if requests.is_empty() {
            return Ok(());
        }
        let views: Vec<_> = match &self.remote {
            None => self.ctx.executors.iter().map(|e| e.view()).collect(),
            Some(r) => r.cluster.views(),
        };
        let placed = self
            .ctx
            .placement
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .place(&requests, &views)
            .map_err(DataflowError::Placement)?;
        let stage_id = stage.id;
        let mut launched = Vec::with_capacity(placed.len());
        for (p, executor) in placed.into_iter().enumerate() {
            let task = TaskId {
                job: self.shared.id,
                stage: stage_id,
                partition: p as u32,
            };
            let (handle, done) = match &self.remote {
                None => self.spawn_local(s, task, executor.0 as usize),
                Some(_) => self.spawn_remote(s, task, executor.0, 0),
            };
            let task = self.track(s, task, executor, handle, done);
            self.ctx
                .status
                .task_launched(task.id, 0, executor.0, task.handle.clone());
            launched.push(task);
        }
        self.shared.tasks().extend(launched);
        // A cancel that raced with this launch has not seen these tasks.
        if self.shared.cancelled.load(SeqCst) {
            self.shared.cancel_tasks();
        }
        Ok(())
    }

    /// Spawns a task of stage `s` on local executor `index`.
    fn spawn_local(
        &self,
        s: usize,
        task: TaskId,
        index: usize,
    ) -> (TaskControl, BoxFuture<'static, Result<TaskReport>>) {
        let stage = &self.plan.stages[s];
        let class = self.shared.class;
        let exec = &self.ctx.executors[index];
        let env = TaskEnv {
            task,
            executor: index,
            shuffles: self.store.clone(),
            counters: Arc::new(TaskCounters::default()),
        };
        let body = run_task(
            self.ctx.registry.clone(),
            stage.name.clone(),
            env,
            exec.enter(class),
        );
        let options = SpawnOptions::new().class(class).name(task.to_string());
        let join = exec.handle().spawn_with(options, body);
        let handle = TaskControl::Local(join.task());
        (handle, async move { joined(task, join.await) }.boxed())
    }

    /// Launches a task of stage `s` on executor process `executor`.
    fn spawn_remote(
        &self,
        s: usize,
        task: TaskId,
        executor: u32,
        attempt: u32,
    ) -> (TaskControl, BoxFuture<'static, Result<TaskReport>>) {
        let remote = self.remote.as_ref().expect("cluster mode");
        let stage = &self.plan.stages[s];
        let mut reads = Vec::new();
        stage
            .root
            .shuffle_reads(task.partition as usize, &mut reads);
        let mut locations = Vec::new();
        let mut peers: Vec<Peer> = Vec::new();
        for (shuffle, _) in reads {
            if locations
                .iter()
                .any(|l: &ShuffleLocations| l.shuffle == shuffle.0)
            {
                continue;
            }
            let maps: Vec<u32> = self.written[&shuffle]
                .iter()
                .map(|w| w.as_ref().map_or(u32::MAX, |(e, _)| *e as u32))
                .collect();
            for &m in &maps {
                if !peers.iter().any(|p| p.id == m) {
                    if let Some(peer) = remote.cluster.peer(m) {
                        peers.push(peer);
                    }
                }
            }
            locations.push(ShuffleLocations {
                shuffle: shuffle.0,
                maps,
            });
        }
        let launch = Launch {
            key: TaskKey {
                job: task.job.0,
                stage: task.stage.0,
                partition: task.partition,
                attempt,
            },
            stage: stage.name.to_string(),
            stream: self.shared.class == Class::Stream,
            spec: None,
            locations,
            peers,
            broadcasts: remote.cluster.broadcast_versions(),
        };
        let (handle, join) = remote.cluster.launch(executor, launch, &remote.spec);
        // What a well-formed report of this task holds: the stage's own shuffle, with
        // one size per reduce partition.
        let writes = stage.shuffle.map(|id| {
            let reduces = self
                .plan
                .shuffles
                .iter()
                .find(|s| s.id == id)
                .map_or(0, |s| s.reduce_partitions);
            (id, reduces)
        });
        let done = async move {
            let done: TaskDone = match join.await {
                Ok(outcome) => outcome?,
                Err(e) => {
                    return Err(DataflowError::Cluster(format!(
                        "the driver's network task for {task} stopped: {e}"
                    )))
                }
            };
            let [records_in, records_out, shuffle_written, shuffle_read, skipped] = done.counters;
            let malformed = |what: &str| {
                DataflowError::Cluster(format!(
                    "executor {executor} reported {task} malformed: {what}"
                ))
            };
            let output = match (done.output, writes) {
                (TaskResult::Shuffle { shuffle, records }, Some((id, reduces)))
                    if shuffle == id.0 && records.len() == reduces =>
                {
                    TaskOutput::Shuffle(MapStatus {
                        shuffle: id,
                        records,
                    })
                }
                (TaskResult::Shuffle { .. }, _) => {
                    return Err(malformed("not this stage's shuffle output"))
                }
                // Decoded with the others once the job is done, off the network runtime.
                (TaskResult::Result(bytes), None) => TaskOutput::Result(Box::new(Encoded(bytes))),
                (TaskResult::Result(_), Some(_)) => {
                    return Err(malformed("a result from a shuffle-map stage"))
                }
            };
            Ok(TaskReport {
                output,
                published: done.published,
                counters: CounterSnapshot {
                    records_in,
                    records_out,
                    shuffle_written,
                    shuffle_read,
                    skipped,
                    samples: Vec::new(),
                },
            })
        };
        (TaskControl::Remote(handle), done.boxed())
    }

    /// The executor holding most of the shuffle records that partition `part` of a
    /// stage ending at `root` reads, if it reads any.
    fn preferred(&self, root: &Arc<dyn AnyNode>, part: usize) -> Option<ExecutorId> {
        let mut reads = Vec::new();
        root.shuffle_reads(part, &mut reads);
        if reads.is_empty() {
            return None;
        }
        let mut weight: HashMap<usize, u64> = HashMap::new();
        for (shuffle, reduce) in reads {
            for (executor, sizes) in self.written[&shuffle].iter().flatten() {
                *weight.entry(*executor).or_default() += sizes[reduce];
            }
        }
        let (best, w) = weight
            .into_iter()
            .max_by_key(|&(i, w)| (w, std::cmp::Reverse(i)))?;
        (w > 0).then_some(ExecutorId(best as u32))
    }

    /// Takes in a task's completion.
    fn finished(
        &mut self,
        stage: usize,
        task: TaskId,
        executor: usize,
        outcome: Result<TaskReport>,
    ) -> Result<()> {
        let end = match &outcome {
            Ok(report) => TaskEnd {
                state: TaskState::Success,
                error: None,
                records: (
                    report.counters.records_in,
                    report.counters.records_out + report.counters.shuffle_written,
                ),
            },
            Err(DataflowError::TaskCancelled(_)) => TaskEnd {
                state: TaskState::Killed,
                error: None,
                records: (0, 0),
            },
            Err(e) => TaskEnd {
                state: TaskState::Failed,
                error: Some(e.to_string()),
                records: (0, 0),
            },
        };
        self.ctx.status.task_ended(task, end);
        let report = match outcome {
            Ok(report) => report,
            Err(DataflowError::TaskCancelled(_)) if self.shared.cancelled.load(SeqCst) => {
                return Err(DataflowError::JobCancelled(self.shared.id));
            }
            Err(e) if self.remote.is_some() && !self.shared.cancelled.load(SeqCst) => {
                return self.failed_remotely(stage, task, e);
            }
            Err(e) => return Err(e),
        };
        // The outputs it read were good: its parents start counting afresh.
        for p in &self.plan.stages[stage].parents {
            self.resubmissions[p.0 as usize] = 0;
        }
        self.counters.merge(report.counters);
        self.published.extend(report.published);
        match report.output {
            TaskOutput::Shuffle(MapStatus { shuffle, records }) => {
                self.written.get_mut(&shuffle).expect("a planned shuffle")
                    [task.partition as usize] = Some((executor, records));
            }
            TaskOutput::Result(out) => self.outputs[task.partition as usize] = Some(out),
        }
        self.remaining[stage] -= 1;
        Ok(())
    }

    /// Cluster mode: what a task's failure means. Its executor lost: run it again
    /// elsewhere, and the map outputs there again too. A block it could not fetch: the
    /// map outputs of that executor again, then it. An error: again, up to
    /// [`MAX_TASK_ATTEMPTS`](crate::cluster::MAX_TASK_ATTEMPTS) attempts. Anything
    /// else (a panic): the job fails.
    fn failed_remotely(&mut self, stage: usize, task: TaskId, error: DataflowError) -> Result<()> {
        match error {
            DataflowError::ExecutorLost { executor, .. }
            | DataflowError::FetchFailed { executor, .. } => {
                self.lose_outputs(executor as usize)?;
            }
            DataflowError::TaskFailed { task, message } => {
                let failures = self.failures.entry(task).or_insert(0);
                *failures += 1;
                if *failures >= crate::cluster::MAX_TASK_ATTEMPTS {
                    return Err(DataflowError::TaskFailed {
                        task,
                        message: format!("{failures} attempts failed; the last: {message}"),
                    });
                }
            }
            e => return Err(e),
        }
        self.waiting.push((stage, task));
        Ok(())
    }

    /// Drops the job but for its context, which it returns: whatever else the job
    /// held (the cluster among it) is let go while the context still holds it.
    fn into_context(self) -> Arc<ContextInner> {
        let JobDriver { ctx, .. } = self;
        ctx
    }

    /// The result parts as the action's combine takes them: a remote task's part
    /// arrives encoded and is decoded here (on the driver thread).
    fn decode(&self, parts: Vec<Box<dyn Any + Send>>) -> Result<Vec<Box<dyn Any + Send>>> {
        let Some(remote) = &self.remote else {
            return Ok(parts);
        };
        parts
            .into_iter()
            .map(|part| match part.downcast::<Encoded>() {
                Ok(encoded) => decode_part(&remote.origin, remote.spec.action, &encoded.0),
                Err(part) => Ok(part),
            })
            .collect()
    }

    fn stats(&self, started: Instant) -> JobStats {
        let tasks = self.shared.tasks();
        let executors = tasks
            .iter()
            .map(|t| t.executor.0 as usize + 1)
            .max()
            .unwrap_or(0);
        let mut per_executor = vec![0; executors.max(self.ctx.executors.len())];
        for t in tasks.iter() {
            per_executor[t.executor.0 as usize] += 1;
        }
        let c = &self.counters;
        JobStats {
            job: self.shared.id,
            class: self.shared.class,
            stages: self.plan.stages.len(),
            tasks: tasks.len(),
            records_in: c.records_in,
            records_out: c.records_out,
            shuffle_records: c.shuffle_written,
            skipped_bad_records: c.skipped,
            bad_record_samples: c.samples.clone(),
            suspensions: tasks.iter().map(|t| t.handle.suspensions() as u64).sum(),
            tasks_per_executor: per_executor,
            tasks_rerun: self.rerun,
            stages_resubmitted: self.stages_resubmitted,
            published: {
                let mut read = self.published.clone();
                read.sort();
                read.dedup();
                read
            },
            elapsed: started.elapsed(),
        }
    }
}

/// A local task's outcome, its join errors as dataflow errors.
fn joined(
    task: TaskId,
    outcome: std::result::Result<Result<TaskReport>, JoinError>,
) -> Result<TaskReport> {
    match outcome {
        Ok(report) => report,
        Err(e) if e.is_panic() => {
            let message = match e.try_into_panic() {
                Ok(payload) => panic_message(payload.as_ref()),
                Err(e) => e.to_string(),
            };
            Err(DataflowError::TaskPanicked { task, message })
        }
        Err(_) => Err(DataflowError::TaskCancelled(task)),
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
