//! `TaskHandle`: pause, resume, cancel and inspect a task from anywhere.

use super::raw::TaskRef;
use super::state::PauseBy;
use super::{Class, TaskId};
use crate::sync::Ordering::Relaxed;
use std::fmt;

/// A cloneable, thread-safe handle to a task.
///
/// ```
/// use neptune_runtime::{Runtime, TaskState};
/// let rt = Runtime::new().unwrap();
/// let h = rt.spawn(async { 1 });
/// let task = h.task();
/// task.pause();
/// task.resume();
/// assert_eq!(rt.block_on(h).unwrap(), 1);
/// assert_eq!(task.state(), TaskState::Completed);
/// ```
#[derive(Clone)]
pub struct TaskHandle {
    task: TaskRef,
}

/// Where a task stands, as [`TaskHandle::state`] sees it at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// In a run queue, waiting for a slot.
    Runnable,
    /// Being polled by a slot.
    Running,
    /// A pause was requested while it runs: it parks at its next yield point.
    Pausing,
    /// Paused: parked in its slot's suspended queue, or idle and held back from running
    /// until resumed.
    Paused,
    /// Waiting for a wake (I/O, timer, channel).
    Idle,
    /// Finished with an output (or a panic).
    Completed,
    /// Finished by cancellation.
    Cancelled,
}

impl TaskHandle {
    pub(crate) fn new(task: TaskRef) -> TaskHandle {
        TaskHandle { task }
    }

    /// Asks the task to pause. A task that is running parks at its next yield point
    /// (`preemption_point().await`, or any `Pending`); one that is queued or idle is
    /// held back and does not run until [`resume`](Self::resume), even if it is woken
    /// meanwhile (the wake is remembered). Returns false if the task already finished.
    pub fn pause(&self) -> bool {
        self.task.raw().request_pause(PauseBy::User)
    }

    /// Withdraws a pause made by [`pause`](Self::pause). A parked task goes back to the
    /// slot that parked it, ahead of new batch work. Returns false if it was not paused.
    pub fn resume(&self) -> bool {
        self.task.raw().resume(PauseBy::User)
    }

    /// Cancels the task (as `JoinHandle::abort`); a paused task is cancelled too.
    pub fn cancel(&self) {
        self.task.raw().cancel();
    }

    /// The task's state now.
    pub fn state(&self) -> TaskState {
        self.task.header().state.load().task_state()
    }

    /// True if a pause is requested (by this handle or by the runtime's policy).
    pub fn is_pause_requested(&self) -> bool {
        self.task.header().state.load().is_pause_requested()
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.task.header().id
    }

    /// The task's class.
    pub fn class(&self) -> Class {
        self.task.header().class
    }

    /// The name given at spawn, if any.
    pub fn name(&self) -> Option<&str> {
        self.task.header().name.as_deref()
    }

    /// How many times the task was parked so far.
    pub fn suspensions(&self) -> u32 {
        self.task.header().suspensions.load(Relaxed)
    }

    /// Total time the task has spent parked in a suspended queue, the current parking
    /// included if it is parked now. Recorded when it parks and when it is resumed,
    /// never per poll. (A task paused while idle is held back but not parked until a
    /// wake arrives: that wait does not count.)
    ///
    /// ```
    /// use neptune_runtime::Runtime;
    /// use std::time::Duration;
    /// let rt = Runtime::new().unwrap();
    /// let h = rt.spawn(async {
    ///     loop {
    ///         neptune_runtime::preemption_point().await;
    ///     }
    /// });
    /// let task = h.task();
    /// assert_eq!(task.paused_time(), Duration::ZERO);
    /// task.pause();
    /// // Parked at its next yield point (a pause may also come before its first poll).
    /// while task.suspensions() == 0 {
    ///     std::thread::yield_now();
    /// }
    /// let a = task.paused_time();
    /// std::thread::sleep(Duration::from_millis(1));
    /// assert!(task.paused_time() > a); // still parked: it grows
    /// task.cancel();
    /// ```
    pub fn paused_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.task.raw().paused_ns())
    }

    /// The slot that last ran the task, if it has run.
    pub fn slot(&self) -> Option<usize> {
        let s = self.task.header().slot.load(Relaxed);
        (s != super::NO_SLOT).then_some(s as usize)
    }

    /// Pause or resume on behalf of a scheduling policy: kept apart from user pauses so
    /// that a policy never resumes a task a user paused.
    #[doc(hidden)]
    pub fn policy_pause(&self) -> bool {
        self.task.raw().request_pause(PauseBy::Policy)
    }

    /// See [`policy_pause`](Self::policy_pause).
    #[doc(hidden)]
    pub fn policy_resume(&self) -> bool {
        self.task.raw().resume(PauseBy::Policy)
    }

    pub(crate) fn task_ref(&self) -> &TaskRef {
        &self.task
    }
}

impl PartialEq for TaskHandle {
    fn eq(&self, other: &TaskHandle) -> bool {
        self.task.raw() == other.task.raw()
    }
}

impl Eq for TaskHandle {}

impl fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.id())
            .field("class", &self.class())
            .field("name", &self.name())
            .field("state", &self.state())
            .finish()
    }
}
