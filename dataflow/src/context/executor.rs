//! `Executor`: one Neptune runtime of a context, with its own slots, policy and
//! metrics, and what placement needs to know about it.

use neptune_runtime::metrics::RuntimeMetrics;
use neptune_runtime::{Class, Handle, Runtime, Timeline};
use neptune_scheduler::metrics::{Heartbeat, HeartbeatSource};
use neptune_scheduler::placement::{ExecutorView, MetricsWindow};
use neptune_scheduler::ExecutorId;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// One executor of a [`Context`](crate::Context): a Neptune runtime with its own slots
/// (worker threads), scheduling policy and metrics. In local mode every executor lives
/// in this process; placement treats them as it will treat remote ones.
///
/// ```
/// let ctx = neptune_dataflow::Context::builder()
///     .executors(2)
///     .slots_per_executor(1)
///     .policy("neptune")
///     .build()
///     .unwrap();
/// for e in ctx.executors() {
///     assert_eq!((e.slots(), e.policy_name()), (1, "neptune"));
/// }
/// assert_eq!(ctx.executors()[1].id().to_string(), "executor-1");
/// ```
pub struct Executor {
    id: ExecutorId,
    runtime: Runtime,
    pub(crate) load: Arc<ExecutorLoad>,
    pauses_batch: bool,
    window: Mutex<MetricsWindow>,
}

/// What the context tracks about an executor's work.
#[derive(Debug, Default)]
pub(crate) struct ExecutorLoad {
    /// Tasks spawned and not finished, per class (suspended ones included).
    running: [AtomicUsize; 2],
    /// Tasks finished.
    finished: AtomicU64,
    /// Bytes (shallow estimate) of shuffle buckets its tasks wrote that are still held.
    pub(crate) shuffle_bytes: AtomicU64,
}

/// Counts a task as running on its executor until dropped.
pub(crate) struct RunningGuard {
    load: Arc<ExecutorLoad>,
    class: Class,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.load.running[self.class.index()].fetch_sub(1, Relaxed);
        self.load.finished.fetch_add(1, Relaxed);
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("id", &self.id)
            .field("slots", &self.slots())
            .field("policy", &self.policy_name())
            .field("running", &self.running())
            .finish()
    }
}

impl Executor {
    pub(crate) fn new(id: ExecutorId, runtime: Runtime) -> Executor {
        let pauses_batch =
            runtime.policy_preemption() == neptune_runtime::policy::Preemption::Pause;
        Executor {
            id,
            runtime,
            load: Arc::default(),
            pauses_batch,
            window: Mutex::new(MetricsWindow::default()),
        }
    }

    /// The executor's id (its index in [`Context::executors`](crate::Context::executors)).
    pub fn id(&self) -> ExecutorId {
        self.id
    }

    /// A handle to the executor's runtime (to spawn tasks on it directly).
    pub fn handle(&self) -> &Handle {
        self.runtime.handle()
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.runtime.slots()
    }

    /// The name of the runtime's scheduling policy.
    pub fn policy_name(&self) -> &str {
        self.runtime.policy_name()
    }

    /// The runtime's per-slot metrics now.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.runtime.metrics()
    }

    /// The runtime's per-slot timeline now: empty `slots` unless the context was built
    /// with [`ContextBuilder::timeline`](crate::ContextBuilder::timeline).
    pub fn timeline(&self) -> Timeline {
        self.runtime.timeline()
    }

    /// Dataflow tasks placed here and not finished, per class (indexed by
    /// [`Class::index`]), suspended ones included.
    pub fn running(&self) -> [usize; 2] {
        [
            self.load.running[0].load(Relaxed),
            self.load.running[1].load(Relaxed),
        ]
    }

    /// Dataflow tasks that finished here.
    pub fn tasks_finished(&self) -> u64 {
        self.load.finished.load(Relaxed)
    }

    /// Bytes of shuffle buckets written here and not yet consumed (a shallow estimate:
    /// records times their inline size).
    pub fn shuffle_bytes(&self) -> u64 {
        self.load.shuffle_bytes.load(Relaxed)
    }

    /// Counts a task of `class` as running here until the guard drops.
    pub(crate) fn enter(&self, class: Class) -> RunningGuard {
        self.load.running[class.index()].fetch_add(1, Relaxed);
        RunningGuard {
            load: self.load.clone(),
            class,
        }
    }

    /// The executor's heartbeat now, as `id`: its dataflow tasks per class, the
    /// suspended ones, and memory. With `source` (an executor process whose allocator
    /// counts), memory in use, allocation rate and suspended bytes are the process
    /// allocator's; without (executors sharing a process, whose allocator cannot tell
    /// them apart), memory in use is the shuffle bytes the executor holds.
    pub(crate) fn heartbeat(
        &self,
        id: ExecutorId,
        source: Option<&mut HeartbeatSource<'_>>,
    ) -> Heartbeat {
        let metrics = self.runtime.metrics();
        let suspended: usize = metrics.slots.iter().map(|s| s.suspended).sum();
        let [stream, batch] = self.running();
        let mut hb = match source {
            Some(source) => source.beat(),
            None => Heartbeat {
                memory_in_use: self.shuffle_bytes(),
                timestamp_ms: crate::stream::now_millis().max(0) as u64,
                ..Heartbeat::default()
            },
        };
        let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        hb.executor = id;
        hb.slots = clamp(self.runtime.slots());
        hb.running = [clamp(stream), clamp(batch.saturating_sub(suspended))];
        hb.suspended = clamp(suspended);
        hb.pausable_batch = if self.pauses_batch { hb.running[1] } else { 0 };
        hb
    }

    /// The executor as placement sees it now: a heartbeat taken in, as the driver of a
    /// cluster takes in an executor process's, into the executor's memory window.
    pub(crate) fn view(&self) -> ExecutorView {
        let hb = self.heartbeat(self.id, None);
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let mut view = ExecutorView::new(self.id, self.runtime.slots());
        view.window = std::mem::take(&mut *window);
        view.observe(&hb);
        *window = view.window.clone();
        view
    }
}
