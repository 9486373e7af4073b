//! Shared state between jobs: a value that one job publishes new versions of and
//! others read, without locks on the readers' side.
//!
//! The motivating case is a batch job that keeps training a model while a stream job
//! scores events against the latest version. Readers must never wait for the writer
//! (a stream micro-batch must not stall because training is publishing), and must
//! never see a half-written model.
//!
//! [`Published`] holds the current version as an `Arc` in an
//! [`arc_swap::ArcSwap`]: publishing swaps the pointer atomically; reading takes a
//! reference-counted snapshot with a few atomic operations and no lock, and keeps it
//! valid for as long as the reader holds it, however many versions are published
//! meanwhile. A hand-written `AtomicPtr` swap would need a reclamation scheme (hazard
//! pointers or epochs) to free old versions safely while readers may still be
//! cloning them; `arc-swap` is exactly that scheme, with years of use and its own
//! model-checked tests, so this module contains no `unsafe` code. Writers are
//! serialised by a mutex among themselves only, so that version numbers increase by
//! one per publication; readers never touch it.
//!
//! Read once per micro-batch, not per record: a stream job takes
//! [`Published::latest`] when its micro-batch's pipeline is built (in
//! [`Stream::map_batches`](super::Stream::map_batches)) and moves the snapshot into
//! its operators, so the per-record path does not even touch an atomic, and every
//! record of one micro-batch is scored by the same version.

use arc_swap::ArcSwap;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

/// One version of a published value.
#[derive(Debug, PartialEq, Eq)]
pub struct Versioned<T> {
    /// Its version: 0 for the initial value, then one more per publication.
    pub version: u64,
    /// The value.
    pub value: T,
}

impl<T> Deref for Versioned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// Called with every new version, under the writers' turn (so in version order).
pub(crate) type OnPublish<T> = Arc<dyn Fn(&Versioned<T>) + Send + Sync>;

struct Cell<T> {
    current: ArcSwap<Versioned<T>>,
    writer: Mutex<()>,
    /// Cluster mode, on the driver: sends each version to the executors.
    on_publish: Mutex<Option<OnPublish<T>>>,
}

/// A value shared between jobs, published in versions by writers and read without
/// locks. Cloning is cheap; clones share the value.
///
/// ```
/// use neptune_dataflow::stream::Published;
///
/// let model = Published::new(vec![0.0f32; 4]);
/// let reader = model.clone();
/// let before = reader.latest();             // a snapshot: version 0
/// assert_eq!(model.publish(vec![1.0; 4]), 1);
/// assert_eq!((before.version, before[0]), (0, 0.0)); // still valid, unchanged
/// let now = reader.latest();
/// assert_eq!((now.version, now[0]), (1, 1.0));
/// ```
pub struct Published<T> {
    cell: Arc<Cell<T>>,
}

impl<T> Clone for Published<T> {
    fn clone(&self) -> Self {
        Published {
            cell: self.cell.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Published<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let latest = self.cell.current.load();
        f.debug_struct("Published")
            .field("version", &latest.version)
            .field("value", &latest.value)
            .finish()
    }
}

impl<T> Published<T> {
    /// A cell holding `initial` as version 0.
    pub fn new(initial: T) -> Published<T> {
        Published {
            cell: Arc::new(Cell {
                current: ArcSwap::from_pointee(Versioned {
                    version: 0,
                    value: initial,
                }),
                writer: Mutex::new(()),
                on_publish: Mutex::new(None),
            }),
        }
    }

    /// Calls `hook` with every version published from now on (and now with the
    /// current one).
    pub(crate) fn on_publish(&self, hook: OnPublish<T>) {
        let _turn = self.cell.writer.lock().unwrap_or_else(|e| e.into_inner());
        hook(&self.cell.current.load_full());
        *self
            .cell
            .on_publish
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// Installs `value` as version `version` if that is newer than the current one
    /// (an executor's replica receiving the driver's versions); true if it was.
    pub(crate) fn install(&self, version: u64, value: T) -> bool {
        let _turn = self.cell.writer.lock().unwrap_or_else(|e| e.into_inner());
        if self.cell.current.load().version >= version && version != 0 {
            return false;
        }
        self.cell
            .current
            .store(Arc::new(Versioned { version, value }));
        true
    }

    /// The latest version: lock-free, never waits for a writer. The snapshot stays
    /// valid and unchanged while it is held.
    pub fn latest(&self) -> Arc<Versioned<T>> {
        self.cell.current.load_full()
    }

    /// The latest version's number: lock-free.
    pub fn version(&self) -> u64 {
        self.cell.current.load().version
    }

    /// Publishes `value` as the next version and returns its number. Readers see either
    /// the previous version or this one, whole.
    pub fn publish(&self, value: T) -> u64 {
        self.update(|_| value)
    }

    /// Publishes `f(latest)` as the next version and returns its number. Writers take
    /// turns (the next writer waits until `f` returns), so no publication is lost;
    /// readers are never held up, even while `f` runs.
    pub fn update(&self, f: impl FnOnce(&Versioned<T>) -> T) -> u64 {
        let _turn = self.cell.writer.lock().unwrap_or_else(|e| e.into_inner());
        let latest = self.cell.current.load_full();
        let version = latest.version + 1;
        let value = f(&latest);
        let next = Arc::new(Versioned { version, value });
        self.cell.current.store(next.clone());
        let hook = self
            .cell
            .on_publish
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(hook) = hook {
            hook(&next);
        }
        version
    }
}
