//! A slot: one worker thread and its queues.
//!
//! Pick order (with the default `StreamFirst` queueing): local Stream queue, global
//! Stream queue; then, with no Stream work, the resumed queue (after asking the policy
//! which of its parked tasks to resume), the local Batch queue, the global Batch queue;
//! then stealing from other slots, Stream first. Every 61st pick looks at the global
//! queues first so that local work cannot starve them.

use super::context::{self, Lifo, SlotLocal};
use super::queue::Local;
use super::shared::{take_resumed, Shared};
use crate::metrics::LocalCounters;
use crate::policy::{Queueing, SlotClasses};
use crate::sync::{lock, Arc, Ordering::*};
use crate::task::{Class, Notified, RunReport, TaskHandle};
use crate::timeline::SlotRecorder;
use std::collections::VecDeque;

/// How often a slot checks the global queues before its local ones.
const GLOBAL_QUEUE_INTERVAL: u32 = 61;

/// LIFO tasks a slot runs in a row before it looks at its queues again: a chain of
/// tasks that each wake the next must not starve the others.
const MAX_LIFO_STREAK: u32 = 3;

/// A busy slot polls the reactor after every this many task polls (and whenever it runs
/// out of work): often enough that a stream of short polls does not keep I/O waiting,
/// rarely enough that the system call (about half a microsecond) does not show.
const HARVEST_INTERVAL: u64 = 16;

pub(crate) struct Slot {
    shared: Arc<Shared>,
    local: Box<SlotLocal>,
    index: usize,
    /// The policy's configuration as this slot last read it (`Config`), and its
    /// generation.
    classes: SlotClasses,
    queueing: Queueing,
    generation: usize,
    /// Tasks taken from the resumed queue, run before new Batch work.
    resumed: VecDeque<Notified>,
    /// How long the slot spins before it blocks when it runs out of work.
    spin: std::time::Duration,
    /// Batch tasks put back because Stream work arrived just before their poll.
    deferred: VecDeque<Notified>,
    /// Whether a Batch poll must first check for Stream work (`StreamFirst` queueing
    /// on a slot that runs both classes).
    stream_check: bool,
    /// Whether queueing is weighted, so polls must be timed.
    weighted: bool,
    /// Whether Batch polls are timed: weighted queueing or the timeline needs it.
    time_batch: bool,
    /// This slot's side of the timeline (used only if `Shared::timeline` is on).
    recorder: SlotRecorder,
    /// When the slot started (ns), for `batch_busy`.
    start_ns: u64,
    /// When the slot's last timed poll ended, or it last woke (ns): with the timeline
    /// on, where a Batch poll's span starts (see `run_task`).
    mark_ns: u64,
    /// `batch_busy` as last published (ns).
    batch_busy_ns: u64,
    /// Runnable tasks in `resumed` and `deferred`, per class (for the task counts).
    held: [usize; 2],
    counters: LocalCounters,
    searching: bool,
    /// LIFO tasks run in a row (see `MAX_LIFO_STREAK`).
    lifo_streak: u32,
    /// The last pick came from the LIFO slot.
    from_lifo: bool,
    tick: u32,
    rng: u32,
    /// CPU time (ns) spent polling each class, for weighted queueing.
    ran: [u64; 2],
}

impl Slot {
    pub(crate) fn new(shared: Arc<Shared>, index: usize, local: [Local; 2]) -> Slot {
        let generation = shared.config.generation();
        let classes = shared.config.classes(index);
        let queueing = shared.config.queueing();
        let stream_check = queueing == Queueing::StreamFirst && classes == SlotClasses::Both;
        Slot {
            local: Box::new(SlotLocal {
                index,
                local,
                shared: shared.clone(),
                lifo: Lifo::new(),
            }),
            deferred: VecDeque::new(),
            spin: super::idle::SPIN,
            stream_check,
            weighted: matches!(queueing, Queueing::Weighted { .. }),
            time_batch: matches!(queueing, Queueing::Weighted { .. }) || shared.timeline.is_some(),
            recorder: SlotRecorder::new(),
            start_ns: 0,
            mark_ns: 0,
            batch_busy_ns: 0,
            held: [0; 2],
            shared,
            index,
            classes,
            queueing,
            generation,
            resumed: VecDeque::new(),
            counters: LocalCounters::default(),
            searching: false,
            lifo_streak: 0,
            from_lifo: false,
            tick: 0,
            rng: (0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B)) | 1,
            ran: [0; 2],
        }
    }

    /// Sets how long the slot spins before it blocks when it runs out of work.
    pub(crate) fn set_spin(&mut self, spin: std::time::Duration) {
        self.spin = spin;
    }

    /// The slot's main loop; returns at shutdown.
    pub(crate) fn run(mut self) {
        let _slot = context::enter_slot(&self.local);
        self.start_ns = crate::clock::now_ns();
        self.mark_ns = self.start_ns;
        self.io_watch(true);
        while !self.shared.shutdown.load(Acquire) {
            if let Some(task) = self.next_task() {
                self.found_work();
                self.run_task(task);
                if self.counters.polls.is_multiple_of(HARVEST_INTERVAL) {
                    self.harvest();
                    self.account(crate::clock::now_ns());
                }
                continue;
            }
            if self.harvest() {
                continue;
            }
            if !self.searching {
                self.searching = self.shared.idle.start_searching();
            }
            if self.searching {
                if let Some(task) = self.steal() {
                    self.found_work();
                    self.run_task(task);
                    continue;
                }
                self.searching = false;
                self.shared.idle.stop_searching();
            }
            self.sleep();
        }
        self.io_watch(false);
        self.counters
            .publish(&self.shared.slots[self.index].counters);
        // Tasks still queued locally are dropped with the queues; shutdown drops their
        // futures through the registry.
        drop(self.local.lifo.take());
        self.resumed.clear();
        self.deferred.clear();
    }

    /// Polls the reactor without blocking (see `driver`'s docs on who waits for I/O);
    /// true if tasks were woken.
    fn harvest(&self) -> bool {
        #[cfg(not(loom))]
        if let Some(io) = self.shared.io.get() {
            return io.harvest();
        }
        false
    }

    /// This slot wakes (`true`) or parks: the driver counts the slots that will look
    /// at I/O between their tasks.
    fn io_watch(&self, awake: bool) {
        #[cfg(not(loom))]
        if let Some(io) = self.shared.io.get() {
            if awake {
                io.slot_wakes();
            } else {
                io.slot_parks();
            }
        }
        #[cfg(loom)]
        let _ = awake;
    }

    fn found_work(&mut self) {
        if self.searching {
            self.searching = false;
            if self.shared.idle.stop_searching() {
                self.shared.notify_work(None, false);
            }
        }
    }

    fn next_u32(&mut self) -> u32 {
        // xorshift32: victim order only needs to differ between slots and picks.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }

    /// The classes to look at, in order, for this pick.
    fn class_order(&self) -> [Option<Class>; 2] {
        let (s, b) = (
            self.classes.runs(Class::Stream),
            self.classes.runs(Class::Batch),
        );
        let stream_first = match self.queueing {
            Queueing::StreamFirst => true,
            // Every task goes to the Batch queue; Stream tasks queued before the policy
            // changed to arrival order are still taken, after it.
            Queueing::Arrival => return [b.then_some(Class::Batch), s.then_some(Class::Stream)],
            Queueing::Weighted { stream, batch } => {
                // Run the class that is furthest below its share.
                self.ran[0] * batch.max(1) as u64 <= self.ran[1] * stream.max(1) as u64
            }
        };
        let order = if stream_first {
            [Class::Stream, Class::Batch]
        } else {
            [Class::Batch, Class::Stream]
        };
        order.map(|c| match c {
            Class::Stream => s.then_some(c),
            Class::Batch => b.then_some(c),
        })
    }

    /// The next task to run. A task picked ahead of the one in the LIFO slot (Stream
    /// work first, a resumed task, the periodic global turn) sends that one to the
    /// local queue, where other slots can steal it while this one is busy.
    fn next_task(&mut self) -> Option<Notified> {
        let generation = self.shared.config.generation();
        if generation != self.generation {
            self.reconfigure(generation);
        } else if !self.classes.runs(Class::Batch) {
            self.hand_off_late_arrivals();
        }
        self.from_lifo = false;
        let t = self.pick();
        if t.is_some() && !self.from_lifo {
            self.lifo_streak = 0;
            self.local.release_lifo();
        }
        t
    }

    /// The policy changed its queueing or slot classes: read them again. Tasks this
    /// slot holds that it may no longer run go where others can take them: the LIFO
    /// task to the local queue (stealable), deferred Batch tasks to the global queue.
    /// A slot that no longer runs Batch work also lets go of the Batch tasks a policy
    /// parked on it: they are resumed and go to the global queue, for a slot that runs
    /// Batch work (parked tasks otherwise never migrate, but here staying would strand
    /// them behind Stream work for as long as the policy keeps the slot to Stream).
    #[cold]
    fn reconfigure(&mut self, generation: usize) {
        self.generation = generation;
        self.classes = self.shared.config.classes(self.index);
        self.queueing = self.shared.config.queueing();
        self.stream_check =
            self.queueing == Queueing::StreamFirst && self.classes == SlotClasses::Both;
        self.weighted = matches!(self.queueing, Queueing::Weighted { .. });
        self.time_batch = self.weighted || self.shared.timeline.is_some();
        self.ran = [0; 2];
        self.lifo_streak = 0;
        self.local.release_lifo();
        if !self.classes.runs(Class::Batch) {
            self.hand_off();
        }
    }

    /// On a slot that runs no Batch work: tasks that reached it after it stopped (a
    /// task paused while idle parks on the slot it last ran on when it is woken, and is
    /// resumed into that slot's queue) go where other slots take them, as at the change
    /// itself, rather than wait until this slot runs out of Stream work.
    #[inline]
    fn hand_off_late_arrivals(&mut self) {
        let me = &self.shared.slots[self.index];
        if me.policy_parked.load(Relaxed) > 0 || me.has_resumed.load(Relaxed) {
            self.hand_off();
        }
    }

    /// Resumes the tasks a policy parked here and moves every task held here (deferred
    /// and resumed) to the global queue of its class, for the slots that run it.
    #[cold]
    fn hand_off(&mut self) {
        for t in self.parked_by_policy() {
            t.policy_resume();
        }
        let resumed = take_resumed(&self.shared, self.index, &mut self.recorder);
        let mut moved = [false; 2];
        for t in self
            .deferred
            .drain(..)
            .chain(self.resumed.drain(..))
            .chain(resumed)
        {
            // A resumed task may be a Stream task (paused and resumed by its owner).
            let queue = self.shared.route(t.header().class);
            moved[queue.index()] = true;
            self.shared.inject[queue.index()].push(t);
        }
        self.held = [0; 2];
        self.publish_held();
        for class in Class::ALL {
            if moved[class.index()] {
                self.shared.notify_work(Some(class), class == Class::Stream);
            }
        }
    }

    fn pick(&mut self) -> Option<Notified> {
        self.tick = self.tick.wrapping_add(1);
        let global_first = self.tick.is_multiple_of(GLOBAL_QUEUE_INTERVAL);
        for class in self.class_order().into_iter().flatten() {
            if class == Class::Batch {
                if let Some(t) = self.next_resumed() {
                    return Some(t);
                }
                if let Some(t) = self.deferred.pop_front() {
                    self.release_held(&t);
                    return Some(t);
                }
            }
            // The periodic turn puts the global queue first and leaves the rest of the
            // order as it is: a task in the LIFO slot passed over here for a Batch task
            // that yields only when paused would wait behind it, unseen by the policy.
            let global = if global_first {
                self.take_global(class, false)
            } else {
                None
            };
            let t = global
                .or_else(|| self.take_lifo(class))
                .or_else(|| self.local.local[class.index()].pop())
                .or_else(|| {
                    if global_first {
                        None
                    } else {
                        self.take_global(class, true)
                    }
                });
            if t.is_some() {
                return t;
            }
        }
        None
    }

    /// The task in the LIFO slot if it is of queue class `class`, unless the slot ran
    /// `MAX_LIFO_STREAK` of them in a row: then it goes to the back of the local queue
    /// (where other slots can steal it too).
    #[inline]
    fn take_lifo(&mut self, class: Class) -> Option<Notified> {
        if self.local.lifo.class(&self.shared) != Some(class) {
            return None;
        }
        if self.lifo_streak >= MAX_LIFO_STREAK {
            self.local.release_lifo();
            return None;
        }
        let t = self.local.lifo.take()?;
        crate::yield_point::lifo_filled(false);
        self.lifo_streak += 1;
        self.from_lifo = true;
        Some(t)
    }

    /// A task from the resumed queue; first asks the policy about its parked tasks when
    /// the slot has no Stream work.
    #[inline]
    fn next_resumed(&mut self) -> Option<Notified> {
        let me = &self.shared.slots[self.index];
        if me.policy_parked.load(Relaxed) > 0 && self.no_stream_work() {
            self.resume_by_policy();
        }
        if self.resumed.is_empty() && me.has_resumed.load(Acquire) {
            self.take_back();
        }
        let t = self.resumed.pop_front()?;
        self.release_held(&t);
        Some(t)
    }

    /// Takes the tasks of the resumed queue into `resumed`.
    #[cold]
    fn take_back(&mut self) {
        let taken = take_resumed(&self.shared, self.index, &mut self.recorder);
        for t in &taken {
            self.held[t.header().class.index()] += 1;
        }
        self.resumed.extend(taken);
        self.publish_held();
    }

    /// A task left `resumed` or `deferred` to run.
    #[cold]
    fn release_held(&mut self, t: &Notified) {
        self.held[t.header().class.index()] -= 1;
        self.publish_held();
    }

    /// Publishes `held` (only when it changes, which is off the common path).
    fn publish_held(&self) {
        let c = &self.shared.slots[self.index].counters;
        for (a, n) in c.held.iter().zip(self.held) {
            a.store(n, Relaxed);
        }
    }

    /// `account` at `ended` (ns), or now if that is 0 (the poll was not timed).
    fn account_at(&mut self, ended: u64) {
        let now = if ended != 0 {
            ended
        } else {
            crate::clock::now_ns()
        };
        self.account(now);
    }

    /// Publishes `batch_busy` as of `now` (ns): the slot's time since it started, minus
    /// its Stream polls and its sleeps. Each of those that is counted lies between the
    /// start and `now`, so the figure cannot go down; `max` guards it all the same.
    fn account(&mut self, now: u64) {
        let busy = now
            .saturating_sub(self.start_ns)
            .saturating_sub(self.counters.stream_busy_ns)
            .saturating_sub(self.counters.idle_ns)
            .max(self.batch_busy_ns);
        self.batch_busy_ns = busy;
        self.shared.slots[self.index]
            .counters
            .batch_busy_ns
            .store(busy, Relaxed);
    }

    /// No Stream work this slot would run (a slot that runs no Stream work has none).
    fn no_stream_work(&self) -> bool {
        let i = Class::Stream.index();
        !self.classes.runs(Class::Stream)
            || (self.local.local[i].is_empty() && self.shared.inject[i].is_empty())
    }

    /// The tasks a policy parked on this slot (taken under the parking lock, which is
    /// not held while they are resumed).
    fn parked_by_policy(&self) -> Vec<TaskHandle> {
        let parking = lock(&self.shared.slots[self.index].parking);
        parking
            .suspended_tasks()
            .filter(|t| t.header().state.load().is_pause_by_policy())
            .map(|t| TaskHandle::new(t.raw().add_ref()))
            .collect()
    }

    fn resume_by_policy(&self) {
        let parked = self.parked_by_policy();
        if parked.is_empty() {
            return;
        }
        for t in self.shared.policy().on_stream_drained(self.index, &parked) {
            t.policy_resume();
        }
    }

    fn steal(&mut self) -> Option<Notified> {
        let n = self.shared.slots.len();
        if n <= 1 {
            return None;
        }
        let start = self.next_u32() as usize % n;
        for class in self.class_order().into_iter().flatten() {
            let i = class.index();
            for k in 0..n {
                let victim = (start + k) % n;
                if victim == self.index {
                    continue;
                }
                if let Some(t) =
                    self.shared.slots[victim].remote[i].steal_into(&self.local.local[i])
                {
                    self.counters.steals += 1;
                    return Some(t);
                }
            }
            if let Some(t) = self.take_global(class, true) {
                return Some(t);
            }
        }
        None
    }

    /// A task from the global queue of `class`. Batch tasks come with a batch of others
    /// moved to the slot's local queue when `batch` (fewer trips to the shared queue);
    /// Stream tasks come one at a time, because the runtime paused one Batch task per
    /// queued Stream task: each freed slot must find its own, not a slot already busy
    /// with the others.
    fn take_global(&self, class: Class, batch: bool) -> Option<Notified> {
        let inject = &self.shared.inject[class.index()];
        match class {
            Class::Batch if batch => inject.pop_into(&self.local.local[class.index()]),
            Class::Batch => inject.pop(),
            Class::Stream => {
                if inject.is_empty() {
                    return None;
                }
                // Busy *before* the take: a scheduler that reads the queue without the
                // task taken here then also sees this slot busy (`stream_excess`), and
                // does not count on it for the tasks still queued.
                let me = &self.shared.slots[self.index];
                me.stream_busy.store(true, SeqCst);
                let t = inject.pop();
                if t.is_none() {
                    me.stream_busy.store(false, Release);
                }
                t
            }
        }
    }

    fn run_task(&mut self, task: Notified) {
        let h = task.header();
        let class = h.class;
        let resume_at = h.resume_at.load(Relaxed);
        if resume_at != 0 {
            h.resume_at.store(0, Relaxed);
            let now = crate::clock::now_ns();
            self.shared.slots[self.index]
                .counters
                .resume_to_poll
                .record(now.saturating_sub(resume_at));
            self.counters.resumes += 1;
        }
        let publish = (class == Class::Batch).then_some(&self.shared.slots[self.index].current);
        if let Some(current) = publish {
            // Publish the Batch task, then look for Stream work that arrived meanwhile.
            // Pairs with `Shared::schedule_task`: either the scheduler of a Stream task
            // sees this slot busy (and asks the policy to make room), or this slot sees
            // the Stream task here and runs it first.
            current.swap(task.header_ptr() as usize, SeqCst);
            if self.stream_check && !self.shared.inject[Class::Stream.index()].is_empty() {
                while current
                    .compare_exchange(task.header_ptr() as usize, 0, AcqRel, Relaxed)
                    .is_err()
                {
                    crate::sync::spin_hint();
                }
                self.deferred.push_back(task);
                self.held[class.index()] += 1;
                self.publish_held();
                return;
            }
        }
        // Stream polls are timed for the metrics (stream CPU time, stream latency);
        // Batch polls only under weighted queueing or with the timeline, which need it.
        // For the timeline alone a Batch poll starts where the slot's last timed poll
        // ended (or where it woke): every poll is timed then, so that is the same
        // instant but for the pick in between, and it saves a clock read per poll.
        let started = if self.time_batch || class == Class::Stream {
            if self.weighted || class == Class::Stream {
                crate::clock::now_ns()
            } else {
                self.mark_ns
            }
        } else {
            0
        };
        let me = &self.shared.slots[self.index];
        if class == Class::Stream {
            // Busy for `Shared::stream_excess`: the next Stream task needs another slot.
            me.stream_busy.store(true, SeqCst);
        }
        // A Batch poll may last long: the reactor must not wait for this slot meanwhile.
        // The driver counts it busy from `current`, published above.
        #[cfg(not(loom))]
        if publish.is_some() {
            if let Some(io) = self.shared.io.get() {
                io.batch_poll_starts();
            }
        }
        let ready_at = if class == Class::Stream {
            h.ready_at.swap(0, std::sync::atomic::Ordering::Relaxed)
        } else {
            0
        };
        let id = h.id;
        let report = task.run(self.index, publish);
        if class == Class::Stream {
            me.stream_busy.store(false, Release);
        }
        self.counters.polls += 1;
        let mut ended = 0;
        if started != 0 {
            ended = crate::clock::now_ns();
            self.mark_ns = ended;
            let took = ended.saturating_sub(started);
            // Shares are of CPU time: one long Batch poll weighs as much as many short
            // Stream polls of the same total length.
            self.ran[class.index()] += took;
            if class == Class::Stream {
                self.counters.stream_busy_ns += took;
                if ready_at != 0 {
                    me.counters
                        .stream_latency
                        .record(ended.saturating_sub(ready_at));
                }
            }
            // Inside the timed branch: with the timeline off, Batch polls never get
            // here, and Stream polls pay one branch.
            if let Some(rec) = &self.shared.timeline {
                if report != RunReport::ParkedUnpolled {
                    self.recorder
                        .poll(rec, self.index, id, class, started, ended);
                }
            }
        }
        match report {
            RunReport::Completed | RunReport::Cancelled => {
                self.counters.tasks[class.index()] += 1;
                // A task's end is a cold enough point to read the clock: a long
                // Batch poll shows in `batch_busy` once it is over.
                self.account_at(ended);
            }
            RunReport::ParkedUnpolled => self.counters.parks += 1,
            RunReport::Parked { pause_to_park_ns } => {
                self.counters.parks += 1;
                if let Some(ns) = pause_to_park_ns {
                    self.shared.slots[self.index]
                        .counters
                        .pause_to_park
                        .record(ns);
                }
                self.account_at(ended);
            }
            RunReport::Idle | RunReport::Rescheduled => {}
        }
        self.counters
            .publish(&self.shared.slots[self.index].counters);
    }

    /// Goes to sleep until woken, unless the last check finds work.
    fn sleep(&mut self) {
        self.shared.idle.register_sleeper(self.index);
        if self.has_work() {
            if !self.shared.idle.cancel_sleep(self.index) {
                // A notifier took us off the list meanwhile and counts us as searching.
                self.searching = true;
            }
            return;
        }
        self.counters
            .publish(&self.shared.slots[self.index].counters);
        self.io_watch(false);
        let slept = crate::clock::now_ns();
        self.account(slept);
        self.recorder.gap();
        self.shared.slots[self.index].parker.park(self.spin);
        let woke = crate::clock::now_ns();
        self.mark_ns = woke;
        self.counters.idle_ns += woke.saturating_sub(slept);
        self.account(woke);
        self.io_watch(true);
        // Still registered means a stale unpark token woke us; otherwise the waker made
        // us a searcher.
        self.searching = !self.shared.idle.cancel_sleep(self.index);
    }

    /// The final check before parking: any queue this slot could take work from.
    fn has_work(&self) -> bool {
        let me = &self.shared.slots[self.index];
        if self.shared.shutdown.load(SeqCst) || me.has_resumed.load(SeqCst) {
            return true;
        }
        if !self.resumed.is_empty() || !self.deferred.is_empty() {
            return true;
        }
        if self.local.lifo.class(&self.shared).is_some() {
            return true;
        }
        for class in Class::ALL {
            if !self.classes.runs(class) {
                continue;
            }
            let i = self.shared.route(class).index();
            if !self.shared.inject[i].is_empty() || !self.local.local[i].is_empty() {
                return true;
            }
            if self.shared.slots.iter().any(|s| !s.remote[i].is_empty()) {
                return true;
            }
        }
        if me.policy_parked.load(SeqCst) > 0 {
            // Parked by the policy: ask it (once) before sleeping.
            self.resume_by_policy();
            return me.has_resumed.load(SeqCst);
        }
        false
    }
}
