//! Restartable Batch work, for the KILL policy: re-spawn a killed task from scratch
//! until it completes, and count the work the killed attempts threw away.
//!
//! A unit of work is whatever the task reports through its [`Progress`] counter
//! (records, iterations). When the policy kills an attempt, every unit that attempt
//! reported is *wasted*: the next attempt starts from zero.
//!
//! Kills are told apart from other cancellations through the policy's
//! [`KillLog`]: an attempt whose id the policy logged is restarted; one cancelled by
//! anyone else (its `TaskHandle`, [`Restartable::abort`], runtime shutdown) ends the
//! [`Restartable`] with the cancelled `JoinError`, and a panic ends it with the panic.
//!
//! ```
//! use neptune_runtime::{preemption_point, Builder};
//! use neptune_scheduler::local::Kill;
//! use neptune_scheduler::restart::Restarter;
//!
//! let kill = Kill::new();
//! let log = kill.log();
//! let rt = Builder::new().slots(2).policy(kill).build().unwrap();
//! let restarter = Restarter::new(rt.handle(), &log);
//! let job = restarter.spawn_batch(|progress| async move {
//!     for _ in 0..1_000 {
//!         progress.add(1);
//!         preemption_point().await;
//!     }
//!     progress.get()
//! });
//! assert_eq!(rt.block_on(job).unwrap(), 1_000); // the last attempt did every unit
//! let stats = restarter.stats();
//! assert_eq!(stats.attempts, stats.kills + 1);
//! ```

use crate::local::KillLog;
use neptune_runtime::{Handle, JoinError, JoinHandle, SpawnOptions, TaskHandle};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

/// A counter of units of work, one per attempt, handed to the task's factory.
///
/// Relaxed atomics: it is read only after the attempt ended (the join synchronises) or
/// for reporting.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
    /// A counter at zero.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Reports `units` more units done.
    #[inline]
    pub fn add(&self, units: u64) {
        self.0.fetch_add(units, Relaxed);
    }

    /// Units reported so far.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Totals over every task a [`Restarter`] spawned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartStats {
    /// Attempts started (first runs and restarts).
    pub attempts: u64,
    /// Attempts killed by the policy (each was restarted).
    pub kills: u64,
    /// Units reported by killed attempts: work thrown away.
    pub wasted_units: u64,
    /// Tasks that completed (with an output).
    pub completed: u64,
    /// Units reported by the attempts that completed.
    pub useful_units: u64,
}

#[derive(Default)]
struct Totals {
    attempts: AtomicU64,
    kills: AtomicU64,
    wasted: AtomicU64,
    completed: AtomicU64,
    useful: AtomicU64,
}

/// Spawns restartable tasks on one runtime and keeps their totals.
#[derive(Clone)]
pub struct Restarter {
    handle: Handle,
    log: KillLog,
    totals: Arc<Totals>,
}

impl fmt::Debug for Restarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Restarter")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Restarter {
    /// Spawns on `handle`'s runtime, restarting the tasks whose ids `log` holds (give
    /// it the log of the runtime's [`Kill`](crate::local::Kill) policy).
    pub fn new(handle: &Handle, log: &KillLog) -> Restarter {
        Restarter {
            handle: handle.clone(),
            log: log.clone(),
            totals: Arc::default(),
        }
    }

    /// Spawns `factory(progress)` with `options`, and again with a fresh counter each
    /// time the policy kills it, until an attempt ends otherwise.
    ///
    /// Restarts happen when the returned future is polled, that is right after a kill
    /// if someone awaits it. Await it from `block_on` or a thread outside the runtime,
    /// or from a task: a Batch task that awaits it could itself be picked by KILL in the
    /// instant it runs a restart, and then the attempt it supervises runs on detached.
    /// There is no limit on restarts.
    pub fn spawn<F, Fut>(&self, options: SpawnOptions, factory: F) -> Restartable<Fut::Output>
    where
        F: Fn(Progress) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let start: StartFn<Fut::Output> = Box::new(move |handle, options, progress| {
            handle.spawn_with(options, factory(progress))
        });
        let progress = Progress::new();
        let join = start(&self.handle, options.clone(), progress.clone());
        self.totals.attempts.fetch_add(1, Relaxed);
        Restartable {
            handle: self.handle.clone(),
            log: self.log.clone(),
            totals: self.totals.clone(),
            options,
            start,
            join,
            progress,
            attempts: 1,
            wasted: 0,
            aborted: AtomicBool::new(false),
        }
    }

    /// [`spawn`](Self::spawn) as a Batch task.
    pub fn spawn_batch<F, Fut>(&self, factory: F) -> Restartable<Fut::Output>
    where
        F: Fn(Progress) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.spawn(SpawnOptions::batch(), factory)
    }

    /// Totals so far over every task this restarter (and its clones) spawned.
    pub fn stats(&self) -> RestartStats {
        let t = &self.totals;
        RestartStats {
            attempts: t.attempts.load(Relaxed),
            kills: t.kills.load(Relaxed),
            wasted_units: t.wasted.load(Relaxed),
            completed: t.completed.load(Relaxed),
            useful_units: t.useful.load(Relaxed),
        }
    }
}

/// Spawns one restartable Batch task (see [`Restarter::spawn`]); its own
/// [`attempts`](Restartable::attempts) and [`wasted_units`](Restartable::wasted_units)
/// tell what the kills cost.
pub fn spawn_restartable<F, Fut>(
    handle: &Handle,
    log: &KillLog,
    factory: F,
) -> Restartable<Fut::Output>
where
    F: Fn(Progress) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    Restarter::new(handle, log).spawn_batch(factory)
}

type StartFn<T> = Box<dyn Fn(&Handle, SpawnOptions, Progress) -> JoinHandle<T> + Send + Sync>;

/// A task that is restarted from scratch whenever the policy kills it; await it for
/// the output of the attempt that completed.
pub struct Restartable<T> {
    handle: Handle,
    log: KillLog,
    totals: Arc<Totals>,
    options: SpawnOptions,
    start: StartFn<T>,
    join: JoinHandle<T>,
    progress: Progress,
    attempts: u32,
    wasted: u64,
    aborted: AtomicBool,
}

impl<T> Restartable<T> {
    /// The attempt running now.
    pub fn task(&self) -> TaskHandle {
        self.join.task()
    }

    /// Attempts started so far (1 + restarts).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Units reported by this task's killed attempts.
    pub fn wasted_units(&self) -> u64 {
        self.wasted
    }

    /// The progress counter of the attempt running now.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Cancels the task for good: even if the policy's kill races with this, no
    /// restart follows, and awaiting gives the cancelled `JoinError`. The attempt is
    /// paused first, so that a CPU-bound attempt stops at its next yield point (a bare
    /// cancel waits for the task to return `Pending` by itself).
    pub fn abort(&self) {
        self.aborted.store(true, Relaxed);
        let task = self.join.task();
        task.pause();
        task.cancel();
    }

    fn restart(&mut self) {
        let lost = self.progress.get();
        self.wasted += lost;
        self.totals.kills.fetch_add(1, Relaxed);
        self.totals.wasted.fetch_add(lost, Relaxed);
        self.progress = Progress::new();
        self.join = (self.start)(&self.handle, self.options.clone(), self.progress.clone());
        self.attempts += 1;
        self.totals.attempts.fetch_add(1, Relaxed);
    }
}

impl<T> Future for Restartable<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match Pin::new(&mut this.join).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(out)) => {
                    this.log.take(this.join.id()); // a kill that lost the race
                    this.totals.completed.fetch_add(1, Relaxed);
                    this.totals.useful.fetch_add(this.progress.get(), Relaxed);
                    return Poll::Ready(Ok(out));
                }
                Poll::Ready(Err(e)) => {
                    let killed = e.is_cancelled() && this.log.take(e.id());
                    if !killed || this.aborted.load(Relaxed) {
                        return Poll::Ready(Err(e));
                    }
                    this.restart();
                }
            }
        }
    }
}

impl<T> fmt::Debug for Restartable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Restartable")
            .field("task", &self.join.id())
            .field("attempts", &self.attempts)
            .field("wasted_units", &self.wasted)
            .finish()
    }
}
