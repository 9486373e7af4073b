//! ADAPTIVE: chooses among the other policies' mechanisms while the runtime runs, from
//! what it observes per window, with hysteresis.

use super::neptune::{Neptune, DEFAULT_MAX_SUSPENSIONS, DEFAULT_QUANTUM};
use super::static_::Static;
use neptune_runtime::metrics::{HistogramSnapshot, RuntimeMetrics};
use neptune_runtime::policy::{
    Check, CheckView, Policy, PolicyStatus, Preempt, Preemption, SlotClasses, SlotView,
};
use neptune_runtime::{Class, TaskHandle};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default stream latency target: p99 of 5 ms.
pub const DEFAULT_SLO: Duration = Duration::from_millis(5);

/// Default observation window.
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(100);

/// The shortest anti-starvation quantum the rule sets: every running Batch task gets at
/// least this long uninterrupted once per `N + 2` pauses (see the type's docs).
pub const MIN_QUANTUM: Duration = Duration::from_millis(1);

/// The largest anti-starvation limit N the rule sets.
pub const MAX_LIMIT: u32 = 8;

/// Decisions kept in [`AdaptiveStats::decisions`].
const LOG_CAPACITY: usize = 64;

/// The mechanism [`Adaptive`] uses now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// No Stream work lately: nothing is paused (as FIFO/FAIR, with Stream first). The
    /// first Stream arrival that finds no slot switches to `Pause` at once.
    NoPreemption,
    /// NEPTUNE: pause running Batch tasks for Stream work, with anti-starvation whose
    /// quantum Q and limit N the rule tunes.
    Pause,
    /// STATIC: dedicated Stream slots; Batch tasks left on them are still paused for
    /// Stream work there, and the other slots never run Stream work.
    Dedicated,
}

impl Mode {
    /// The mode's name, as metrics show it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::NoPreemption => "no-preemption",
            Mode::Pause => "pause",
            Mode::Dedicated => "dedicated",
        }
    }

    fn from_u8(v: u8) -> Mode {
        match v {
            0 => Mode::NoPreemption,
            1 => Mode::Pause,
            _ => Mode::Dedicated,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Mode::NoPreemption => 0,
            Mode::Pause => 1,
            Mode::Dedicated => 2,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`Adaptive`] observed over one window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    /// The window's length, in seconds.
    pub seconds: f64,
    /// Stream tasks finished per second (the arrival rate, once they keep up).
    pub stream_tasks_per_s: f64,
    /// p99 stream latency (runnable to end of poll), if any Stream task ran.
    pub stream_p99: Option<Duration>,
    /// Share of all slots' time spent polling Stream tasks (0..=1).
    pub stream_share: f64,
    /// Share of all slots' time neither polling Stream tasks nor asleep: Batch work
    /// (0..=1).
    pub batch_share: f64,
    /// Tasks parked per second.
    pub suspensions_per_s: f64,
    /// Slots that held tasks parked by the policy at the window's end and resumed none
    /// during it: parked Batch work that is not getting its slot back.
    pub starving_slots: usize,
    /// Bytes of the tasks in the suspended queues at the window's end.
    pub suspended_bytes: usize,
    /// Times anti-starvation exempted a running task from a pause in the window.
    pub exempt_skips: u64,
}

/// The rule's parameters (see [`Adaptive`]'s docs for what each does).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Stream latency target (p99).
    pub slo: Duration,
    /// Observation window.
    pub window: Duration,
    /// Windows a mode change must be indicated in a row before it is made.
    pub confirm: u32,
    /// Windows without Stream work before `NoPreemption`.
    pub quiet: u32,
    /// Windows over the SLO in a row (with Q at its minimum) before `Dedicated`.
    pub patience: u32,
    /// Windows in a row in which a slot resumed none of the tasks it parked before
    /// `Dedicated` rescues them.
    pub starving_windows: u32,
    /// Bounds of Q.
    pub min_quantum: Duration,
    /// The longest Q (also the starting one).
    pub max_quantum: Duration,
    /// N to start from and return to.
    pub base_limit: u32,
    /// The largest N.
    pub max_limit: u32,
    /// Suspended bytes above which pausing costs too much memory.
    pub memory_limit: usize,
    /// Suspensions per second above which pausing costs too much.
    pub max_suspensions_per_s: f64,
    /// Windows `Dedicated` lasts before pausing is tried again (doubled, up to 16
    /// times, when `Dedicated` is needed again soon after).
    pub dedicated_hold: u32,
    /// Slots dedicated to Stream work in `Dedicated`.
    pub stream_slots: usize,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            slo: DEFAULT_SLO,
            window: DEFAULT_WINDOW,
            confirm: 2,
            quiet: 3,
            patience: 3,
            starving_windows: 10,
            min_quantum: MIN_QUANTUM,
            max_quantum: DEFAULT_QUANTUM,
            base_limit: DEFAULT_MAX_SUSPENSIONS,
            max_limit: MAX_LIMIT,
            memory_limit: 256 << 20,
            max_suspensions_per_s: 5_000.0,
            dedicated_hold: 20,
            stream_slots: 1,
        }
    }
}

/// One mode change, as [`AdaptiveStats::decisions`] keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// When it was made.
    pub at: Instant,
    /// The mode before.
    pub from: Mode,
    /// The mode after.
    pub to: Mode,
    /// Why, in a few words.
    pub reason: &'static str,
    /// What the window that decided it observed.
    pub window: Window,
}

/// ADAPTIVE: one policy that uses, at each moment, the mechanism that suits the
/// Stream load it observes: no preemption, pausing (NEPTUNE's, with its quantum Q and
/// limit N tuned), or dedicated Stream slots (STATIC's).
///
/// **What it observes.** Every window (default 100 ms, through the runtime's re-check
/// hook, [`Policy::on_check`]) it reads the runtime's metrics: Stream tasks finished
/// per second, the p99 stream latency (a Stream task becoming runnable to the end of
/// its poll) against the SLO (default 5 ms), the share of the CPU spent on Stream work
/// and on Batch work (what is neither Stream polls nor sleep), suspensions per second
/// and the bytes of suspended tasks; and at each pause, how long the paused task had
/// been running (`running_for`).
///
/// **The rule.**
/// - `NoPreemption` → `Pause`: at the first Stream task that finds no free slot (at
///   once: the arrival itself decides, so it does not wait for a Batch task).
/// - `Pause` → `NoPreemption`: no Stream task for `quiet` windows (3).
/// - `Pause` → `Dedicated` (`confirm` windows in a row, 2), when pausing costs more than
///   it buys: suspended bytes over `memory_limit` (256 MiB), suspensions over
///   `max_suspensions_per_s` (5,000/s), parked Batch work starving (for
///   `starving_windows` in a row, 10, a slot that holds tasks the policy parked resumed
///   none of them, while Stream work runs), or the SLO missed `patience` windows in a
///   row (3) with Q already at its minimum while Stream work would fit its dedicated slots (its
///   share at most 60% of theirs: dedicated slots that Stream work fills queue it).
///   Needs at least two slots.
/// - `Dedicated` → `Pause` after `dedicated_hold` windows (20), to measure pausing
///   again; after one window when it was entered for starving parked work while
///   Stream work does not fit its dedicated slots (moving the parked tasks is what
///   counts there; holding longer would queue the Stream work). If `Dedicated` is
///   needed again soon (within twice its hold, plus the windows it takes to find
///   starving work again), the hold doubles (up to 16 times).
///   `Dedicated` → `NoPreemption` after `quiet` windows without Stream work.
/// - In `Pause`, Q follows the runs between pauses: half the typical (exponentially
///   averaged) `running_for` at a pause, within [`MIN_QUANTUM`] (1 ms) and the
///   default quantum (5 ms). A periodic Stream job thus never makes its regular pauses
///   count as strikes (a run of half its period is real work), while bursts that cut
///   runs shorter than that still do. Q shrinks at once (that only favours Stream
///   work); it grows back when a window's figure says so. N doubles (up to
///   [`MAX_LIMIT`]) after a window that missed the SLO while anti-starvation exempted
///   a task, and returns to its base (3) after `confirm` windows well within the SLO.
///
/// Every mode change is logged (with the `tracing` feature, target
/// `neptune_scheduler::adaptive`), kept in [`AdaptiveStats::decisions`], and counted
/// in the runtime's metrics ([`RuntimeMetrics::policy`]: `mode_switches` and the
/// active `mode`).
///
/// **Why Batch work cannot starve.** In `NoPreemption` nothing is paused. In `Pause`,
/// NEPTUNE's anti-starvation holds with Q ≥ `min_quantum` and N ≤ `max_limit`: a
/// running Batch task is paused at most N + 1 times between two uninterrupted runs of
/// at least Q, so at most `max_limit + 1` = 9 pauses pass before it runs 1 ms
/// undisturbed. A parked task resumes when its slot has no Stream work; if Stream work
/// keeps a slot so busy that it resumes none of its parked tasks for
/// `starving_windows` in a row (and `confirm` - 1 more), the rule moves to
/// `Dedicated`, where the slots not dedicated to Stream (at least one of two or more)
/// run only Batch work, and the runtime hands the tasks parked on the Stream slots to
/// them. So no parked task waits more than `starving_windows + confirm` windows
/// (1.2 s by default) for a slot that runs it, and Batch work gets at least `(slots - stream_slots) / slots` of the
/// CPU while `Dedicated` lasts, whatever the Stream load; under Stream load that keeps
/// starving it, `Dedicated` comes back and lasts twice as long each time, up to 16
/// windows for a rescue (16 of every 27 windows or so for Batch work on its slots). (On a single slot there is nothing to dedicate: there, as under
/// NEPTUNE, parked work waits for the Stream work to pause.)
///
/// ```
/// use neptune_scheduler::local::Adaptive;
/// use std::time::Duration;
///
/// let policy = Adaptive::new().slo(Duration::from_millis(5));
/// let stats = policy.stats();
/// let rt = neptune_runtime::Builder::new().slots(2).policy(policy).build().unwrap();
/// assert_eq!(rt.policy_name(), "adaptive");
/// assert_eq!(stats.mode().name(), "pause");
/// assert_eq!(rt.metrics().policy.active(), "pause");
/// ```
pub struct Adaptive {
    params: Params,
    neptune: Neptune,
    mode: AtomicU8,
    /// `running_for` at recent pauses, exponentially averaged (ns; 0 before any).
    run_avg_ns: AtomicU64,
    rule: Mutex<Rule>,
    stats: AdaptiveStats,
}

impl fmt::Debug for Adaptive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adaptive")
            .field("mode", &self.mode())
            .field("quantum", &self.neptune.quantum_len())
            .field("max_suspensions", &self.neptune.limit())
            .field("params", &self.params)
            .finish()
    }
}

impl Default for Adaptive {
    fn default() -> Adaptive {
        Adaptive::new()
    }
}

impl Adaptive {
    /// ADAPTIVE with the default [`Params`], starting in `Pause`.
    pub fn new() -> Adaptive {
        Adaptive::with_params(Params::default())
    }

    /// ADAPTIVE with `params`, starting in `Pause`.
    pub fn with_params(params: Params) -> Adaptive {
        let neptune = Neptune::new()
            .quantum(params.max_quantum)
            .max_suspensions(params.base_limit);
        Adaptive {
            neptune,
            mode: AtomicU8::new(Mode::Pause.to_u8()),
            run_avg_ns: AtomicU64::new(0),
            rule: Mutex::new(Rule::new(&params)),
            stats: AdaptiveStats::default(),
            params,
        }
    }

    /// Sets the stream latency target (p99).
    pub fn slo(mut self, slo: Duration) -> Adaptive {
        self.params.slo = slo;
        self
    }

    /// Sets the observation window.
    pub fn window(mut self, window: Duration) -> Adaptive {
        self.params.window = window.max(Duration::from_millis(1));
        self
    }

    /// The rule's parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The mode now.
    pub fn mode(&self) -> Mode {
        Mode::from_u8(self.mode.load(Relaxed))
    }

    /// The anti-starvation quantum Q now.
    pub fn quantum(&self) -> Duration {
        self.neptune.quantum_len()
    }

    /// The anti-starvation limit N now.
    pub fn limit(&self) -> u32 {
        self.neptune.limit()
    }

    /// Counters and the decision log, readable after the policy moved into a runtime.
    pub fn stats(&self) -> AdaptiveStats {
        self.stats.clone()
    }

    fn lock_rule(&self) -> std::sync::MutexGuard<'_, Rule> {
        self.rule.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes a mode change: the mode, the counters, the log.
    fn switch(&self, to: Mode, reason: &'static str, window: Window, now: Instant) {
        let from = Mode::from_u8(self.mode.swap(to.to_u8(), Relaxed));
        if from == to {
            return;
        }
        self.stats.inner.mode.store(to.to_u8(), Relaxed);
        self.stats.inner.switches.fetch_add(1, Relaxed);
        #[cfg(feature = "tracing")]
        tracing::info!(
            target: "neptune_scheduler::adaptive",
            from = from.name(),
            to = to.name(),
            reason,
            stream_p99_us = window.stream_p99.map_or(0, |d| d.as_micros() as u64),
            stream_share = window.stream_share,
            batch_share = window.batch_share,
            starving_slots = window.starving_slots,
            suspensions_per_s = window.suspensions_per_s,
            "adaptive policy switches mode"
        );
        let mut log = self
            .stats
            .inner
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(Decision {
            at: now,
            from,
            to,
            reason,
            window,
        });
    }

    /// Notes the runs of the tasks a pause decision chose, and shrinks Q at once if the
    /// runs got shorter (see the rule).
    fn note_runs(&self, chosen: &[Preempt], slots: &[SlotView]) {
        for p in chosen {
            let Preempt::Pause(t) = p else { continue };
            let Some(view) = slots.iter().find(|s| s.running.task.id() == t.id()) else {
                continue;
            };
            let ran = view.running.running_for.as_nanos() as u64;
            let avg = self.run_avg_ns.load(Relaxed);
            // An eighth of each new run: a few pauses suffice to follow a new period.
            let new = if avg == 0 {
                ran
            } else {
                avg - avg / 8 + ran / 8
            };
            self.run_avg_ns.store(new.max(1), Relaxed);
        }
        let target = self.quantum_target();
        if target < self.neptune.quantum_len() {
            self.neptune.set_quantum(target);
        }
    }

    /// Half the typical run between pauses, within the quantum's bounds.
    fn quantum_target(&self) -> Duration {
        let avg = self.run_avg_ns.load(Relaxed);
        if avg == 0 {
            return self.params.max_quantum;
        }
        Duration::from_nanos(avg / 2).clamp(self.params.min_quantum, self.params.max_quantum)
    }
}

impl Policy for Adaptive {
    fn name(&self) -> &str {
        "adaptive"
    }

    /// Pause: what it does to running Batch work in its main mode.
    fn preemption(&self) -> Preemption {
        Preemption::Pause
    }

    fn slot_classes(&self, slot: usize, slots: usize) -> SlotClasses {
        match self.mode() {
            Mode::Dedicated => Static::new(self.params.stream_slots).slot_classes(slot, slots),
            _ => SlotClasses::Both,
        }
    }

    fn on_stream_waiting(&self, waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        if self.mode() == Mode::NoPreemption {
            self.switch(
                Mode::Pause,
                "stream work finds no free slot",
                Window::default(),
                Instant::now(),
            );
            self.lock_rule().entered(Mode::Pause, &self.params);
        }
        let out = self.neptune.on_stream_waiting(waiting, slots);
        self.note_runs(&out, slots);
        out
    }

    fn on_stream_drained(&self, slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        // Every mode resumes what it (or a policy before it) parked: most-suspended
        // first, as NEPTUNE.
        self.neptune.on_stream_drained(slot, suspended)
    }

    fn on_check(&self, view: &CheckView<'_>) -> Check {
        let now = view.now();
        let mut rule = self.lock_rule();
        // The runtime also calls back at the instants NEPTUNE's exemptions end (one
        // timer serves both): a window ends only when it is due.
        if let Some((then, _)) = &rule.last {
            let due = *then + self.params.window;
            if now + self.params.window / 20 < due {
                return Check {
                    next: Some(due),
                    ..Check::default()
                };
            }
        }
        let metrics = view.metrics();
        let totals = Totals::of(&metrics, self.neptune.stats().exempt_skips());
        let slots = metrics.slots.len();
        let Some((then, before)) = rule.last.replace((now, totals.clone())) else {
            return Check {
                next: Some(now + self.params.window),
                ..Check::default()
            };
        };
        let window = totals.since(&before, now.saturating_duration_since(then), slots);
        let from = self.mode();
        let q = self.neptune.quantum_len();
        let step = rule.step(
            from,
            &window,
            &self.params,
            slots,
            (q, self.neptune.limit()),
        );
        drop(rule);
        if let Some(n) = step.limit {
            self.neptune.set_max_suspensions(n);
        }
        // Q shrinks at pauses (`note_runs`); it grows back here, to the figure the
        // recent runs give, or to its ceiling after a window without pauses.
        let target = if window.suspensions_per_s == 0.0 {
            self.params.max_quantum
        } else {
            self.quantum_target()
        };
        if target > q + q / 4 {
            self.neptune.set_quantum(target);
        }
        let mut check = Check {
            next: Some(now + self.params.window),
            ..Check::default()
        };
        if let Some((to, reason)) = step.mode {
            self.switch(to, reason, window, now);
            self.lock_rule().entered(to, &self.params);
            check.reconfigure = (from == Mode::Dedicated) != (to == Mode::Dedicated);
            if to == Mode::NoPreemption {
                // Nothing to wait for: resume now what is still parked.
                check.resume = view.parked().into_iter().flat_map(|(_, t)| t).collect();
            }
        }
        check
    }

    fn status(&self) -> PolicyStatus {
        PolicyStatus {
            mode: Some(self.mode().name()),
            mode_switches: self.stats.switches(),
        }
    }
}

/// Cumulative figures at one check.
#[derive(Clone, Debug, Default)]
struct Totals {
    stream_tasks: u64,
    stream_busy: Duration,
    idle: Duration,
    parks: u64,
    /// Per slot: resumes so far, and tasks the policy parked there now.
    slots: Vec<(u64, usize)>,
    latency: HistogramSnapshot,
    suspended_bytes: usize,
    exempt_skips: u64,
}

impl Totals {
    fn of(m: &RuntimeMetrics, exempt_skips: u64) -> Totals {
        Totals {
            stream_tasks: m.total(|s| s.tasks_of(Class::Stream)),
            stream_busy: m.stream_busy(),
            idle: m.idle(),
            parks: m.total(|s| s.parks),
            slots: m
                .slots
                .iter()
                .map(|s| (s.resumes, s.policy_parked))
                .collect(),
            latency: m.stream_latency(),
            suspended_bytes: m.suspended_bytes(),
            exempt_skips,
        }
    }

    /// The window from `before` to these figures, `dt` long, on `slots` slots.
    fn since(&self, before: &Totals, dt: Duration, slots: usize) -> Window {
        let secs = dt.as_secs_f64().max(1e-6);
        let capacity = secs * slots.max(1) as f64;
        let stream = self
            .stream_busy
            .saturating_sub(before.stream_busy)
            .as_secs_f64();
        let idle = self.idle.saturating_sub(before.idle).as_secs_f64();
        let latency = self.latency.since(&before.latency);
        Window {
            seconds: secs,
            stream_tasks_per_s: self.stream_tasks.saturating_sub(before.stream_tasks) as f64 / secs,
            stream_p99: latency.quantile(0.99),
            stream_share: (stream / capacity).clamp(0.0, 1.0),
            batch_share: ((capacity - stream - idle) / capacity).clamp(0.0, 1.0),
            suspensions_per_s: self.parks.saturating_sub(before.parks) as f64 / secs,
            starving_slots: self
                .slots
                .iter()
                .zip(&before.slots)
                .filter(|((resumes, parked), (resumes_before, _))| {
                    *parked > 0 && resumes == resumes_before
                })
                .count(),
            suspended_bytes: self.suspended_bytes,
            exempt_skips: self.exempt_skips.saturating_sub(before.exempt_skips),
        }
    }
}

/// The rule's memory between windows.
#[derive(Debug)]
struct Rule {
    /// The previous check's time and figures.
    last: Option<(Instant, Totals)>,
    /// A mode indicated in the last windows, and in how many in a row.
    pending: Option<(Mode, u32)>,
    /// Windows in a row without Stream work.
    quiet: u32,
    /// Windows in a row over the SLO (in `Pause`).
    misses: u32,
    /// Windows in a row in which a slot resumed none of its parked tasks (in `Pause`).
    starving: u32,
    /// The `Dedicated` being entered rescues parked work from Stream work that does
    /// not fit its dedicated slots: hold it briefly (moving the parked tasks is what
    /// counts; a long hold would queue the Stream work).
    short_hold: bool,
    /// Windows in a row well within the SLO (in `Pause`).
    calm: u32,
    /// Windows `Dedicated` still lasts.
    dedicated_left: u32,
    /// The current hold of `Dedicated`, in windows.
    hold: u32,
    /// Windows since `Dedicated` was left (`u32::MAX` if never entered).
    since_dedicated: u32,
}

/// What one window's step decides.
#[derive(Debug, Default, PartialEq)]
struct Step {
    mode: Option<(Mode, &'static str)>,
    limit: Option<u32>,
}

impl Rule {
    fn new(p: &Params) -> Rule {
        Rule {
            last: None,
            pending: None,
            quiet: 0,
            misses: 0,
            starving: 0,
            short_hold: false,
            calm: 0,
            dedicated_left: 0,
            hold: p.dedicated_hold,
            since_dedicated: u32::MAX,
        }
    }

    /// The mode `to` was just entered.
    fn entered(&mut self, to: Mode, p: &Params) {
        self.pending = None;
        self.misses = 0;
        self.calm = 0;
        self.starving = 0;
        if to == Mode::Dedicated {
            let base = if self.short_hold { 1 } else { p.dedicated_hold };
            // Needed again soon after the last time (within twice the hold plus the
            // time it takes to find starving work again): hold it longer.
            let soon = 2 * self.hold + p.starving_windows + p.confirm;
            self.hold = if self.since_dedicated <= soon {
                (self.hold * 2).min(base.saturating_mul(16))
            } else {
                base
            };
            self.dedicated_left = self.hold;
        }
    }

    /// One window: the mode to switch to (if any) and the tuning of Q and N.
    /// `tuning` is Q and N now.
    fn step(
        &mut self,
        mode: Mode,
        w: &Window,
        p: &Params,
        slots: usize,
        tuning: (Duration, u32),
    ) -> Step {
        let (q, n) = tuning;
        let mut step = Step::default();
        let active = w.stream_tasks_per_s > 0.0;
        self.quiet = if active {
            0
        } else {
            self.quiet.saturating_add(1)
        };
        if mode == Mode::Dedicated {
            self.since_dedicated = 0;
        } else {
            self.since_dedicated = self.since_dedicated.saturating_add(1);
        }
        let over = w.stream_p99.is_some_and(|l| l > p.slo);
        let dedicated_ok = slots >= 2;
        let (target, reason): (Mode, &'static str) = match mode {
            Mode::NoPreemption if active => (Mode::Pause, "stream work arrived"),
            Mode::NoPreemption => (Mode::NoPreemption, ""),
            _ if self.quiet >= p.quiet => (Mode::NoPreemption, "no stream work"),
            Mode::Pause => {
                self.misses = if over { self.misses + 1 } else { 0 };
                self.starving = if active && w.starving_slots > 0 {
                    self.starving + 1
                } else {
                    0
                };
                let share_fits = w.stream_share
                    <= 0.6 * p.stream_slots.min(slots.saturating_sub(1)) as f64
                        / slots.max(1) as f64;
                if !dedicated_ok {
                    (Mode::Pause, "")
                } else if w.suspended_bytes > p.memory_limit {
                    (Mode::Dedicated, "suspended tasks hold too much memory")
                } else if w.suspensions_per_s > p.max_suspensions_per_s {
                    (Mode::Dedicated, "too many suspensions per second")
                } else if self.starving >= p.starving_windows {
                    self.short_hold = !share_fits;
                    (Mode::Dedicated, "parked batch work is not resumed")
                } else if self.misses >= p.patience && q <= p.min_quantum && share_fits {
                    (Mode::Dedicated, "SLO missed with the shortest quantum")
                } else {
                    (Mode::Pause, "")
                }
            }
            Mode::Dedicated => {
                self.dedicated_left = self.dedicated_left.saturating_sub(1);
                if self.dedicated_left == 0 {
                    (Mode::Pause, "hold over: measure pausing again")
                } else {
                    (Mode::Dedicated, "")
                }
            }
        };
        if target == mode {
            self.pending = None;
        } else {
            // Leaving NoPreemption, the end of a hold, and `quiet` (counted in windows
            // already) are immediate; other changes must be indicated `confirm`
            // windows in a row.
            let immediate = mode == Mode::NoPreemption
                || mode == Mode::Dedicated
                || target == Mode::NoPreemption;
            let count = match self.pending {
                Some((m, c)) if m == target => c + 1,
                _ => 1,
            };
            self.pending = Some((target, count));
            if immediate || count >= p.confirm {
                step.mode = Some((target, reason));
            }
        }
        if mode == Mode::Pause {
            // N: more pauses before a quantum when exemptions cost the SLO; back to the
            // base after calm windows.
            self.calm = if w.stream_p99.is_none_or(|l| l <= p.slo / 2) {
                self.calm + 1
            } else {
                0
            };
            if over && w.exempt_skips > 0 && n < p.max_limit {
                step.limit = Some(n.saturating_mul(2).clamp(1, p.max_limit));
            } else if self.calm >= p.confirm && n != p.base_limit {
                step.limit = Some(p.base_limit);
            }
        }
        step
    }
}

/// Counters of an [`Adaptive`] policy (shared; clones see the same).
#[derive(Clone, Default)]
pub struct AdaptiveStats {
    inner: Arc<StatsInner>,
}

struct StatsInner {
    mode: AtomicU8,
    switches: AtomicU64,
    log: Mutex<VecDeque<Decision>>,
}

impl Default for StatsInner {
    fn default() -> StatsInner {
        StatsInner {
            mode: AtomicU8::new(Mode::Pause.to_u8()),
            switches: AtomicU64::new(0),
            log: Mutex::new(VecDeque::new()),
        }
    }
}

impl AdaptiveStats {
    /// The mode now.
    pub fn mode(&self) -> Mode {
        Mode::from_u8(self.inner.mode.load(Relaxed))
    }

    /// Mode changes so far.
    pub fn switches(&self) -> u64 {
        self.inner.switches.load(Relaxed)
    }

    /// The last mode changes (at most 64), oldest first.
    pub fn decisions(&self) -> Vec<Decision> {
        self.inner
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

impl fmt::Debug for AdaptiveStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveStats")
            .field("mode", &self.mode())
            .field("switches", &self.switches())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: (Duration, u32) = (DEFAULT_QUANTUM, DEFAULT_MAX_SUSPENSIONS);

    fn busy() -> Window {
        Window {
            seconds: 0.1,
            stream_tasks_per_s: 200.0,
            stream_p99: Some(Duration::from_millis(1)),
            stream_share: 0.1,
            batch_share: 0.9,
            suspensions_per_s: 200.0,
            starving_slots: 0,
            suspended_bytes: 1024,
            exempt_skips: 0,
        }
    }

    fn quiet() -> Window {
        Window {
            stream_tasks_per_s: 0.0,
            stream_p99: None,
            stream_share: 0.0,
            suspensions_per_s: 0.0,
            ..busy()
        }
    }

    /// Runs the rule over `windows` from `mode`, making the changes it decides; returns
    /// the modes after each window.
    fn run(mode: Mode, windows: &[Window], p: &Params, slots: usize) -> Vec<Mode> {
        let mut rule = Rule::new(p);
        let mut mode = mode;
        windows
            .iter()
            .map(|w| {
                if let Some((to, reason)) = rule.step(mode, w, p, slots, Q).mode {
                    assert!(!reason.is_empty());
                    mode = to;
                    rule.entered(to, p);
                }
                mode
            })
            .collect()
    }

    #[test]
    fn quiet_windows_stop_preemption_and_stream_work_resumes_it_at_once() {
        let p = Params::default();
        let modes = run(Mode::Pause, &[quiet(), quiet(), quiet(), busy()], &p, 2);
        assert_eq!(
            modes,
            [Mode::Pause, Mode::Pause, Mode::NoPreemption, Mode::Pause]
        );
    }

    #[test]
    fn pressure_needs_confirming_windows_before_dedicated_slots() {
        let p = Params::default();
        let heavy = Window {
            suspended_bytes: p.memory_limit + 1,
            ..busy()
        };
        // One window of pressure between calm ones changes nothing (hysteresis).
        let modes = run(Mode::Pause, &[busy(), heavy, busy(), heavy, busy()], &p, 2);
        assert!(modes.iter().all(|m| *m == Mode::Pause), "{modes:?}");
        let modes = run(Mode::Pause, &[heavy, heavy], &p, 2);
        assert_eq!(modes, [Mode::Pause, Mode::Dedicated]);
        // One slot: nothing to dedicate.
        let modes = run(Mode::Pause, &[heavy; 5], &p, 1);
        assert!(modes.iter().all(|m| *m == Mode::Pause), "{modes:?}");
    }

    #[test]
    fn starving_batch_work_gets_dedicated_slots_for_a_hold_then_pausing_is_retried() {
        let p = Params {
            starving_windows: 3,
            ..Params::default()
        };
        let starving = Window {
            stream_share: 0.97,
            batch_share: 0.03,
            starving_slots: 2,
            ..busy()
        };
        // `starving_windows`, then `confirm`: the parked work moves. Stream work that
        // does not fit one slot gets it back after a window.
        let mut windows = vec![starving; 4];
        windows.extend([busy(); 3]);
        let modes = run(Mode::Pause, &windows, &p, 2);
        use Mode::{Dedicated as D, Pause as P};
        assert_eq!(modes, [P, P, P, D, P, P, P]);
        // Stream work that fits its slot keeps it for the whole hold.
        let fitting = Window {
            stream_share: 0.2,
            ..starving
        };
        let mut windows = vec![fitting; 4];
        windows.extend([busy(); 21]);
        let modes = run(Mode::Pause, &windows, &p, 2);
        assert_eq!(modes.iter().filter(|m| **m == D).count(), 20);
        // A slot that resumes something between starving windows is not starving.
        let windows = [starving, starving, busy(), starving, starving, busy()];
        let modes = run(Mode::Pause, &windows, &p, 2);
        assert!(modes.iter().all(|m| *m == P), "{modes:?}");
    }

    #[test]
    fn dedicated_needed_again_soon_is_held_longer() {
        let p = Params {
            dedicated_hold: 2,
            ..Params::default()
        };
        let mut rule = Rule::new(&p);
        rule.entered(Mode::Dedicated, &p);
        assert_eq!(rule.dedicated_left, 2);
        let w = busy();
        let s = rule.step(Mode::Dedicated, &w, &p, 2, Q);
        assert_eq!(s.mode, None);
        let s = rule.step(Mode::Dedicated, &w, &p, 2, Q);
        assert_eq!(s.mode.map(|m| m.0), Some(Mode::Pause));
        rule.entered(Mode::Pause, &p);
        rule.step(Mode::Pause, &w, &p, 2, Q);
        rule.entered(Mode::Dedicated, &p);
        assert_eq!(rule.dedicated_left, 4, "needed again within twice the hold");
        for _ in 0..10 {
            rule.entered(Mode::Dedicated, &p);
        }
        assert_eq!(rule.hold, 2 * 16, "the hold is capped");
    }

    #[test]
    fn slo_misses_with_exemptions_raise_n_and_calm_windows_restore_it() {
        let p = Params::default();
        let mut rule = Rule::new(&p);
        let missed = Window {
            stream_p99: Some(p.slo * 2),
            exempt_skips: 3,
            ..busy()
        };
        let s = rule.step(Mode::Pause, &missed, &p, 2, (DEFAULT_QUANTUM, 3));
        assert_eq!(s.limit, Some(6));
        let s = rule.step(Mode::Pause, &missed, &p, 2, (DEFAULT_QUANTUM, 6));
        assert_eq!(s.limit, Some(MAX_LIMIT));
        let s = rule.step(Mode::Pause, &missed, &p, 2, (DEFAULT_QUANTUM, MAX_LIMIT));
        assert_eq!(s.limit, None, "N stays within its bound");
        assert_eq!(rule.step(Mode::Pause, &busy(), &p, 2, (Q.0, 8)).limit, None);
        assert_eq!(
            rule.step(Mode::Pause, &busy(), &p, 2, (Q.0, 8)).limit,
            Some(DEFAULT_MAX_SUSPENSIONS)
        );
    }

    #[test]
    fn slo_missed_at_the_shortest_quantum_tries_dedicated_slots() {
        let p = Params::default();
        let missed = Window {
            stream_p99: Some(p.slo * 2),
            stream_share: 0.2,
            ..busy()
        };
        let mut rule = Rule::new(&p);
        let mut modes = Vec::new();
        for _ in 0..4 {
            modes.push(
                rule.step(Mode::Pause, &missed, &p, 2, (MIN_QUANTUM, 3))
                    .mode
                    .map(|m| m.0),
            );
        }
        assert_eq!(modes, [None, None, None, Some(Mode::Dedicated)]);
        // Not while Q can still shrink.
        let mut rule = Rule::new(&p);
        for _ in 0..6 {
            assert_eq!(rule.step(Mode::Pause, &missed, &p, 2, Q).mode, None);
        }
    }

    #[test]
    fn the_quantum_follows_half_the_runs_between_pauses_within_its_bounds() {
        let p = Adaptive::new();
        assert_eq!(p.quantum_target(), DEFAULT_QUANTUM);
        p.run_avg_ns.store(3_000_000, Relaxed);
        assert_eq!(p.quantum_target(), Duration::from_micros(1500));
        p.run_avg_ns.store(100_000, Relaxed);
        assert_eq!(p.quantum_target(), MIN_QUANTUM);
        p.run_avg_ns.store(100_000_000, Relaxed);
        assert_eq!(p.quantum_target(), DEFAULT_QUANTUM);
    }

    #[test]
    fn the_first_check_only_names_the_next() {
        let p = Adaptive::new().window(Duration::from_millis(50));
        let m = RuntimeMetrics::default();
        let now = Instant::now();
        let c = p.on_check(&CheckView::fixed(now, &m));
        assert_eq!(c.next, Some(now + Duration::from_millis(50)));
        assert!(!c.reconfigure && c.resume.is_empty());
        // A call before the window is due (an exemption's end) only names it again.
        let c = p.on_check(&CheckView::fixed(now + Duration::from_millis(10), &m));
        assert_eq!(c.next, Some(now + Duration::from_millis(50)));
        // A later check with no Stream work at all: still pausing until `quiet`.
        let c = p.on_check(&CheckView::fixed(now + Duration::from_millis(50), &m));
        assert_eq!(c.next, Some(now + Duration::from_millis(100)));
        assert_eq!(p.mode(), Mode::Pause);
        assert_eq!(p.status().mode, Some("pause"));
    }
}
