//! State every slot and every task of one runtime share, and the [`Schedule`]
//! implementation that routes tasks between queues.

use super::context::{self, Pushed};
use super::idle::{Idle, Parker};
use super::queue::{Inject, Remote};
use super::registry::Registry;
use crate::metrics::SlotCounters;
use crate::policy::{Policy, Preempt, Queueing, RunningTask, SlotClasses, SlotView};
use crate::sync::{fence, lock, Arc, AtomicBool, AtomicUsize, Mutex, Ordering::*};
use crate::task::{Class, Notified, Parking, RawTask, Schedule, TaskHandle};
use std::ptr::NonNull;
use std::sync::atomic::{
    AtomicBool as StdAtomicBool, AtomicU64 as StdAtomicU64, AtomicU8, AtomicUsize as StdAtomicUsize,
};
use std::sync::{Arc as StdArc, Mutex as StdMutex};
use std::time::Duration;

/// `SlotShared::current` while a preemptor inspects the task.
pub(crate) const LOCKED: usize = 1;

/// The part of a slot other threads see.
pub(crate) struct SlotShared {
    /// Steal ends of the slot's local queues, per class.
    pub(crate) remote: [Remote; 2],
    /// Suspended and resumed queues.
    pub(crate) parking: Mutex<Parking>,
    /// The resumed queue is non-empty.
    pub(crate) has_resumed: AtomicBool,
    /// Tasks parked by the policy (`is_pause_by_policy`) in the suspended queue.
    pub(crate) policy_parked: AtomicUsize,
    pub(crate) parker: Parker,
    /// The Batch task this slot polls now (its header address), 0, or `LOCKED`.
    ///
    /// Protocol: the slot stores the address before the poll and swaps it back to 0
    /// right after, before the task can move or be freed; a preemptor CASes address ->
    /// `LOCKED`, takes a reference, and stores the address back. The slot spins while it
    /// sees `LOCKED`, so the task stays alive while a preemptor looks at it.
    pub(crate) current: AtomicUsize,
    /// The slot takes or polls a Stream task now: it is busy, though `current` is 0.
    pub(crate) stream_busy: AtomicBool,
    pub(crate) counters: SlotCounters,
}

impl SlotShared {
    pub(crate) fn new(remote: [Remote; 2]) -> SlotShared {
        SlotShared {
            remote,
            parking: Mutex::new(Parking::default()),
            has_resumed: AtomicBool::new(false),
            policy_parked: AtomicUsize::new(0),
            parker: Parker::new(),
            current: AtomicUsize::new(0),
            stream_busy: AtomicBool::new(false),
            counters: SlotCounters::default(),
        }
    }

    /// The Batch task this slot polls now, with a counted reference, if any.
    fn running_task(&self) -> Option<RunningTask> {
        for _ in 0..4 {
            let p = self.current.load(Acquire);
            if p == 0 {
                return None;
            }
            if p == LOCKED {
                crate::sync::spin_hint();
                continue;
            }
            if self
                .current
                .compare_exchange(p, LOCKED, Acquire, Relaxed)
                .is_err()
            {
                continue;
            }
            // SAFETY: while `current` is LOCKED the slot does not let go of the task it
            // polls, so the header is alive; the handle takes its own reference.
            let raw = unsafe { RawTask::from_ptr(NonNull::new_unchecked(p as *mut _)) };
            let task = TaskHandle::new(raw.add_ref());
            self.current.store(p, Release);
            let h = task.task_ref().header();
            // 0 (not polled yet) reads as no time at all.
            let now = crate::clock::now_ns();
            let since =
                |at: u64| Duration::from_nanos(if at == 0 { 0 } else { now.saturating_sub(at) });
            return Some(RunningTask {
                age: since(h.first_poll_at.load(Relaxed)),
                running_for: since(h.run_since.load(Relaxed)),
                suspensions: h.suspensions.load(Relaxed),
                pausing: task.is_pause_requested(),
                task,
            });
        }
        None
    }
}

/// Everything one runtime shares.
pub(crate) struct Shared {
    pub(crate) slots: Box<[SlotShared]>,
    pub(crate) inject: [Inject; 2],
    pub(crate) idle: Idle,
    pub(crate) registry: Registry,
    pub(crate) shutdown: AtomicBool,
    /// The policy, replaceable while the runtime runs (`Handle::set_policy`). Callers
    /// clone the `Arc` and call it outside the lock, so a decision never holds it (and
    /// std's lock even under loom: nothing inside it is a model step).
    pub(crate) policy: StdMutex<StdArc<dyn Policy>>,
    /// The policy's name, interned (so that `Handle::policy_name` can lend it).
    pub(crate) policy_name: StdMutex<&'static str>,
    /// Times the policy was replaced.
    pub(crate) replacements: StdAtomicU64,
    /// How slots share the classes, as the policy last said (see `Config`).
    pub(crate) config: Config,
    /// Whether wakes and spawns on a slot go to its LIFO slot (`Builder::lifo_slot`).
    pub(crate) lifo: bool,
    /// Distinguishes runtimes in the thread-local context.
    pub(crate) id: usize,
    /// When to ask the policy again for Stream work it could not place yet.
    #[cfg(not(loom))]
    pub(crate) recheck: super::recheck::Recheck,
    /// The runtime's I/O and timer driver (slots poll its reactor between tasks; the
    /// re-ask timer lives in its queue); set once the runtime is built.
    #[cfg(not(loom))]
    pub(crate) io: std::sync::OnceLock<crate::driver::Handle>,
    /// Threads for blocking code (`spawn_blocking`).
    #[cfg(not(loom))]
    pub(crate) blocking: super::blocking::BlockingPool,
    /// When the runtime was built.
    pub(crate) origin: std::time::Instant,
    /// The per-slot timeline rings, if the timeline is on (`Builder::timeline`).
    pub(crate) timeline: Option<crate::timeline::Recorder>,
}

/// Queueing and slot classes, which a policy may change while the runtime runs.
///
/// Plain (std) atomics, read with relaxed loads on every schedule and every pick: a
/// reader that sees an old value for a moment acts as under the previous policy, which
/// is never wrong, only late, and every slot is woken after a change, so it looks
/// again. Slots cache what they use and compare `generation` before each pick.
pub(crate) struct Config {
    queueing: StdAtomicU64,
    classes: Box<[AtomicU8]>,
    /// Every slot runs both classes (the common case: any sleeper will do).
    uniform: StdAtomicBool,
    generation: StdAtomicUsize,
}

const WEIGHT_MASK: u64 = (1 << 31) - 1;

fn encode_queueing(q: Queueing) -> u64 {
    match q {
        Queueing::StreamFirst => 0,
        Queueing::Arrival => 1 << 62,
        Queueing::Weighted { stream, batch } => {
            let w = |x: u32| (x as u64).clamp(1, WEIGHT_MASK);
            (2 << 62) | (w(stream) << 31) | w(batch)
        }
    }
}

fn decode_queueing(v: u64) -> Queueing {
    match v >> 62 {
        0 => Queueing::StreamFirst,
        1 => Queueing::Arrival,
        _ => Queueing::Weighted {
            stream: ((v >> 31) & WEIGHT_MASK) as u32,
            batch: (v & WEIGHT_MASK) as u32,
        },
    }
}

fn encode_classes(c: SlotClasses) -> u8 {
    match c {
        SlotClasses::Both => 0,
        SlotClasses::StreamOnly => 1,
        SlotClasses::BatchOnly => 2,
    }
}

fn decode_classes(v: u8) -> SlotClasses {
    match v {
        0 => SlotClasses::Both,
        1 => SlotClasses::StreamOnly,
        _ => SlotClasses::BatchOnly,
    }
}

impl Config {
    /// What `policy` says for `slots` slots.
    pub(crate) fn of(policy: &dyn Policy, slots: usize) -> Config {
        let c = Config {
            queueing: StdAtomicU64::new(0),
            classes: (0..slots).map(|_| AtomicU8::new(0)).collect(),
            uniform: StdAtomicBool::new(true),
            generation: StdAtomicUsize::new(0),
        };
        c.load_from(policy);
        c
    }

    /// Reads `policy`'s queueing and slot classes again; slots see a new generation.
    pub(crate) fn load_from(&self, policy: &dyn Policy) {
        let n = self.classes.len();
        let mut uniform = true;
        for (i, c) in self.classes.iter().enumerate() {
            let classes = policy.slot_classes(i, n);
            uniform &= classes == SlotClasses::Both;
            c.store(encode_classes(classes), Relaxed);
        }
        self.uniform.store(uniform, Relaxed);
        self.queueing
            .store(encode_queueing(policy.queueing()), Relaxed);
        self.generation.fetch_add(1, Release);
    }

    #[inline]
    pub(crate) fn queueing(&self) -> Queueing {
        decode_queueing(self.queueing.load(Relaxed))
    }

    #[inline]
    pub(crate) fn classes(&self, slot: usize) -> SlotClasses {
        decode_classes(self.classes[slot].load(Relaxed))
    }

    #[inline]
    pub(crate) fn uniform(&self) -> bool {
        self.uniform.load(Relaxed)
    }

    #[inline]
    pub(crate) fn generation(&self) -> usize {
        self.generation.load(Acquire)
    }
}

/// Locks a std mutex, ignoring poisoning (as `sync::lock`).
fn std_lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Interns a policy name: names are few (one per policy type), and `Handle` lends
/// them out while the policy may be replaced.
fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(n);
    n
}

impl Shared {
    /// The policy now (a clone of the `Arc`: the call that follows holds no lock).
    #[inline]
    pub(crate) fn policy(&self) -> StdArc<dyn Policy> {
        std_lock(&self.policy).clone()
    }

    /// The policy's name (interned).
    pub(crate) fn policy_name(&self) -> &'static str {
        *std_lock(&self.policy_name)
    }

    /// The lock around the policy and its name, set up for `policy`.
    #[allow(clippy::type_complexity)]
    pub(crate) fn policy_cell(
        policy: StdArc<dyn Policy>,
    ) -> (StdMutex<StdArc<dyn Policy>>, StdMutex<&'static str>) {
        let name = intern(policy.name());
        (StdMutex::new(policy), StdMutex::new(name))
    }

    /// Installs `policy` in place of the current one. Tasks the old policy paused stay
    /// parked and are the new policy's to resume: every slot is woken to ask it (a
    /// slot asks its policy about its parked tasks whenever it has no Stream work),
    /// and its re-check hook runs once now.
    pub(crate) fn set_policy(&self, policy: StdArc<dyn Policy>) {
        let name = intern(policy.name());
        let old = {
            let mut p = std_lock(&self.policy);
            *std_lock(&self.policy_name) = name;
            self.config.load_from(&*policy);
            std::mem::replace(&mut *p, policy)
        };
        self.replacements.fetch_add(1, Relaxed);
        // Outside the lock: dropping a policy may take a while.
        drop(old);
        for slot in 0..self.slots.len() {
            self.wake_slot(slot);
        }
        self.notify_work(None, true);
        #[cfg(not(loom))]
        self.run_check();
    }

    /// The queue class a task of `class` goes to (`Arrival` puts all in one queue).
    #[inline]
    pub(crate) fn route(&self, class: Class) -> Class {
        match self.config.queueing() {
            Queueing::Arrival => Class::Batch,
            _ => class,
        }
    }

    /// Pushes a runnable task: on one of this runtime's slots to its LIFO slot (if
    /// `lifo`: a wake or spawn there, not a yield) or its local queue, else to the
    /// global injector. A Stream task in the global injector that finds more Stream
    /// tasks waiting than idle slots triggers the policy.
    pub(crate) fn schedule_task(&self, task: Notified, lifo: bool) {
        if self.shutdown.load(Acquire) {
            // Shutdown drops every future itself; this reference just goes away.
            drop(task);
            return;
        }
        let class = task.header().class;
        if class == Class::Stream {
            // For the stream latency histogram (the slot records it after the poll).
            task.header().ready_at.store(
                crate::clock::now_ns().max(1),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        let queue = self.route(class);
        let task = match context::push_local(self, queue, task, lifo && self.lifo) {
            // The slot runs it after the current poll: no other slot needs waking.
            Pushed::Lifo => return,
            Pushed::Queued { queue, stream } => {
                self.notify_work(Some(queue), stream);
                return;
            }
            Pushed::Elsewhere(task) => task,
        };
        self.inject[queue.index()].push(task);
        if self.shutdown.load(SeqCst) {
            // Raced with shutdown's drain: drain what we may have left behind.
            while let Some(t) = self.inject[queue.index()].pop() {
                drop(t);
            }
            return;
        }
        // Pairs with the slot's check before a Batch poll: either it sees this Stream
        // task, or this sees it busy and asks the policy to make room.
        if class == Class::Stream {
            let excess = self.stream_excess();
            if excess > 0 {
                self.preempt_for_stream(excess);
            }
        }
        self.notify_work(Some(queue), class == Class::Stream);
    }

    /// Wakes a sleeping slot that can take work of queue class `queue` (any work if
    /// `None`), unless a searching slot will find it (see `Idle::slot_to_notify` for
    /// `urgent`).
    #[inline]
    pub(crate) fn notify_work(&self, queue: Option<Class>, urgent: bool) {
        let slot = match queue {
            Some(q) if !self.config.uniform() => {
                let arrival = self.config.queueing() == Queueing::Arrival;
                let eligible = |s: usize| {
                    let classes = self.config.classes(s);
                    classes.runs(q)
                        || (q == Class::Batch && arrival && classes != SlotClasses::StreamOnly)
                };
                self.idle.slot_to_notify(Some(&eligible), urgent)
            }
            _ => self.idle.slot_to_notify(None, urgent),
        };
        if let Some(slot) = slot {
            self.slots[slot].parker.unpark();
        }
    }

    /// How many queued Stream tasks no free slot will take. A slot that may run Stream
    /// work is free unless it polls a task: it sleeps (a notify wakes one per task),
    /// searches, or is between two tasks, and takes Stream work first. Each task beyond
    /// those waits for a slot to finish what it runs unless the policy frees one now; a
    /// micro-batch of W tasks thus gets W slots, not one slot W times over.
    ///
    /// Counting a slot between tasks as free matters: pausing a Batch task for a Stream
    /// task another slot is about to take could strand the parked task (never stolen)
    /// behind Stream work on its own slot while the other slot idles.
    fn stream_excess(&self) -> usize {
        fence(SeqCst);
        // The queue first, then the slots: a slot marks itself busy before it takes a
        // task, so a length that misses a taken task comes with that slot seen busy.
        let queued = self.inject[Class::Stream.index()].len();
        let free = self
            .slots
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                self.config.classes(*i).runs(Class::Stream)
                    && s.current.load(Acquire) == 0
                    && !s.stream_busy.load(Acquire)
            })
            .count();
        queued.saturating_sub(free)
    }

    /// Asks the policy which running Batch tasks make room for `waiting` Stream tasks
    /// that no idle slot will take.
    fn preempt_for_stream(&self, waiting: usize) {
        if self.preempt(waiting) {
            // The policy named an instant that has passed already: once more, now (a
            // second such answer is dropped, so a policy cannot make this loop).
            let excess = self.stream_excess();
            if excess > 0 {
                self.preempt(excess);
            }
        }
    }

    /// Counts the Stream tasks that still find no free slot and asks the policy about
    /// them (the re-ask a policy requested with `Preempt::AskAgainAt`).
    #[cfg(not(loom))]
    pub(crate) fn ask_policy_again(&self) {
        if self.shutdown.load(Acquire) {
            return;
        }
        let excess = self.stream_excess();
        if excess > 0 {
            self.preempt_for_stream(excess);
        }
    }

    /// Calls the policy's re-check hook and acts on its answer (resumes, a new
    /// configuration, the next instant), then asks again about Stream work that still
    /// finds no free slot. Runs on the timer thread, and once when a policy starts.
    #[cfg(not(loom))]
    pub(crate) fn run_check(&self) {
        if self.shutdown.load(Acquire) {
            return;
        }
        let policy = self.policy();
        // A `next` that has passed already is served at once, a few times at most (a
        // policy cannot make this loop).
        for _ in 0..4 {
            let check = policy.on_check(&crate::policy::CheckView::live(
                std::time::Instant::now(),
                self,
            ));
            if check.reconfigure {
                // Under the lock: a policy replaced meanwhile keeps its own configuration.
                let current = std_lock(&self.policy);
                if StdArc::ptr_eq(&policy, &current) {
                    self.config.load_from(&*policy);
                }
                drop(current);
                for slot in 0..self.slots.len() {
                    self.wake_slot(slot);
                }
                self.notify_work(None, true);
            }
            for t in check.resume {
                t.policy_resume();
            }
            let again = match (check.next, self.io.get()) {
                (Some(at), Some(driver)) => self.recheck.at(driver, at),
                _ => false,
            };
            if !again {
                break;
            }
        }
        self.ask_policy_again();
    }

    /// One question to the policy, acted upon; true if it asked to be asked again at an
    /// instant that has passed.
    fn preempt(&self, waiting: usize) -> bool {
        let views: Vec<SlotView> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(i, _)| self.config.classes(*i).runs(Class::Stream))
            .filter_map(|(i, s)| {
                s.running_task().map(|running| SlotView {
                    slot: i,
                    running,
                    suspended: s.counters.suspended.load(Relaxed),
                })
            })
            .collect();
        if views.is_empty() {
            return false;
        }
        // Only set where timers exist (not in loom models, which run without a driver).
        #[cfg_attr(loom, allow(unused_mut))]
        let mut again = false;
        for p in self.policy().on_stream_waiting(waiting, &views) {
            match p {
                Preempt::Pause(t) => {
                    t.policy_pause();
                }
                Preempt::Cancel(t) => t.cancel(),
                #[cfg(not(loom))]
                Preempt::AskAgainAt(at) => {
                    if let Some(driver) = self.io.get() {
                        again |= self.recheck.at(driver, at);
                    }
                }
                // loom models run without a driver, hence without timers.
                #[cfg(loom)]
                Preempt::AskAgainAt(_) => {}
            }
        }
        again
    }

    fn update_parked_gauges(&self, slot: usize, parking: &Parking) {
        let s = &self.slots[slot];
        s.counters.suspended.store(parking.suspended.len(), Relaxed);
        let (mut suspended, mut resumed) = ([0usize; 2], [0usize; 2]);
        for t in parking.suspended_tasks() {
            suspended[t.header().class.index()] += 1;
        }
        for r in &parking.resumed {
            resumed[r.task.header().class.index()] += 1;
        }
        for (gauge, n) in s.counters.suspended_by_class.iter().zip(suspended) {
            gauge.store(n, Relaxed);
        }
        for (gauge, n) in s.counters.resumed_by_class.iter().zip(resumed) {
            gauge.store(n, Relaxed);
        }
        let bytes: usize = parking
            .suspended_tasks()
            .map(|t| t.header().alloc_size())
            .sum();
        s.counters.suspended_bytes.store(bytes, Relaxed);
        let by_policy = parking
            .suspended_tasks()
            .filter(|t| t.header().state.load().is_pause_by_policy())
            .count();
        s.policy_parked.store(by_policy, SeqCst);
        s.counters.policy_parked.store(by_policy, Relaxed);
    }

    /// Wakes slot `slot` if it sleeps (it has resumed or policy-parked tasks to see to).
    pub(crate) fn wake_slot(&self, slot: usize) {
        if self.idle.take_sleeper(slot) {
            self.slots[slot].parker.unpark();
        }
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified) {
        self.schedule_task(task, true);
    }

    fn yielded(&self, task: Notified) {
        // To the back of the queue: a yield lets the others run first.
        self.schedule_task(task, false);
    }

    fn parking(&self, slot: usize) -> &Mutex<Parking> {
        &self.slots[slot].parking
    }

    fn parked(&self, slot: usize, parking: &Parking) {
        self.update_parked_gauges(slot, parking);
        if !context::is_slot(self.id, slot) && self.slots[slot].policy_parked.load(SeqCst) > 0 {
            // Parked by a wake on another thread: let the slot decide about resuming.
            self.wake_slot(slot);
        }
    }

    fn unparked(&self, slot: usize, parking: &Parking) {
        self.update_parked_gauges(slot, parking);
        self.slots[slot].has_resumed.store(true, SeqCst);
        if !context::is_slot(self.id, slot) {
            self.wake_slot(slot);
        }
    }

    fn release(&self, task: &crate::task::Header) -> usize {
        self.registry.remove(task)
    }
}

#[cfg(not(loom))]
impl crate::policy::CheckSource for Shared {
    fn metrics(&self) -> crate::metrics::RuntimeMetrics {
        self.metrics()
    }

    fn parked(&self) -> Vec<(usize, Vec<TaskHandle>)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.policy_parked.load(Relaxed) > 0)
            .map(|(i, s)| {
                let parking = lock(&s.parking);
                let tasks = parking
                    .suspended_tasks()
                    .filter(|t| t.header().state.load().is_pause_by_policy())
                    .map(|t| TaskHandle::new(t.raw().add_ref()))
                    .collect();
                (i, tasks)
            })
            .filter(|(_, tasks): &(usize, Vec<TaskHandle>)| !tasks.is_empty())
            .collect()
    }
}

impl Shared {
    /// A snapshot of the runtime's metrics.
    pub(crate) fn metrics(&self) -> crate::metrics::RuntimeMetrics {
        let policy = self.policy();
        let status = policy.status();
        crate::metrics::RuntimeMetrics {
            slots: self
                .slots
                .iter()
                .enumerate()
                .map(|(i, s)| crate::metrics::SlotMetrics::read(i, &s.counters))
                .collect(),
            live_tasks: self.registry.len(),
            tasks: self.task_counts(),
            policy: crate::metrics::PolicyMetrics {
                name: policy.name().to_owned(),
                mode: status.mode,
                replacements: self.replacements.load(Relaxed),
                mode_switches: status.mode_switches,
            },
        }
    }
}

impl Shared {
    /// Live tasks by class and state, from gauges (see `TaskCounts`).
    fn task_counts(&self) -> crate::metrics::TaskCounts {
        let mut counts = crate::metrics::TaskCounts::default();
        let live = self.registry.len_per_class();
        for (i, c) in counts.classes.iter_mut().enumerate() {
            c.runnable = self.inject[i].len();
        }
        let (stream, batch) = (Class::Stream.index(), Class::Batch.index());
        for s in self.slots.iter() {
            // What a slot polls: a Batch task it publishes in `current` (or a
            // preemptor's LOCKED mark on it), a Stream task it flags `stream_busy`.
            if s.current.load(Relaxed) != 0 {
                counts.classes[batch].running += 1;
            }
            if s.stream_busy.load(Relaxed) {
                counts.classes[stream].running += 1;
            }
            for (i, c) in counts.classes.iter_mut().enumerate() {
                c.paused += s.counters.suspended_by_class[i].load(Relaxed);
                c.runnable += s.remote[i].len()
                    + s.counters.resumed_by_class[i].load(Relaxed)
                    + s.counters.held[i].load(Relaxed);
            }
        }
        for (c, live) in counts.classes.iter_mut().zip(live) {
            c.waiting = live.saturating_sub(c.running + c.runnable + c.paused);
        }
        counts
    }

    /// A snapshot of the timeline (empty if it is off).
    pub(crate) fn timeline(&self) -> crate::timeline::Timeline {
        match &self.timeline {
            Some(rec) => rec.snapshot(|i| lock(&self.slots[i].parking)),
            None => crate::timeline::Timeline {
                origin: self.origin,
                now: self.origin.elapsed(),
                slots: Vec::new(),
            },
        }
    }
}

/// Takes every task out of slot `slot`'s resumed queue; their parkings go to the
/// slot's timeline (under the parking lock: see `Recorder::snapshot`).
pub(crate) fn take_resumed(
    shared: &Shared,
    slot: usize,
    recorder: &mut crate::timeline::SlotRecorder,
) -> Vec<Notified> {
    let s = &shared.slots[slot];
    s.has_resumed.store(false, SeqCst);
    let mut parking = lock(&s.parking);
    if let Some(rec) = &shared.timeline {
        recorder.resumed(rec, slot, &parking);
    }
    let out: Vec<Notified> = parking.resumed.drain(..).map(|r| r.task).collect();
    for c in &s.counters.resumed_by_class {
        c.store(0, Relaxed);
    }
    drop(parking);
    out
}
