//! Tasks: one allocation holding a header (state word, vtable, class, pause
//! bookkeeping), the scheduler handle, the future and then its output.
//!
//! The task knows nothing of queues: everything that moves it between queues goes
//! through the [`Schedule`] trait, so the executor can be swapped for a test scheduler
//! (the loom models do exactly that). All raw-pointer code lives in `raw.rs`.

mod handle;
mod join;
mod join_set;
mod raw;
pub(crate) mod state;
#[cfg(feature = "tracing")]
mod trace;
mod waker;

pub use handle::{TaskHandle, TaskState};
pub use join::{JoinError, JoinHandle};
pub use join_set::JoinSet;
pub(crate) use raw::{Header, Notified, RawTask, RunReport, TaskRef, NO_SLOT};

use crate::sync::Mutex;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Arc as StdArc;

/// The scheduling class of a task.
///
/// A slot always runs a runnable `Stream` task before any `Batch` task, and when a
/// `Stream` task becomes runnable while every slot is busy with `Batch` work, the
/// runtime's policy may pause a `Batch` task to make room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Latency-sensitive work (a micro-batch of a stream job, a request handler).
    Stream,
    /// Latency-tolerant work that may be paused (training, transformation).
    #[default]
    Batch,
}

impl Class {
    /// Both classes, in priority order.
    pub const ALL: [Class; 2] = [Class::Stream, Class::Batch];

    /// Index of the class in per-class arrays (`Stream` = 0, `Batch` = 1).
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Class::Stream => 0,
            Class::Batch => 1,
        }
    }

    /// The class's lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Stream => "stream",
            Class::Batch => "batch",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task's identity, unique within the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    pub(crate) fn next() -> TaskId {
        // A process-wide counter; std's atomic on purpose (loom would make ids depend on
        // the interleaving for no gain: ids carry no synchronisation).
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        TaskId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How to spawn a task: its class and an optional name.
///
/// ```
/// use neptune_runtime::{Class, SpawnOptions};
/// let opts = SpawnOptions::new().class(Class::Stream).name("score-events");
/// assert_eq!(opts.get_class(), Class::Stream);
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpawnOptions {
    pub(crate) class: Class,
    pub(crate) name: Option<StdArc<str>>,
}

impl SpawnOptions {
    /// `Batch` class, no name.
    pub fn new() -> SpawnOptions {
        SpawnOptions::default()
    }

    /// Options for a `Stream` task.
    pub fn stream() -> SpawnOptions {
        SpawnOptions::new().class(Class::Stream)
    }

    /// Options for a `Batch` task.
    pub fn batch() -> SpawnOptions {
        SpawnOptions::new().class(Class::Batch)
    }

    /// Sets the class.
    pub fn class(mut self, class: Class) -> SpawnOptions {
        self.class = class;
        self
    }

    /// Sets a name (shown by `TaskHandle::name` and in debug output).
    pub fn name(mut self, name: impl Into<StdArc<str>>) -> SpawnOptions {
        self.name = Some(name.into());
        self
    }

    /// The class these options give.
    pub fn get_class(&self) -> Class {
        self.class
    }
}

/// The suspended and resumed queues of one slot, under one lock.
///
/// `PARKED` tasks sit in `suspended`; `resume` (or `cancel`) moves them to `resumed`,
/// which only the owning slot pops: parked tasks never migrate. Each entry carries when
/// the task was parked (and resumed): the header has no room for it, and the lock that
/// guards the queues makes a parking's start and the task's paused total consistent
/// for a reader (`TaskHandle::paused_time`, the timeline's Paused spans).
#[derive(Default)]
pub(crate) struct Parking {
    pub(crate) suspended: VecDeque<Parked>,
    pub(crate) resumed: VecDeque<Resumed>,
}

/// A task in a suspended queue.
pub(crate) struct Parked {
    pub(crate) task: Notified,
    /// When it was parked (ns on the runtime clock).
    pub(crate) since: u64,
}

/// A task in a resumed queue: parked from `since` to `until` (ns on the runtime clock).
pub(crate) struct Resumed {
    pub(crate) task: Notified,
    pub(crate) since: u64,
    pub(crate) until: u64,
}

impl Parking {
    /// Parks `task` (its state says `PARKED`) at instant `now` (ns).
    pub(crate) fn park(&mut self, task: Notified, now: u64) {
        self.suspended.push_back(Parked { task, since: now });
    }

    fn position(&self, task: &Header) -> Option<usize> {
        let ptr: *const Header = task;
        self.suspended
            .iter()
            .position(|p| p.task.header_ptr() == ptr)
    }

    /// Whether `task` sits in the suspended queue.
    pub(crate) fn holds(&self, task: &Header) -> bool {
        self.position(task).is_some()
    }

    /// When `task` was parked, if it sits in the suspended queue.
    pub(crate) fn parked_since(&self, task: &Header) -> Option<u64> {
        self.position(task).map(|i| self.suspended[i].since)
    }

    /// Moves `task` from `suspended` to `resumed` at instant `now` (ns), adding the
    /// parking to the task's paused total. Returns false if it was not there.
    pub(crate) fn move_to_resumed(&mut self, task: &Header, now: u64) -> bool {
        match self.position(task) {
            Some(i) => {
                let p = self.suspended.remove(i).expect("index in range");
                let until = now.max(p.since);
                task.paused_ns
                    .fetch_add(until - p.since, std::sync::atomic::Ordering::Relaxed);
                self.resumed.push_back(Resumed {
                    task: p.task,
                    since: p.since,
                    until,
                });
                true
            }
            None => false,
        }
    }

    /// The tasks in the suspended queue.
    pub(crate) fn suspended_tasks(&self) -> impl Iterator<Item = &Notified> {
        self.suspended.iter().map(|p| &p.task)
    }
}

/// What a task needs from the executor that runs it.
pub(crate) trait Schedule: Send + Sync + Sized + 'static {
    /// Pushes a runnable task to a run queue (after a wake or a cancel).
    fn schedule(&self, task: Notified);

    /// Pushes a task that was woken during its own poll (it yielded) to a run queue,
    /// behind the tasks already there.
    fn yielded(&self, task: Notified) {
        self.schedule(task);
    }

    /// The parking lock of slot `slot`.
    fn parking(&self, slot: usize) -> &Mutex<Parking>;

    /// Called after a task was parked in slot `slot`'s suspended queue by a thread that
    /// holds the lock (for bookkeeping such as queue-length gauges).
    fn parked(&self, slot: usize, parking: &Parking);

    /// Called after a task was moved to slot `slot`'s resumed queue: wake that slot.
    fn unparked(&self, slot: usize, parking: &Parking);

    /// The task completed: the registry of live tasks drops it. Returns how many
    /// references the registry gave up (0 if it no longer held the task).
    fn release(&self, task: &Header) -> usize;
}

/// Creates a task. Returns the `Notified` to schedule first, the `JoinHandle`, and a
/// counted reference for the registry of live tasks.
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    options: SpawnOptions,
) -> (Notified, JoinHandle<F::Output>, TaskRef)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    raw::allocate(future, scheduler, options)
}
