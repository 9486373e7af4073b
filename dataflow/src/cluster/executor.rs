//! The executor side: a process that dials its driver, registers, rebuilds the jobs it
//! is sent tasks of, runs those tasks on a Neptune runtime with its own policy, serves
//! its shuffle blocks to other executors, and sends heartbeats.
//!
//! Tasks run on the runtime of a local [`Context`] (one executor, K slots, the local
//! policy: a Stream task arriving from the driver pauses local Batch work as in local
//! mode). Network work runs on a separate one-slot control runtime, so that a heartbeat
//! or a pause message never waits behind a task.

use super::blocks::{serve_blocks, PeerBlocks};
use super::builders::{reads, Builders, RemoteAction};
use super::driver::{control_runtime, log};
use super::fault::Armed;
use super::fingerprint;
use super::protocol::{
    now_ns, Control, ExecutorEvent, ExecutorRequest, FailureKind, JobSpec, Launch, Register,
    Registered, TaskDone, TaskKey, TaskResult, TaskUpdate, MAX_CONTROL_FRAME,
};
use super::wire::{read_frame, write_frame};
use crate::context::Context;
use crate::error::{DataflowError, Result};
use crate::exec::{TaskCounters, TaskEnv, TaskOutput};
use crate::plan::stages::{self, JobPlan};
use crate::plan::{JobId, ShuffleId};
use crate::shuffle::{MapStatus, ShuffleStore};
use futures::channel::mpsc;
use futures::future::Either;
use futures::StreamExt;
use neptune_runtime::quic::{self, ClusterIdentity};
use neptune_runtime::{Class, SpawnOptions, TaskHandle};
use neptune_scheduler::metrics::{process_allocator, HeartbeatSource};
use neptune_scheduler::ExecutorId;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

/// How an executor process is set up.
#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    /// The driver's address.
    pub driver: SocketAddr,
    /// The node name in the driver's certificate.
    pub driver_name: String,
    /// This executor's certificate and key, and the cluster CA.
    pub identity: ClusterIdentity,
    /// Slots (worker threads) for tasks.
    pub slots: usize,
    /// The local scheduling policy.
    pub policy: String,
    /// Where to listen for other executors' shuffle fetches.
    pub bind: SocketAddr,
    /// The address other executors should dial (default: the bound address).
    pub advertise: Option<SocketAddr>,
    /// The slot threads' nice value (default: the dataflow's rule, see
    /// [`ContextBuilder::slot_nice`](crate::ContextBuilder::slot_nice)).
    pub slot_nice: Option<i32>,
    /// Lets the executor's urgent threads (network, timers, job driver) run under the
    /// real-time policy where the system permits it (see
    /// [`allow_realtime`](neptune_runtime::time_slice::allow_realtime)). Off by
    /// default: they then ask for short time slices only.
    pub realtime: bool,
}

impl ExecutorConfig {
    /// `slots` slots under NEPTUNE, dialling `driver` (named `driver` in its
    /// certificate), shuffle blocks served on an ephemeral loopback port.
    pub fn new(driver: SocketAddr, identity: ClusterIdentity, slots: usize) -> ExecutorConfig {
        let bind = if driver.ip().is_loopback() {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            SocketAddr::from(([0, 0, 0, 0], 0))
        };
        ExecutorConfig {
            driver,
            driver_name: "driver".to_owned(),
            identity,
            slots,
            policy: "neptune".to_owned(),
            bind,
            advertise: None,
            slot_nice: None,
            realtime: false,
        }
    }
}

/// How long a job's first launch waits for broadcast versions the driver published
/// before it (they travel on their own streams and normally arrive first).
const BROADCAST_WAIT: Duration = Duration::from_secs(10);

/// A task running here: its runtime handle, and when the driver's pause of it arrived
/// (0: not paused by the driver).
struct Running {
    handle: TaskHandle,
    paused: Arc<AtomicU64>,
}

/// A job as this executor rebuilt it.
pub(crate) struct ExecJob {
    plan: JobPlan,
    /// The published values its build read here, with their versions.
    published: Vec<(String, u64)>,
    store: Arc<ShuffleStore>,
    blocks: Arc<PeerBlocks>,
}

impl ExecJob {
    pub(crate) fn store(&self) -> &Arc<ShuffleStore> {
        &self.store
    }
}

/// What the executor's network tasks share.
pub(crate) struct Node {
    ctx: Context,
    builders: Builders,
    id: u32,
    driver: quinn::Connection,
    client: quinn::Endpoint,
    jobs: Mutex<HashMap<u64, Arc<ExecJob>>>,
    tasks: Mutex<HashMap<TaskKey, Running>>,
    /// A fault injected through the environment (tests of failure handling).
    pub(crate) fault: Option<Arc<Armed>>,
}

impl Node {
    fn tasks(&self) -> MutexGuard<'_, HashMap<TaskKey, Running>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes the driver's connection for a frame that broke the protocol, logging
    /// why; the executor then stops, as when the driver leaves.
    fn drop_driver(&self, reason: &str) {
        log(&format!("executor {}: {reason}", self.id));
        self.driver.close(3u32.into(), reason.as_bytes());
    }

    pub(crate) fn job(&self, job: u64) -> Option<Arc<ExecJob>> {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&job)
            .cloned()
    }

    /// The job of `launch`, rebuilt on first sight (asking the driver for its spec if
    /// this launch came without it).
    async fn job_of(&self, launch: &Launch) -> Result<Arc<ExecJob>> {
        if let Some(job) = self.job(launch.key.job) {
            return Ok(job);
        }
        let spec = match &launch.spec {
            Some(spec) => spec.clone(),
            None => self.fetch_spec(launch.key.job).await?,
        };
        // The broadcasts published before the launch are on their way: build with them.
        let broadcasts = &self.ctx.inner.broadcasts;
        if !broadcasts
            .wait_for(&launch.broadcasts, BROADCAST_WAIT)
            .await
        {
            log(&format!(
                "executor {}: job-{} starts without broadcast versions {:?} (not arrived)",
                self.id, spec.job, launch.broadcasts
            ));
        }
        // A builder is the program's code: this runs inside the launched task, on the
        // task runtime (never on the network runtime, whose heartbeats must not wait
        // for it); one that panics fails the task, not the executor.
        let job = spec.job;
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.rebuild(&spec)))
            .map_err(|payload| DataflowError::TaskPanicked {
                task: launch.key.task(),
                message: format!(
                    "plan builder {:?} panicked: {}",
                    spec.builder,
                    crate::exec::panic_message(payload.as_ref())
                ),
            })??;
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        Ok(jobs.entry(job).or_insert(built).clone())
    }

    async fn fetch_spec(&self, job: u64) -> Result<JobSpec> {
        let failed = |e: &dyn std::fmt::Display| {
            DataflowError::Cluster(format!("cannot get job-{job} from the driver: {e}"))
        };
        let (mut send, mut recv) = self.driver.open_bi().await.map_err(|e| failed(&e))?;
        write_frame(&mut send, &ExecutorRequest::GetJob(job), MAX_CONTROL_FRAME)
            .await
            .map_err(|e| failed(&e))?;
        let _ = send.finish();
        let spec: Option<Option<JobSpec>> = read_frame(&mut recv, MAX_CONTROL_FRAME)
            .await
            .map_err(|e| failed(&e))?;
        spec.flatten()
            .ok_or_else(|| failed(&"the driver no longer runs it"))
    }

    /// Runs the job's builder and plans it as the driver did.
    fn rebuild(&self, spec: &JobSpec) -> Result<Arc<ExecJob>> {
        let (built, published) = reads::record(|| {
            self.builders.rebuild(
                &self.ctx,
                &spec.builder,
                &spec.args,
                spec.bases,
                spec.default_partitions,
            )
        });
        let built = built?;
        let runner = built.result_runner(spec.action);
        let plan = stages::plan(JobId(spec.job), &built.root, spec.action.name(), runner);
        let blocks = Arc::new(PeerBlocks::new(
            spec.job,
            self.id,
            self.client.clone(),
            plan.shuffles.len(),
        ));
        let loads = vec![self.ctx.executors()[0].load.clone()];
        let store = Arc::new(ShuffleStore::new(&plan.shuffles, loads).with_remote(blocks.clone()));
        Ok(Arc::new(ExecJob {
            plan,
            store,
            blocks,
            published,
        }))
    }
}

/// Runs an executor until its driver goes away: the body of `neptune executor`.
///
/// # Errors
/// The driver cannot be reached, refuses the registration (another binary, other
/// builders), or the runtimes cannot start.
pub fn run_executor(config: ExecutorConfig, builders: &Builders) -> Result<()> {
    if config.realtime {
        // Before any runtime starts: their threads are made urgent as they start.
        neptune_runtime::time_slice::allow_realtime(true);
    }
    let builder = Context::builder()
        .executors(1)
        .slots_per_executor(config.slots)
        .policy(config.policy.clone())
        .builders(builders.clone())
        .thread_name("neptune-exec");
    let builder = match config.slot_nice {
        Some(nice) => builder.slot_nice(nice),
        None => builder,
    };
    let ctx = builder.build()?;
    let net = control_runtime("neptune-exec-net")?;
    net.block_on(serve(config, ctx, builders.clone()))
}

async fn serve(config: ExecutorConfig, ctx: Context, builders: Builders) -> Result<()> {
    let failed =
        |what: &str, e: &dyn std::fmt::Display| DataflowError::Cluster(format!("{what}: {e}"));
    let fault = Armed::from_env(config.identity.name())?;
    let blocks = quic::server(config.bind, &config.identity)
        .map_err(|e| failed(&format!("cannot listen on {}", config.bind), &e))?;
    let bound = blocks
        .local_addr()
        .map_err(|e| failed("no block address", &e))?;
    let client_bind = if config.driver.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let client = quic::client(client_bind, &config.identity)
        .map_err(|e| failed("no client endpoint", &e))?;
    let driver = connect_to_driver(&client, &config).await?;
    // Peers cannot dial 0.0.0.0: without --advertise, the address this host uses to
    // reach the driver is the one they are most likely to reach too.
    let shuffle_addr = match (config.advertise, bound.ip().is_unspecified()) {
        (Some(addr), _) => addr,
        (None, false) => bound,
        (None, true) => match driver.local_ip() {
            Some(ip) => SocketAddr::new(ip, bound.port()),
            None => {
                return Err(DataflowError::Config(format!(
                    "shuffle blocks are served on {bound}, which peers cannot dial: give \
                     the address they should use (--advertise)"
                )))
            }
        },
    };
    let register = Register {
        fingerprint: fingerprint::of_this_binary(),
        builders: builders.names(),
        slots: config.slots as u32,
        policy: config.policy.clone(),
        pauses_batch: ctx.executors()[0].handle().policy_preemption()
            == neptune_runtime::policy::Preemption::Pause,
        shuffle_addr,
        pid: std::process::id(),
    };
    let (id, heartbeat) = register_with(&driver, &register).await?;
    let node = Arc::new(Node {
        ctx,
        builders,
        id,
        driver: driver.clone(),
        client,
        jobs: Mutex::default(),
        tasks: Mutex::default(),
        fault,
    });
    drop(neptune_runtime::spawn_with(
        SpawnOptions::stream(),
        serve_blocks(blocks.clone(), node.clone()),
    ));
    drop(neptune_runtime::spawn_with(
        SpawnOptions::stream(),
        heartbeats(node.clone(), heartbeat),
    ));
    drop(neptune_runtime::spawn_with(
        SpawnOptions::stream(),
        serve_controls(node.clone()),
    ));
    // Launches, until the driver goes away.
    loop {
        match driver.accept_bi().await {
            Ok((send, recv)) => {
                drop(neptune_runtime::spawn_with(
                    SpawnOptions::stream(),
                    serve_launch(node.clone(), send, recv),
                ));
            }
            Err(e) => {
                log(&format!("executor {id}: the driver left ({e}); stopping"));
                for running in node.tasks().values() {
                    running.handle.cancel();
                }
                blocks.close(0u32.into(), b"executor stopping");
                return Ok(());
            }
        }
    }
}

/// Attempts to reach the driver before giving up: each waits for the link's idle
/// timeout, so executors started before their driver (as a scheduler may) wait for
/// it about half a minute.
const CONNECT_ATTEMPTS: u32 = 3;

/// Dials the driver; a driver that does not answer is tried again, one that refuses
/// (another cluster's certificate) is not.
async fn connect_to_driver(
    client: &quinn::Endpoint,
    config: &ExecutorConfig,
) -> Result<quinn::Connection> {
    let mut attempt = 1;
    loop {
        match quic::connect(client, config.driver, &config.driver_name).await {
            Ok(connection) => return Ok(connection),
            Err(quic::QuicError::Connection(quinn::ConnectionError::TimedOut))
                if attempt < CONNECT_ATTEMPTS =>
            {
                log(&format!(
                    "no answer from the driver at {} (attempt {attempt} of \
                     {CONNECT_ATTEMPTS}); trying again",
                    config.driver
                ));
                attempt += 1;
            }
            Err(e) => {
                return Err(DataflowError::Cluster(format!(
                    "cannot reach the driver at {}: {e}",
                    config.driver
                )))
            }
        }
    }
}

/// `Register -> Registered`: the executor's id and heartbeat period.
async fn register_with(driver: &quinn::Connection, register: &Register) -> Result<(u32, Duration)> {
    let failed = |e: &dyn std::fmt::Display| {
        DataflowError::Cluster(format!("registration with the driver failed: {e}"))
    };
    let (mut send, mut recv) = driver.open_bi().await.map_err(|e| failed(&e))?;
    write_frame(&mut send, register, MAX_CONTROL_FRAME)
        .await
        .map_err(|e| failed(&e))?;
    let _ = send.finish();
    let answer: Option<Registered> = read_frame(&mut recv, MAX_CONTROL_FRAME)
        .await
        .map_err(|e| failed(&e))?;
    match answer {
        Some(Registered::Accepted {
            executor,
            heartbeat_ms,
        }) => Ok((executor, Duration::from_millis(heartbeat_ms.max(1)))),
        Some(Registered::Refused { reason }) => {
            driver.close(0u32.into(), b"refused");
            Err(DataflowError::Cluster(format!(
                "the driver refused this executor: {reason}"
            )))
        }
        None => Err(failed(&"no answer")),
    }
}

/// Sends a heartbeat every `period` until the driver goes away: the figures of the
/// task runtime, and of the process's counting allocator where `main` named one.
async fn heartbeats(node: Arc<Node>, period: Duration) {
    let mut tick = neptune_runtime::time::interval(period);
    let executor = &node.ctx.executors()[0];
    let mut source = process_allocator()
        .map(|alloc| HeartbeatSource::new(ExecutorId(node.id), executor.handle(), alloc));
    loop {
        tick.tick().await;
        let hb = executor.heartbeat(ExecutorId(node.id), source.as_mut());
        let sent = async {
            let mut send = node.driver.open_uni().await.map_err(|e| e.to_string())?;
            write_frame(
                &mut send,
                &ExecutorEvent::Heartbeat(hb.encode()),
                MAX_CONTROL_FRAME,
            )
            .await
            .map_err(|e| e.to_string())?;
            send.finish().map_err(|e| e.to_string())
        };
        if let Err(e) = sent.await {
            log(&format!(
                "executor {}: heartbeat not sent ({e}); stopping them",
                node.id
            ));
            return;
        }
    }
}

/// Pause, resume, kill and end-of-job messages from the driver.
async fn serve_controls(node: Arc<Node>) {
    loop {
        let mut recv = match node.driver.accept_uni().await {
            Ok(r) => r,
            Err(_) => return,
        };
        let control: Control = match read_frame(&mut recv, MAX_CONTROL_FRAME).await {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(e) => return node.drop_driver(&format!("a malformed control message: {e}")),
        };
        match control {
            Control::Pause(key) => {
                if let Some(r) = node.tasks().get(&key) {
                    r.paused.store(now_ns().max(1), Relaxed);
                    r.handle.pause();
                }
            }
            Control::Resume(key) => {
                if let Some(r) = node.tasks().get(&key) {
                    r.paused.store(0, Relaxed);
                    r.handle.resume();
                }
            }
            Control::Kill(key) => {
                if let Some(r) = node.tasks().get(&key) {
                    r.handle.cancel();
                }
            }
            Control::Broadcast {
                name,
                version,
                value,
            } => {
                if let Err(e) = node.ctx.inner.broadcasts.receive(&name, version, value) {
                    log(&format!("executor {}: {e}", node.id));
                }
            }
            Control::EndJob(job) => {
                node.jobs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&job);
            }
            Control::ExecutorLost(lost) => {
                let jobs: Vec<_> = node
                    .jobs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .cloned()
                    .collect();
                for job in jobs {
                    job.blocks.forget(lost);
                }
            }
        }
    }
}

/// Runs one launched task and reports on its stream until it ends.
async fn serve_launch(node: Arc<Node>, mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
    let launch: Launch = match read_frame(&mut recv, MAX_CONTROL_FRAME).await {
        Ok(Some(l)) => l,
        Ok(None) => return,
        Err(e) => return node.drop_driver(&format!("a malformed launch: {e}")),
    };
    let key = launch.key;
    let received = now_ns();
    let (tx, mut updates) = mpsc::unbounded::<TaskUpdate>();
    // Forward updates while the task runs, then its end. The updates end when the
    // task's body is dropped, just before its join completes.
    let mut join = std::pin::pin!(start(&node, launch, tx, received));
    let outcome = loop {
        match futures::future::select(updates.next(), join.as_mut()).await {
            Either::Left((Some(update), _)) => {
                if write_frame(&mut send, &update, MAX_CONTROL_FRAME)
                    .await
                    .is_err()
                {
                    // The driver is gone; the task's end no longer matters.
                    if let Some(r) = node.tasks().remove(&key) {
                        r.handle.cancel();
                    }
                    return;
                }
            }
            Either::Left((None, join)) => break join.await,
            Either::Right((outcome, _)) => {
                // Updates sent before the end go first.
                while let Ok(update) = updates.try_recv() {
                    let _ = write_frame(&mut send, &update, MAX_CONTROL_FRAME).await;
                }
                break outcome;
            }
        }
    };
    node.tasks().remove(&key);
    let last = match outcome {
        Ok(done) => TaskUpdate::Finished(done),
        Err(e) => {
            let kind = match &e {
                DataflowError::TaskPanicked { .. } => FailureKind::Panic,
                DataflowError::TaskCancelled(_) => FailureKind::Cancelled,
                DataflowError::FetchFailed {
                    executor,
                    shuffle,
                    map,
                    ..
                } => FailureKind::FetchFailed {
                    executor: *executor,
                    shuffle: *shuffle,
                    map: *map,
                },
                _ => FailureKind::Error,
            };
            // The driver names the task again: a panic travels as its bare message.
            let message = match e {
                DataflowError::TaskPanicked { message, .. } => message,
                e => e.to_string(),
            };
            TaskUpdate::Failed { message, kind }
        }
    };
    if write_frame(&mut send, &last, MAX_CONTROL_FRAME)
        .await
        .is_ok()
    {
        let _ = send.finish();
    }
}

/// Starts `launch`'s task on the task runtime; the future is its report.
fn start(
    node: &Arc<Node>,
    launch: Launch,
    updates: mpsc::UnboundedSender<TaskUpdate>,
    received: u64,
) -> impl Future<Output = Result<TaskDone>> {
    let class = if launch.stream {
        Class::Stream
    } else {
        Class::Batch
    };
    let key = launch.key;
    let task = key.task();
    let trip = node
        .fault
        .as_ref()
        .and_then(|f| f.for_task(&key, &launch.stage));
    let counters = Arc::new(TaskCounters::with_trip(trip));
    let paused = Arc::new(AtomicU64::new(0));
    // One task does it all on the task runtime, in the launch's class: rebuilding the
    // job on first sight and making the body run the program's code, which must not
    // hold up this network runtime; and one hop between threads is all a launch costs.
    let body = {
        let (node, counters, paused) = (node.clone(), counters.clone(), paused.clone());
        async move {
            let job = node.job_of(&launch).await?;
            let stage = job
                .plan
                .stages
                .iter()
                .find(|s| *s.name == *launch.stage)
                .ok_or_else(|| {
                    DataflowError::Cluster(format!(
                        "this executor's plan of job-{} has no stage {:?} (it has {:?}): the \
                         plan builder is not deterministic in its arguments",
                        key.job,
                        launch.stage,
                        job.plan
                            .stages
                            .iter()
                            .map(|s| s.name.to_string())
                            .collect::<Vec<_>>()
                    ))
                })?;
            if key.partition as usize >= stage.partitions {
                return Err(DataflowError::Cluster(format!(
                    "{key} names partition {} of a stage of {}",
                    key.partition, stage.partitions
                )));
            }
            for peer in &launch.peers {
                job.blocks.peer(peer);
            }
            for l in &launch.locations {
                job.blocks.locate(ShuffleId(l.shuffle), l.maps.clone());
            }
            let env = TaskEnv {
                task,
                executor: 0,
                shuffles: job.store.clone(),
                counters,
            };
            let running = node.ctx.executors()[0].enter(class);
            let output = Reported {
                inner: stage.runner.run(key.partition as usize, env),
                received,
                updates,
                paused,
                started: false,
                parked: false,
                _running: running,
            }
            .await?;
            Ok((output, job.published.clone(), now_ns()))
        }
    };
    let options = SpawnOptions::new().class(class).name(key.to_string());
    let join = node.ctx.executors()[0].handle().spawn_with(options, body);
    let handle = join.task();
    node.tasks().insert(
        key,
        Running {
            handle: handle.clone(),
            paused,
        },
    );
    async move {
        let (output, published, finished_ns) = match join.await {
            Ok(output) => output?,
            Err(e) if e.is_panic() => {
                let message = match e.try_into_panic() {
                    Ok(p) => crate::exec::panic_message(p.as_ref()),
                    Err(e) => e.to_string(),
                };
                return Err(DataflowError::TaskPanicked { task, message });
            }
            Err(_) => return Err(DataflowError::TaskCancelled(task)),
        };
        if let Some(e) = counters.trip.as_ref().and_then(|t| t.finished()) {
            return Err(e);
        }
        let output = match output {
            TaskOutput::Shuffle(MapStatus { shuffle, records }) => TaskResult::Shuffle {
                shuffle: shuffle.0,
                records,
            },
            TaskOutput::Result(part) => match part.downcast::<Vec<u8>>() {
                Ok(bytes) => TaskResult::Result(*bytes),
                Err(_) => {
                    return Err(DataflowError::Cluster(
                        "a result stage produced an unencoded part".into(),
                    ))
                }
            },
        };
        let c = counters.snapshot();
        Ok(TaskDone {
            output,
            counters: [
                c.records_in,
                c.records_out,
                c.shuffle_written,
                c.shuffle_read,
                c.skipped,
            ],
            suspensions: handle.suspensions(),
            published,
            finished_ns,
        })
    }
}

/// A task body that reports its first poll, and its parks and resumptions after
/// pauses from the driver, on its launch stream.
struct Reported<F> {
    inner: F,
    received: u64,
    updates: mpsc::UnboundedSender<TaskUpdate>,
    paused: Arc<AtomicU64>,
    started: bool,
    parked: bool,
    _running: crate::context::RunningGuard,
}

impl<F: Future + Unpin> Future for Reported<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        if !this.started {
            this.started = true;
            let _ = this.updates.unbounded_send(TaskUpdate::Started {
                at_ns: now_ns(),
                received_ns: this.received,
            });
        }
        if this.parked {
            this.parked = false;
            let _ = this.updates.unbounded_send(TaskUpdate::Resumed);
        }
        let poll = Pin::new(&mut this.inner).poll(cx);
        let pause = this.paused.load(Relaxed);
        if poll.is_pending() && pause != 0 {
            // Pending with a pause requested: the slot parks it now.
            this.parked = true;
            let _ = this.updates.unbounded_send(TaskUpdate::Paused {
                at_ns: now_ns(),
                received_ns: pause,
            });
        }
        poll
    }
}

/// The action of a job spec, for logs.
impl std::fmt::Display for RemoteAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
