//! The task state word: one `AtomicUsize` holding flags and a reference count.
//!
//! Every change of state is one method named for what it does; each returns an outcome
//! that the caller must act on (`#[must_use]`), so the protocol reads like a table. The
//! rule a transition relies on is written next to it.
//!
//! The bits are private to this module: the rest of the runtime reads a [`Snapshot`]
//! through named predicates (`is_parked`, `is_pause_by_policy`, `task_state`, ...) and
//! changes the word only through the transitions below, so no caller can set a
//! combination the protocol does not allow, nor forget a reference that goes with it.
//!
//! Ownership rules the bits encode:
//! - `RUNNING`: exactly one thread owns the future (polls it, or drops it when cancelling).
//! - `NOTIFIED`: one `Notified` reference exists for the task (in a run queue, in a slot's
//!   suspended queue, or in the hands of a thread about to push it). Set while `RUNNING`
//!   it carries no reference: the running slot turns it into one after the poll.
//! - `PARKED`: the task's `Notified` sits in the suspended queue of slot `Header::slot`.
//!   `PARKED` is only set or cleared while that slot's parking lock is held, so the queue
//!   and the bit always agree.
//! - `PAUSE_USER` / `PAUSE_POLICY`: a pause was requested (by a `TaskHandle`, or by the
//!   runtime's policy). The task is not polled while either is set.
//!
//! Breaches of the rules that would corrupt memory (two owners of the future, a second
//! completion, a reference count going below zero, two writers of the join waker) are
//! checked with `assert!` even in release builds: each check is a test of bits the
//! transition has loaded anyway, and a panic beats a use-after-free.

use super::TaskState;
use crate::sync::{AtomicUsize, Ordering::*};

/// A slot is polling the future (or dropping it).
const RUNNING: usize = 1 << 0;
/// The task is runnable: one `Notified` reference exists.
const NOTIFIED: usize = 1 << 1;
/// The future has finished; its output is stored or already taken.
const COMPLETE: usize = 1 << 2;
/// Cancellation was requested (or the task ended by cancellation, with `COMPLETE`).
const CANCELLED: usize = 1 << 3;
/// `TaskHandle::pause` asked the task to pause.
const PAUSE_USER: usize = 1 << 4;
/// The runtime's policy asked the task to pause.
const PAUSE_POLICY: usize = 1 << 5;
/// Both pause bits.
const PAUSE_MASK: usize = PAUSE_USER | PAUSE_POLICY;
/// The task's `Notified` is held by a slot's suspended queue.
const PARKED: usize = 1 << 6;
/// A `JoinHandle` exists and wants the output.
const JOIN_INTEREST: usize = 1 << 7;
/// The join waker slot holds a waker the runtime may use (JoinHandle keeps off it).
const JOIN_WAKER: usize = 1 << 8;
/// Bits below this hold flags; the reference count sits above.
const REF_SHIFT: usize = 9;
/// One reference.
const REF_ONE: usize = 1 << REF_SHIFT;

/// Initial state: queued once (`NOTIFIED`), a `JoinHandle`, and three references: the
/// `Notified`, the `JoinHandle` and the runtime's registry of live tasks.
const INITIAL: usize = NOTIFIED | JOIN_INTEREST | (3 * REF_ONE);

/// Who asked a task to pause. Each has its own bit, so that a policy never resumes a
/// task a user paused (and the other way round).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PauseBy {
    /// `TaskHandle::pause`.
    User,
    /// The runtime's scheduling policy.
    Policy,
}

impl PauseBy {
    #[inline]
    const fn bit(self) -> usize {
        match self {
            PauseBy::User => PAUSE_USER,
            PauseBy::Policy => PAUSE_POLICY,
        }
    }
}

/// A copy of the state word, read through predicates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    #[inline]
    fn has(self, bits: usize) -> bool {
        self.0 & bits == bits
    }
    #[inline]
    fn any(self, bits: usize) -> bool {
        self.0 & bits != 0
    }
    /// A slot polls the future (or drops it): it owns the future.
    #[inline]
    pub(crate) fn is_running(self) -> bool {
        self.has(RUNNING)
    }
    /// A `Notified` reference exists (or, while running, a wake came in).
    #[inline]
    pub(crate) fn is_notified(self) -> bool {
        self.has(NOTIFIED)
    }
    /// The future finished; its output is stored or already taken.
    #[inline]
    pub(crate) fn is_complete(self) -> bool {
        self.has(COMPLETE)
    }
    /// Cancellation was requested (or, with `is_complete`, the task ended by it).
    #[inline]
    pub(crate) fn is_cancelled(self) -> bool {
        self.has(CANCELLED)
    }
    /// The task's `Notified` sits in a slot's suspended queue.
    #[inline]
    pub(crate) fn is_parked(self) -> bool {
        self.has(PARKED)
    }
    /// A pause was requested, by anyone.
    #[inline]
    pub(crate) fn is_pause_requested(self) -> bool {
        self.any(PAUSE_MASK)
    }
    /// A pause was requested by the runtime's policy (maybe by a user too).
    #[inline]
    pub(crate) fn is_pause_by_policy(self) -> bool {
        self.has(PAUSE_POLICY)
    }
    /// A `JoinHandle` exists and wants the output.
    #[inline]
    pub(crate) fn has_join_interest(self) -> bool {
        self.has(JOIN_INTEREST)
    }
    /// The runtime may use the join waker (the `JoinHandle` keeps off it).
    #[inline]
    pub(crate) fn has_join_waker(self) -> bool {
        self.has(JOIN_WAKER)
    }
    /// Counted references.
    #[inline]
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }

    /// Where the task stands, as `TaskHandle::state` reports it.
    pub(crate) fn task_state(self) -> TaskState {
        if self.is_complete() {
            if self.is_cancelled() {
                TaskState::Cancelled
            } else {
                TaskState::Completed
            }
        } else if self.is_parked() {
            TaskState::Paused
        } else if self.is_running() {
            if self.is_pause_requested() {
                TaskState::Pausing
            } else {
                TaskState::Running
            }
        } else if self.is_pause_requested() && !self.is_cancelled() {
            TaskState::Paused
        } else if self.is_notified() {
            TaskState::Runnable
        } else {
            TaskState::Idle
        }
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (RUNNING, "RUNNING"),
            (NOTIFIED, "NOTIFIED"),
            (COMPLETE, "COMPLETE"),
            (CANCELLED, "CANCELLED"),
            (PAUSE_USER, "PAUSE_USER"),
            (PAUSE_POLICY, "PAUSE_POLICY"),
            (PARKED, "PARKED"),
            (JOIN_INTEREST, "JOIN_INTEREST"),
            (JOIN_WAKER, "JOIN_WAKER"),
        ];
        let mut l = f.debug_list();
        for (bit, name) in names {
            if self.any(bit) {
                l.entry(&name);
            }
        }
        l.entry(&format_args!("refs={}", self.ref_count()));
        l.finish()
    }
}

/// What a slot does with a task it popped from a run queue.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll it: the slot now owns the future.
    Run,
    /// Drop the future and complete the task as cancelled: the slot owns the future.
    Cancel,
    /// A pause is requested: take the parking lock and call `transition_to_parked`.
    PauseRequested,
}

/// Outcome of `transition_to_parked` (parking lock held).
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToParked {
    /// `PARKED` is set: push the `Notified` into the suspended queue.
    Parked,
    /// The pause was withdrawn meanwhile: poll (from queue) or reschedule (after a poll).
    Run,
    /// Cancelled meanwhile: the slot owns the future; cancel it.
    Cancel,
}

/// What a slot does after a poll returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Nobody woke it: drop the slot's reference; a later wake submits it again.
    Idle,
    /// Woken during the poll: push the slot's `Notified` back to a run queue.
    Reschedule,
    /// Woken during the poll with a pause requested: take the parking lock and call
    /// `transition_to_parked`.
    PauseRequested,
    /// Cancelled during the poll: drop the future (the slot still owns it).
    Cancel,
}

/// What a waker does.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToNotified {
    /// Already queued, running, or complete: nothing to do.
    DoNothing,
    /// A reference was added for a new `Notified`: submit it to a run queue.
    Submit,
    /// The task is paused: take the parking lock of its slot and call
    /// `transition_to_notified_parked`.
    PauseRequested,
}

/// Outcome of a wake with the parking lock held.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToNotifiedParked {
    /// Already queued, running, or complete: nothing to do.
    DoNothing,
    /// Not paused any more: a reference was added, submit the `Notified`.
    Submit,
    /// `NOTIFIED | PARKED` set and a reference added: push the `Notified` into the
    /// suspended queue (the wake is remembered there until resume).
    Parked,
}

/// Outcome of clearing a pause bit.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unpause {
    /// The bit was not set.
    NotPaused,
    /// Cleared; the task was not parked (or another pause bit keeps it paused).
    Cleared,
    /// The task is parked and this clear would leave it unpaused: take the parking lock
    /// and call `transition_to_unparked`.
    ParkedNeedsLock,
}

/// Outcome of `cancel`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToCancelled {
    /// Complete or already cancelled, or queued/running: the holder of the future sees
    /// `CANCELLED` at its next step.
    DoNothing,
    /// Idle: a reference was added; submit the `Notified` so a slot drops the future.
    Submit,
    /// Parked: take the parking lock and call `transition_to_unparked`.
    ParkedNeedsLock,
}

/// The task's state word.
pub(crate) struct State {
    val: AtomicUsize,
}

impl State {
    /// The state of a task just allocated: see `INITIAL`.
    pub(crate) fn new() -> State {
        State {
            val: AtomicUsize::new(INITIAL),
        }
    }

    /// A copy of the word (Acquire: what the writer of a bit published before setting
    /// it is visible to whoever sees the bit).
    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Acquire))
    }

    /// The pause check: one relaxed load. Relaxed is enough because the flag only asks
    /// the task to stop soon; the parking itself synchronises through CAS.
    #[inline(always)]
    pub(crate) fn pause_requested_relaxed(&self) -> bool {
        self.val.load(Relaxed) & PAUSE_MASK != 0
    }

    /// The yield point's check: a pause or a cancellation is pending (one relaxed load).
    #[inline(always)]
    pub(crate) fn should_yield_relaxed(&self) -> bool {
        self.val.load(Relaxed) & (PAUSE_MASK | CANCELLED) != 0
    }

    /// Runs `f` on the current value until the CAS succeeds or `f` declines (`None`).
    /// Returns the value it was applied to.
    #[inline]
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> (R, Option<usize>)) -> (R, Snapshot) {
        let mut cur = self.val.load(Acquire);
        loop {
            let (r, next) = f(Snapshot(cur));
            let Some(next) = next else {
                return (r, Snapshot(cur));
            };
            match self.val.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return (r, Snapshot(cur)),
                Err(actual) => cur = actual,
            }
        }
    }

    /// A slot popped the task's `Notified`. Rule: `NOTIFIED` is set and nobody else runs
    /// it, so on `Run`/`Cancel` the slot owns the future.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.update(|s| {
            // Guard: a second owner of the future would poll it concurrently.
            assert!(
                s.has(NOTIFIED) && !s.any(RUNNING | PARKED),
                "task run without its Notified reference: {s:?}"
            );
            if s.has(CANCELLED) {
                (ToRunning::Cancel, Some((s.0 | RUNNING) & !NOTIFIED))
            } else if s.is_pause_requested() {
                (ToRunning::PauseRequested, None)
            } else {
                (ToRunning::Run, Some((s.0 | RUNNING) & !NOTIFIED))
            }
        })
        .0
    }

    /// Parks a task whose `Notified` the slot holds: either just popped (`running` false)
    /// or woken during a poll that returned `Pending` (`running` true). The caller holds
    /// the parking lock of the slot it is recorded on.
    pub(crate) fn transition_to_parked(&self, running: bool) -> ToParked {
        self.update(|s| {
            // Guard: parking without the Notified, or twice, would put two references
            // to one task in the suspended queues.
            assert!(
                s.has(NOTIFIED) && s.has(RUNNING) == running && !s.has(PARKED),
                "task parked without its Notified reference: {s:?}"
            );
            if s.has(CANCELLED) {
                (ToParked::Cancel, Some((s.0 | RUNNING) & !NOTIFIED))
            } else if s.is_pause_requested() {
                (ToParked::Parked, Some((s.0 | PARKED) & !RUNNING))
            } else if running {
                // Reschedule: the slot's reference becomes the queued one.
                (ToParked::Run, Some(s.0 & !RUNNING))
            } else {
                (ToParked::Run, Some((s.0 | RUNNING) & !NOTIFIED))
            }
        })
        .0
    }

    /// The slot's poll returned `Pending`. Rule: only the running slot clears `RUNNING`.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|s| {
            // Guard: a thread that does not own the future would give up a reference it
            // does not hold.
            assert!(
                s.has(RUNNING),
                "idle transition of a task not running: {s:?}"
            );
            if s.has(CANCELLED) {
                (ToIdle::Cancel, None)
            } else if s.has(NOTIFIED) {
                if s.is_pause_requested() {
                    (ToIdle::PauseRequested, None)
                } else {
                    (ToIdle::Reschedule, Some(s.0 & !RUNNING))
                }
            } else {
                (ToIdle::Idle, Some(s.0 & !RUNNING))
            }
        })
        .0
    }

    /// The future finished (or was dropped by cancellation) and its result is stored.
    /// Clears `RUNNING` and any reference-less `NOTIFIED`, sets `COMPLETE`; `CANCELLED`
    /// is kept only when the task really ended by cancellation. Returns the new value.
    #[must_use]
    pub(crate) fn transition_to_complete(&self, cancelled: bool) -> Snapshot {
        let mut next = 0;
        self.update(|s| {
            // Guard: a second completion would hand the output (and the registry's
            // references) away twice.
            assert!(
                s.has(RUNNING) && !s.has(COMPLETE),
                "task completed twice, or by a thread not running it: {s:?}"
            );
            // A finished task is neither runnable, parked nor paused any more (a parked
            // task completes only by shutdown, which empties the queues itself).
            next = (s.0 | COMPLETE) & !(RUNNING | NOTIFIED | PARKED | PAUSE_MASK);
            if !cancelled {
                next &= !CANCELLED;
            }
            ((), Some(next))
        });
        Snapshot(next)
    }

    /// A waker fired. Rule: a reference is added only when `NOTIFIED` goes from clear to
    /// set on an idle task, so each `Notified` matches one reference.
    pub(crate) fn transition_to_notified(&self) -> ToNotified {
        self.update(|s| {
            if s.any(COMPLETE | NOTIFIED) {
                (ToNotified::DoNothing, None)
            } else if s.has(RUNNING) {
                (ToNotified::DoNothing, Some(s.0 | NOTIFIED))
            } else if s.is_pause_requested() {
                (ToNotified::PauseRequested, None)
            } else {
                (ToNotified::Submit, Some((s.0 | NOTIFIED) + REF_ONE))
            }
        })
        .0
    }

    /// A wake on a paused idle task, parking lock held.
    pub(crate) fn transition_to_notified_parked(&self) -> ToNotifiedParked {
        self.update(|s| {
            if s.any(COMPLETE | NOTIFIED) {
                (ToNotifiedParked::DoNothing, None)
            } else if s.has(RUNNING) {
                (ToNotifiedParked::DoNothing, Some(s.0 | NOTIFIED))
            } else if s.is_pause_requested() {
                (
                    ToNotifiedParked::Parked,
                    Some((s.0 | NOTIFIED | PARKED) + REF_ONE),
                )
            } else {
                (ToNotifiedParked::Submit, Some((s.0 | NOTIFIED) + REF_ONE))
            }
        })
        .0
    }

    /// Sets the pause bit of `by`. Returns false if the task already ended (or is being
    /// cancelled).
    #[must_use]
    pub(crate) fn request_pause(&self, by: PauseBy) -> bool {
        let bit = by.bit();
        let (ok, _) = self.update(|s| {
            if s.any(COMPLETE | CANCELLED) {
                (false, None)
            } else if s.has(bit) {
                (true, None)
            } else {
                (true, Some(s.0 | bit))
            }
        });
        ok
    }

    /// Clears the pause bit of `by` without the parking lock, unless that would unpause
    /// a parked task (then the caller must take the lock).
    pub(crate) fn unpause(&self, by: PauseBy) -> Unpause {
        let bit = by.bit();
        self.update(|s| {
            if !s.has(bit) || s.has(COMPLETE) {
                (Unpause::NotPaused, None)
            } else if s.has(PARKED) && s.0 & PAUSE_MASK == bit {
                (Unpause::ParkedNeedsLock, None)
            } else {
                (Unpause::Cleared, Some(s.0 & !bit))
            }
        })
        .0
    }

    /// With the parking lock held: clears the pause bit of `by` (none for a cancel) and,
    /// when no pause is left or the task is cancelled, clears `PARKED`. Returns true if
    /// `PARKED` was cleared: the caller then moves the `Notified` from the suspended
    /// queue to a run queue.
    #[must_use]
    pub(crate) fn transition_to_unparked(&self, by: Option<PauseBy>) -> bool {
        let bit = by.map_or(0, PauseBy::bit);
        self.update(|s| {
            let next = s.0 & !bit;
            if s.has(COMPLETE) {
                (false, None)
            } else if s.has(PARKED) && (next & PAUSE_MASK == 0 || s.has(CANCELLED)) {
                (true, Some(next & !PARKED))
            } else {
                (false, (next != s.0).then_some(next))
            }
        })
        .0
    }

    /// Requests cancellation.
    pub(crate) fn transition_to_cancelled(&self) -> ToCancelled {
        self.update(|s| {
            if s.any(COMPLETE | CANCELLED) {
                (ToCancelled::DoNothing, None)
            } else if s.has(PARKED) {
                (ToCancelled::ParkedNeedsLock, Some(s.0 | CANCELLED))
            } else if s.any(RUNNING | NOTIFIED) {
                (ToCancelled::DoNothing, Some(s.0 | CANCELLED))
            } else {
                (
                    ToCancelled::Submit,
                    Some((s.0 | CANCELLED | NOTIFIED) + REF_ONE),
                )
            }
        })
        .0
    }

    /// Shutdown takes the future of a task that no slot runs any more. Returns true if
    /// the caller now owns the future (it must then complete the task as cancelled).
    #[must_use]
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|s| {
            if s.any(COMPLETE | RUNNING) {
                (false, None)
            } else {
                (true, Some(s.0 | RUNNING | CANCELLED))
            }
        })
        .0
    }

    // ----- join handle protocol (as tokio's) -----

    /// The JoinHandle stored a waker: publish it. Fails if the task completed first.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        let (ok, prev) = self.update(|s| {
            // Guard: the JoinHandle may write the waker slot only while it owns it.
            assert!(
                s.has(JOIN_INTEREST) && !s.has(JOIN_WAKER),
                "join waker set without owning it: {s:?}"
            );
            if s.has(COMPLETE) {
                (false, None)
            } else {
                (true, Some(s.0 | JOIN_WAKER))
            }
        });
        if ok {
            Ok(Snapshot(prev.0 | JOIN_WAKER))
        } else {
            Err(prev)
        }
    }

    /// The JoinHandle wants to replace its waker: take it back. Fails if complete.
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        let (ok, prev) = self.update(|s| {
            assert!(
                s.has(JOIN_INTEREST),
                "join waker taken without a JoinHandle: {s:?}"
            );
            if s.has(COMPLETE) {
                // The runtime may already have woken the waker and cleared JOIN_WAKER.
                (false, None)
            } else {
                // Guard: taking back a waker the JoinHandle never published would let
                // it write the slot while the runtime may read it.
                assert!(s.has(JOIN_WAKER), "join waker taken but never set: {s:?}");
                (true, Some(s.0 & !JOIN_WAKER))
            }
        });
        if ok {
            Ok(Snapshot(prev.0 & !JOIN_WAKER))
        } else {
            Err(prev)
        }
    }

    /// After completion the runtime woke the join waker and hands it back. Returns the
    /// new value: without `JOIN_INTEREST` the runtime must drop the waker itself.
    #[must_use]
    pub(crate) fn unset_join_waker_after_complete(&self) -> Snapshot {
        Snapshot(self.val.fetch_and(!JOIN_WAKER, AcqRel) & !JOIN_WAKER)
    }

    /// The JoinHandle is dropped. Before completion it also takes back the waker.
    /// Returns (value before, value after).
    #[must_use]
    pub(crate) fn transition_to_join_handle_dropped(&self) -> (Snapshot, Snapshot) {
        let mut next = 0;
        let (_, prev) = self.update(|s| {
            // Guard: a second drop would give up the JoinHandle's reference twice.
            assert!(s.has(JOIN_INTEREST), "JoinHandle dropped twice: {s:?}");
            next = s.0 & !JOIN_INTEREST;
            if !s.has(COMPLETE) {
                next &= !JOIN_WAKER;
            }
            ((), Some(next))
        });
        (prev, Snapshot(next))
    }

    // ----- references -----

    /// Adds a counted reference (the caller already holds one, so the task is alive).
    pub(crate) fn ref_inc(&self) {
        let prev = self.val.fetch_add(REF_ONE, Relaxed);
        // Guard against overflow into nonsense, as Arc does.
        if prev > usize::MAX / 2 {
            std::process::abort();
        }
    }

    /// Drops `n` references; returns true if they were the last (the caller then frees
    /// the task).
    #[must_use]
    pub(crate) fn ref_dec(&self, n: usize) -> bool {
        let prev = Snapshot(self.val.fetch_sub(n * REF_ONE, AcqRel));
        // Guard: dropping more references than exist would free the task under another
        // holder (or twice).
        assert!(
            prev.ref_count() >= n,
            "task reference count underflow: {prev:?}"
        );
        prev.ref_count() == n
    }
}
