//! The policy hook: where the runtime asks a scheduling policy what to do.
//!
//! The runtime holds the mechanism (classes, pause, park, resume); a [`Policy`] decides:
//! - how a slot chooses between the Stream and Batch queues ([`Queueing`]) and which
//!   classes each slot may run ([`SlotClasses`]), read once when the runtime starts;
//! - what to do when a Stream task becomes runnable and more Stream tasks wait than
//!   there are idle slots ([`Policy::on_stream_waiting`]: pause or cancel some running
//!   Batch tasks);
//! - what to do when a slot runs out of Stream work while it holds tasks the policy
//!   paused ([`Policy::on_stream_drained`]: which of them to resume);
//! - what to do at an instant the policy asked for ([`Policy::on_check`], the re-check
//!   hook: resume parked tasks, change queueing or slot classes, name the next instant),
//!   so that decisions which expire end when they should, not at the next Stream
//!   arrival.
//!
//! A running runtime's policy can be replaced with
//! [`Handle::set_policy`](crate::Handle::set_policy): the new one adopts the tasks the
//! old one paused (it is asked about them as about its own).
//!
//! [`DefaultPolicy`] pauses the most recently started Batch task and resumes everything
//! as soon as the slot has no Stream work. The `neptune-scheduler` crate ships the full
//! set (STATIC, FIFO, FAIR, KILL, NEPTUNE).

use crate::metrics::RuntimeMetrics;
use crate::task::{Class, TaskHandle};
use std::time::{Duration, Instant};

/// How a slot orders its class queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queueing {
    /// Every runnable Stream task runs before any Batch task.
    StreamFirst,
    /// One queue for both classes, in arrival order (no priority at all).
    Arrival,
    /// When both classes have work, run them in proportion to these weights (per slot,
    /// counted in CPU time spent polling each class).
    Weighted {
        /// Weight of the Stream class.
        stream: u32,
        /// Weight of the Batch class.
        batch: u32,
    },
}

/// Which classes a slot may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotClasses {
    /// Both classes.
    Both,
    /// Only Stream tasks (a dedicated stream slot).
    StreamOnly,
    /// Only Batch tasks (a dedicated batch slot).
    BatchOnly,
}

impl SlotClasses {
    /// Whether a slot with this setting runs `class`.
    pub fn runs(self, class: Class) -> bool {
        match self {
            SlotClasses::Both => true,
            SlotClasses::StreamOnly => class == Class::Stream,
            SlotClasses::BatchOnly => class == Class::Batch,
        }
    }
}

/// A Batch task running on a slot, as a policy sees it.
#[derive(Clone, Debug)]
pub struct RunningTask {
    /// The task (to pause, cancel, or inspect).
    pub task: TaskHandle,
    /// How long ago the task was first polled (zero if it was not polled yet).
    pub age: Duration,
    /// How long it has been running since it last started: since its first poll, or
    /// since its first poll after it was last resumed (zero if it has not been polled
    /// since). Time spent waiting in queues after a resume does not count.
    pub running_for: Duration,
    /// How many times it was suspended so far.
    pub suspensions: u32,
    /// A pause is already requested (it will park at its next yield point).
    pub pausing: bool,
}

/// One slot, as a policy sees it.
#[derive(Clone, Debug)]
pub struct SlotView {
    /// The slot's index.
    pub slot: usize,
    /// The Batch task it polls now.
    pub running: RunningTask,
    /// Tasks in its suspended queue.
    pub suspended: usize,
}

/// What to do to a running Batch task to make room for Stream work.
#[derive(Clone, Debug)]
pub enum Preempt {
    /// Pause it: it parks at its next yield point and resumes later, keeping its progress.
    Pause(TaskHandle),
    /// Cancel it: its future is dropped (its progress is lost); restarting it is the
    /// submitter's business.
    Cancel(TaskHandle),
    /// Nothing more can be freed now, but something can at this instant (a task's
    /// exemption from preemption ends then): if Stream tasks still find no free slot
    /// then, the runtime asks again. Without it they would wait for a running Batch
    /// task's poll to end, or for the next Stream arrival.
    AskAgainAt(Instant),
}

/// A scheduling policy plugged into the runtime.
///
/// A policy only decides; the runtime acts. Methods are called from slot threads and
/// from whichever thread wakes a Stream task, so they must be quick and must not block.
///
/// ```
/// use neptune_runtime::policy::{Policy, Preempt, SlotView};
/// use neptune_runtime::TaskHandle;
///
/// /// Never preempts: Stream work waits for a slot.
/// struct Patient;
/// impl Policy for Patient {
///     fn name(&self) -> &str { "patient" }
///     fn on_stream_waiting(&self, _waiting: usize, _slots: &[SlotView]) -> Vec<Preempt> { Vec::new() }
///     fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
///         suspended.to_vec()
///     }
/// }
/// let rt = neptune_runtime::Builder::new().slots(1).policy(Patient).build().unwrap();
/// assert_eq!(rt.policy_name(), "patient");
/// ```
pub trait Policy: Send + Sync + 'static {
    /// The policy's name (for metrics and reports).
    fn name(&self) -> &str;

    /// What it does to running Batch work when Stream work waits (placement across
    /// executors counts the Batch tasks of a pausing executor as room for Stream
    /// work). Default: [`Preemption::None`]; a policy that pauses or cancels says so.
    fn preemption(&self) -> Preemption {
        Preemption::None
    }

    /// How slots order the class queues.
    fn queueing(&self) -> Queueing {
        Queueing::StreamFirst
    }

    /// Which classes slot `slot` (of `slots`) may run.
    fn slot_classes(&self, _slot: usize, _slots: usize) -> SlotClasses {
        SlotClasses::Both
    }

    /// A Stream task just became runnable and `waiting` queued Stream tasks (at least
    /// one) are more than the idle slots will take; `slots` describes the slots that
    /// may run Stream work and are polling a Batch task (the others run Stream work or
    /// are between tasks). Return what to pause or cancel, usually one task per waiting
    /// Stream task. Slots already `pausing` will soon be free.
    ///
    /// Default: nothing (Stream work waits for a slot to free up).
    fn on_stream_waiting(&self, waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        let _ = (waiting, slots);
        Vec::new()
    }

    /// Slot `slot` has no Stream work; `suspended` are the tasks this policy paused that
    /// are parked there. Return those to resume now (they run on this slot, ahead of new
    /// Batch work). Default: all of them.
    fn on_stream_drained(&self, slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        let _ = slot;
        suspended.to_vec()
    }

    /// The re-check hook: the runtime calls it once when the policy starts (when the
    /// runtime is built, or when [`set_policy`](crate::Handle::set_policy) installs
    /// it), then at every instant the policy asked for (its last [`Check::next`], or a
    /// [`Preempt::AskAgainAt`]), on the runtime's timer thread. The answer may resume
    /// tasks the policy parked, ask the runtime to read [`queueing`](Self::queueing)
    /// and [`slot_classes`](Self::slot_classes) again, and name the next instant.
    /// Several requested instants collapse into the earliest: a policy that wants a
    /// later one too names it again from that call.
    ///
    /// Default: nothing, and no further call.
    fn on_check(&self, view: &CheckView<'_>) -> Check {
        let _ = view;
        Check::default()
    }

    /// What the policy reports of itself in the runtime's metrics
    /// ([`RuntimeMetrics::policy`]). Default: no mode, no switches.
    fn status(&self) -> PolicyStatus {
        PolicyStatus::default()
    }
}

/// What the runtime shows a policy in [`Policy::on_check`].
pub struct CheckView<'a> {
    now: Instant,
    source: Source<'a>,
}

enum Source<'a> {
    /// A running runtime (loom models run without the timer that calls the hook).
    #[cfg_attr(loom, allow(dead_code))]
    Live(&'a dyn CheckSource),
    /// Figures given by hand ([`CheckView::fixed`]).
    Fixed(&'a RuntimeMetrics),
}

/// Where a live [`CheckView`] reads from.
pub(crate) trait CheckSource {
    fn metrics(&self) -> RuntimeMetrics;
    fn parked(&self) -> Vec<(usize, Vec<TaskHandle>)>;
}

impl<'a> CheckView<'a> {
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn live(now: Instant, source: &'a dyn CheckSource) -> CheckView<'a> {
        CheckView {
            now,
            source: Source::Live(source),
        }
    }

    /// A view with fixed metrics and no parked tasks: for testing a policy's
    /// [`on_check`](Policy::on_check) without a runtime.
    ///
    /// ```
    /// use neptune_runtime::metrics::RuntimeMetrics;
    /// use neptune_runtime::policy::{CheckView, DefaultPolicy, Policy};
    /// let m = RuntimeMetrics::default();
    /// let check = DefaultPolicy.on_check(&CheckView::fixed(std::time::Instant::now(), &m));
    /// assert!(check.next.is_none() && check.resume.is_empty());
    /// ```
    pub fn fixed(now: Instant, metrics: &'a RuntimeMetrics) -> CheckView<'a> {
        CheckView {
            now,
            source: Source::Fixed(metrics),
        }
    }

    /// When the runtime made the call.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The runtime's metrics now (per-slot counters and histograms; computed on each
    /// call).
    pub fn metrics(&self) -> RuntimeMetrics {
        match self.source {
            Source::Live(s) => s.metrics(),
            Source::Fixed(m) => m.clone(),
        }
    }

    /// The tasks parked by a policy (this one or the one it replaced), per slot that
    /// holds some: `(slot, tasks)`.
    pub fn parked(&self) -> Vec<(usize, Vec<TaskHandle>)> {
        match self.source {
            Source::Live(s) => s.parked(),
            Source::Fixed(_) => Vec::new(),
        }
    }
}

impl std::fmt::Debug for CheckView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckView").field("now", &self.now).finish()
    }
}

/// A policy's answer to [`Policy::on_check`].
#[derive(Clone, Debug, Default)]
pub struct Check {
    /// Parked tasks to resume now (on the slots that parked them).
    pub resume: Vec<TaskHandle>,
    /// Read [`Policy::queueing`] and [`Policy::slot_classes`] again: the policy changed
    /// how slots share the classes. Slots pick the change up at their next task.
    pub reconfigure: bool,
    /// When to call [`Policy::on_check`] again, if ever.
    pub next: Option<Instant>,
}

/// What a policy reports of itself ([`Policy::status`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyStatus {
    /// The mechanism it uses now, for a policy that changes mechanisms (an adaptive
    /// one); `None` for a fixed policy.
    pub mode: Option<&'static str>,
    /// How many times it changed mode so far.
    pub mode_switches: u64,
}

/// What a policy does to running Batch tasks when Stream work waits
/// ([`Policy::preemption`]).
///
/// ```
/// use neptune_runtime::policy::{DefaultPolicy, Policy, Preemption};
/// struct Patient;
/// impl Policy for Patient {
///     fn name(&self) -> &str { "patient" }
/// }
/// assert_eq!(Patient.preemption(), Preemption::None);
/// assert_eq!(DefaultPolicy.preemption(), Preemption::Pause);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Preemption {
    /// It never touches them: Stream work waits for a free slot.
    #[default]
    None,
    /// It pauses them: they keep their progress and resume later.
    Pause,
    /// It cancels them: their progress is lost.
    Cancel,
}

/// The runtime's default: pause the most recently started Batch tasks (they have the
/// least progress to keep warm) to free as many slots as Stream tasks wait, and resume
/// everything a slot parked as soon as it has no Stream work.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultPolicy;

impl Policy for DefaultPolicy {
    fn name(&self) -> &str {
        "default"
    }

    fn preemption(&self) -> Preemption {
        Preemption::Pause
    }

    fn on_stream_waiting(&self, waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        let pausing = slots.iter().filter(|s| s.running.pausing).count();
        let needed = waiting.saturating_sub(pausing);
        let mut candidates: Vec<&SlotView> = slots.iter().filter(|s| !s.running.pausing).collect();
        // Youngest first.
        candidates.sort_by_key(|s| s.running.age);
        candidates
            .into_iter()
            .take(needed)
            .map(|s| Preempt::Pause(s.running.task.clone()))
            .collect()
    }

    fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        suspended.to_vec()
    }
}

/// Implements [`Policy`] for a pointer to a policy by forwarding every method.
macro_rules! forward_policy {
    ($(#[$doc:meta])* $ptr:ty) => {
        $(#[$doc])*
        impl<P: Policy + ?Sized> Policy for $ptr {
            fn name(&self) -> &str {
                (**self).name()
            }
            fn preemption(&self) -> Preemption {
                (**self).preemption()
            }
            fn queueing(&self) -> Queueing {
                (**self).queueing()
            }
            fn slot_classes(&self, slot: usize, slots: usize) -> SlotClasses {
                (**self).slot_classes(slot, slots)
            }
            fn on_stream_waiting(&self, waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
                (**self).on_stream_waiting(waiting, slots)
            }
            fn on_stream_drained(&self, slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
                (**self).on_stream_drained(slot, suspended)
            }
            fn on_check(&self, view: &CheckView<'_>) -> Check {
                (**self).on_check(view)
            }
            fn status(&self) -> PolicyStatus {
                (**self).status()
            }
        }
    };
}

forward_policy!(
    /// A shared policy: lets the caller keep a reference (to read statistics the
    /// policy gathers) while the runtime uses it.
    std::sync::Arc<P>
);
forward_policy!(
    /// A boxed policy (one chosen at run time, as `Box<dyn Policy>`).
    Box<P>
);
