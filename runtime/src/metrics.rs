//! Per-slot metrics: counters the slot publishes as it runs, and latency histograms
//! for the pause mechanism.
//!
//! Counters are kept in plain fields on the slot's own thread and published with relaxed
//! stores, so counting costs no atomic read-modify-write on the hot path. They carry no
//! synchronisation, so they use std's atomics even under loom (which keeps the models
//! small).

use crate::task::Class;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// Sub-buckets per power of two: about 12% resolution.
const SUB: usize = 8;
const BUCKETS: usize = 64 * SUB;

/// A lock-free latency histogram over nanoseconds (log-linear buckets, ~12% wide).
pub struct Histogram {
    counts: Box<[AtomicU64]>,
    /// Sum of the recorded values, in nanoseconds (for an exporter's `_sum`).
    sum: AtomicU64,
    max: AtomicU64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    fn bucket(ns: u64) -> usize {
        if ns < SUB as u64 {
            return ns as usize;
        }
        let log = 63 - ns.leading_zeros() as usize; // >= 3
        let shift = log - 3;
        let sub = ((ns >> shift) as usize) & (SUB - 1);
        (log - 2) * SUB + sub
    }

    /// The largest value that falls in bucket `b` (what percentiles report).
    fn bucket_high(b: usize) -> u64 {
        if b < SUB {
            return b as u64;
        }
        let log = b / SUB + 2;
        let sub = (b % SUB) as u64;
        let shift = log - 3;
        ((SUB as u64 + sub + 1) << shift) - 1
    }

    /// Records one value in nanoseconds.
    pub fn record(&self, ns: u64) {
        self.counts[Self::bucket(ns)].fetch_add(1, Relaxed);
        self.sum.fetch_add(ns, Relaxed);
        self.max.fetch_max(ns, Relaxed);
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self.counts.iter().map(|c| c.load(Relaxed)).collect(),
            sum: self.sum.load(Relaxed),
            max: self.max.load(Relaxed),
        }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

/// A copy of a [`Histogram`], which can be merged and queried.
#[derive(Clone, Default)]
pub struct HistogramSnapshot {
    counts: Vec<u64>,
    sum: u64,
    max: u64,
}

impl HistogramSnapshot {
    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The largest recorded value.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The sum of the recorded values.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum)
    }

    /// The non-empty buckets in increasing order: each bucket's upper edge and how
    /// many values fell in it (what an exporter turns into cumulative buckets).
    ///
    /// ```
    /// use neptune_runtime::metrics::Histogram;
    /// use std::time::Duration;
    /// let h = Histogram::new();
    /// h.record(1_000);
    /// h.record(1_010);
    /// h.record(5_000_000);
    /// let s = h.snapshot();
    /// let buckets: Vec<_> = s.buckets().collect();
    /// assert_eq!(buckets.len(), 2);
    /// assert_eq!(buckets[0].1, 2);
    /// assert!(buckets[0].0 >= Duration::from_nanos(1_010));
    /// assert_eq!(s.sum(), Duration::from_nanos(5_002_010));
    /// ```
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(b, &c)| (Duration::from_nanos(Histogram::bucket_high(b)), c))
    }

    /// The `q`-quantile (0.0..=1.0), as the upper edge of its bucket (never above the
    /// maximum). `None` if empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let v = Histogram::bucket_high(b).min(self.max);
                return Some(Duration::from_nanos(v));
            }
        }
        Some(Duration::from_nanos(self.max))
    }

    /// What was recorded after `earlier` (a snapshot of the same histogram taken
    /// before this one). The maximum is the upper edge of the highest bucket that
    /// grew (never above this snapshot's maximum).
    ///
    /// ```
    /// use neptune_runtime::metrics::Histogram;
    /// let h = Histogram::new();
    /// h.record(1_000_000);
    /// let before = h.snapshot();
    /// h.record(1_000);
    /// let delta = h.snapshot().since(&before);
    /// assert_eq!(delta.count(), 1);
    /// assert!(delta.quantile(1.0).unwrap().as_nanos() < 1_200);
    /// ```
    pub fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, c)| c.saturating_sub(earlier.counts.get(i).copied().unwrap_or(0)))
            .collect();
        let top = counts.iter().rposition(|&c| c > 0);
        HistogramSnapshot {
            max: top.map_or(0, |b| Histogram::bucket_high(b).min(self.max)),
            sum: self.sum.saturating_sub(earlier.sum),
            counts,
        }
    }

    /// Adds another snapshot's counts to this one.
    pub fn merge(&mut self, other: &HistogramSnapshot) {
        if self.counts.is_empty() {
            self.counts = vec![0; other.counts.len()];
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.max = self.max.max(other.max);
        self.sum = self.sum.saturating_add(other.sum);
    }
}

impl fmt::Debug for HistogramSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .field("max", &self.max())
            .finish()
    }
}

/// Counters one slot publishes.
#[derive(Default)]
pub(crate) struct SlotCounters {
    pub(crate) polls: AtomicU64,
    pub(crate) tasks: [AtomicU64; 2],
    pub(crate) steals: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) resumes: AtomicU64,
    pub(crate) suspended: AtomicUsize,
    pub(crate) policy_parked: AtomicUsize,
    pub(crate) suspended_bytes: AtomicUsize,
    pub(crate) stream_busy_ns: AtomicU64,
    pub(crate) idle_ns: AtomicU64,
    /// Stored by the slot when it reads its clock anyway (see `SlotMetrics::batch_busy`).
    pub(crate) batch_busy_ns: AtomicU64,
    /// Tasks in the suspended queue, per class (set under the parking lock).
    pub(crate) suspended_by_class: [AtomicUsize; 2],
    /// Tasks in the resumed queue, per class (set under the parking lock).
    pub(crate) resumed_by_class: [AtomicUsize; 2],
    /// Runnable tasks the slot holds in its own lists (taken back from the resumed
    /// queue, or put back for Stream work), per class; set by the slot when they change.
    pub(crate) held: [AtomicUsize; 2],
    pub(crate) pause_to_park: Histogram,
    pub(crate) resume_to_poll: Histogram,
    pub(crate) stream_latency: Histogram,
}

/// The slot-local copy of its counters, published with relaxed stores.
#[derive(Default)]
pub(crate) struct LocalCounters {
    pub(crate) polls: u64,
    pub(crate) tasks: [u64; 2],
    pub(crate) steals: u64,
    pub(crate) parks: u64,
    pub(crate) resumes: u64,
    pub(crate) stream_busy_ns: u64,
    pub(crate) idle_ns: u64,
}

impl LocalCounters {
    #[inline]
    pub(crate) fn publish(&self, to: &SlotCounters) {
        to.polls.store(self.polls, Relaxed);
        to.tasks[0].store(self.tasks[0], Relaxed);
        to.tasks[1].store(self.tasks[1], Relaxed);
        to.steals.store(self.steals, Relaxed);
        to.parks.store(self.parks, Relaxed);
        to.resumes.store(self.resumes, Relaxed);
        to.stream_busy_ns.store(self.stream_busy_ns, Relaxed);
        to.idle_ns.store(self.idle_ns, Relaxed);
    }
}

/// A snapshot of one slot's metrics.
#[derive(Clone, Debug, Default)]
pub struct SlotMetrics {
    /// The slot's index.
    pub slot: usize,
    /// Polls made (including polls that parked a task right away).
    pub polls: u64,
    /// Tasks finished on this slot (completed or cancelled), per class
    /// (index with [`Class::index`]).
    pub tasks_run: [u64; 2],
    /// Successful steals from other slots' queues.
    pub steals: u64,
    /// Tasks parked in this slot's suspended queue (suspensions).
    pub parks: u64,
    /// Parked tasks this slot took back from its resumed queue.
    pub resumes: u64,
    /// Tasks in the suspended queue now.
    pub suspended: usize,
    /// Of those, the tasks a policy paused (the others were paused by their owners).
    pub policy_parked: usize,
    /// Bytes of the task allocations in the suspended queue now (their futures' state;
    /// heap memory a future owns is not counted).
    pub suspended_bytes: usize,
    /// Time spent polling Stream tasks so far.
    pub stream_busy: Duration,
    /// Time spent asleep with no work so far.
    pub idle: Duration,
    /// Time busy with anything but Stream polls and sleep so far: the slot's wall time
    /// since it started, minus `stream_busy`, minus `idle`. That is Batch polls plus the
    /// slot's own work between polls (picking, stealing, polling the reactor), which
    /// is small beside them. Derived rather than measured, so that Batch polls need no
    /// clock reads: the slot updates it around each sleep, when a task finishes or
    /// parks, and every 16th poll, so it lags by at most one poll or 16 short ones. It
    /// never decreases.
    pub batch_busy: Duration,
    /// From a pause request to the task parked, for tasks that were running.
    pub pause_to_park: HistogramSnapshot,
    /// From `resume` to the task's next poll.
    pub resume_to_poll: HistogramSnapshot,
    /// Stream latency: from a Stream task becoming runnable to the end of the poll
    /// that ran it (queueing, waiting for a pause to take effect, and the poll).
    pub stream_latency: HistogramSnapshot,
}

impl SlotMetrics {
    pub(crate) fn read(slot: usize, c: &SlotCounters) -> SlotMetrics {
        SlotMetrics {
            slot,
            polls: c.polls.load(Relaxed),
            tasks_run: [c.tasks[0].load(Relaxed), c.tasks[1].load(Relaxed)],
            steals: c.steals.load(Relaxed),
            parks: c.parks.load(Relaxed),
            resumes: c.resumes.load(Relaxed),
            suspended: c.suspended.load(Relaxed),
            policy_parked: c.policy_parked.load(Relaxed),
            suspended_bytes: c.suspended_bytes.load(Relaxed),
            stream_busy: Duration::from_nanos(c.stream_busy_ns.load(Relaxed)),
            idle: Duration::from_nanos(c.idle_ns.load(Relaxed)),
            batch_busy: Duration::from_nanos(c.batch_busy_ns.load(Relaxed)),
            pause_to_park: c.pause_to_park.snapshot(),
            resume_to_poll: c.resume_to_poll.snapshot(),
            stream_latency: c.stream_latency.snapshot(),
        }
    }

    /// Tasks finished in `class`.
    pub fn tasks_of(&self, class: Class) -> u64 {
        self.tasks_run[class.index()]
    }

    /// Busy time of `class`: [`stream_busy`](Self::stream_busy) or
    /// [`batch_busy`](Self::batch_busy) (what an exporter publishes as
    /// `neptune_slot_busy_seconds_total{slot,class}`).
    pub fn busy(&self, class: Class) -> Duration {
        match class {
            Class::Stream => self.stream_busy,
            Class::Batch => self.batch_busy,
        }
    }
}

/// Where a live task stands, for [`TaskCounts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CountedState {
    /// Being polled by a slot now.
    Running,
    /// In a run queue (or taken back from a suspended queue and about to run).
    Runnable,
    /// Parked in a slot's suspended queue.
    Paused,
    /// Alive and none of the above: waiting for a wake (I/O, a timer, a channel), or
    /// paused while idle and not parked yet.
    Waiting,
}

impl CountedState {
    /// Every state, in a fixed order.
    pub const ALL: [CountedState; 4] = [
        CountedState::Running,
        CountedState::Runnable,
        CountedState::Paused,
        CountedState::Waiting,
    ];

    /// The state's lower-case name (a `state` label value).
    pub fn as_str(self) -> &'static str {
        match self {
            CountedState::Running => "running",
            CountedState::Runnable => "runnable",
            CountedState::Paused => "paused",
            CountedState::Waiting => "waiting",
        }
    }
}

/// Live tasks of one class, by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassTaskCounts {
    /// Being polled now.
    pub running: usize,
    /// Queued to run.
    pub runnable: usize,
    /// Parked in a suspended queue.
    pub paused: usize,
    /// The rest of the live tasks of the class (see [`CountedState::Waiting`]).
    pub waiting: usize,
}

impl ClassTaskCounts {
    /// The count in `state`.
    pub fn get(&self, state: CountedState) -> usize {
        match state {
            CountedState::Running => self.running,
            CountedState::Runnable => self.runnable,
            CountedState::Paused => self.paused,
            CountedState::Waiting => self.waiting,
        }
    }

    /// Every live task of the class.
    pub fn live(&self) -> usize {
        self.running + self.runnable + self.paused + self.waiting
    }
}

/// Live tasks by class and state: what an exporter publishes as the gauge
/// `neptune_tasks{class,state}`.
///
/// Read from gauges the runtime keeps anyway, not from each task, so a snapshot costs
/// a few loads per slot however many tasks there are: `running` from what each slot
/// polls now, `paused` from the suspended queues, `runnable` from queue lengths, and
/// `waiting` is what remains of the live tasks of the class. The figures are read one
/// after the other while tasks move, so a task that changes state meanwhile may be
/// missed or seen twice (the remainder absorbs it: `waiting` never goes below zero).
/// Under a policy with arrival-order queueing (one queue for both classes) a queued
/// Stream task counts as Batch.
///
/// ```
/// use neptune_runtime::{Class, Runtime};
/// let rt = Runtime::new().unwrap();
/// let h = rt.spawn(async {
///     loop {
///         neptune_runtime::preemption_point().await;
///     }
/// });
/// let task = h.task();
/// task.pause();
/// // Parked at its next yield point; the gauges follow at once.
/// while rt.metrics().tasks.of(Class::Batch).paused == 0 {
///     std::thread::yield_now();
/// }
/// assert_eq!(rt.metrics().tasks.of(Class::Stream).paused, 0);
/// for (class, state, n) in rt.metrics().tasks.gauges() {
///     println!("neptune_tasks{{class=\"{class}\",state=\"{}\"}} {n}", state.as_str());
/// }
/// task.cancel();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// Per class (index with [`Class::index`]).
    pub classes: [ClassTaskCounts; 2],
}

impl TaskCounts {
    /// The counts of `class`.
    pub fn of(&self, class: Class) -> &ClassTaskCounts {
        &self.classes[class.index()]
    }

    /// Every (class, state, count), classes in [`Class::ALL`] order and states in
    /// [`CountedState::ALL`] order.
    pub fn gauges(&self) -> impl Iterator<Item = (Class, CountedState, usize)> + '_ {
        Class::ALL.into_iter().flat_map(move |c| {
            CountedState::ALL
                .into_iter()
                .map(move |s| (c, s, self.of(c).get(s)))
        })
    }
}

/// A snapshot of the runtime's metrics: one entry per slot, plus totals.
///
/// A slot publishes its counters when a poll returns, so a task whose output was just
/// delivered (its join handle resolved) may show in `tasks_run` a moment later.
#[derive(Clone, Debug, Default)]
pub struct RuntimeMetrics {
    /// Per-slot figures.
    pub slots: Vec<SlotMetrics>,
    /// Tasks alive (spawned and not finished).
    pub live_tasks: usize,
    /// Live tasks by class and state.
    pub tasks: TaskCounts,
    /// The scheduling policy: its name, mode and switches.
    pub policy: PolicyMetrics,
}

/// The runtime's scheduling policy, as metrics see it.
///
/// `switches_total()` is what an exporter publishes as `neptune_policy_switches_total`
/// and `mode` (or `name` for a fixed policy) as the active mode's label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyMetrics {
    /// The policy's name.
    pub name: String,
    /// The mechanism it uses now, for a policy that changes mechanisms.
    pub mode: Option<&'static str>,
    /// Times the policy was replaced ([`Handle::set_policy`](crate::Handle::set_policy)).
    pub replacements: u64,
    /// Times the current policy changed mode.
    pub mode_switches: u64,
}

impl PolicyMetrics {
    /// Every switch: replacements plus mode changes.
    pub fn switches_total(&self) -> u64 {
        self.replacements + self.mode_switches
    }

    /// The active mode: the mode of a policy that has modes, else its name.
    pub fn active(&self) -> &str {
        self.mode.unwrap_or(&self.name)
    }
}

impl RuntimeMetrics {
    /// Sum of a per-slot counter.
    pub fn total(&self, f: impl Fn(&SlotMetrics) -> u64) -> u64 {
        self.slots.iter().map(f).sum()
    }

    /// Pause-to-park latencies of every slot together.
    pub fn pause_to_park(&self) -> HistogramSnapshot {
        let mut h = HistogramSnapshot::default();
        for s in &self.slots {
            h.merge(&s.pause_to_park);
        }
        h
    }

    /// Stream latencies of every slot together (see [`SlotMetrics::stream_latency`]).
    pub fn stream_latency(&self) -> HistogramSnapshot {
        let mut h = HistogramSnapshot::default();
        for s in &self.slots {
            h.merge(&s.stream_latency);
        }
        h
    }

    /// Bytes of the tasks in every slot's suspended queue.
    pub fn suspended_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.suspended_bytes).sum()
    }

    /// Time spent polling Stream tasks, every slot together.
    pub fn stream_busy(&self) -> Duration {
        self.slots.iter().map(|s| s.stream_busy).sum()
    }

    /// Time busy with Batch work, every slot together (see [`SlotMetrics::batch_busy`]).
    pub fn batch_busy(&self) -> Duration {
        self.slots.iter().map(|s| s.batch_busy).sum()
    }

    /// Time slots spent asleep with no work, every slot together.
    pub fn idle(&self) -> Duration {
        self.slots.iter().map(|s| s.idle).sum()
    }

    /// Resume-to-poll latencies of every slot together.
    pub fn resume_to_poll(&self) -> HistogramSnapshot {
        let mut h = HistogramSnapshot::default();
        for s in &self.slots {
            h.merge(&s.resume_to_poll);
        }
        h
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_cover_values() {
        let mut last = 0;
        for ns in (0..100_000u64).chain([1 << 20, 1 << 40, u64::MAX / 2]) {
            let b = Histogram::bucket(ns);
            assert!(b >= last, "bucket order broke at {ns}");
            last = b;
            assert!(Histogram::bucket_high(b) >= ns, "high edge below {ns}");
            if b > 0 {
                assert!(
                    Histogram::bucket_high(b - 1) < ns,
                    "{ns} should be in an earlier bucket"
                );
            }
        }
    }

    #[test]
    fn quantiles_are_within_bucket_resolution() {
        let h = Histogram::new();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let s = h.snapshot();
        assert_eq!(s.count(), 1000);
        let p50 = s.quantile(0.5).unwrap().as_nanos() as f64;
        assert!((500_000.0..=500_000.0 * 1.13).contains(&p50), "p50 {p50}");
        assert_eq!(s.quantile(1.0).unwrap(), Duration::from_micros(1000));
        assert_eq!(HistogramSnapshot::default().quantile(0.5), None);
    }
}
