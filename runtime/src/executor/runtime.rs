//! `Runtime`, `Builder` and `Handle`: starting, using and stopping the executor.

use super::context;
use super::idle::{Idle, Parker};
use super::queue::{self, Inject};
use super::registry::Registry;
use super::shared::{Config, Shared, SlotShared};
use super::slot::Slot;
use crate::metrics::RuntimeMetrics;
use crate::policy::{DefaultPolicy, Policy};
use crate::sync::{lock, Arc, AtomicBool, Condvar, Mutex, Ordering::*};
use crate::task::{new_task, JoinHandle, SpawnOptions};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Configures and builds a [`Runtime`].
///
/// ```
/// let rt = neptune_runtime::Builder::new()
///     .slots(2)
///     .thread_name("worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.slots(), 2);
/// ```
pub struct Builder {
    slots: usize,
    thread_name: String,
    stack_size: Option<usize>,
    max_blocking_threads: usize,
    policy: Box<dyn Policy>,
    short_slices: bool,
    slot_nice: i32,
    lifo: bool,
    timeline: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("slots", &self.slots)
            .field("thread_name", &self.thread_name)
            .field("stack_size", &self.stack_size)
            .field("short_slices", &self.short_slices)
            .field("slot_nice", &self.slot_nice)
            .field("lifo_slot", &self.lifo)
            .field("timeline", &self.timeline)
            .field("policy", &self.policy.name())
            .finish()
    }
}

impl Builder {
    /// One slot per available core, the default policy, threads named `neptune-slot-N`.
    pub fn new() -> Builder {
        Builder {
            slots: crate::sync::available_parallelism(),
            thread_name: "neptune-slot".to_owned(),
            stack_size: None,
            #[cfg(not(loom))]
            max_blocking_threads: super::blocking::DEFAULT_MAX_THREADS,
            #[cfg(loom)]
            max_blocking_threads: 1,
            policy: Box::new(DefaultPolicy),
            short_slices: false,
            slot_nice: 0,
            lifo: true,
            timeline: 0,
        }
    }

    /// Number of slots (worker threads). Zero is rejected by [`build`](Self::build).
    pub fn slots(mut self, n: usize) -> Builder {
        self.slots = n;
        self
    }

    /// Prefix of the slot threads' names (`PREFIX-N`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.thread_name = name.into();
        self
    }

    /// Stack size of slot threads, in bytes.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// The most threads [`spawn_blocking`](Handle::spawn_blocking) keeps (default 512);
    /// jobs beyond them wait for one to be free.
    pub fn max_blocking_threads(mut self, n: usize) -> Builder {
        self.max_blocking_threads = n.max(1);
        self
    }

    /// The scheduling policy the runtime asks when Stream work needs room (a
    /// `Box<dyn Policy>` chosen at run time is one too).
    pub fn policy(mut self, policy: impl Policy) -> Builder {
        self.policy = Box::new(policy);
        self
    }

    /// Slot threads are made urgent ([`make_urgent`](crate::time_slice::make_urgent):
    /// short time slices, or the real-time policy where the process allows it), and
    /// block at once when they run out of work instead of spinning first: for a
    /// runtime of network or control work that sleeps most of the time and must run
    /// the moment it wakes, even when every core is busy with another runtime's Batch
    /// work.
    pub fn short_time_slices(mut self, short: bool) -> Builder {
        self.short_slices = short;
        self
    }

    /// Whether a task woken or spawned by a poll runs next on the same slot (the LIFO
    /// slot; default true: message passing between tasks then costs no wake-up of
    /// another slot). Off, every such task goes to the back of the queue: for a
    /// runtime of network work (QUIC endpoints and connections) whose tasks must be
    /// served in the order they became ready.
    pub fn lifo_slot(mut self, enabled: bool) -> Builder {
        self.lifo = enabled;
        self
    }

    /// Slot threads run at nice value `nice` (Linux; best effort). A positive value
    /// lowers their CPU weight against the process's other threads: when every core
    /// is busy with Batch work, a thread that wakes to hand on Stream work (a trigger,
    /// a job's driver, the I/O driver) then gets a core at once instead of waiting for
    /// the next scheduler tick; the slots' shares among themselves do not change. It
    /// also lowers them against other processes', so it suits a machine given to this
    /// runtime. Default 0 (unchanged).
    pub fn slot_nice(mut self, nice: i32) -> Builder {
        self.slot_nice = nice.clamp(-20, 19);
        self
    }

    /// Records a per-slot timeline of the last `spans_per_slot` spans of each slot
    /// (0, the default: off): Stream and Batch polls (back-to-back polls of one task
    /// make one span) and the intervals tasks sat parked in the slot's suspended queue.
    /// [`Handle::timeline`] takes a snapshot. Off, recording costs nothing; on, a slot
    /// reads its clock after each Batch poll too and takes its ring's lock once per
    /// poll, and the oldest spans make room for new ones. (A Batch span starts where
    /// the slot's previous poll ended, which saves a clock read: it includes the few
    /// instructions the slot spent picking the task.)
    ///
    /// ```
    /// use neptune_runtime::{Builder, SpanKind};
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let rt = Builder::new().slots(1).timeline(64).build().unwrap();
    /// let ran = Arc::new(AtomicBool::new(false));
    /// let r = ran.clone();
    /// let h = rt.spawn(async move {
    ///     loop {
    ///         r.store(true, Ordering::Relaxed);
    ///         neptune_runtime::preemption_point().await;
    ///     }
    /// });
    /// let task = h.task();
    /// while !ran.load(Ordering::Relaxed) {
    ///     std::thread::yield_now();
    /// }
    /// task.pause();
    /// // It parks at its next yield point, inside its poll; the slot records the poll
    /// // as Batch work right after it returns.
    /// let ran_as_batch =
    ///     |t: &neptune_runtime::Timeline| t.spans().any(|(_, s)| s.kind == SpanKind::Batch);
    /// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// let timeline = loop {
    ///     let t = rt.timeline();
    ///     if task.suspensions() == 1 && ran_as_batch(&t) {
    ///         break t;
    ///     }
    ///     assert!(std::time::Instant::now() < deadline, "no park in {t:?}");
    ///     std::thread::yield_now();
    /// };
    /// // It sits parked now: an open Paused span.
    /// let spans = &timeline.slots[0].spans;
    /// let paused = spans.iter().find(|s| s.kind == SpanKind::Paused).unwrap();
    /// assert!(paused.open && paused.task == task.id() && paused.start <= paused.end);
    /// assert_eq!(paused.end, timeline.now);
    /// task.cancel();
    /// ```
    pub fn timeline(mut self, spans_per_slot: usize) -> Builder {
        self.timeline = spans_per_slot;
        self
    }

    /// Starts the slot threads (and the I/O and timer driver).
    pub fn build(self) -> io::Result<Runtime> {
        if self.slots == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a runtime needs at least one slot",
            ));
        }
        static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        let n = self.slots;
        let mut locals = Vec::with_capacity(n);
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
            let (ls, rs) = queue::local();
            let (lb, rb) = queue::local();
            locals.push([ls, lb]);
            slots.push(SlotShared::new([rs, rb]));
        }
        let policy: std::sync::Arc<dyn Policy> = std::sync::Arc::from(self.policy);
        let config = Config::of(&*policy, n);
        let (policy, policy_name) = Shared::policy_cell(policy);
        let shared = Arc::new(Shared {
            slots: slots.into_boxed_slice(),
            inject: [Inject::new(), Inject::new()],
            idle: Idle::new(n),
            registry: Registry::new(4 * n),
            shutdown: AtomicBool::new(false),
            policy,
            policy_name,
            replacements: Default::default(),
            config,
            lifo: self.lifo,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            #[cfg(not(loom))]
            recheck: Default::default(),
            #[cfg(not(loom))]
            io: Default::default(),
            #[cfg(not(loom))]
            blocking: super::blocking::BlockingPool::new(
                self.max_blocking_threads,
                self.thread_name.clone(),
            ),
            origin: std::time::Instant::now(),
            timeline: crate::timeline::Recorder::new(n, self.timeline),
        });
        #[cfg(not(loom))]
        let driver = crate::driver::Handle::start(&format!("{}-driver", self.thread_name))?;
        #[cfg(not(loom))]
        {
            let weak = Arc::downgrade(&shared);
            driver.set_batch_polls(Box::new(move || {
                weak.upgrade().map_or(0, |s| {
                    s.slots
                        .iter()
                        .filter(|s| s.current.load(SeqCst) != 0)
                        .count()
                })
            }));
            let _ = shared.io.set(driver.clone());
            shared.recheck.bind(&shared);
            // The policy's first re-check (it names its next one, if any).
            shared.run_check();
        }
        let handle = Handle {
            shared: shared.clone(),
            #[cfg(not(loom))]
            driver: driver.clone(),
        };
        let exited = Arc::new((Mutex::new(0usize), Condvar::new()));
        let mut threads = Vec::with_capacity(n);
        for (i, local) in locals.into_iter().enumerate() {
            let mut slot = Slot::new(shared.clone(), i, local);
            let h = handle.clone();
            let exited_here = exited.clone();
            let short = self.short_slices;
            let nice = self.slot_nice;
            let body = move || {
                if short {
                    // Best effort: kernels before 6.12 accept it and change nothing.
                    let _ = crate::time_slice::make_urgent();
                    // An urgent thread that spins takes a core from the work it has
                    // just handed on (a real-time one from everything else).
                    slot.set_spin(std::time::Duration::ZERO);
                }
                if nice != 0 {
                    // Best effort too: a lower value than the thread's may be refused.
                    let _ = crate::time_slice::set_nice(nice);
                }
                let _rt = context::enter_runtime(h.clone());
                #[cfg(not(loom))]
                let _drv = crate::driver::enter(h.driver.clone());
                slot.run();
                let (m, c) = &*exited_here;
                *lock(m) += 1;
                c.notify_all();
            };
            #[cfg(not(loom))]
            {
                let mut b = std::thread::Builder::new().name(format!("{}-{i}", self.thread_name));
                if let Some(s) = self.stack_size {
                    b = b.stack_size(s);
                }
                match b.spawn(body) {
                    Ok(t) => threads.push(t),
                    Err(e) => {
                        let rt = Runtime {
                            handle,
                            threads,
                            exited,
                        };
                        drop(rt);
                        return Err(e);
                    }
                }
            }
            #[cfg(loom)]
            threads.push(crate::sync::thread::spawn(body));
        }
        Ok(Runtime {
            handle,
            threads,
            exited,
        })
    }
}

/// A cheap, cloneable reference to a runtime, for spawning from anywhere.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
    #[cfg(not(loom))]
    pub(crate) driver: crate::driver::Handle,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("slots", &self.shared.slots.len())
            .field("policy", &self.shared.policy_name())
            .finish()
    }
}

impl Handle {
    /// The handle of the runtime this thread runs in.
    ///
    /// # Panics
    /// Outside a runtime (a slot thread, or inside `block_on`); see
    /// [`try_current`](Self::try_current).
    pub fn current() -> Handle {
        Handle::try_current().expect("must be called from within a neptune runtime")
    }

    /// The handle of the runtime this thread runs in, if any.
    pub fn try_current() -> Option<Handle> {
        context::current_handle()
    }

    /// Spawns a task in the class of the task that calls it: spawned while a task is
    /// polled (on any runtime), the new task takes that task's class; spawned from
    /// anywhere else (`block_on`, a plain thread), it is a Batch task. So the tasks a
    /// library spawns on behalf of a Stream task (a connection's reader, a timeout
    /// helper) are Stream tasks too, without the library knowing about classes. Use
    /// [`spawn_with`](Self::spawn_with) to choose the class explicitly.
    ///
    /// ```
    /// use neptune_runtime::{spawn, Class, Runtime, SpawnOptions};
    /// let rt = Runtime::new().unwrap();
    /// let child = rt.block_on(rt.spawn_with(SpawnOptions::stream(), async {
    ///     // A library's helper task, spawned without naming a class:
    ///     spawn(async {}).task().class()
    /// }));
    /// assert_eq!(child.unwrap(), Class::Stream);
    /// assert_eq!(rt.spawn(async {}).task().class(), Class::Batch);
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let class = crate::yield_point::current_class().unwrap_or_default();
        self.spawn_with(SpawnOptions::new().class(class), future)
    }

    /// Spawns a task with the given class and name.
    pub fn spawn_with<F>(&self, options: SpawnOptions, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (notified, join, entry) = new_task(future, self.shared.clone(), options);
        match self.shared.registry.insert(entry) {
            Ok(()) => self.shared.schedule_task(notified, true),
            Err(entry) => {
                // Shut down: the task never runs; its future is dropped now.
                entry.raw().shutdown();
                drop(notified);
            }
        }
        join
    }

    /// Runs `f`, which may block (file I/O, name resolution, a C library), on one of
    /// the runtime's blocking threads, never on a slot; the handle gives its result,
    /// and a panic in `f` as the handle's panic error.
    ///
    /// ```
    /// let rt = neptune_runtime::Runtime::new().unwrap();
    /// let len = rt.block_on(async {
    ///     neptune_runtime::spawn_blocking(|| std::fs::read_dir(".").map(|d| d.count()))
    ///         .await
    ///         .unwrap()
    /// });
    /// assert!(len.unwrap() > 0);
    /// ```
    #[cfg(not(loom))]
    pub fn spawn_blocking<T, F>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = futures::channel::oneshot::channel();
        let job = Box::new(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        });
        self.shared.blocking.run(job);
        // A task in the Stream class waits for it, so that its result is taken up at
        // once; a panic is raised again in the task, which its handle reports.
        self.spawn_with(SpawnOptions::stream().name("blocking"), async move {
            match rx.await {
                Ok(Ok(value)) => value,
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(_) => panic!("the runtime shut down before the blocking job ran"),
            }
        })
    }

    /// Makes this the current runtime of the calling thread until the guard drops:
    /// [`spawn`](crate::spawn), timers and sockets made meanwhile use it (for code
    /// outside any task, such as a library's set-up, that spawns).
    ///
    /// ```
    /// let rt = neptune_runtime::Runtime::new().unwrap();
    /// let job = {
    ///     let _in = rt.enter();
    ///     neptune_runtime::spawn(async { 6 * 7 })
    /// };
    /// assert_eq!(rt.block_on(job).unwrap(), 42);
    /// ```
    pub fn enter(&self) -> EnterGuard {
        EnterGuard {
            _handle: context::enter_runtime(self.clone()),
            #[cfg(not(loom))]
            _driver: crate::driver::enter(self.driver.clone()),
        }
    }

    /// Runs `future` to completion on the current thread (see [`Runtime::block_on`]).
    ///
    /// # Panics
    /// On a slot thread (inside a task): blocking there would stall the slot and could
    /// deadlock the runtime. Await the future instead.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert!(
            !context::on_any_slot(),
            "block_on called from inside a neptune task: await the future instead"
        );
        let _blocking = context::enter_block_on();
        let _rt = context::enter_runtime(self.clone());
        #[cfg(not(loom))]
        let _drv = crate::driver::enter(self.driver.clone());
        block_on_here(future)
    }

    /// A snapshot of per-slot metrics and of the policy's.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.shared.metrics()
    }

    /// A snapshot of the per-slot timeline (see [`Builder::timeline`]); its `slots` are
    /// empty when the timeline is off. It holds up no slot for longer than a copy of
    /// that slot's ring.
    pub fn timeline(&self) -> crate::Timeline {
        self.shared.timeline()
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.shared.slots.len()
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &str {
        self.shared.policy_name()
    }

    /// What the policy does to running Batch work when Stream work waits.
    pub fn policy_preemption(&self) -> crate::policy::Preemption {
        self.shared.policy().preemption()
    }

    /// Replaces the runtime's policy while it runs.
    ///
    /// Decisions already under way finish with the old policy; every later one is the
    /// new policy's. Tasks the old policy paused stay parked on their slots and become
    /// the new policy's: each slot is woken and asks it about them as soon as it has no
    /// Stream work (so a policy whose `on_stream_drained` resumes them, as every
    /// shipped one does, resumes them then), and its re-check hook runs once now. The
    /// new policy's queueing and slot classes apply from each slot's next task; a
    /// Batch task waiting on a slot that becomes Stream-only moves to the global queue.
    /// [`RuntimeMetrics::policy`] counts the replacement.
    ///
    /// ```
    /// use neptune_runtime::policy::{DefaultPolicy, Policy};
    /// struct Patient;
    /// impl Policy for Patient {
    ///     fn name(&self) -> &str { "patient" }
    /// }
    /// let rt = neptune_runtime::Builder::new().slots(1).policy(Patient).build().unwrap();
    /// rt.handle().set_policy(DefaultPolicy);
    /// assert_eq!(rt.policy_name(), "default");
    /// assert_eq!(rt.metrics().policy.replacements, 1);
    /// ```
    pub fn set_policy(&self, policy: impl Policy) {
        self.set_policy_boxed(Box::new(policy));
    }

    /// As [`set_policy`](Self::set_policy), for a policy chosen at run time.
    pub fn set_policy_boxed(&self, policy: Box<dyn Policy>) {
        self.shared.set_policy(std::sync::Arc::from(policy));
    }
}

/// The calling thread's current runtime, until this is dropped (from
/// [`Handle::enter`]); the runtime that was current before is current again then.
#[must_use = "the runtime is current only while the guard lives"]
pub struct EnterGuard {
    _handle: context::HandleGuard,
    #[cfg(not(loom))]
    _driver: crate::driver::EnterGuard,
}

impl std::fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// The Neptune runtime: slots running tasks of two classes, with pausable tasks.
///
/// ```
/// use neptune_runtime::{Runtime, SpawnOptions};
/// let rt = Runtime::new().unwrap();
/// let batch = rt.spawn(async {
///     let mut n = 0u64;
///     for i in 0..1_000u64 {
///         n += i;
///         neptune_runtime::preemption_point().await;
///     }
///     n
/// });
/// let task = batch.task();
/// task.pause();
/// let stream = rt.spawn_with(SpawnOptions::stream(), async { "served" });
/// assert_eq!(rt.block_on(stream).unwrap(), "served");
/// task.resume();
/// assert_eq!(rt.block_on(batch).unwrap(), 499_500);
/// ```
pub struct Runtime {
    handle: Handle,
    #[cfg(not(loom))]
    threads: Vec<std::thread::JoinHandle<()>>,
    #[cfg(loom)]
    threads: Vec<loom::thread::JoinHandle<()>>,
    /// Slot threads that returned, for `shutdown_timeout` (loom models always join).
    #[cfg_attr(loom, allow(dead_code))]
    exited: Arc<(Mutex<usize>, Condvar)>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.handle.fmt(f)
    }
}

impl Runtime {
    /// A runtime with one slot per available core and the default policy.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A handle for spawning from other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns a task in the class of the calling task, a Batch task outside one (see
    /// [`Handle::spawn`]).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Spawns a task with the given class and name.
    pub fn spawn_with<F>(&self, options: SpawnOptions, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn_with(options, future)
    }

    /// Makes this the current runtime of the calling thread until the guard drops (see
    /// [`Handle::enter`]).
    pub fn enter(&self) -> EnterGuard {
        self.handle.enter()
    }

    /// Runs `future` to completion on the current thread, which parks between polls.
    /// Inside it, `spawn`, timers and I/O use this runtime. The future itself is not a
    /// task: it has no class and is never paused.
    ///
    /// # Panics
    /// When called from inside a task (on a slot thread), or inside another
    /// `block_on` on this thread (of this runtime or another): the inner call would run
    /// nested in the outer one's poll and deadlock once it waits for the outer future.
    ///
    /// ```
    /// let (a, b) = (neptune_runtime::Runtime::new().unwrap(), neptune_runtime::Runtime::new().unwrap());
    /// let nested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     a.block_on(async { b.block_on(async {}) })
    /// }));
    /// assert!(nested.is_err());
    /// assert_eq!(a.block_on(async { 1 }), 1); // the refusal leaves both usable
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// A snapshot of per-slot metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// A snapshot of the per-slot timeline (see [`Builder::timeline`]).
    pub fn timeline(&self) -> crate::Timeline {
        self.handle.timeline()
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.handle.slots()
    }

    /// The policy's name.
    pub fn policy_name(&self) -> &str {
        self.handle.policy_name()
    }

    /// What the policy does to running Batch work when Stream work waits.
    pub fn policy_preemption(&self) -> crate::policy::Preemption {
        self.handle.policy_preemption()
    }

    /// Replaces the policy while the runtime runs; see [`Handle::set_policy`].
    pub fn set_policy(&self, policy: impl Policy) {
        self.handle.set_policy(policy)
    }

    /// Shuts down, waiting at most `timeout` for slots to finish the polls they are in.
    /// Slot threads still stuck in a poll after that (a task that never yields) are left
    /// to finish on their own; everything else is cancelled and dropped.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    fn shutdown(&mut self, timeout: Option<Duration>) {
        let shared = &self.handle.shared;
        if shared.shutdown.swap(true, SeqCst) {
            return;
        }
        // Blocking threads finish the job they run (it cannot be interrupted) and exit.
        #[cfg(not(loom))]
        shared.blocking.shutdown();
        shared.idle.take_all();
        for s in shared.slots.iter() {
            s.parker.unpark();
        }
        let all_exited = match timeout {
            None => true,
            #[cfg(not(loom))]
            Some(t) => {
                let n = self.threads.len();
                let (m, c) = &*self.exited;
                let g = lock(m);
                let (g, _) = c
                    .wait_timeout_while(g, t, |exited| *exited < n)
                    .unwrap_or_else(|e| e.into_inner());
                *g >= n
            }
            #[cfg(loom)]
            Some(_) => true,
        };
        if all_exited {
            for t in self.threads.drain(..) {
                // A slot thread only ends by returning from its loop; user panics are
                // caught inside tasks.
                let _ = t.join();
            }
        } else {
            // Detach: those threads hold their own references to what they use.
            self.threads.clear();
        }
        #[cfg(not(loom))]
        self.handle.driver.shutdown();
        // Cancel every live task: drop its future now.
        for task in shared.registry.close_and_drain() {
            task.raw().shutdown();
        }
        // Drop the queued references.
        for inject in &shared.inject {
            while inject.pop().is_some() {}
        }
        for s in shared.slots.iter() {
            for r in &s.remote {
                while r.steal_one().is_some() {}
            }
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

impl Drop for Runtime {
    /// Cancels every task left, drops every future, and joins every slot thread.
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

/// Spawns a task on the current runtime, in the class of the task that calls it (a
/// Batch task outside a task; see [`Handle::spawn`] for the rule).
///
/// # Panics
/// Outside a runtime (use [`Handle::spawn`] there).
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle::current().spawn(future)
}

/// Runs `f`, which may block, on the current runtime's blocking threads (see
/// [`Handle::spawn_blocking`]).
///
/// # Panics
/// Outside a runtime.
#[cfg(not(loom))]
pub fn spawn_blocking<T, F>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Handle::current().spawn_blocking(f)
}

/// Spawns a task with the given class and name on the current runtime.
///
/// ```
/// # let rt = neptune_runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// use neptune_runtime::{spawn_with, SpawnOptions};
/// let h = spawn_with(SpawnOptions::stream().name("alert"), async { 1 });
/// assert_eq!(h.await.unwrap(), 1);
/// # });
/// ```
///
/// # Panics
/// Outside a runtime.
pub fn spawn_with<F>(options: SpawnOptions, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle::current().spawn_with(options, future)
}

/// Wakes the `block_on` thread.
struct ThreadWaker {
    parker: Parker,
}

impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.parker.unpark();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.parker.unpark();
    }
}

fn block_on_here<F: Future>(future: F) -> F::Output {
    let tw = std::sync::Arc::new(ThreadWaker {
        parker: Parker::new(),
    });
    let waker = Waker::from(tw.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        tw.parker.park(super::idle::SPIN);
    }
}
