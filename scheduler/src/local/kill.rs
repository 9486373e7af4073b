//! KILL: a Stream arrival cancels running Batch work, which restarts from scratch.

use neptune_runtime::policy::{Policy, Preempt, SlotView};
use neptune_runtime::{TaskHandle, TaskId};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// How many killed task ids a [`KillLog`] remembers by default.
pub const DEFAULT_KILL_LOG_CAPACITY: usize = 4096;

/// The ids of the tasks a [`Kill`] policy cancelled, shared with whoever restarts them.
///
/// A cancelled `JoinError` does not say who cancelled the task; this log does. The
/// policy records a task's id *before* the runtime cancels it, so whoever sees the
/// `JoinError` can [`take`](Self::take) the id to learn it was a kill (restart it) and
/// not a user's cancel (give up). [`restart::Restarter`](crate::restart::Restarter)
/// does exactly that.
///
/// Memory is bounded: ids never taken (a killed task nobody restarts, or one that
/// finished before the kill landed) are forgotten oldest first beyond the capacity.
/// Cloning is cheap and clones share the log.
///
/// ```
/// use neptune_scheduler::local::{Kill, KillLog};
/// let log = KillLog::new();
/// let policy = Kill::with_log(log.clone());
/// assert_eq!(policy.log().kills(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct KillLog {
    inner: Arc<LogInner>,
}

#[derive(Debug)]
struct LogInner {
    ids: Mutex<Ids>,
    kills: AtomicU64,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Ids {
    live: HashSet<TaskId>,
    /// Insertion order, for forgetting the oldest; may hold ids already taken.
    order: VecDeque<TaskId>,
}

impl Default for KillLog {
    fn default() -> KillLog {
        KillLog::new()
    }
}

impl KillLog {
    /// An empty log remembering up to [`DEFAULT_KILL_LOG_CAPACITY`] ids.
    pub fn new() -> KillLog {
        KillLog::with_capacity(DEFAULT_KILL_LOG_CAPACITY)
    }

    /// An empty log remembering up to `capacity` ids (at least one).
    pub fn with_capacity(capacity: usize) -> KillLog {
        KillLog {
            inner: Arc::new(LogInner {
                ids: Mutex::new(Ids::default()),
                kills: AtomicU64::new(0),
                capacity: capacity.max(1),
            }),
        }
    }

    fn ids(&self) -> MutexGuard<'_, Ids> {
        self.inner.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the policy is cancelling task `id`.
    pub fn record(&self, id: TaskId) {
        self.inner.kills.fetch_add(1, Relaxed);
        let mut ids = self.ids();
        if ids.live.insert(id) {
            ids.order.push_back(id);
        }
        while ids.order.len() > self.inner.capacity {
            if let Some(old) = ids.order.pop_front() {
                ids.live.remove(&old);
            }
        }
    }

    /// True (once) if the policy cancelled task `id`: the id is removed from the log.
    pub fn take(&self, id: TaskId) -> bool {
        self.ids().live.remove(&id)
    }

    /// True if the policy cancelled task `id` and nobody took the id yet.
    pub fn contains(&self, id: TaskId) -> bool {
        self.ids().live.contains(&id)
    }

    /// How many kills were recorded in total.
    pub fn kills(&self) -> u64 {
        self.inner.kills.load(Relaxed)
    }

    /// How many ids the log holds now.
    pub fn len(&self) -> usize {
        self.ids().live.len()
    }

    /// True if the log holds no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// KILL: when a Stream task waits for a slot, cancel running Batch tasks to make room;
/// their progress is lost and whoever submitted them restarts them from scratch (see
/// [`restart`](crate::restart)).
///
/// - **Victims**: the youngest running Batch tasks (least work thrown away), as many as
///   Stream tasks wait, minus slots already being freed.
/// - **Mechanism**: each victim gets `Preempt::Pause` then `Preempt::Cancel`. The pause
///   makes a CPU-bound task stop at its next `preemption_point` (a bare cancel only
///   takes effect when the task next returns `Pending` by itself); the cancel then drops
///   its future instead of parking it for later.
/// - Every victim's id goes to the policy's [`KillLog`] before the cancel, so a restart
///   wrapper can tell this kill from a user's cancel. Tasks being killed are never
///   handed back by `on_stream_drained`.
///
/// Batch tasks not spawned through a restart wrapper simply end cancelled.
#[derive(Clone, Debug, Default)]
pub struct Kill {
    log: KillLog,
}

impl Kill {
    /// A KILL policy with a fresh log.
    pub fn new() -> Kill {
        Kill::default()
    }

    /// A KILL policy recording into `log` (share it with the restart wrapper).
    pub fn with_log(log: KillLog) -> Kill {
        Kill { log }
    }

    /// The log of the tasks this policy cancelled.
    pub fn log(&self) -> KillLog {
        self.log.clone()
    }
}

impl Policy for Kill {
    fn name(&self) -> &str {
        "kill"
    }

    fn preemption(&self) -> neptune_runtime::policy::Preemption {
        neptune_runtime::policy::Preemption::Cancel
    }

    fn on_stream_waiting(&self, waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        let stopping = slots.iter().filter(|s| s.running.pausing).count();
        let needed = waiting.saturating_sub(stopping);
        let mut victims: Vec<&SlotView> = slots.iter().filter(|s| !s.running.pausing).collect();
        victims.sort_by_key(|s| (s.running.age, s.slot));
        let mut out = Vec::with_capacity(2 * needed);
        for s in victims.into_iter().take(needed) {
            let task = &s.running.task;
            self.log.record(task.id());
            out.push(Preempt::Pause(task.clone()));
            out.push(Preempt::Cancel(task.clone()));
        }
        out
    }

    fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        suspended
            .iter()
            .filter(|t| !self.log.contains(t.id()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<TaskId> {
        // Real ids come from real tasks; a runtime with one slot is enough.
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        (0..n).map(|_| rt.spawn(async {}).id()).collect()
    }

    #[test]
    fn take_is_once_and_capacity_forgets_oldest() {
        let id = ids(3);
        let log = KillLog::with_capacity(2);
        log.record(id[0]);
        assert!(log.contains(id[0]));
        assert!(log.take(id[0]));
        assert!(!log.take(id[0]));
        log.record(id[0]);
        log.record(id[1]);
        log.record(id[2]);
        assert_eq!(log.len(), 2);
        assert!(!log.contains(id[0]), "oldest forgotten");
        assert!(log.contains(id[1]) && log.contains(id[2]));
        assert_eq!(log.kills(), 4);
    }
}
