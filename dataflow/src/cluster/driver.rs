//! The driver side: accepts executors, keeps their heartbeat windows, launches tasks
//! on them and pauses, resumes and kills them by message.
//!
//! All network work runs as Stream tasks on a small control runtime of its own, so
//! neither a heartbeat nor a task's status waits behind anything. A job's driver (on
//! the context's driver thread) reaches executors only through [`ClusterDriver::launch`]
//! and the [`RemoteTask`] it returns.

use super::builders::RemoteAction;
use super::fingerprint;
use super::local::LocalCluster;
use super::protocol::{
    now_ns, Control, ExecutorEvent, ExecutorRequest, FailureKind, JobSpec, Launch, Peer, Register,
    Registered, TaskDone, TaskKey, TaskUpdate, MAX_CONTROL_FRAME,
};
use super::wire::{read_frame, write_frame, WireError};
use crate::error::{DataflowError, Result};
use neptune_runtime::quic::{self, ClusterIdentity};
use neptune_runtime::{Class, JoinHandle, Runtime, SpawnOptions};
use neptune_scheduler::metrics::Heartbeat;
use neptune_scheduler::placement::ExecutorView;
use neptune_scheduler::ExecutorId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How the driver side of a cluster is set up.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    /// Where executors dial in.
    pub listen: SocketAddr,
    /// The driver's certificate and key, and the cluster CA.
    pub identity: ClusterIdentity,
    /// Executors to wait for before the context is ready.
    pub expect: usize,
    /// How long to wait for them.
    pub wait: Duration,
    /// How often executors send heartbeats.
    pub heartbeat: Duration,
}

impl DriverConfig {
    /// Listen on `listen` with `identity`, wait up to a minute for `expect`
    /// executors, heartbeats every second.
    pub fn new(listen: SocketAddr, identity: ClusterIdentity, expect: usize) -> DriverConfig {
        DriverConfig {
            listen,
            identity,
            expect,
            wait: Duration::from_secs(60),
            heartbeat: Duration::from_secs(1),
        }
    }
}

/// One registered executor, as the driver sees it.
struct Member {
    name: String,
    connection: quinn::Connection,
    shuffle_addr: SocketAddr,
    pauses_batch: bool,
    /// The latest heartbeat's figures and the memory window.
    view: ExecutorView,
    /// Tasks launched here and not finished, per class (fresher than heartbeats).
    running: [usize; 2],
    /// Jobs whose spec this executor was sent.
    jobs: HashSet<u64>,
    /// When it was last heard from (registration or heartbeat).
    last_heard: Instant,
    /// Its process id, as it said.
    pid: u32,
}

/// Heartbeats an executor may miss before it counts as lost.
pub const MISSED_HEARTBEATS: u32 = 5;

/// How long a job with no executor left waits for one to join before it fails.
pub const NO_EXECUTOR_GRACE: Duration = Duration::from_secs(30);

/// Attempts a task gets before its failures fail the job (runs cut short by the
/// loss of an executor do not count).
pub const MAX_TASK_ATTEMPTS: u32 = 4;

/// Times in a row a map stage is run again for lost outputs before the job fails.
pub const MAX_STAGE_RESUBMISSIONS: u32 = 4;

/// An executor that left the cluster, as [`Context::cluster_losses`](crate::Context::cluster_losses)
/// lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostExecutor {
    /// Its id.
    pub id: u32,
    /// Its node name.
    pub name: String,
    /// Its process id, as it said at registration.
    pub pid: u32,
    /// When the driver counted it as gone, in wall-clock nanoseconds since the UNIX
    /// epoch.
    pub at_ns: u64,
    /// Why.
    pub reason: String,
}

/// An executor as listed by [`Context::cluster_executors`](crate::Context::cluster_executors).
#[derive(Clone, Debug, PartialEq)]
pub struct MemberInfo {
    /// Its id (never reused).
    pub id: u32,
    /// Its node name, from its certificate.
    pub name: String,
    /// Its slots.
    pub slots: usize,
    /// Heartbeats received.
    pub heartbeats: usize,
    /// Memory in use at the last heartbeat, in bytes.
    pub memory_in_use: u64,
    /// Tasks the driver launched there that have not finished, per class.
    pub running: [usize; 2],
    /// Its process id, as it said at registration.
    pub pid: u32,
    /// Tasks in its suspended queues, at the last heartbeat.
    pub suspended: usize,
    /// Bytes it spilled so far, at the last heartbeat.
    pub bytes_spilled: u64,
    /// Bytes it allocated per second, at the last heartbeat.
    pub alloc_churn: u64,
    /// Time since the driver last heard from it (registration or heartbeat).
    pub since_heard: Duration,
}

#[derive(Default)]
struct Members {
    live: BTreeMap<u32, Member>,
    heartbeats: HashMap<u32, usize>,
    /// Executors that left, oldest first.
    lost: Vec<LostExecutor>,
}

/// State shared by the driver's network tasks.
struct Shared {
    members: Mutex<Members>,
    joined: Condvar,
    next_id: AtomicU32,
    fingerprint: u64,
    builders: Vec<String>,
    heartbeat: Duration,
    /// Specs of running jobs, for executors that ask.
    jobs: Mutex<HashMap<u64, JobSpec>>,
    /// The latest version of every broadcast value, for executors that join later.
    broadcasts: Mutex<HashMap<String, (u64, Vec<u8>)>>,
    /// Why executors were refused, for the error of a wait that fails.
    refusals: Mutex<Vec<String>>,
}

impl Shared {
    fn members(&self) -> MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The driver's side of a cluster.
pub(crate) struct ClusterDriver {
    shared: Arc<Shared>,
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    /// Executor processes this driver started (`local:N`); stopped on drop.
    local: Mutex<Option<LocalCluster>>,
    /// How long a job with no executor left waits for one.
    pub(crate) grace: Duration,
    /// The cluster CA's certificate (DER), for tools that dial the cluster.
    pub(crate) ca: Vec<u8>,
    /// Last field: its threads stop after everything above is gone.
    runtime: Runtime,
}

impl ClusterDriver {
    /// Starts listening; does not wait for executors.
    pub(crate) fn start(
        listen: SocketAddr,
        identity: &ClusterIdentity,
        builders: Vec<String>,
        heartbeat: Duration,
    ) -> Result<ClusterDriver> {
        let runtime = control_runtime("neptune-driver-net")?;
        let endpoint = runtime
            .block_on(async { quic::server(listen, identity) })
            .map_err(|e| DataflowError::Cluster(format!("cannot listen on {listen}: {e}")))?;
        let addr = endpoint
            .local_addr()
            .map_err(|e| DataflowError::Cluster(format!("cannot listen on {listen}: {e}")))?;
        let shared = Arc::new(Shared {
            members: Mutex::default(),
            joined: Condvar::new(),
            next_id: AtomicU32::new(0),
            fingerprint: fingerprint::of_this_binary(),
            builders,
            heartbeat,
            jobs: Mutex::default(),
            refusals: Mutex::default(),
            broadcasts: Mutex::default(),
        });
        let accept = (endpoint.clone(), shared.clone());
        drop(runtime.spawn_with(SpawnOptions::stream(), accept_loop(accept.0, accept.1)));
        let watched = Arc::downgrade(&shared);
        drop(runtime.spawn_with(SpawnOptions::stream(), watchdog(watched, heartbeat)));
        Ok(ClusterDriver {
            shared,
            endpoint,
            addr,
            local: Mutex::new(None),
            grace: NO_EXECUTOR_GRACE,
            ca: identity.ca_cert().to_vec(),
            runtime,
        })
    }

    /// The address executors dial.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs a job's stages on the network runtime (as a Stream task: a job's driver
    /// must never wait behind anything either).
    pub(crate) fn spawn_job(&self, job: futures::future::BoxFuture<'static, ()>) {
        drop(self.runtime.spawn_with(SpawnOptions::stream(), job));
    }

    /// Keeps `cluster`'s processes until this driver stops.
    pub(crate) fn adopt(&self, cluster: LocalCluster) {
        *self.local.lock().unwrap_or_else(|e| e.into_inner()) = Some(cluster);
    }

    /// The local cluster's process ids (empty for a remote cluster).
    pub(crate) fn local_pids(&self) -> Vec<u32> {
        self.local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or_else(Vec::new, LocalCluster::pids)
    }

    /// Restarts local executor process `i`; its new process id.
    pub(crate) fn restart_local(&self, i: usize) -> Result<u32> {
        match self
            .local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(local) => local.restart(i),
            None => Err(DataflowError::Cluster(
                "this cluster's executors were not started by the driver".into(),
            )),
        }
    }

    /// Waits until `n` executors are registered and each sent its first heartbeat, or
    /// `wait` passed; a local cluster whose process exited fails the wait at once.
    pub(crate) fn wait_for(&self, n: usize, wait: Duration) -> Result<()> {
        let deadline = Instant::now() + wait;
        let mut members = self.shared.members();
        loop {
            // Ready once registered and heard from: placement has a first heartbeat.
            let heard = members
                .live
                .keys()
                .filter(|id| members.heartbeats.get(id).is_some_and(|&h| h > 0))
                .count();
            if heard >= n {
                return Ok(());
            }
            let refused = || {
                let r = self
                    .shared
                    .refusals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if r.is_empty() {
                    String::new()
                } else {
                    format!("; refused: {}", r.join("; "))
                }
            };
            if let Some(local) = self
                .local
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
            {
                if let Err(e) = local.check() {
                    return Err(DataflowError::Cluster(format!("{e}{}", refused())));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(DataflowError::Cluster(format!(
                    "{heard} of {n} executors registered and heard from within {wait:?}{}",
                    refused()
                )));
            }
            let step = (deadline - now).min(Duration::from_millis(100));
            members = self
                .shared
                .joined
                .wait_timeout(members, step)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Whether any executor is registered now.
    pub(crate) fn has_executors(&self) -> bool {
        !self.shared.members().live.is_empty()
    }

    /// Waits (on the network runtime) until some executor is registered, up to
    /// `grace`; false if none came.
    pub(crate) fn any_executor(&self, grace: Duration) -> JoinHandle<bool> {
        let shared = self.shared.clone();
        self.runtime.spawn_with(SpawnOptions::stream(), async move {
            let deadline = Instant::now() + grace;
            // Checked every 50 ms: joining executors are rare events.
            while shared.members().live.is_empty() {
                if Instant::now() >= deadline {
                    return false;
                }
                neptune_runtime::time::sleep(Duration::from_millis(50)).await;
            }
            true
        })
    }

    /// The executors now.
    pub(crate) fn members(&self) -> Vec<MemberInfo> {
        let members = self.shared.members();
        members
            .live
            .iter()
            .map(|(&id, m)| MemberInfo {
                id,
                name: m.name.clone(),
                slots: m.view.slots,
                heartbeats: members.heartbeats.get(&id).copied().unwrap_or(0),
                memory_in_use: m.view.memory_in_use,
                running: m.running,
                pid: m.pid,
                suspended: m.view.suspended,
                bytes_spilled: m.view.bytes_spilled,
                alloc_churn: m.view.alloc_churn,
                since_heard: m.last_heard.elapsed(),
            })
            .collect()
    }

    /// The executors that left, oldest first.
    pub(crate) fn losses(&self) -> Vec<LostExecutor> {
        self.shared.members().lost.clone()
    }

    /// Every live executor as placement sees it: the latest heartbeat and its
    /// window, with the driver's own count of running tasks.
    pub(crate) fn views(&self) -> Vec<ExecutorView> {
        self.shared
            .members()
            .live
            .values()
            .map(|m| {
                let mut view = m.view.clone();
                view.running = [m.running[0], m.running[1].saturating_sub(view.suspended)];
                view.pausable_batch = if m.pauses_batch { view.running[1] } else { 0 };
                view
            })
            .collect()
    }

    /// Remembers a job's spec for executors that ask for it.
    pub(crate) fn begin_job(&self, spec: JobSpec) {
        self.shared
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(spec.job, spec);
    }

    /// Sends a version of a published value to every executor, and keeps it for
    /// executors that join later.
    pub(crate) fn broadcast(&self, name: &str, version: u64, value: Vec<u8>) {
        self.shared
            .broadcasts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), (version, value.clone()));
        let members = self.shared.members();
        for m in members.live.values() {
            let control = Control::Broadcast {
                name: name.to_owned(),
                version,
                value: value.clone(),
            };
            send_control(&self.runtime, m.connection.clone(), control);
        }
    }

    /// The newest version of every broadcast value.
    pub(crate) fn broadcast_versions(&self) -> Vec<(String, u64)> {
        self.shared
            .broadcasts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, (version, _))| (name.clone(), *version))
            .collect()
    }

    /// Forgets a job and tells every executor that had it to drop its state.
    pub(crate) fn end_job(&self, job: u64) {
        self.shared
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&job);
        let mut members = self.shared.members();
        for m in members.live.values_mut() {
            if m.jobs.remove(&job) {
                send_control(&self.runtime, m.connection.clone(), Control::EndJob(job));
            }
        }
    }

    /// Launches a task on `executor`; the future answers when it finished or failed.
    pub(crate) fn launch(
        &self,
        executor: u32,
        mut launch: Launch,
        spec: &JobSpec,
    ) -> (RemoteTask, JoinHandle<Result<TaskDone>>) {
        let class = if launch.stream {
            Class::Stream
        } else {
            Class::Batch
        };
        let state = Arc::new(RemoteState {
            key: launch.key,
            class,
            name: launch.key.task().to_string(),
            state: AtomicU8::new(RUNNABLE),
            suspensions: AtomicU32::new(0),
            launched_ns: AtomicU64::new(now_ns()),
            received_ns: AtomicU64::new(0),
            started_ns: AtomicU64::new(0),
            pause_sent_ns: AtomicU64::new(0),
            pause_received_ns: AtomicU64::new(0),
            paused_ns: AtomicU64::new(0),
            finished_ns: AtomicU64::new(0),
            reported_ns: AtomicU64::new(0),
            executor,
            cancelled: AtomicBool::new(false),
        });
        let connection = {
            let mut members = self.shared.members();
            match members.live.get_mut(&executor) {
                Some(m) => {
                    if m.jobs.insert(spec.job) {
                        launch.spec = Some(spec.clone());
                    }
                    m.running[class.index()] += 1;
                    Some(m.connection.clone())
                }
                None => None,
            }
        };
        let shared = self.shared.clone();
        let task = RemoteTask {
            state: state.clone(),
            runtime: self.runtime.handle().clone(),
            connection: connection.clone(),
        };
        let run = async move {
            let outcome = match connection {
                Some(c) => run_remote(&c, &launch, &state).await,
                None => Err(DataflowError::ExecutorLost {
                    executor,
                    task: launch.key.task(),
                    reason: "it left before the launch".into(),
                }),
            };
            state.state.store(
                if outcome.is_ok() {
                    COMPLETED
                } else {
                    CANCELLED
                },
                Relaxed,
            );
            if let Some(m) = shared.members().live.get_mut(&executor) {
                m.running[class.index()] -= 1;
            }
            outcome
        };
        let join = self.runtime.spawn_with(SpawnOptions::stream(), run);
        (task, join)
    }
}

impl Drop for ClusterDriver {
    fn drop(&mut self) {
        // Executors see the connection close and exit; local ones are also stopped.
        // The close must leave before the runtime that sends it stops.
        self.endpoint.close(0u32.into(), b"driver stopped");
        let endpoint = self.endpoint.clone();
        let _ = self.runtime.block_on(async move {
            neptune_runtime::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await
        });
        if let Some(mut local) = self.local.lock().unwrap_or_else(|e| e.into_inner()).take() {
            local.stop();
        }
    }
}

/// A runtime for network tasks only: one slot, every task in the Stream class.
pub(crate) fn control_runtime(name: &str) -> Result<Runtime> {
    neptune_runtime::Builder::new()
        .slots(1)
        .thread_name(name)
        .short_time_slices(true)
        // Served in the order they became ready: with the LIFO slot, a connection
        // woken last ran first, and MW-1's cluster stream p99 went from 5.9 to 9-10 ms.
        .lifo_slot(false)
        .build()
        .map_err(DataflowError::Runtime)
}

/// Sends `control` on a fresh unidirectional stream, without waiting.
fn send_control(runtime: &Runtime, connection: quinn::Connection, control: Control) {
    drop(runtime.spawn_with(SpawnOptions::stream(), send_control_on(connection, control)));
}

async fn send_control_on(connection: quinn::Connection, control: Control) {
    let sent = async {
        let mut send = connection.open_uni().await.map_err(|e| e.to_string())?;
        write_frame(&mut send, &control, MAX_CONTROL_FRAME)
            .await
            .map_err(|e| e.to_string())?;
        send.finish().map_err(|e| e.to_string())
    };
    if let Err(e) = sent.await {
        log(&format!("could not send {control:?}: {e}"));
    }
}

/// Runs one launch: sends it and follows the task's updates until it ends.
async fn run_remote(
    connection: &quinn::Connection,
    launch: &Launch,
    state: &RemoteState,
) -> Result<TaskDone> {
    let lost = |e: &dyn std::fmt::Display| DataflowError::ExecutorLost {
        executor: state.executor,
        task: launch.key.task(),
        reason: e.to_string(),
    };
    let (mut send, mut recv) = connection.open_bi().await.map_err(|e| lost(&e))?;
    write_frame(&mut send, launch, MAX_CONTROL_FRAME)
        .await
        .map_err(|e| lost(&e))?;
    let _ = send.finish();
    loop {
        let update: Option<TaskUpdate> = read_frame(&mut recv, MAX_CONTROL_FRAME)
            .await
            .map_err(|e| lost(&e))?;
        match update {
            Some(TaskUpdate::Started { at_ns, received_ns }) => {
                state.received_ns.store(received_ns, Relaxed);
                state.started_ns.store(at_ns, Relaxed);
                let _ = state
                    .state
                    .compare_exchange(RUNNABLE, RUNNING, Relaxed, Relaxed);
            }
            Some(TaskUpdate::Paused { at_ns, received_ns }) => {
                state.pause_received_ns.store(received_ns, Relaxed);
                state.paused_ns.store(at_ns, Relaxed);
                state.suspensions.fetch_add(1, Relaxed);
                state.state.store(PAUSED, Relaxed);
            }
            Some(TaskUpdate::Resumed) => state.state.store(RUNNING, Relaxed),
            Some(TaskUpdate::Finished(done)) => {
                state.finished_ns.store(done.finished_ns, Relaxed);
                state.reported_ns.store(now_ns(), Relaxed);
                // Parks by the executor's own policy count too.
                state.suspensions.fetch_max(done.suspensions, Relaxed);
                return Ok(done);
            }
            Some(TaskUpdate::Failed { message, kind }) => {
                let task = launch.key.task();
                return Err(match kind {
                    _ if state.cancelled.load(Relaxed) => DataflowError::TaskCancelled(task),
                    FailureKind::Cancelled => DataflowError::TaskCancelled(task),
                    FailureKind::Panic => DataflowError::TaskPanicked { task, message },
                    FailureKind::FetchFailed {
                        executor,
                        shuffle,
                        map,
                    } => DataflowError::FetchFailed {
                        executor,
                        shuffle,
                        map,
                        message,
                    },
                    FailureKind::Error => DataflowError::TaskFailed { task, message },
                });
            }
            None => return Err(lost(&"its status stream ended early")),
        }
    }
}

const RUNNABLE: u8 = 0;
const RUNNING: u8 = 1;
const PAUSED: u8 = 2;
const COMPLETED: u8 = 3;
const CANCELLED: u8 = 4;

/// What the driver knows of a remote task, from its updates.
pub(crate) struct RemoteState {
    key: TaskKey,
    class: Class,
    name: String,
    state: AtomicU8,
    suspensions: AtomicU32,
    launched_ns: AtomicU64,
    received_ns: AtomicU64,
    started_ns: AtomicU64,
    pause_sent_ns: AtomicU64,
    pause_received_ns: AtomicU64,
    paused_ns: AtomicU64,
    finished_ns: AtomicU64,
    reported_ns: AtomicU64,
    executor: u32,
    cancelled: AtomicBool,
}

/// A task running on an executor process: pause, resume and kill it by message.
#[derive(Clone)]
pub struct RemoteTask {
    state: Arc<RemoteState>,
    runtime: neptune_runtime::Handle,
    connection: Option<quinn::Connection>,
}

/// When things happened to a remote task, in wall-clock nanoseconds since the UNIX
/// epoch (one host's processes share that clock); 0 for what has not happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoteTimes {
    /// The driver decided to launch it.
    pub launched: u64,
    /// Its launch arrived at its executor.
    pub received: u64,
    /// Its executor first polled it.
    pub started: u64,
    /// The driver sent the last pause.
    pub pause_sent: u64,
    /// The last pause arrived at the executor.
    pub pause_received: u64,
    /// Its executor parked it after the last pause.
    pub paused: u64,
    /// Its executor's slot finished running it.
    pub finished: u64,
    /// The driver read its executor's report that it finished.
    pub reported: u64,
}

impl RemoteTask {
    fn control(&self, control: Control) {
        if let Some(c) = &self.connection {
            drop(
                self.runtime
                    .spawn_with(SpawnOptions::stream(), send_control_on(c.clone(), control)),
            );
        }
    }

    fn finished(&self) -> bool {
        self.state.state.load(Relaxed) >= COMPLETED
    }

    /// Sends a pause; false if the task already finished.
    pub fn pause(&self) -> bool {
        if self.finished() {
            return false;
        }
        self.state.pause_sent_ns.store(now_ns(), Relaxed);
        self.control(Control::Pause(self.state.key));
        true
    }

    /// Sends a resume; false if the task already finished.
    pub fn resume(&self) -> bool {
        if self.finished() {
            return false;
        }
        self.control(Control::Resume(self.state.key));
        true
    }

    /// Sends a kill.
    pub fn cancel(&self) {
        if !self.finished() {
            self.state.cancelled.store(true, Relaxed);
            self.control(Control::Kill(self.state.key));
        }
    }

    /// The executor it runs on.
    pub fn executor(&self) -> u32 {
        self.state.executor
    }

    /// The attempt.
    pub fn key(&self) -> TaskKey {
        self.state.key
    }

    /// Its timeline so far.
    pub fn times(&self) -> RemoteTimes {
        RemoteTimes {
            launched: self.state.launched_ns.load(Relaxed),
            received: self.state.received_ns.load(Relaxed),
            started: self.state.started_ns.load(Relaxed),
            pause_sent: self.state.pause_sent_ns.load(Relaxed),
            pause_received: self.state.pause_received_ns.load(Relaxed),
            paused: self.state.paused_ns.load(Relaxed),
            finished: self.state.finished_ns.load(Relaxed),
            reported: self.state.reported_ns.load(Relaxed),
        }
    }

    pub(crate) fn state(&self) -> neptune_runtime::TaskState {
        use neptune_runtime::TaskState;
        match self.state.state.load(Relaxed) {
            RUNNABLE => TaskState::Runnable,
            RUNNING => TaskState::Running,
            PAUSED => TaskState::Paused,
            COMPLETED => TaskState::Completed,
            _ => TaskState::Cancelled,
        }
    }

    pub(crate) fn suspensions(&self) -> u32 {
        self.state.suspensions.load(Relaxed)
    }

    pub(crate) fn class(&self) -> Class {
        self.state.class
    }

    pub(crate) fn name(&self) -> &str {
        &self.state.name
    }
}

/// Closes the connection of every executor that missed [`MISSED_HEARTBEATS`]
/// heartbeats (hung, or killed without its connection closing): its tasks then fail
/// as lost. Ends with the driver.
async fn watchdog(shared: std::sync::Weak<Shared>, period: Duration) {
    let limit = period * MISSED_HEARTBEATS;
    let mut planned = Instant::now();
    loop {
        // A wake-up this late means this runtime itself was starved of CPU: heartbeats
        // may be waiting in its sockets. They go first; judging now would count every
        // executor as lost.
        if planned.elapsed() > period / 20 {
            neptune_runtime::time::sleep(period / 10).await;
        }
        // Wakes when the first live executor's fifth heartbeat becomes overdue (or a
        // period from now, to see new members), so a loss is declared at that moment
        // rather than up to a polling interval later.
        let wake = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let now = Instant::now();
            let members = shared.members();
            let mut wake = now + period;
            for (id, m) in &members.live {
                let due = m.last_heard + limit;
                if due <= now {
                    log(&format!(
                        "executor {id} ({}) missed {MISSED_HEARTBEATS} heartbeats: lost",
                        m.name
                    ));
                    m.connection
                        .close(4u32.into(), b"missed its heartbeats: counted as lost");
                } else {
                    wake = wake.min(due);
                }
            }
            wake
        };
        planned = wake;
        neptune_runtime::time::sleep(wake.saturating_duration_since(Instant::now())).await;
    }
}

/// Accepts executors until the endpoint closes.
async fn accept_loop(endpoint: quinn::Endpoint, shared: Arc<Shared>) {
    while let Some(incoming) = endpoint.accept().await {
        let shared = shared.clone();
        drop(neptune_runtime::spawn_with(
            SpawnOptions::stream(),
            async move {
                match incoming.await {
                    Ok(connection) => serve_executor(connection, shared).await,
                    Err(e) => log(&format!("a connection failed before registering: {e}")),
                }
            },
        ));
    }
}

/// Registers an executor, then serves its requests and heartbeats until it leaves.
async fn serve_executor(connection: quinn::Connection, shared: Arc<Shared>) {
    let name = match quic::peer_name(&connection) {
        Ok(n) => n,
        Err(e) => {
            connection.close(1u32.into(), b"no node name");
            return log(&format!("refused a peer without a node name: {e}"));
        }
    };
    let id = match register(&connection, &shared, &name).await {
        Ok(id) => id,
        Err(reason) => {
            connection.close(1u32.into(), reason.as_bytes());
            return log(&format!("{name} not registered: {reason}"));
        }
    };
    log(&format!("executor {id} ({name}) registered"));
    let events = serve_events(&connection, &shared, id);
    let requests = serve_requests(&connection, &shared);
    let reason = futures::future::select(Box::pin(events), Box::pin(requests))
        .await
        .factor_first()
        .0;
    connection.close(2u32.into(), reason.as_bytes());
    let others: Vec<quinn::Connection> = {
        let mut members = shared.members();
        let pid = members.live.remove(&id).map_or(0, |m| m.pid);
        members.lost.push(LostExecutor {
            id,
            name: name.clone(),
            pid,
            at_ns: now_ns(),
            reason: reason.clone(),
        });
        members
            .live
            .values()
            .map(|m| m.connection.clone())
            .collect()
    };
    log(&format!("executor {id} ({name}) left: {reason}"));
    // Reducers fetching from it fail now, not at their link's idle timeout.
    for connection in others {
        drop(neptune_runtime::spawn_with(
            SpawnOptions::stream(),
            send_control_on(connection, Control::ExecutorLost(id)),
        ));
    }
}

/// The `Register -> Registered` round trip; the executor's id.
async fn register(
    connection: &quinn::Connection,
    shared: &Shared,
    name: &str,
) -> std::result::Result<u32, String> {
    let (mut send, mut recv) = connection.accept_bi().await.map_err(|e| e.to_string())?;
    let register: Register = read_frame(&mut recv, MAX_CONTROL_FRAME)
        .await
        .map_err(|e| format!("bad registration: {e}"))?
        .ok_or("the registration stream ended empty")?;
    let refusal = if register.fingerprint != shared.fingerprint {
        Some(format!(
            "it runs another binary (fingerprint {:016x}, the driver's is {:016x}): every \
             process of a cluster must run the same executable",
            register.fingerprint, shared.fingerprint
        ))
    } else if register.builders != shared.builders {
        Some(format!(
            "its plan builders {:?} differ from the driver's {:?}",
            register.builders, shared.builders
        ))
    } else if register.slots == 0 {
        Some("it has no slots".to_owned())
    } else {
        None
    };
    if let Some(reason) = refusal {
        // Recorded before the executor can learn of it (and exit); the latest few.
        {
            let mut refusals = shared.refusals.lock().unwrap_or_else(|e| e.into_inner());
            if refusals.len() == 16 {
                refusals.remove(0);
            }
            refusals.push(format!("{name}: {reason}"));
        }
        let answer = Registered::Refused {
            reason: reason.clone(),
        };
        let _ = write_frame(&mut send, &answer, MAX_CONTROL_FRAME).await;
        let _ = send.finish();
        // Let the refusal arrive before the connection closes.
        let _ = neptune_runtime::time::timeout(Duration::from_secs(2), connection.closed()).await;
        return Err(reason);
    }
    let id = shared.next_id.fetch_add(1, Relaxed);
    let pauses_batch = register.pauses_batch;
    let mut view = ExecutorView::new(ExecutorId(id), register.slots as usize);
    view.alive = true;
    let member = Member {
        name: name.to_owned(),
        connection: connection.clone(),
        shuffle_addr: register.shuffle_addr,
        pauses_batch,
        view,
        running: [0; 2],
        jobs: HashSet::new(),
        last_heard: Instant::now(),
        pid: register.pid,
    };
    let answer = Registered::Accepted {
        executor: id,
        heartbeat_ms: shared.heartbeat.as_millis() as u64,
    };
    write_frame(&mut send, &answer, MAX_CONTROL_FRAME)
        .await
        .map_err(|e| e.to_string())?;
    send.finish().map_err(|e| e.to_string())?;
    // The latest broadcasts go out before the executor counts as registered (and can
    // be sent newer ones); a replica ignores a version older than the one it has, so
    // streams arriving out of order do no harm.
    let latest: Vec<(String, (u64, Vec<u8>))> = shared
        .broadcasts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, (version, value)) in latest {
        let control = Control::Broadcast {
            name,
            version,
            value,
        };
        send_control_on(connection.clone(), control).await;
    }
    shared.members().live.insert(id, member);
    shared.joined.notify_all();
    Ok(id)
}

/// Heartbeats; returns why the executor is gone.
async fn serve_events(connection: &quinn::Connection, shared: &Shared, id: u32) -> String {
    loop {
        let mut recv = match connection.accept_uni().await {
            Ok(r) => r,
            Err(e) => return e.to_string(),
        };
        let event: ExecutorEvent = match read_frame(&mut recv, MAX_CONTROL_FRAME).await {
            Ok(Some(e)) => e,
            Ok(None) => return "an empty event stream".to_owned(),
            Err(e) => return format!("a malformed event: {e}"),
        };
        match event {
            ExecutorEvent::Heartbeat(bytes) => match Heartbeat::decode(&bytes) {
                Ok(hb) => {
                    let mut members = shared.members();
                    let first = {
                        let count = members.heartbeats.entry(id).or_default();
                        *count += 1;
                        *count == 1
                    };
                    if let Some(m) = members.live.get_mut(&id) {
                        m.view.observe(&hb);
                        m.last_heard = Instant::now();
                    }
                    drop(members);
                    if first {
                        shared.joined.notify_all();
                    }
                }
                Err(e) => return format!("a malformed heartbeat: {e}"),
            },
        }
    }
}

/// Requests (job specs); returns why the executor is gone.
async fn serve_requests(connection: &quinn::Connection, shared: &Shared) -> String {
    loop {
        let (mut send, mut recv) = match connection.accept_bi().await {
            Ok(s) => s,
            Err(e) => return e.to_string(),
        };
        let request: ExecutorRequest = match read_frame(&mut recv, MAX_CONTROL_FRAME).await {
            Ok(Some(r)) => r,
            Ok(None) => return "an empty request stream".to_owned(),
            Err(e) => return format!("a malformed request: {e}"),
        };
        match request {
            ExecutorRequest::GetJob(job) => {
                let spec = shared
                    .jobs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&job)
                    .cloned();
                let sent: std::result::Result<(), WireError> =
                    write_frame(&mut send, &spec, MAX_CONTROL_FRAME).await;
                if sent.is_ok() {
                    let _ = send.finish();
                }
            }
        }
    }
}

impl ClusterDriver {
    /// Where a live executor serves its shuffle blocks.
    pub(crate) fn peer(&self, executor: u32) -> Option<Peer> {
        self.shared.members().live.get(&executor).map(|m| Peer {
            id: executor,
            addr: m.shuffle_addr,
            name: m.name.clone(),
        })
    }
}

/// The remote action a job's result stage runs.
pub(crate) fn remote_action(action: &str) -> Result<RemoteAction> {
    RemoteAction::of(action).ok_or_else(|| {
        DataflowError::Cluster(format!(
            "`{action}` runs a closure of the driver program, which cannot travel to \
             executors: in cluster mode use collect or count, and do the rest inside the \
             plan builder"
        ))
    })
}

/// Logs a cluster event on standard error.
pub(crate) fn log(message: &str) {
    eprintln!("neptune cluster: {message}");
}
