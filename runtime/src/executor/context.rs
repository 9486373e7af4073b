//! Thread-local context: which runtime this thread belongs to (for `spawn`), and, on a
//! slot thread, that slot's local queues (so a wake on the slot stays on the slot).

use super::queue::Local;
use super::runtime::Handle;
use super::shared::Shared;
use crate::sync::Ordering::Relaxed;
use crate::task::{Class, Notified};
use std::cell::{Cell, RefCell};
use std::ptr;

/// What a slot thread exposes to code running on it.
pub(crate) struct SlotLocal {
    pub(crate) runtime: usize,
    pub(crate) index: usize,
    pub(crate) local: [Local; 2],
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

/// Pushes `task` to the local `queue` if this thread is a slot of runtime `runtime`;
/// otherwise hands it back. A Stream task is handed back too while the slot polls a
/// Batch task: it could not run here before that task yields, so it goes where other
/// slots (or the policy) see it.
#[inline]
pub(crate) fn push_local(shared: &Shared, queue: Class, task: Notified) -> Option<Notified> {
    SLOT.with(|s| {
        let p = s.get();
        // SAFETY: SLOT points at the SlotLocal of the slot running on this thread; it
        // outlives every task poll on the thread (reset before it is dropped).
        match unsafe { p.as_ref() } {
            Some(l) if l.runtime == shared.id => {
                let busy_with_batch = shared.slots[l.index].current.load(Relaxed) != 0;
                if task.header().class == Class::Stream && busy_with_batch {
                    return Some(task);
                }
                l.local[queue.index()].push(task);
                None
            }
            _ => Some(task),
        }
    })
}

/// Whether this thread is slot `slot` of runtime `runtime`.
pub(crate) fn is_slot(runtime: usize, slot: usize) -> bool {
    SLOT.with(|s| {
        // SAFETY: as in `push_local`.
        unsafe { s.get().as_ref() }.is_some_and(|l| l.runtime == runtime && l.index == slot)
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
