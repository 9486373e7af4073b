//! `ExecutorView`: an executor as placement policies see it, kept up to date from its
//! heartbeats.

use super::window::{MemoryPressure, MetricsWindow};
use crate::metrics::Heartbeat;
use crate::ExecutorId;
use neptune_runtime::Class;

/// What placement knows about one executor: its latest heartbeat's figures and a
/// window of its recent memory metrics.
///
/// ```
/// use neptune_scheduler::metrics::Heartbeat;
/// use neptune_scheduler::placement::ExecutorView;
/// use neptune_scheduler::ExecutorId;
///
/// let mut view = ExecutorView::new(ExecutorId(0), 4);
/// view.observe(&Heartbeat { executor: ExecutorId(0), slots: 4, running: [1, 2], ..Default::default() });
/// assert_eq!(view.running_total(), 3);
/// assert_eq!(view.free_slots(), 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutorView {
    /// The executor.
    pub id: ExecutorId,
    /// Whether it is alive (placement never picks a dead executor). Heartbeats set it;
    /// the caller clears it when heartbeats stop.
    pub alive: bool,
    /// Its slots.
    pub slots: usize,
    /// Tasks running per class (indexed by [`Class::index`]).
    pub running: [usize; 2],
    /// Tasks in its suspended queues.
    pub suspended: usize,
    /// Running Batch tasks its policy would pause for Stream work.
    pub pausable_batch: usize,
    /// Bytes in use, from the latest heartbeat.
    pub memory_in_use: u64,
    /// Bytes spilled, from the latest heartbeat.
    pub bytes_spilled: u64,
    /// Allocation churn (bytes per second), from the latest heartbeat.
    pub alloc_churn: u64,
    /// The memory metrics of its last heartbeats.
    pub window: MetricsWindow,
}

impl ExecutorView {
    /// An alive, idle executor with `slots` slots and an empty default window.
    pub fn new(id: ExecutorId, slots: usize) -> ExecutorView {
        ExecutorView {
            id,
            alive: true,
            slots,
            running: [0, 0],
            suspended: 0,
            pausable_batch: 0,
            memory_in_use: 0,
            bytes_spilled: 0,
            alloc_churn: 0,
            window: MetricsWindow::default(),
        }
    }

    /// Executor `id` with `slots` slots running `running` tasks (Stream, Batch), of
    /// which `pausable` Batch tasks can be paused: the placement tests' executors.
    #[cfg(test)]
    pub(crate) fn busy(id: u32, slots: usize, running: [usize; 2], pausable: usize) -> Self {
        let mut v = ExecutorView::new(ExecutorId(id), slots);
        v.running = running;
        v.pausable_batch = pausable;
        v
    }

    /// Replaces the window with an empty one of `capacity` heartbeats.
    pub fn with_window(mut self, capacity: usize) -> ExecutorView {
        self.window = MetricsWindow::new(capacity);
        self
    }

    /// Takes in a heartbeat: the figures are replaced, the memory metrics join the
    /// window, and the executor counts as alive.
    pub fn observe(&mut self, hb: &Heartbeat) {
        self.alive = true;
        self.slots = hb.slots as usize;
        self.running = hb.running.map(|r| r as usize);
        self.suspended = hb.suspended as usize;
        self.pausable_batch = (hb.pausable_batch as usize).min(self.running[1]);
        self.memory_in_use = hb.memory_in_use;
        self.bytes_spilled = hb.bytes_spilled;
        self.alloc_churn = hb.alloc_churn;
        self.window
            .push(hb.memory_in_use, hb.bytes_spilled, hb.alloc_churn);
    }

    /// Running tasks of both classes.
    pub fn running_total(&self) -> usize {
        self.running[0] + self.running[1]
    }

    /// Tasks running in `class`.
    pub fn running_of(&self, class: Class) -> usize {
        self.running[class.index()]
    }

    /// Slots with no running task.
    pub fn free_slots(&self) -> usize {
        self.slots.saturating_sub(self.running_total())
    }

    /// Memory pressure over the window, or from the latest figures while the window is
    /// empty.
    pub fn pressure(&self) -> MemoryPressure {
        if self.window.is_empty() {
            MemoryPressure::of_values(self.memory_in_use, self.bytes_spilled, self.alloc_churn)
        } else {
            self.window.pressure()
        }
    }
}
