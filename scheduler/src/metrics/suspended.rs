//! An estimate of the memory that suspended tasks hold.
//!
//! What is measured: the number of tasks in the slots' suspended queues (from the
//! runtime's metrics) and the bytes in use (from a [`CountingAllocator`](super::CountingAllocator)).
//! What is *not* measured: the bytes a given task holds. A task's state is its future,
//! plus whatever heap it owns, and neither the runtime nor the allocator attributes
//! bytes to tasks. The estimate therefore assumes a suspended task holds as much as the
//! average live task: `in_use × suspended / live`. It overstates when most memory
//! belongs to something other than tasks (caches, buffers), and understates when
//! suspended tasks are the big ones.

use neptune_runtime::metrics::RuntimeMetrics;

/// Tasks parked in every slot's suspended queue.
pub fn suspended_tasks(metrics: &RuntimeMetrics) -> u64 {
    metrics.slots.iter().map(|s| s.suspended as u64).sum()
}

/// Estimated bytes held by suspended tasks: `in_use` shared evenly among the live
/// tasks, times the suspended ones (0 with no live task; never above `in_use`).
///
/// ```
/// use neptune_runtime::metrics::{RuntimeMetrics, SlotMetrics};
/// use neptune_scheduler::metrics::suspended_bytes_estimate;
///
/// let m = RuntimeMetrics {
///     slots: vec![SlotMetrics { suspended: 1, ..Default::default() }],
///     live_tasks: 4,
///     ..Default::default()
/// };
/// assert_eq!(suspended_bytes_estimate(&m, 4000), 1000);
/// ```
pub fn suspended_bytes_estimate(metrics: &RuntimeMetrics, in_use: u64) -> u64 {
    let live = metrics.live_tasks as u64;
    if live == 0 {
        return 0;
    }
    let suspended = suspended_tasks(metrics).min(live);
    ((in_use as u128 * suspended as u128) / live as u128) as u64
}
