//! Yield points: where a running task gives the slot back, and where a pause takes
//! effect.
//!
//! The slot records the task it is polling in a thread-local, so `preemption_point` costs
//! one thread-local read and one relaxed load of the task's state word while no pause is
//! requested.

use crate::task::Header;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll};

/// What a slot thread knows about the poll it is in.
struct Current {
    /// The task being polled; null outside a poll.
    task: Cell<*const Header>,
    /// The slot's LIFO slot was filled since this was last cleared (see
    /// `executor::context::Lifo`): a preemption point hands that task to other slots.
    lifo: Cell<bool>,
}

#[cfg(not(loom))]
thread_local! {
    static CURRENT: Current = const {
        Current { task: Cell::new(ptr::null()), lifo: Cell::new(false) }
    };
}

// Under loom every model thread runs on the same OS thread: use loom's per-model-thread
// locals.
#[cfg(loom)]
loom::thread_local! {
    static CURRENT: Current = Current { task: Cell::new(ptr::null()), lifo: Cell::new(false) };
}

/// Restores the previous current task when the poll ends (even by panic).
pub(crate) struct TaskGuard {
    prev: *const Header,
}

/// Marks `header` as the task being polled on this thread.
#[inline]
pub(crate) fn enter_task(header: &Header) -> TaskGuard {
    let prev = CURRENT.with(|c| c.task.replace(header));
    TaskGuard { prev }
}

impl Drop for TaskGuard {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|c| c.task.set(self.prev));
    }
}

/// Records whether the slot's LIFO slot holds a task.
#[inline]
pub(crate) fn lifo_filled(filled: bool) {
    CURRENT.with(|c| c.lifo.set(filled));
}

/// The class of the task being polled on this thread, if any.
#[inline]
pub(crate) fn current_class() -> Option<crate::task::Class> {
    CURRENT.with(|c| {
        let h = c.task.get();
        // SAFETY: as in `pause_requested`.
        (!h.is_null()).then(|| unsafe { (*h).class })
    })
}

/// True if a pause of the task being polled on this thread was requested (by its
/// `TaskHandle` or by the runtime's policy). False outside a task (e.g. in `block_on`).
///
/// Use it in code that wants to choose its own stopping point, e.g. to flush a buffer
/// before awaiting [`preemption_point`].
#[inline]
pub fn pause_requested() -> bool {
    CURRENT.with(|c| {
        let h = c.task.get();
        // SAFETY: the pointer is set only for the duration of a poll of that task, during
        // which the polling slot holds a reference to it.
        !h.is_null() && unsafe { (*h).state.pause_requested_relaxed() }
    })
}

/// True if the current task has a pause or a cancellation pending. First hands a task
/// waiting in the slot's LIFO slot to the other slots: the caller computes on.
#[inline(always)]
fn should_yield() -> bool {
    CURRENT.with(|c| {
        if c.lifo.get() {
            c.lifo.set(false);
            crate::executor::context::flush_lifo();
        }
        let h = c.task.get();
        // SAFETY: as in `pause_requested`.
        !h.is_null() && unsafe { (*h).state.should_yield_relaxed() }
    })
}

/// The yield point a CPU-bound loop awaits between units of work.
///
/// When no pause is requested it completes at once, at the cost of one relaxed atomic
/// load. When a pause is requested it returns `Pending` once, and the slot parks the task
/// in its suspended queue; the task continues right after this point when resumed. A
/// cancelled task also stops here: its future is dropped.
///
/// ```
/// # let rt = neptune_runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let sum = neptune_runtime::spawn(async {
///     let mut sum = 0u64;
///     for i in 0..10_000u64 {
///         sum += i;
///         neptune_runtime::preemption_point().await;
///     }
///     sum
/// });
/// assert_eq!(sum.await.unwrap(), 49_995_000);
/// # });
/// ```
#[inline]
pub fn preemption_point() -> PreemptionPoint {
    PreemptionPoint { yielded: false }
}

/// Future returned by [`preemption_point`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct PreemptionPoint {
    yielded: bool,
}

impl Future for PreemptionPoint {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded || !should_yield() {
            return Poll::Ready(());
        }
        // Wake ourselves so the slot sees NOTIFIED with the pause bit after this poll,
        // and parks the task as runnable: on resume it is polled again right here.
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Yields to the slot once: the task goes to the back of its run queue.
///
/// ```
/// # let rt = neptune_runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// neptune_runtime::yield_now().await;
/// # });
/// ```
#[inline]
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
