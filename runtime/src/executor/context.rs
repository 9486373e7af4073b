//! Thread-local context: which runtime this thread belongs to (for `spawn`), and, on a
//! slot thread, that slot's local queues (so a wake on the slot stays on the slot).

use super::queue::Local;
use super::runtime::Handle;
use super::shared::Shared;
use crate::sync::{Arc, Ordering::Relaxed};
use crate::task::{Class, Notified};
use std::cell::{Cell, RefCell};
use std::ptr;

/// What a slot thread exposes to code running on it.
pub(crate) struct SlotLocal {
    pub(crate) index: usize,
    pub(crate) local: [Local; 2],
    pub(crate) shared: Arc<Shared>,
    /// The task to run next (see `Lifo`); only this slot's thread touches it.
    pub(crate) lifo: Lifo,
}

/// The LIFO slot: a task woken or spawned by the task a slot polls runs right after that
/// poll, on the same slot, without a wake-up of another slot. Message passing between
/// tasks (a spawn chain, a ping-pong) then costs no futex round trip and finds its data
/// still in cache. Other slots cannot steal it; two things keep it from waiting long:
/// the slot runs at most `MAX_LIFO_STREAK` LIFO tasks in a row before its queues, and
/// a task that reaches a `preemption_point` with the LIFO slot taken (it computes on
/// instead of yielding) moves that task to the local queue, where idle slots see it.
pub(crate) struct Lifo {
    task: std::cell::Cell<Option<Notified>>,
}

impl Lifo {
    pub(crate) fn new() -> Lifo {
        Lifo {
            task: std::cell::Cell::new(None),
        }
    }

    /// Takes the task, if any.
    #[inline]
    pub(crate) fn take(&self) -> Option<Notified> {
        self.task.take()
    }

    /// Puts `task` in, returning the one it displaces.
    #[inline]
    pub(crate) fn replace(&self, task: Notified) -> Option<Notified> {
        self.task.replace(Some(task))
    }

    /// The queue class of the task in the slot, if any.
    #[inline]
    pub(crate) fn class(&self, shared: &Shared) -> Option<Class> {
        let t = self.task.take();
        let class = t.as_ref().map(|t| shared.route(t.header().class));
        self.task.set(t);
        class
    }
}

/// Where `push_local` put a task.
pub(crate) enum Pushed {
    /// Not on one of this runtime's slots (or not allowed there): the caller queues it.
    Elsewhere(Notified),
    /// A task (this one, or the one the LIFO slot let go) went to the slot's local
    /// queue of class `queue`: other slots may need a wake-up; `stream` if it is a
    /// Stream task.
    Queued { queue: Class, stream: bool },
    /// In the LIFO slot, which was empty: the slot runs it after the current poll.
    Lifo,
}

#[cfg(not(loom))]
thread_local! {
    static SLOT: Cell<*const SlotLocal> = const { Cell::new(ptr::null()) };
    static HANDLE: RefCell<Option<Handle>> = const { RefCell::new(None) };
    static BLOCKING: Cell<bool> = const { Cell::new(false) };
}

// Under loom every model thread runs on the same OS thread: use loom's per-model-thread
// locals.
#[cfg(loom)]
loom::thread_local! {
    static SLOT: Cell<*const SlotLocal> = Cell::new(ptr::null());
    static HANDLE: RefCell<Option<Handle>> = RefCell::new(None);
    static BLOCKING: Cell<bool> = Cell::new(false);
}

/// Clears the thread's `block_on` mark when dropped.
pub(crate) struct BlockingGuard(());

/// Marks this thread as inside `block_on` until the guard drops.
///
/// # Panics
/// If it already is (of this runtime or another): the inner call would run nested in
/// the outer one's poll, and deadlock as soon as the inner future waits for the outer.
pub(crate) fn enter_block_on() -> BlockingGuard {
    let nested = BLOCKING.with(|b| b.replace(true));
    assert!(
        !nested,
        "block_on called inside block_on (of this or another runtime): it would run \
         nested in the outer poll and deadlock when it waits for the outer future; \
         await the future instead"
    );
    BlockingGuard(())
}

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        let _ = BLOCKING.try_with(|b| b.set(false));
    }
}

/// Pushes `task` to this slot if this thread is a slot of `shared`'s runtime: to the
/// LIFO slot if `lifo` (a task a poll woke or spawned), else to the local `queue`.
/// A Stream task is handed back while the slot polls a Batch task: it could not run
/// here before that task yields, so it goes where other slots (or the policy) see it.
#[inline]
pub(crate) fn push_local(shared: &Shared, queue: Class, task: Notified, lifo: bool) -> Pushed {
    SLOT.with(|s| {
        let p = s.get();
        // SAFETY: SLOT points at the SlotLocal of the slot running on this thread; it
        // outlives every task poll on the thread (reset before it is dropped).
        match unsafe { p.as_ref() } {
            Some(l) if l.shared.id == shared.id => {
                let busy_with_batch = shared.slots[l.index].current.load(Relaxed) != 0;
                if task.header().class == Class::Stream && busy_with_batch {
                    return Pushed::Elsewhere(task);
                }
                if !lifo {
                    let stream = task.header().class == Class::Stream;
                    l.local[queue.index()].push(task);
                    return Pushed::Queued { queue, stream };
                }
                match l.lifo.replace(task) {
                    None => {
                        crate::yield_point::lifo_filled(true);
                        Pushed::Lifo
                    }
                    Some(prev) => {
                        // The older task goes to the queue, where others may take it.
                        let class = prev.header().class;
                        let queue = shared.route(class);
                        l.local[queue.index()].push(prev);
                        Pushed::Queued {
                            queue,
                            stream: class == Class::Stream,
                        }
                    }
                }
            }
            _ => Pushed::Elsewhere(task),
        }
    })
}

/// Moves the task in this slot's LIFO slot to its local queue, where idle slots can
/// steal it, and wakes one (the task being polled computes on instead of yielding; see
/// `Lifo`). Does nothing off a slot or with the LIFO slot empty.
#[cold]
pub(crate) fn flush_lifo() {
    SLOT.with(|s| {
        // SAFETY: as in `push_local`.
        if let Some(l) = unsafe { s.get().as_ref() } {
            l.release_lifo();
        }
    })
}

impl SlotLocal {
    /// Moves the task in the LIFO slot, if any, to the local queue of its class and
    /// wakes a slot that may take it.
    pub(crate) fn release_lifo(&self) {
        if let Some(task) = self.lifo.take() {
            crate::yield_point::lifo_filled(false);
            let class = task.header().class;
            let queue = self.shared.route(class);
            self.local[queue.index()].push(task);
            self.shared.notify_work(Some(queue), class == Class::Stream);
        }
    }
}

/// Whether this thread is slot `slot` of runtime `runtime`.
pub(crate) fn is_slot(runtime: usize, slot: usize) -> bool {
    SLOT.with(|s| {
        // SAFETY: as in `push_local`.
        unsafe { s.get().as_ref() }.is_some_and(|l| l.shared.id == runtime && l.index == slot)
    })
}

/// Whether this thread is a slot of any runtime.
pub(crate) fn on_any_slot() -> bool {
    SLOT.with(|s| !s.get().is_null())
}

/// Resets the thread's slot pointer when dropped.
pub(crate) struct SlotGuard(*const SlotLocal);

/// Marks this thread as running slot `local` until the guard drops.
pub(crate) fn enter_slot(local: &SlotLocal) -> SlotGuard {
    SlotGuard(SLOT.with(|s| s.replace(local)))
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        SLOT.with(|s| s.set(self.0));
    }
}

/// Restores the previous runtime handle when dropped.
pub(crate) struct HandleGuard(Option<Handle>);

/// Makes `handle` the current runtime of this thread (for `spawn`) until the guard
/// drops.
pub(crate) fn enter_runtime(handle: Handle) -> HandleGuard {
    HandleGuard(HANDLE.with(|h| h.replace(Some(handle))))
}

impl Drop for HandleGuard {
    fn drop(&mut self) {
        let prev = self.0.take();
        let _ = HANDLE.try_with(|h| *h.borrow_mut() = prev);
    }
}

/// The runtime of this thread, if any.
pub(crate) fn current_handle() -> Option<Handle> {
    HANDLE.try_with(|h| h.borrow().clone()).ok().flatten()
}
