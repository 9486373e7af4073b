//! Wakers point straight at the task header; one static vtable serves every task.
//!
//! An owned `Waker` (made by `clone`) holds one counted reference to its task. The waker
//! a slot hands to the future it polls is a [`WakerRef`]: it borrows the reference the
//! slot holds, counts nothing, and cannot be dropped as a `Waker` (which would give up a
//! reference it never had), as tokio's `WakerRef`.

use super::raw::{Header, RawTask};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

/// The task behind a waker's data pointer.
///
/// # Safety
/// `data` is the data pointer of a waker built here: the address of a live task's header,
/// kept alive by the reference the waker owns (or borrows, for [`WakerRef`]).
unsafe fn raw_task(data: *const ()) -> RawTask {
    // SAFETY: the caller's contract; the pointer is a header's address, so not null.
    unsafe { RawTask::from_ptr(NonNull::new_unchecked(data as *mut Header)) }
}

/// `RawWakerVTable::clone`: a new waker with its own counted reference.
///
/// # Safety
/// `data` comes from a waker built here (the `RawWaker` contract).
unsafe fn clone_waker(data: *const ()) -> RawWaker {
    // SAFETY: the caller's contract.
    unsafe { raw_task(data) }.header().state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

/// `RawWakerVTable::wake`: wakes the task and gives up the waker's reference.
///
/// # Safety
/// `data` comes from an owned waker built here, which is consumed.
unsafe fn wake_by_val(data: *const ()) {
    // SAFETY: the caller's contract.
    let raw = unsafe { raw_task(data) };
    raw.wake_by_ref();
    // SAFETY: a by-value wake consumes the waker's reference.
    unsafe { raw.drop_ref() };
}

/// `RawWakerVTable::wake_by_ref`: wakes the task.
///
/// # Safety
/// `data` comes from a waker built here.
unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the caller's contract.
    unsafe { raw_task(data) }.wake_by_ref();
}

/// `RawWakerVTable::drop`: gives up the waker's reference.
///
/// # Safety
/// `data` comes from an owned waker built here, which is dropped. A [`WakerRef`] never
/// gets here: its waker is never dropped.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: each owned waker holds one counted reference, given up here.
    unsafe { raw_task(data).drop_ref() };
}

/// A waker that borrows a reference to its task instead of owning one: it derefs to a
/// `&Waker` for a `Context`, and clones made from it count their own references.
///
/// The `Waker` inside is never dropped (dropping it would give up a reference it does
/// not hold), and it cannot be taken out: the type has no way to yield an owned `Waker`
/// but `clone`.
pub(crate) struct WakerRef<'a> {
    waker: ManuallyDrop<Waker>,
    /// The header whose reference the waker borrows, for as long as it is borrowed.
    _task: PhantomData<&'a Header>,
}

impl Deref for WakerRef<'_> {
    type Target = Waker;

    #[inline]
    fn deref(&self) -> &Waker {
        &self.waker
    }
}

/// A waker for the task of `header`, borrowing a reference the caller holds for `'a`.
///
/// Safe because a `&Header` can only come from a task allocation (the header has a field
/// private to `raw.rs`, which builds headers only inside tasks), and the borrow keeps the
/// allocation alive while the `WakerRef` is used; clones take their own references.
#[inline]
pub(crate) fn waker_ref<'a>(header: &'a Header) -> WakerRef<'a> {
    let data = (header as *const Header).cast::<()>();
    // SAFETY: the vtable's functions uphold the RawWaker contract for a pointer to a
    // live task header, which `data` is for `'a`; the waker is never dropped (see
    // `WakerRef`), so it never gives up a reference.
    let waker = unsafe { Waker::from_raw(RawWaker::new(data, &WAKER_VTABLE)) };
    WakerRef {
        waker: ManuallyDrop::new(waker),
        _task: PhantomData,
    }
}
