//! Wakers point straight at the task header; one static vtable serves every task.

use super::raw::{Header, RawTask};
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

fn raw_task(data: *const ()) -> RawTask {
    // SAFETY: every waker built here carries a pointer to a live task header, kept alive
    // by the reference the waker owns (or borrows, for `waker_ref`).
    unsafe { RawTask::from_ptr(NonNull::new_unchecked(data as *mut Header)) }
}

unsafe fn clone_waker(data: *const ()) -> RawWaker {
    raw_task(data).header().state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn wake_by_val(data: *const ()) {
    let raw = raw_task(data);
    raw.wake_by_ref();
    // SAFETY: a by-value wake consumes the waker's reference.
    raw.drop_ref();
}

unsafe fn wake_by_ref(data: *const ()) {
    raw_task(data).wake_by_ref();
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: each owned waker holds one counted reference.
    raw_task(data).drop_ref();
}

/// A waker that borrows the caller's reference: wrap it in `ManuallyDrop` and never drop
/// it; clones made from it count their own references.
pub(crate) fn waker_ref(raw: RawTask) -> Waker {
    let data = raw.ptr().as_ptr() as *const ();
    // SAFETY: the vtable's functions uphold the RawWaker contract for task pointers.
    unsafe { Waker::from_raw(RawWaker::new(data, &WAKER_VTABLE)) }
}
