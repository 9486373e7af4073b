//! Scaffolding for the loom models in `loom-tests/` (compiled only under `--cfg loom`).
//!
//! The models drive the real task code — the state word, wakers, parking, the join
//! handle — from loom threads. What they need that the public API does not offer is a
//! way to play the part of a slot step by step: [`TestScheduler`] implements the task's
//! `Schedule` trait over the executor's own run-queue types (mutex-protected deques under
//! loom) and one `Parking` per slot, and hands out queued tasks as [`Runnable`]s that a
//! model runs "as slot `i`", as a slot's loop does.
//!
//! It mirrors the executor where it matters to the task protocol:
//! - a wake on a thread that is running a task as slot `i` goes to slot `i`'s local
//!   queue, any other wake to the global queue;
//! - a slot picks from its resumed queue, then its local queue, then the global queue;
//!   another slot can steal from its local queue;
//! - spawned tasks are held by a registry of live tasks (one counted reference each)
//!   until they complete; [`TestScheduler::shutdown`] cancels what is left, as
//!   `Runtime::drop` does.
//!
//! Each task stores its own copy of the scheduler, dropped when the task's memory is
//! freed: [`TestScheduler::live_tasks`] counts allocations not yet freed.

use crate::executor::queue::{self, Inject, Local, Remote};
use crate::sync::{lock, Arc, Mutex};
use crate::task::{
    new_task, state, Header, JoinHandle, Notified, Parking, RawTask, RunReport, Schedule,
    SpawnOptions, TaskHandle, TaskId,
};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
// Bookkeeping counters carry no synchronisation the models check: std atomics keep them
// out of loom's exploration.
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst as StdSeqCst};

loom::thread_local! {
    /// The slot this model thread is running a task as, if any.
    static CURRENT_SLOT: Cell<Option<usize>> = Cell::new(None);
}

/// One slot's queues.
struct SlotQueues {
    local: Local,
    remote: Remote,
    parking: Mutex<Parking>,
}

impl SlotQueues {
    /// The length of the local queue, which has no `len`: takes every task out and puts
    /// it back in order. Only while no other thread uses the queue.
    fn local_len(&self) -> usize {
        let mut taken = Vec::new();
        while let Some(t) = self.remote.steal_one() {
            taken.push(t);
        }
        let n = taken.len();
        for t in taken {
            self.local.push(t);
        }
        n
    }
}

struct Inner {
    inject: Inject,
    slots: Box<[SlotQueues]>,
    /// Counted references to tasks that have not completed (the registry of live tasks).
    registry: Mutex<Vec<RawTask>>,
    /// Task allocations not yet freed.
    live: StdAtomicUsize,
    /// Calls of `Schedule::parked` / `Schedule::unparked`.
    parks: StdAtomicUsize,
    unparks: StdAtomicUsize,
}

impl Inner {
    fn push(&self, task: Notified) {
        match CURRENT_SLOT.with(Cell::get) {
            Some(slot) => self.slots[slot].local.push(task),
            None => self.inject.push(task),
        }
    }
}

/// The scheduler each task holds; dropped when the task is freed.
struct TaskScheduler(Arc<Inner>);

impl TaskScheduler {
    fn new(inner: &Arc<Inner>) -> TaskScheduler {
        inner.live.fetch_add(1, StdSeqCst);
        TaskScheduler(inner.clone())
    }
}

impl Drop for TaskScheduler {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, StdSeqCst);
    }
}

impl Schedule for TaskScheduler {
    fn schedule(&self, task: Notified) {
        self.0.push(task);
    }

    fn parking(&self, slot: usize) -> &Mutex<Parking> {
        &self.0.slots[slot].parking
    }

    fn parked(&self, _slot: usize, _parking: &Parking) {
        self.0.parks.fetch_add(1, StdSeqCst);
    }

    fn unparked(&self, _slot: usize, _parking: &Parking) {
        self.0.unparks.fetch_add(1, StdSeqCst);
    }

    fn release(&self, task: &Header) -> usize {
        let mut registry = lock(&self.0.registry);
        let ptr: *const Header = task;
        match registry.iter().position(|t| std::ptr::eq(t.header(), ptr)) {
            Some(i) => {
                // The caller drops the registry's reference for us.
                registry.swap_remove(i);
                1
            }
            None => 0,
        }
    }
}

/// A scheduler for loom models: per-slot local, resumed and suspended queues, a global
/// queue, and a registry of live tasks. Cloning shares it.
#[derive(Clone)]
pub struct TestScheduler {
    inner: Arc<Inner>,
}

impl fmt::Debug for TestScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestScheduler")
            .field("slots", &self.inner.slots.len())
            .finish()
    }
}

impl TestScheduler {
    /// A scheduler with `slots` slots (numbered from 0).
    pub fn new(slots: usize) -> TestScheduler {
        assert!(slots > 0, "at least one slot");
        let slots = (0..slots)
            .map(|_| {
                let (local, remote) = queue::local();
                SlotQueues {
                    local,
                    remote,
                    parking: Mutex::new(Parking::default()),
                }
            })
            .collect();
        TestScheduler {
            inner: Arc::new(Inner {
                inject: Inject::new(),
                slots,
                registry: Mutex::new(Vec::new()),
                live: StdAtomicUsize::new(0),
                parks: StdAtomicUsize::new(0),
                unparks: StdAtomicUsize::new(0),
            }),
        }
    }

    /// Spawns a Batch task into the global queue.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(SpawnOptions::new(), None, future)
    }

    /// Spawns a Batch task into slot `slot`'s local queue (as a spawn on that slot does).
    pub fn spawn_on<F>(&self, slot: usize, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(SpawnOptions::new(), Some(slot), future)
    }

    /// Spawns a task with `options` into slot `slot`'s local queue, or into the global
    /// queue if `slot` is `None`.
    pub fn spawn_with<F>(
        &self,
        options: SpawnOptions,
        slot: Option<usize>,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (notified, join, entry) = new_task(future, TaskScheduler::new(&self.inner), options);
        lock(&self.inner.registry).push(entry.into_raw());
        match slot {
            Some(s) => self.inner.slots[s].local.push(notified),
            None => self.inner.inject.push(notified),
        }
        join
    }

    /// Takes the next task slot `slot` would run: from its resumed queue, its local
    /// queue, then the global queue.
    pub fn pop(&self, slot: usize) -> Option<Runnable> {
        let s = &self.inner.slots[slot];
        let resumed = lock(&s.parking).resumed.pop_front().map(|r| r.task);
        resumed
            .or_else(|| s.local.pop())
            .or_else(|| self.inner.inject.pop())
            .map(Runnable::new)
    }

    /// Slot `slot` steals from slot `victim`'s local queue (a batch moves to `slot`'s
    /// local queue) and takes one task to run.
    pub fn steal(&self, slot: usize, victim: usize) -> Option<Runnable> {
        let inner = &self.inner;
        inner.slots[victim]
            .remote
            .steal_into(&inner.slots[slot].local)
            .map(Runnable::new)
    }

    /// Pops and runs one task as slot `slot`; `None` if it had nothing to run.
    pub fn run_next(&self, slot: usize) -> Option<Ran> {
        self.pop(slot).map(|r| r.run(slot))
    }

    /// Runs tasks as slot `slot` until it has nothing left to run (suspended tasks stay
    /// where they are). Returns how many it ran.
    pub fn run_until_idle(&self, slot: usize) -> usize {
        let mut n = 0;
        while self.run_next(slot).is_some() {
            n += 1;
        }
        n
    }

    /// Tasks in run queues (global and local; not suspended or resumed ones). Call it
    /// while no other thread uses the queues.
    pub fn queued(&self) -> usize {
        let inner = &self.inner;
        let local: usize = inner.slots.iter().map(|s| s.local_len()).sum();
        inner.inject.len() + local
    }

    /// Tasks in slot `slot`'s suspended queue.
    pub fn suspended(&self, slot: usize) -> usize {
        lock(&self.inner.slots[slot].parking).suspended.len()
    }

    /// Tasks in slot `slot`'s resumed queue.
    pub fn resumed(&self, slot: usize) -> usize {
        lock(&self.inner.slots[slot].parking).resumed.len()
    }

    /// Whether `task` sits in slot `slot`'s suspended queue.
    pub fn is_suspended_on(&self, slot: usize, task: &TaskHandle) -> bool {
        let ptr: *const Header = task.task_ref().header();
        lock(&self.inner.slots[slot].parking)
            .suspended_tasks()
            .any(|n| n.header_ptr() == ptr)
    }

    /// Whether `task` sits in slot `slot`'s resumed queue.
    pub fn is_resumed_on(&self, slot: usize, task: &TaskHandle) -> bool {
        let ptr: *const Header = task.task_ref().header();
        lock(&self.inner.slots[slot].parking)
            .resumed
            .iter()
            .any(|r| r.task.header_ptr() == ptr)
    }

    /// Task allocations not yet freed.
    pub fn live_tasks(&self) -> usize {
        self.inner.live.load(StdSeqCst)
    }

    /// Tasks in the registry (spawned and not completed).
    pub fn registered(&self) -> usize {
        lock(&self.inner.registry).len()
    }

    /// How many times a task was put in a suspended queue.
    pub fn parks(&self) -> usize {
        self.inner.parks.load(StdSeqCst)
    }

    /// How many times a task was moved to a resumed queue.
    pub fn unparks(&self) -> usize {
        self.inner.unparks.load(StdSeqCst)
    }

    /// What `Runtime::drop` does once its slots have stopped: cancels every task still
    /// registered (dropping its future) and drops every queued reference. Call it when
    /// no thread runs tasks any more; tasks are freed once their handles are dropped too.
    pub fn shutdown(&self) {
        let inner = &self.inner;
        let live: Vec<RawTask> = std::mem::take(&mut *lock(&inner.registry));
        for raw in live {
            raw.shutdown();
            // SAFETY: the registry held one counted reference per entry.
            unsafe { raw.drop_ref() };
        }
        while inner.inject.pop().is_some() {}
        for s in inner.slots.iter() {
            while s.remote.steal_one().is_some() {}
            let (sus, res) = {
                let mut p = lock(&s.parking);
                (
                    std::mem::take(&mut p.suspended),
                    std::mem::take(&mut p.resumed),
                )
            };
            drop(sus);
            drop(res);
        }
    }
}

/// A task taken from a queue: the `Notified` reference a slot holds before running it.
pub struct Runnable {
    task: Notified,
}

impl fmt::Debug for Runnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runnable")
            .field("id", &self.id())
            .field("state", &StateBits(self.task.header().state.load()))
            .finish()
    }
}

impl Runnable {
    /// Checks what holding a queued `Notified` implies: the task is runnable, nobody
    /// runs it, it is not parked and not complete (checked when the model takes it from
    /// a queue, before the state word's own guards see it run).
    fn new(task: Notified) -> Runnable {
        let s = task.header().state.load();
        assert!(
            s.is_notified() && !s.is_running() && !s.is_parked() && !s.is_complete(),
            "a queued task must be NOTIFIED and neither RUNNING, PARKED nor COMPLETE: {s:?}"
        );
        Runnable { task }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.task.header().id
    }

    /// Runs the task as slot `slot` — polls it, parks it, or drops its future if it was
    /// cancelled — with wakes on this thread going to `slot`'s local queue meanwhile.
    /// The slot's publication of its running Batch task (for the policy) is left out:
    /// the real-runtime models exercise it.
    pub fn run(self, slot: usize) -> Ran {
        let prev = CURRENT_SLOT.with(|c| c.replace(Some(slot)));
        let report = self.task.run(slot, None);
        CURRENT_SLOT.with(|c| c.set(prev));
        match report {
            RunReport::Idle => Ran::Idle,
            RunReport::Rescheduled => Ran::Rescheduled,
            RunReport::Parked { .. } | RunReport::ParkedUnpolled => Ran::Parked,
            RunReport::Completed => Ran::Completed,
            RunReport::Cancelled => Ran::Cancelled,
        }
    }
}

/// What running a task did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ran {
    /// Polled; it returned `Pending` and waits for a wake.
    Idle,
    /// Polled; woken during the poll, it went back to a run queue.
    Rescheduled,
    /// Parked in the slot's suspended queue (before or after a poll).
    Parked,
    /// Polled to completion.
    Completed,
    /// Its future was dropped because it was cancelled.
    Cancelled,
}

/// A copy of a task's state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StateBits(state::Snapshot);

/// Reads the state word of `task`.
pub fn state_of(task: &TaskHandle) -> StateBits {
    StateBits(task.task_ref().header().state.load())
}

impl StateBits {
    /// A slot polls the future (or drops it).
    pub fn is_running(self) -> bool {
        self.0.is_running()
    }
    /// A `Notified` reference exists (or, while running, a wake came in).
    pub fn is_notified(self) -> bool {
        self.0.is_notified()
    }
    /// The task finished.
    pub fn is_complete(self) -> bool {
        self.0.is_complete()
    }
    /// Cancellation was requested (or the task ended by it).
    pub fn is_cancelled(self) -> bool {
        self.0.is_cancelled()
    }
    /// A pause bit is set.
    pub fn is_pause_requested(self) -> bool {
        self.0.is_pause_requested()
    }
    /// The task's `Notified` sits in a suspended queue.
    pub fn is_parked(self) -> bool {
        self.0.is_parked()
    }
    /// A `JoinHandle` exists.
    pub fn has_join_interest(self) -> bool {
        self.0.has_join_interest()
    }
    /// The runtime may use the join waker.
    pub fn has_join_waker(self) -> bool {
        self.0.has_join_waker()
    }
    /// Counted references.
    pub fn ref_count(self) -> usize {
        self.0.ref_count()
    }
}

impl fmt::Debug for StateBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
