//! `SpawnCounter`: counts spawns per class, so that a heartbeat can tell how many live
//! tasks each class has.
//!
//! The runtime's metrics count live tasks in total and finished tasks per class, but
//! not live tasks per class; spawns counted here close the gap:
//! live(class) = spawned(class) − finished(class).

use neptune_runtime::{Class, Handle, JoinHandle, SpawnOptions};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Counts tasks spawned per class. Spawn through it (or call
/// [`record`](Self::record)) for every task of the runtime, or the per-class figures
/// derived from it undercount.
///
/// ```
/// use neptune_runtime::{Class, SpawnOptions};
/// use neptune_scheduler::metrics::SpawnCounter;
///
/// let rt = neptune_runtime::Runtime::new().unwrap();
/// let counter = SpawnCounter::new();
/// let h = counter.spawn_with(rt.handle(), SpawnOptions::stream(), async { 1 });
/// assert_eq!(rt.block_on(h).unwrap(), 1);
/// assert_eq!(counter.spawned(), [1, 0]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpawnCounter {
    spawned: Arc<[AtomicU64; 2]>,
}

impl SpawnCounter {
    /// A counter at zero.
    pub fn new() -> SpawnCounter {
        SpawnCounter::default()
    }

    /// Counts one task of `class` spawned elsewhere.
    pub fn record(&self, class: Class) {
        self.spawned[class.index()].fetch_add(1, Relaxed);
    }

    /// Spawns `future` on `handle` with `options`, counting it.
    pub fn spawn_with<F>(
        &self,
        handle: &Handle,
        options: SpawnOptions,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.record(options.get_class());
        handle.spawn_with(options, future)
    }

    /// Tasks spawned so far per class (indexed by [`Class::index`]).
    pub fn spawned(&self) -> [u64; 2] {
        [self.spawned[0].load(Relaxed), self.spawned[1].load(Relaxed)]
    }
}
