//! NEPTUNE: a Stream arrival pauses running Batch work, which resumes later on its
//! slot with its progress intact; anti-starvation bounds how often one task is paused.

use super::starvation::{Budget, Verdict};
use neptune_runtime::policy::{Policy, Preempt, SlotView};
use neptune_runtime::{TaskHandle, TaskId, TaskState};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default anti-starvation limit: a task paused more than this many times without
/// running a whole quantum in between gets a quantum of uninterrupted running.
pub const DEFAULT_MAX_SUSPENSIONS: u32 = 3;

/// Default anti-starvation quantum: short enough that a Batch task paused once per
/// 10 ms stream trigger is never exempted (it runs ~9.5 ms in between), long enough to
/// make real progress when stream arrivals come back to back.
pub const DEFAULT_QUANTUM: Duration = Duration::from_millis(5);

/// The longest quantum accepted (longer ones are clamped to it).
pub const MAX_QUANTUM: Duration = Duration::from_secs(24 * 3600);

/// NEPTUNE: when Stream tasks wait for a slot, pause running Batch tasks; a paused task
/// parks at its next yield point on its slot, keeping its state (its future), and
/// resumes there as soon as that slot has no Stream work.
///
/// **Victim choice.** Among the running Batch tasks that are not already being paused:
/// the task suspended the fewest times first (spreading interruptions, which also keeps
/// everyone away from the anti-starvation limit), then the one with the least progress,
/// measured as the youngest (the smallest `age` since its first poll), whose state is
/// likely the smallest and coldest. Only as many are paused as Stream tasks wait, minus
/// the slots already being freed by a pause in flight.
///
/// **Resuming.** When a slot has no Stream work, every task this policy parked there is
/// resumed, the most-suspended first (it is the one closest to its limit).
///
/// **Anti-starvation.** Being paused often is not starving; being paused before doing
/// real work is. A pause that comes less than `quantum` (Q) after the task last started
/// running is a *strike*; a pause after a run of at least Q starts a new count at one.
/// Runs are the runtime's [`running_for`](neptune_runtime::policy::RunningTask): from
/// the task's first poll after a resume, so a resumed task that waits for its slot is
/// not credited with running meanwhile. A task with more than `max_suspensions` (N)
/// strikes is, when next found running, exempt from preemption for Q, measured from
/// that moment. So between two runs of at least Q a task is paused at most N + 1 times.
/// A Batch task paused once per stream trigger but running longer than Q in between (a
/// periodic stream job) is never exempted and never delays Stream work. The state lives
/// in a map from task id, for tasks this policy paused; finished tasks are dropped from
/// it on the next decision.
///
/// A Stream task that arrives while every candidate is exempt is not left waiting for a
/// Batch poll to end: the policy answers [`Preempt::AskAgainAt`] the end of the first
/// quantum, and the runtime asks again then if the Stream task still has no slot.
///
/// ```
/// use neptune_scheduler::local::Neptune;
/// use std::time::Duration;
///
/// let policy = Neptune::new().max_suspensions(5).quantum(Duration::from_millis(50));
/// let stats = policy.stats();
/// let rt = neptune_runtime::Builder::new().slots(2).policy(policy).build().unwrap();
/// assert_eq!(rt.policy_name(), "neptune");
/// assert_eq!(stats.pauses(), 0);
/// ```
pub struct Neptune {
    /// N and Q: atomics, so that an adaptive policy can retune them while it runs.
    limit: AtomicU32,
    /// Q in nanoseconds.
    quantum: AtomicU64,
    budgets: Mutex<HashMap<TaskId, Tracked>>,
    stats: NeptuneStats,
}

struct Tracked {
    task: TaskHandle,
    budget: Budget,
}

impl fmt::Debug for Neptune {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Neptune")
            .field("max_suspensions", &self.limit())
            .field("quantum", &self.quantum_len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Default for Neptune {
    fn default() -> Neptune {
        Neptune::new()
    }
}

impl Neptune {
    /// NEPTUNE with [`DEFAULT_MAX_SUSPENSIONS`] and [`DEFAULT_QUANTUM`].
    pub fn new() -> Neptune {
        Neptune {
            limit: AtomicU32::new(DEFAULT_MAX_SUSPENSIONS),
            quantum: AtomicU64::new(DEFAULT_QUANTUM.as_nanos() as u64),
            budgets: Mutex::new(HashMap::new()),
            stats: NeptuneStats::default(),
        }
    }

    /// Sets N: a task paused more than `n` times without running a whole quantum in
    /// between gets a quantum of uninterrupted running.
    pub fn max_suspensions(self, n: u32) -> Neptune {
        self.set_max_suspensions(n);
        self
    }

    /// Sets Q, the length of an uninterrupted quantum (at most [`MAX_QUANTUM`]).
    pub fn quantum(self, quantum: Duration) -> Neptune {
        self.set_quantum(quantum);
        self
    }

    /// Changes N while the policy runs (the next decision uses it).
    pub fn set_max_suspensions(&self, n: u32) {
        self.limit.store(n, Relaxed);
    }

    /// Changes Q while the policy runs (at most [`MAX_QUANTUM`]); quanta already
    /// granted keep their end.
    pub fn set_quantum(&self, quantum: Duration) {
        self.quantum
            .store(quantum.min(MAX_QUANTUM).as_nanos() as u64, Relaxed);
    }

    /// Turns anti-starvation off: tasks are paused however often.
    pub fn without_anti_starvation(self) -> Neptune {
        self.max_suspensions(u32::MAX)
    }

    /// The anti-starvation limit N.
    pub fn limit(&self) -> u32 {
        self.limit.load(Relaxed)
    }

    /// The anti-starvation quantum Q.
    pub fn quantum_len(&self) -> Duration {
        Duration::from_nanos(self.quantum.load(Relaxed))
    }

    /// Counters of this policy's decisions, readable after the policy moved into a
    /// runtime.
    pub fn stats(&self) -> NeptuneStats {
        self.stats.clone()
    }

    /// The decision of `on_stream_waiting`, at time `now`: the tasks to pause and, if
    /// fewer than needed could be paused because of quanta in progress, when the first
    /// of those quanta ends.
    fn decide(
        &self,
        waiting: usize,
        slots: &[SlotView],
        now: Instant,
    ) -> (Vec<TaskHandle>, Option<Instant>) {
        let stopping = slots.iter().filter(|s| s.running.pausing).count();
        let needed = waiting.saturating_sub(stopping);
        if needed == 0 {
            return (Vec::new(), None);
        }
        let (limit, quantum) = (self.limit(), self.quantum_len());
        let mut exempt_until: Option<Instant> = None;
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        if !budgets.is_empty() {
            budgets.retain(|_, t| {
                !matches!(t.task.state(), TaskState::Completed | TaskState::Cancelled)
            });
        }
        let mut candidates = Vec::with_capacity(slots.len());
        for s in slots.iter().filter(|s| !s.running.pausing) {
            let id = s.running.task.id();
            let verdict = match budgets.get_mut(&id) {
                Some(t) => t.budget.check(now, limit),
                None => Verdict::Preemptible,
            };
            match verdict {
                Verdict::Preemptible => candidates.push(s),
                Verdict::Granted => {
                    if let Some(t) = budgets.get_mut(&id) {
                        t.budget.grant(now, quantum);
                    }
                    self.stats.inner.quanta.fetch_add(1, Relaxed);
                    self.stats.inner.exempt_skips.fetch_add(1, Relaxed);
                }
                Verdict::Exempt => {
                    self.stats.inner.exempt_skips.fetch_add(1, Relaxed);
                }
            }
            if let Some(until) = budgets.get(&id).and_then(|t| t.budget.exempt_until()) {
                exempt_until = Some(exempt_until.map_or(until, |e| e.min(until)));
            }
        }
        candidates.sort_by_key(|s| (s.running.suspensions, s.running.age, s.slot));
        let chosen: Vec<TaskHandle> = candidates
            .into_iter()
            .take(needed)
            .map(|s| {
                let t = budgets
                    .entry(s.running.task.id())
                    .or_insert_with(|| Tracked {
                        task: s.running.task.clone(),
                        budget: Budget::default(),
                    });
                t.budget.charge(s.running.running_for, quantum);
                s.running.task.clone()
            })
            .collect();
        drop(budgets);
        self.stats
            .inner
            .pauses
            .fetch_add(chosen.len() as u64, Relaxed);
        let ask_again = if chosen.len() < needed {
            exempt_until
        } else {
            None
        };
        (chosen, ask_again)
    }

    /// The tasks `decide` pauses.
    #[cfg(test)]
    fn choose(&self, waiting: usize, slots: &[SlotView], now: Instant) -> Vec<TaskHandle> {
        self.decide(waiting, slots, now).0
    }

    /// How many tasks the anti-starvation bookkeeping holds now (tasks this policy
    /// paused that have not finished).
    pub fn tracked(&self) -> usize {
        self.budgets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Policy for Neptune {
    fn name(&self) -> &str {
        "neptune"
    }

    fn preemption(&self) -> neptune_runtime::policy::Preemption {
        neptune_runtime::policy::Preemption::Pause
    }

    fn on_stream_waiting(&self, waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        let (chosen, ask_again) = self.decide(waiting, slots, Instant::now());
        chosen
            .into_iter()
            .map(Preempt::Pause)
            .chain(ask_again.map(Preempt::AskAgainAt))
            .collect()
    }

    fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        let mut out = suspended.to_vec();
        out.sort_by_key(|t| std::cmp::Reverse(t.suspensions()));
        self.stats
            .inner
            .resumes
            .fetch_add(out.len() as u64, Relaxed);
        out
    }
}

/// Counters of a [`Neptune`] policy's decisions (shared; clones see the same counts).
#[derive(Clone, Default)]
pub struct NeptuneStats {
    inner: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    pauses: AtomicU64,
    resumes: AtomicU64,
    quanta: AtomicU64,
    exempt_skips: AtomicU64,
}

impl NeptuneStats {
    /// Pauses requested.
    pub fn pauses(&self) -> u64 {
        self.inner.pauses.load(Relaxed)
    }

    /// Parked tasks handed back for resuming.
    pub fn resumes(&self) -> u64 {
        self.inner.resumes.load(Relaxed)
    }

    /// Anti-starvation quanta granted.
    pub fn quanta_granted(&self) -> u64 {
        self.inner.quanta.load(Relaxed)
    }

    /// Times a running task was passed over because it was within (or just got) a
    /// quantum.
    pub fn exempt_skips(&self) -> u64 {
        self.inner.exempt_skips.load(Relaxed)
    }
}

impl fmt::Debug for NeptuneStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeptuneStats")
            .field("pauses", &self.pauses())
            .field("resumes", &self.resumes())
            .field("quanta_granted", &self.quanta_granted())
            .field("exempt_skips", &self.exempt_skips())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neptune_runtime::policy::RunningTask;
    use neptune_runtime::Runtime;

    /// Tasks that wait (idle) until the runtime drops: real handles for fake views.
    fn handles(rt: &Runtime, n: usize) -> Vec<TaskHandle> {
        (0..n).map(|_| rt.spawn(futures_pending()).task()).collect()
    }

    fn futures_pending() -> impl std::future::Future<Output = ()> + Send {
        std::future::pending()
    }

    fn view(
        slot: usize,
        task: &TaskHandle,
        ran_ms: u64,
        suspensions: u32,
        pausing: bool,
    ) -> SlotView {
        // A task that has been running `ran_ms` since its first poll or its last resume.
        SlotView {
            slot,
            running: RunningTask {
                task: task.clone(),
                age: Duration::from_millis(ran_ms),
                running_for: Duration::from_millis(ran_ms),
                suspensions,
                pausing,
            },
            suspended: 0,
        }
    }

    #[test]
    fn victims_are_least_suspended_then_youngest_and_only_as_many_as_needed() {
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        let t = handles(&rt, 4);
        let p = Neptune::new();
        let now = Instant::now();
        let views = [
            view(0, &t[0], 10, 1, false),
            view(1, &t[1], 50, 0, false),
            view(2, &t[2], 5, 0, false),
            view(3, &t[3], 1, 0, true),
        ];
        // Two waiting, one slot already pausing: one more pause.
        let chosen = p.choose(2, &views, now);
        assert_eq!(chosen, vec![t[2].clone()]);
        let chosen = p.choose(4, &views, now);
        assert_eq!(chosen, vec![t[2].clone(), t[1].clone(), t[0].clone()]);
        assert!(
            p.choose(1, &views, now).is_empty(),
            "the pausing slot suffices"
        );
        assert_eq!(p.stats().pauses(), 4);
    }

    #[test]
    fn a_task_paused_after_short_runs_is_exempt_for_a_quantum() {
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        let t = handles(&rt, 1);
        let q = Duration::from_millis(100);
        let p = Neptune::new().max_suspensions(2).quantum(q);
        let now = Instant::now();
        // Three pauses after runs shorter than Q: strikes 1, 2, 3.
        for s in 0..3 {
            assert_eq!(p.choose(1, &[view(0, &t[0], 1, s, false)], now).len(), 1);
            p.on_stream_drained(0, &t);
        }
        // Exempt: nothing paused, and the runtime is told when to ask again.
        assert_eq!(
            p.decide(1, &[view(0, &t[0], 1, 3, false)], now),
            (Vec::new(), Some(now + q))
        );
        assert_eq!(
            p.decide(1, &[view(0, &t[0], 1, 3, false)], now + q / 2),
            (Vec::new(), Some(now + q))
        );
        assert_eq!(p.stats().quanta_granted(), 1);
        // Quantum over: preemptible again, with a fresh count.
        assert_eq!(
            p.choose(1, &[view(0, &t[0], 1, 3, false)], now + q).len(),
            1
        );
    }

    #[test]
    fn a_task_running_a_quantum_between_pauses_is_never_exempt() {
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        let t = handles(&rt, 1);
        let q = Duration::from_millis(5);
        let p = Neptune::new().max_suspensions(1).quantum(q);
        let mut now = Instant::now();
        for s in 0..50 {
            assert_eq!(p.choose(1, &[view(0, &t[0], 10, s, false)], now).len(), 1);
            p.on_stream_drained(0, &t);
            now += Duration::from_millis(10);
        }
        assert_eq!(p.stats().quanta_granted(), 0);
    }

    #[test]
    fn finished_tasks_leave_the_map() {
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        let live = handles(&rt, 1);
        let done = rt.spawn(async {});
        let done_task = done.task();
        rt.block_on(done).unwrap();
        let p = Neptune::new();
        let now = Instant::now();
        assert_eq!(
            p.choose(1, &[view(0, &done_task, 1, 1, false)], now).len(),
            1
        );
        assert_eq!(p.tracked(), 1);
        assert_eq!(p.choose(1, &[view(0, &live[0], 1, 0, false)], now).len(), 1);
        assert_eq!(
            p.tracked(),
            1,
            "the finished task left, the live one is tracked"
        );
    }

    #[test]
    fn disabled_anti_starvation_never_exempts() {
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        let t = handles(&rt, 1);
        let p = Neptune::new().without_anti_starvation();
        let now = Instant::now();
        assert_eq!(
            p.choose(1, &[view(0, &t[0], 1, 1_000_000, false)], now)
                .len(),
            1
        );
    }
}
