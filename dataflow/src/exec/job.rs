//! Jobs: submitting an action, the driver that runs its stages, and `JobHandle`.
//!
//! The driver launches every stage whose parent stages are done (independent stages,
//! such as the two sides of a join, run at the same time). Launching a stage places
//! its task set on the executors with the context's placement policy (each task
//! preferring the executor that wrote most of the shuffle records it reads), then
//! spawns one task per partition, in the job's class, each named by its
//! [`TaskId`]. A task's only instructions are its stage's name and its partition: the
//! harness finds the pipeline in the operator registry.

use super::harness::{run_task, TaskReport};
use super::registry::{Registration, StageRunner, TaskOutput};
use super::stats::{JobResult, JobStats};
use super::{CounterSnapshot, TaskCounters, TaskEnv};
use crate::context::ContextInner;
use crate::error::{DataflowError, Result};
use crate::plan::stages::{self, JobPlan};
use crate::plan::{AnyNode, JobId, ShuffleId, StageId, TaskId};
use crate::shuffle::{MapStatus, ShuffleStore};
use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use neptune_runtime::{Class, JoinError, SpawnOptions, TaskHandle};
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
use std::time::Instant;

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
    /// The runtime task: pause, resume, cancel or inspect it.
    pub handle: TaskHandle,
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

/// Plans and submits a job running `result` (named `action`) over `root`.
pub(crate) fn submit<R: Send + 'static>(
    ctx: &Arc<ContextInner>,
    root: &Arc<dyn AnyNode>,
    class: Class,
    action: &str,
    result: Arc<dyn StageRunner>,
    combine: Combine<R>,
) -> JobHandle<R> {
    let started = Instant::now();
    let job = ctx.next_job();
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
        .collect();
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
    let mut driver = JobDriver::new(ctx.clone(), plan, shared.clone(), registrations);
    let run = async move {
        let outcome = driver.run().await;
        let answer = match outcome {
            Ok(outputs) => combine(outputs).map(|value| JobResult {
                value,
                stats: driver.stats(started),
            }),
            Err(e) => {
                driver.shared.cancel_tasks();
                Err(e)
            }
        };
        // The stages leave the registry before the answer is delivered.
        drop(driver);
        let _ = tx.send(answer);
    };
    ctx.driver.submit(run.boxed());
    JobHandle { shared, result: rx }
}

/// A handle to a job that failed before it could start; `result` holds its error.
pub(crate) fn failed<R>(
    ctx: &Arc<ContextInner>,
    class: Class,
    result: oneshot::Receiver<Result<JobResult<R>>>,
) -> JobHandle<R> {
    let shared = Arc::new(JobShared {
        id: ctx.next_job(),
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
type Finished = (
    usize,
    TaskId,
    usize,
    std::result::Result<Result<TaskReport>, JoinError>,
);

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
}

impl JobDriver {
    fn new(
        ctx: Arc<ContextInner>,
        plan: JobPlan,
        shared: Arc<JobShared>,
        registrations: Vec<Registration>,
    ) -> Self {
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
        }
    }

    /// Runs every stage; the result stage's outputs in partition order.
    async fn run(&mut self) -> Result<Vec<Box<dyn Any + Send>>> {
        loop {
            self.launch_ready()?;
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

    /// Launches every stage whose parents are done.
    fn launch_ready(&mut self) -> Result<()> {
        for s in 0..self.plan.stages.len() {
            let stage = &self.plan.stages[s];
            let ready = !self.launched[s]
                && stage
                    .parents
                    .iter()
                    .all(|p| self.remaining[p.0 as usize] == 0);
            if ready {
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
        let views: Vec<_> = self.ctx.executors.iter().map(|e| e.view()).collect();
        let placed = self
            .ctx
            .placement
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .place(&requests, &views)
            .map_err(DataflowError::Placement)?;
        let mut launched = Vec::with_capacity(placed.len());
        for (p, executor) in placed.into_iter().enumerate() {
            let index = executor.0 as usize;
            let exec = &self.ctx.executors[index];
            let task = TaskId {
                job: self.shared.id,
                stage: stage.id,
                partition: p as u32,
            };
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
            launched.push(JobTask {
                id: task,
                executor,
                handle: join.task(),
            });
            self.running
                .push(async move { (s, task, index, join.await) }.boxed());
        }
        self.shared.tasks().extend(launched);
        // A cancel that raced with this launch has not seen these tasks.
        if self.shared.cancelled.load(SeqCst) {
            self.shared.cancel_tasks();
        }
        Ok(())
    }

    /// The executor holding most of the shuffle records that partition `part` of a
    /// stage ending at `root` reads, if it reads any.
    fn preferred(&self, root: &Arc<dyn AnyNode>, part: usize) -> Option<ExecutorId> {
        let mut reads = Vec::new();
        root.shuffle_reads(part, &mut reads);
        if reads.is_empty() {
            return None;
        }
        let mut weight = vec![0u64; self.ctx.executors.len()];
        for (shuffle, reduce) in reads {
            for (executor, sizes) in self.written[&shuffle].iter().flatten() {
                weight[*executor] += sizes[reduce];
            }
        }
        let (best, &w) = weight
            .iter()
            .enumerate()
            .max_by_key(|(i, w)| (**w, std::cmp::Reverse(*i)))?;
        (w > 0).then_some(ExecutorId(best as u32))
    }

    /// Takes in a task's completion.
    fn finished(
        &mut self,
        stage: usize,
        task: TaskId,
        executor: usize,
        outcome: std::result::Result<Result<TaskReport>, JoinError>,
    ) -> Result<()> {
        let report = match outcome {
            Ok(report) => report?,
            Err(e) if e.is_panic() => {
                let message = match e.try_into_panic() {
                    Ok(payload) => panic_message(payload.as_ref()),
                    Err(e) => e.to_string(),
                };
                return Err(DataflowError::TaskPanicked { task, message });
            }
            Err(_) if self.shared.cancelled.load(SeqCst) => {
                return Err(DataflowError::JobCancelled(self.shared.id));
            }
            Err(_) => return Err(DataflowError::TaskCancelled(task)),
        };
        self.counters.merge(report.counters);
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

    fn stats(&self, started: Instant) -> JobStats {
        let tasks = self.shared.tasks();
        let mut per_executor = vec![0; self.ctx.executors.len()];
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
            elapsed: started.elapsed(),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
