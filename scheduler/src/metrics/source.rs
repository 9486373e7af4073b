//! `HeartbeatSource`: builds an executor's heartbeats from its runtime and allocator.

use super::{
    suspended_bytes_estimate, suspended_tasks, AllocCounters, AllocSampler, Heartbeat, SpawnCounter,
};
use crate::ExecutorId;
use neptune_runtime::{Class, Handle};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Builds [`Heartbeat`]s for one executor.
///
/// Where each field comes from:
/// - `slots`, `suspended`: the runtime's metrics (`Handle::metrics`).
/// - `running`: with a [`SpawnCounter`], spawned minus finished per class, minus the
///   suspended tasks (counted as Batch); without one the runtime cannot split live tasks
///   by class, and every live task that is not suspended is reported as Batch.
/// - `pausable_batch`: the running Batch tasks if the runtime's policy pauses Batch work
///   for Stream work (NEPTUNE, or the runtime's default policy), else 0; override with
///   [`pausable`](Self::pausable).
/// - `memory_in_use`, `alloc_churn`: the counting allocator, through an
///   [`AllocSampler`] (churn is bytes allocated per second since the previous beat).
/// - `bytes_spilled`: a counter the application advances when it spills, if given.
/// - `suspended_bytes`: [`suspended_bytes_estimate`], an estimate.
///
/// ```
/// use neptune_scheduler::metrics::{CountingAllocator, HeartbeatSource};
/// use neptune_scheduler::ExecutorId;
///
/// static ALLOC: CountingAllocator = CountingAllocator::new();
/// let rt = neptune_runtime::Builder::new().slots(2).build().unwrap();
/// let mut source = HeartbeatSource::new(ExecutorId(1), rt.handle(), &ALLOC);
/// let hb = source.beat();
/// assert_eq!(hb.slots, 2);
/// assert_eq!(hb.executor, ExecutorId(1));
/// ```
#[derive(Debug)]
pub struct HeartbeatSource<'a> {
    executor: ExecutorId,
    handle: Handle,
    sampler: AllocSampler<'a>,
    census: Option<SpawnCounter>,
    spilled: Option<Arc<AtomicU64>>,
    pausable: bool,
}

impl<'a> HeartbeatSource<'a> {
    /// Heartbeats of `executor`, whose runtime is `handle`'s and whose allocator is
    /// `alloc` (the `#[global_allocator]` static).
    pub fn new(
        executor: ExecutorId,
        handle: &Handle,
        alloc: &'a dyn AllocCounters,
    ) -> HeartbeatSource<'a> {
        let pausable = handle.policy_preemption() == neptune_runtime::policy::Preemption::Pause;
        HeartbeatSource {
            executor,
            handle: handle.clone(),
            sampler: AllocSampler::new(alloc),
            census: None,
            spilled: None,
            pausable,
        }
    }

    /// Splits live tasks by class with `counter` (through which the tasks are spawned).
    pub fn census(mut self, counter: SpawnCounter) -> HeartbeatSource<'a> {
        self.census = Some(counter);
        self
    }

    /// Reports `counter` as the bytes spilled so far.
    pub fn spill_counter(mut self, counter: Arc<AtomicU64>) -> HeartbeatSource<'a> {
        self.spilled = Some(counter);
        self
    }

    /// Says whether running Batch tasks count as pausable.
    pub fn pausable(mut self, pausable: bool) -> HeartbeatSource<'a> {
        self.pausable = pausable;
        self
    }

    /// A heartbeat now.
    pub fn beat(&mut self) -> Heartbeat {
        let metrics = self.handle.metrics();
        let rate = self.sampler.sample();
        let suspended = suspended_tasks(&metrics);
        let live = metrics.live_tasks as u64;
        let running = match &self.census {
            Some(c) => {
                let spawned = c.spawned();
                let finished = |class: Class| metrics.total(|s| s.tasks_of(class));
                let stream = spawned[0].saturating_sub(finished(Class::Stream));
                let batch = spawned[1]
                    .saturating_sub(finished(Class::Batch))
                    .saturating_sub(suspended);
                [stream, batch]
            }
            None => [0, live.saturating_sub(suspended)],
        };
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Heartbeat {
            executor: self.executor,
            timestamp_ms,
            slots: clamp(metrics.slots.len() as u64),
            running: running.map(clamp),
            suspended: clamp(suspended),
            pausable_batch: if self.pausable { clamp(running[1]) } else { 0 },
            memory_in_use: rate.in_use,
            bytes_spilled: self.spilled.as_ref().map_or(0, |c| c.load(Relaxed)),
            alloc_churn: rate.bytes_per_sec as u64,
            suspended_bytes: suspended_bytes_estimate(&metrics, rate.in_use),
        }
    }
}
