//! The task allocation and every raw-pointer operation on it.
//!
//! Layout (`repr(C)`, so a `*const Header` is also a `*const Cell<F, S>`):
//! `Header | scheduler S | stage (future, then output) | join waker`.
//! Wakers, `Notified`, `TaskRef`, `TaskHandle` and `JoinHandle` all point at the header;
//! the header's vtable recovers the concrete types.

use super::join::{JoinError, JoinHandle};
use super::state::{
    PauseBy, State, ToCancelled, ToIdle, ToNotified, ToNotifiedParked, ToParked, ToRunning, Unpause,
};
use super::{Class, Schedule, SpawnOptions, TaskId};
use crate::clock;
use crate::sync::{lock, AtomicU32, AtomicU64, AtomicUsize, Ordering::*, UnsafeCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

// Every `unsafe fn` below states its contract in `# Safety`; the ones behind the vtable
// share one: `ptr` points at a live task (some counted reference keeps it allocated)
// whose concrete type is `Cell<F, S>` for the `F` and `S` the vtable was made for.

/// Slot index meaning "never ran on any slot".
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// The part of a task every reference can see without knowing the future's type.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: State,
    vtable: &'static Vtable,
    pub(crate) id: TaskId,
    pub(crate) class: Class,
    /// Bytes between the start of the allocation and the cell (see `CELL_ALIGN`).
    alloc_offset: u8,
    /// How many times the task was parked. (Here, beside the two bytes above, so that
    /// the header stays as small as it was: a larger one pushed small tasks' cells
    /// into a second 128-byte block, and yield_many ran 10-20% slower.)
    pub(crate) suspensions: AtomicU32,
    /// When the task last became runnable (ns), for Stream tasks (the runtime's
    /// stream latency histogram); 0 if not recorded. A statistic only, so std's atomic
    /// even under loom (the models need not explore it).
    pub(crate) ready_at: std::sync::atomic::AtomicU64,
    /// When the pending pause was requested (ns on the runtime clock); 0 if none.
    pub(crate) pause_at: AtomicU64,
    /// When the task was last unparked (ns); 0 once its first poll after that happened.
    pub(crate) resume_at: AtomicU64,
    /// When the task was first polled (ns); 0 before.
    pub(crate) first_poll_at: AtomicU64,
    /// When the task's current run began (ns): its first poll, or its first poll since
    /// it was last parked; 0 while parked and until that poll. Policies read it to tell
    /// a task that ran a while from one paused again right after resuming.
    pub(crate) run_since: AtomicU64,
    /// The slot that last ran (or parked) the task. Read after seeing `PARKED`, or while
    /// the task is idle, when it no longer changes. (32 bits, as `owner_key`: the pair
    /// shares one word, which made room for `paused_ns` without growing the header.)
    pub(crate) slot: AtomicU32,
    /// Key of the task in the registry of live tasks (written and read under the
    /// registry's lock).
    pub(crate) owner_key: AtomicU32,
    /// Time spent parked in suspended queues before the current parking (ns). Changed
    /// only under the lock of the suspended queue the task leaves, where the current
    /// parking's start is kept (`Parking`). A statistic: std's atomic even under loom.
    pub(crate) paused_ns: std::sync::atomic::AtomicU64,
    pub(crate) name: Option<StdArc<str>>,
}

impl Header {
    /// Bytes of the task's allocation (header, future or output): what a suspended
    /// task holds besides the heap its future owns.
    pub(crate) fn alloc_size(&self) -> usize {
        (self.vtable.alloc_size)()
    }

    /// Bookkeeping of a park, right after the state says PARKED: one more suspension,
    /// and the current run is over.
    fn note_parked(&self) {
        self.suspensions.fetch_add(1, Relaxed);
        self.run_since.store(0, Relaxed);
    }
}

/// Where a task's cell starts: at a multiple of 128 bytes (two cache lines, which
/// adjacent-line prefetch pairs), and its size is one too. Tasks allocated one after
/// the other would otherwise share lines, and two slots running neighbours would bounce
/// them on every poll: `yield_many` (200 tasks on 2 slots) ran 1.9× slower for it.
///
/// The cell is placed inside a plain allocation `CELL_ALIGN - BASE_ALIGN` bytes larger
/// rather than allocated with that alignment: an over-aligned allocation takes the
/// allocator's slow path (`posix_memalign`), which made `spawn_many_local` 1.6× slower,
/// while a plain one comes from its per-thread cache.
const CELL_ALIGN: usize = 128;

/// The alignment every allocation has anyway (the system allocator's minimum).
const BASE_ALIGN: usize = 16;

#[repr(C, align(128))]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F>>,
    join_waker: UnsafeCell<Option<Waker>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// Drops a task's future in place if dropped itself, which only happens while the
/// future's poll unwinds (the guard is forgotten otherwise).
struct DropOnUnwind<F: Future>(*mut Stage<F>);

impl<F: Future> Drop for DropOnUnwind<F> {
    fn drop(&mut self) {
        // SAFETY: the guard lives inside a poll of the task, which holds `RUNNING` and
        // so exclusive access to the stage; the poll is over (it unwinds), so nothing
        // borrows the future any more, and replacing the stage drops the pinned future
        // in place without moving it.
        unsafe { *self.0 = Stage::Consumed };
    }
}

/// The type-erased operations on a task. Every function takes a pointer to a live task
/// of the type the vtable was made for; each one's further contract is on the function
/// it points at.
struct Vtable {
    /// Polls (or parks, or cancels) a task whose `Notified` the caller hands over.
    run: unsafe fn(NonNull<Header>, usize, Option<&AtomicUsize>) -> RunReport,
    /// Submits a task whose `Notified` reference was just counted.
    schedule: unsafe fn(NonNull<Header>),
    /// A wake on a paused idle task: park it (lock held inside) or submit it.
    wake_paused: unsafe fn(NonNull<Header>),
    /// With the parking lock: withdraw the pause of `by` (none for a cancel) and unpark
    /// if that leaves the task runnable. Returns false, having changed nothing, if the
    /// task is not in the suspended queue of the slot its header names (it moved
    /// meanwhile): the caller retries.
    unpark: unsafe fn(NonNull<Header>, Option<PauseBy>) -> bool,
    /// With the parking lock: let the slot recount its parked tasks.
    refresh_parked: unsafe fn(NonNull<Header>),
    /// Time parked so far (ns), the current parking included (read under its lock).
    paused_ns: unsafe fn(NonNull<Header>) -> u64,
    /// Moves the output into `*dst` (a `Poll<Result<T, JoinError>>`) or stores the waker.
    try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// The JoinHandle goes away, giving up its interest and its reference.
    drop_join_handle: unsafe fn(NonNull<Header>),
    /// Drops the future of a task no slot runs any more (runtime shutdown).
    shutdown: unsafe fn(NonNull<Header>),
    /// Frees the allocation once the last reference is gone.
    dealloc: unsafe fn(NonNull<Header>),
    /// Bytes of the task's allocation (header, future or output): the same for every
    /// task of the type, so here rather than in each header.
    alloc_size: fn() -> usize,
}

fn vtable<F, S>() -> &'static Vtable
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    &Vtable {
        run: run::<F, S>,
        schedule: schedule::<F, S>,
        wake_paused: wake_paused::<F, S>,
        unpark: unpark::<F, S>,
        refresh_parked: refresh_parked::<F, S>,
        paused_ns: paused_ns::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
        shutdown: shutdown::<F, S>,
        dealloc: dealloc::<F, S>,
        alloc_size: alloc_size::<F, S>,
    }
}

/// Bytes of the allocation of a task of future `F` and scheduler `S`.
fn alloc_size<F: Future, S>() -> usize {
    alloc_layout::<F, S>().size()
}

/// Allocates a task; see `task::new_task`.
pub(crate) fn allocate<F, S>(
    future: F,
    scheduler: S,
    options: SpawnOptions,
) -> (Notified, JoinHandle<F::Output>, TaskRef)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let id = TaskId::next();
    // With the `tracing` feature the task's span lives in its future (see `trace`);
    // without it nothing is added, not even a field.
    #[cfg(feature = "tracing")]
    let future = super::trace::instrument(future, id, &options);
    allocate_cell(future, scheduler, id, options)
}

/// Allocates the cell of a task whose id is `id`.
fn allocate_cell<F, S>(
    future: F,
    scheduler: S,
    id: TaskId,
    options: SpawnOptions,
) -> (Notified, JoinHandle<F::Output>, TaskRef)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let layout = alloc_layout::<F, S>();
    // SAFETY: the layout has a non-zero size (it holds a header).
    let base = unsafe { std::alloc::alloc(layout) };
    if base.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // `base` is BASE_ALIGN-aligned, so the next CELL_ALIGN boundary is at most
    // CELL_ALIGN - BASE_ALIGN bytes on: the cell fits in the rest of the allocation.
    let offset = (base as usize).wrapping_neg() % CELL_ALIGN;
    debug_assert!(offset <= CELL_ALIGN - BASE_ALIGN);
    // SAFETY: `offset` stays within the allocation (see above).
    let at = unsafe { base.add(offset) }.cast::<Cell<F, S>>();
    let cell = Cell::<F, S> {
        header: Header {
            state: State::new(),
            vtable: vtable::<F, S>(),
            id,
            class: options.class,
            alloc_offset: offset as u8,
            suspensions: AtomicU32::new(0),
            ready_at: std::sync::atomic::AtomicU64::new(0),
            pause_at: AtomicU64::new(0),
            resume_at: AtomicU64::new(0),
            first_poll_at: AtomicU64::new(0),
            run_since: AtomicU64::new(0),
            slot: AtomicU32::new(NO_SLOT),
            owner_key: AtomicU32::new(u32::MAX),
            paused_ns: std::sync::atomic::AtomicU64::new(0),
            name: options.name,
        },
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
        join_waker: UnsafeCell::new(None),
    };
    // SAFETY: `at` is aligned for the cell and has room for it (see above).
    unsafe { at.write(cell) };
    // SAFETY: `at` comes from a non-null allocation.
    let ptr = unsafe { NonNull::new_unchecked(at) }.cast::<Header>();
    // INITIAL counts three references: these three.
    let raw = RawTask(ptr);
    (Notified(raw), JoinHandle::new(raw), TaskRef(raw))
}

/// An uncounted pointer to a task; the owner of a counted reference hands it out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTask(NonNull<Header>);

// SAFETY: a task is shared between threads by design: its header is only touched through
// atomics, and the future and output are accessed under the ownership rules of the state
// word (RUNNING / COMPLETE / JOIN_WAKER), which hand exclusive access to one thread.
unsafe impl Send for RawTask {}
// SAFETY: as above.
unsafe impl Sync for RawTask {}

impl RawTask {
    /// The task's header.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask is only used while some counted reference keeps the
        // allocation alive, and the header is never mutated except through atomics.
        unsafe { self.0.as_ref() }
    }

    /// An uncounted pointer to the task whose header is at `ptr`.
    ///
    /// # Safety
    /// `ptr` must point at the header of a live task, and a counted reference must keep
    /// it alive for as long as the `RawTask` is used.
    pub(crate) unsafe fn from_ptr(ptr: NonNull<Header>) -> RawTask {
        RawTask(ptr)
    }

    /// Drops one counted reference, freeing the task if it was the last.
    ///
    /// # Safety
    /// The caller owns one counted reference and gives it up.
    pub(crate) unsafe fn drop_ref(self) {
        if self.header().state.ref_dec(1) {
            // SAFETY: that was the last reference: nobody can reach the task any more.
            unsafe { (self.header().vtable.dealloc)(self.0) };
        }
    }

    /// Drops `n` counted references.
    ///
    /// # Safety
    /// The caller owns `n` counted references and gives them up.
    unsafe fn drop_refs(self, n: usize) {
        if n > 0 && self.header().state.ref_dec(n) {
            // SAFETY: those were the last references: nobody can reach the task any more.
            unsafe { (self.header().vtable.dealloc)(self.0) };
        }
    }

    /// Wakes the task (the waker protocol).
    pub(crate) fn wake_by_ref(self) {
        match self.header().state.transition_to_notified() {
            ToNotified::DoNothing => {}
            // SAFETY: the transition counted a reference for the new Notified.
            ToNotified::Submit => unsafe { (self.header().vtable.schedule)(self.0) },
            // SAFETY: the caller's reference keeps the task alive for the call.
            ToNotified::PauseRequested => unsafe { (self.header().vtable.wake_paused)(self.0) },
        }
    }

    /// Asks the task to pause on behalf of `by`, recording when. Returns false if the
    /// task already ended (or is being cancelled).
    #[must_use]
    pub(crate) fn request_pause(self, by: PauseBy) -> bool {
        let h = self.header();
        let now = clock::now_ns();
        let _ = h.pause_at.compare_exchange(0, now, Relaxed, Relaxed);
        let ok = h.state.request_pause(by);
        if ok && h.state.load().is_parked() {
            // The task was already parked (by another pause): its slot's view of why
            // its tasks are parked must include this pause too.
            // SAFETY: the caller's reference keeps the task alive for the call.
            unsafe { (h.vtable.refresh_parked)(self.0) };
        }
        ok
    }

    /// Withdraws the pause of `by`; if the task was parked and nothing else keeps it
    /// paused, moves it to its slot's resumed queue. Returns false if `by` had not asked
    /// for a pause.
    #[must_use]
    pub(crate) fn resume(self, by: PauseBy) -> bool {
        loop {
            match self.header().state.unpause(by) {
                Unpause::NotPaused => return false,
                Unpause::Cleared => {
                    let state = self.header().state.load();
                    if !state.is_pause_requested() {
                        self.header().pause_at.store(0, Relaxed);
                    }
                    if state.is_parked() {
                        // Still parked by another pause: as in `request_pause`, its
                        // slot's count of why its tasks are parked must drop this one
                        // (a slot asks its policy again while it counts any).
                        // SAFETY: the caller's reference keeps the task alive for the call.
                        unsafe { (self.header().vtable.refresh_parked)(self.0) };
                    }
                    return true;
                }
                Unpause::ParkedNeedsLock => {
                    // SAFETY: the caller's reference keeps the task alive for the call.
                    if unsafe { (self.header().vtable.unpark)(self.0, Some(by)) } {
                        return true;
                    }
                    // It moved between our look at the state and the lock: start over.
                    crate::sync::spin_hint();
                }
            }
        }
    }

    /// Time the task spent parked so far (ns), the current parking included.
    pub(crate) fn paused_ns(self) -> u64 {
        let h = self.header();
        if !h.state.load().is_parked() {
            // Not parked: every parking is in the total already (cold path: no lock).
            return h.paused_ns.load(Relaxed);
        }
        // SAFETY: the caller's reference keeps the task alive for the call.
        unsafe { (h.vtable.paused_ns)(self.0) }
    }

    /// Requests cancellation.
    pub(crate) fn cancel(self) {
        match self.header().state.transition_to_cancelled() {
            ToCancelled::DoNothing => {}
            // SAFETY: the transition counted a reference for the new Notified.
            ToCancelled::Submit => unsafe { (self.header().vtable.schedule)(self.0) },
            ToCancelled::ParkedNeedsLock => loop {
                // SAFETY: the caller's reference keeps the task alive for the call.
                if unsafe { (self.header().vtable.unpark)(self.0, None) }
                    || !self.header().state.load().is_parked()
                {
                    break;
                }
                crate::sync::spin_hint();
            },
        }
    }

    /// Drops the future of a task no slot runs any more (shutdown).
    pub(crate) fn shutdown(self) {
        // SAFETY: the caller's reference keeps the task alive for the call.
        unsafe { (self.header().vtable.shutdown)(self.0) }
    }

    /// A new counted reference (the caller holds one, so the task is alive).
    pub(crate) fn add_ref(self) -> TaskRef {
        self.header().state.ref_inc();
        TaskRef(self)
    }

    /// The JoinHandle's poll: moves the output into `*dst` if the task completed, or
    /// registers `waker` to be woken when it does.
    ///
    /// # Safety
    /// The caller is the task's JoinHandle (it holds `JOIN_INTEREST` and a reference),
    /// and `dst` points at a writable `Poll<Result<T, JoinError>>` where `T` is the
    /// task's output type.
    pub(crate) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: the caller's contract is the vtable function's.
        unsafe { (self.header().vtable.try_read_output)(self.0, dst, waker) }
    }

    /// Gives up the JoinHandle's interest in the output and its reference.
    ///
    /// # Safety
    /// Called once, by the JoinHandle, which gives up its reference.
    pub(crate) unsafe fn drop_join_handle(self) {
        // SAFETY: the caller's contract is the vtable function's.
        unsafe { (self.header().vtable.drop_join_handle)(self.0) }
    }
}

/// A counted reference that means "this task is runnable": it is what run queues and
/// suspended queues hold.
pub(crate) struct Notified(RawTask);

impl Notified {
    /// The task's header.
    pub(crate) fn header(&self) -> &Header {
        self.0.header()
    }

    /// The header's address (to find the task in a queue).
    pub(crate) fn header_ptr(&self) -> *const Header {
        self.0 .0.as_ptr()
    }

    /// An uncounted pointer to the task, valid while this `Notified` lives.
    pub(crate) fn raw(&self) -> RawTask {
        self.0
    }

    /// Runs the task on slot `slot`: polls it, or parks it if a pause is requested, or
    /// drops its future if it was cancelled. Consumes the reference. If `publish` is
    /// given, the caller stored the header's address there before the call; it is
    /// cleared before the task can move or be freed (see the preemption protocol on
    /// `SlotShared::current`).
    pub(crate) fn run(self, slot: usize, publish: Option<&AtomicUsize>) -> RunReport {
        let raw = ManuallyDrop::new(self).0;
        // SAFETY: the Notified reference is handed to `run`, which consumes it.
        unsafe { (raw.header().vtable.run)(raw.0, slot, publish) }
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // SAFETY: a Notified owns one counted reference.
        unsafe { self.0.drop_ref() }
    }
}

/// A counted reference with no scheduling meaning (registry of live tasks, handles).
pub(crate) struct TaskRef(RawTask);

impl TaskRef {
    /// Gives up the Rust-level ownership but keeps the count: the caller now holds a
    /// counted reference as a bare `RawTask` (the registry of live tasks does this).
    pub(crate) fn into_raw(self) -> RawTask {
        ManuallyDrop::new(self).0
    }
    /// Takes back a counted reference given up by `into_raw`.
    ///
    /// # Safety
    /// `raw` must carry a counted reference that nobody else will drop.
    pub(crate) unsafe fn from_counted(raw: RawTask) -> TaskRef {
        TaskRef(raw)
    }
    /// An uncounted pointer to the task, valid while this `TaskRef` lives.
    pub(crate) fn raw(&self) -> RawTask {
        self.0
    }
    /// The task's header.
    pub(crate) fn header(&self) -> &Header {
        self.0.header()
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> TaskRef {
        self.0.add_ref()
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: a TaskRef owns one counted reference.
        unsafe { self.0.drop_ref() }
    }
}

/// What happened when a slot ran a task, for its bookkeeping.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunReport {
    /// Polled; it returned `Pending` and waits for a wake.
    Idle,
    /// Polled; it was woken during the poll (or yielded) and went back to a run queue.
    Rescheduled,
    /// Parked in the slot's suspended queue.
    Parked {
        /// From the pause request to the park, when the task was parked after a poll
        /// (the case that measures how fast a running task stops).
        pause_to_park_ns: Option<u64>,
    },
    /// Parked in the slot's suspended queue without a poll: the pause came before it.
    ParkedUnpolled,
    /// Polled to completion (or its poll panicked).
    Completed,
    /// Its future was dropped because it was cancelled.
    Cancelled,
}

// ---------------------------------------------------------------------------------------
// Functions behind the vtable. Each takes a pointer to a live task of type Cell<F, S>.
// ---------------------------------------------------------------------------------------

/// The task behind `ptr`, typed.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>` that stays allocated for `'a`.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: `Cell` is `repr(C)` with the header first, so the header's address is the
    // cell's; the caller guarantees the cell is live and of this type.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Runs a task popped from a run queue as slot `slot`: polls it, parks it, or drops its
/// future.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>`, and the caller hands over the task's `Notified`
/// reference (consumed here).
unsafe fn run<F, S>(ptr: NonNull<Header>, slot: usize, publish: Option<&AtomicUsize>) -> RunReport
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's contract; the Notified reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let raw = RawTask(ptr);
    let header = &cell.header;
    // Record where the task runs before any transition publishes it (Release via CAS).
    header.slot.store(slot as u32, Relaxed);
    match header.state.transition_to_running() {
        // SAFETY: `Run` made this thread the owner of the future (RUNNING), and the
        // Notified reference is handed on.
        ToRunning::Run => unsafe { poll_future(cell, raw, slot, publish) },
        ToRunning::Cancel => {
            unpublish(publish, raw);
            // SAFETY: `Cancel` made this thread the owner of the future (RUNNING), and
            // the Notified reference is handed on.
            unsafe { cancel_future(cell, raw) };
            RunReport::Cancelled
        }
        ToRunning::PauseRequested => {
            unpublish(publish, raw);
            let mut parking = lock(cell.scheduler.parking(slot));
            match header.state.transition_to_parked(false) {
                ToParked::Parked => {
                    header.note_parked();
                    parking.park(Notified(raw), clock::now_ns());
                    cell.scheduler.parked(slot, &parking);
                    RunReport::ParkedUnpolled
                }
                ToParked::Run => {
                    drop(parking);
                    // The pause was withdrawn: publish again for the poll.
                    if let Some(p) = publish {
                        p.store(raw.0.as_ptr() as usize, SeqCst);
                    }
                    // SAFETY: `Run` set RUNNING for this thread; the reference is
                    // handed on.
                    unsafe { poll_future(cell, raw, slot, publish) }
                }
                ToParked::Cancel => {
                    drop(parking);
                    // SAFETY: `Cancel` set RUNNING for this thread; the reference is
                    // handed on.
                    unsafe { cancel_future(cell, raw) };
                    RunReport::Cancelled
                }
            }
        }
    }
}

/// Polls the future once and acts on the outcome.
///
/// # Safety
/// `raw` is the task of `cell`; the caller set `RUNNING` (it owns the future) and hands
/// over the Notified reference.
unsafe fn poll_future<F, S>(
    cell: &Cell<F, S>,
    raw: RawTask,
    slot: usize,
    publish: Option<&AtomicUsize>,
) -> RunReport
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let header = &cell.header;
    if header.run_since.load(Relaxed) == 0 {
        // The first poll of a run (one load per poll otherwise).
        let now = clock::now_ns().max(1);
        header.run_since.store(now, Relaxed);
        if header.first_poll_at.load(Relaxed) == 0 {
            header.first_poll_at.store(now, Relaxed);
        }
    }
    // The poll borrows the Notified reference this thread holds: no count for the waker.
    let waker = super::waker::waker_ref(header);
    let mut cx = Context::from_waker(&waker);
    let _current = crate::yield_point::enter_task(header);
    let res = cell.stage.with_mut(|stage| {
        // SAFETY: RUNNING gives this thread exclusive access to the stage.
        let Stage::Running(fut) = (unsafe { &mut *stage }) else {
            unreachable!("a RUNNING task holds its future")
        };
        // SAFETY: the future lives in the task's heap allocation and never moves out of
        // it: it is dropped in place (by replacing the stage) before the allocation is
        // freed. This pins the allocation, not a field of a pinned value, so there is
        // nothing for `pin-project-lite` to project.
        let fut = unsafe { Pin::new_unchecked(fut) };
        catch_unwind(AssertUnwindSafe(|| {
            // A future whose poll panics is dropped while the panic unwinds, as tokio
            // does: its destructors see `std::thread::panicking()`.
            let guard = DropOnUnwind(stage);
            let poll = fut.poll(&mut cx);
            std::mem::forget(guard);
            poll
        }))
    });
    drop(_current);
    unpublish(publish, raw);
    // Each arm below hands the Notified reference on exactly once.
    match res {
        Ok(Poll::Ready(out)) => {
            // SAFETY: this thread still owns the future (RUNNING) and the reference.
            unsafe { complete(cell, raw, Ok(out), false) };
            RunReport::Completed
        }
        Err(panic) => {
            let err = JoinError::panic(header.id, panic);
            // SAFETY: this thread still owns the future (RUNNING) and the reference.
            unsafe { complete(cell, raw, Err(err), false) };
            RunReport::Completed
        }
        Ok(Poll::Pending) => match header.state.transition_to_idle() {
            ToIdle::Idle => {
                // SAFETY: `Idle` cleared RUNNING; the Notified reference is ours to drop.
                unsafe { raw.drop_ref() };
                RunReport::Idle
            }
            ToIdle::Reschedule => {
                cell.scheduler.yielded(Notified(raw));
                RunReport::Rescheduled
            }
            ToIdle::Cancel => {
                // SAFETY: `Cancel` keeps RUNNING: we own the future and the reference.
                unsafe { cancel_future(cell, raw) };
                RunReport::Cancelled
            }
            ToIdle::PauseRequested => {
                let mut parking = lock(cell.scheduler.parking(slot));
                match header.state.transition_to_parked(true) {
                    ToParked::Parked => {
                        header.note_parked();
                        let pause_at = header.pause_at.load(Relaxed);
                        let now = clock::now_ns();
                        parking.park(Notified(raw), now);
                        cell.scheduler.parked(slot, &parking);
                        RunReport::Parked {
                            pause_to_park_ns: (pause_at != 0).then(|| now.saturating_sub(pause_at)),
                        }
                    }
                    ToParked::Run => {
                        drop(parking);
                        cell.scheduler.schedule(Notified(raw));
                        RunReport::Rescheduled
                    }
                    ToParked::Cancel => {
                        drop(parking);
                        // SAFETY: `Cancel` keeps RUNNING: we own the future and the
                        // reference.
                        unsafe { cancel_future(cell, raw) };
                        RunReport::Cancelled
                    }
                }
            }
        },
    }
}

/// Clears the slot's publication of the task it runs. A preemptor may hold it (LOCKED)
/// while it takes a reference: wait for it, so the task cannot move or be freed under it.
#[inline]
fn unpublish(publish: Option<&AtomicUsize>, raw: RawTask) {
    if let Some(p) = publish {
        let addr = raw.0.as_ptr() as usize;
        while p.compare_exchange(addr, 0, AcqRel, Relaxed).is_err() {
            crate::sync::spin_hint();
        }
    }
}

/// Drops the future of a cancelled task and completes it.
///
/// # Safety
/// `raw` is the task of `cell`; the caller owns the future (RUNNING) and hands over one
/// reference.
unsafe fn cancel_future<F, S>(cell: &Cell<F, S>, raw: RawTask)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let id = cell.header.id;
    let res = cell.stage.with_mut(|stage| {
        // SAFETY: RUNNING gives exclusive access to the stage; replacing it drops the
        // pinned future in place.
        catch_unwind(AssertUnwindSafe(|| unsafe { *stage = Stage::Consumed }))
    });
    let err = match res {
        Ok(()) => JoinError::cancelled(id),
        Err(panic) => JoinError::panic(id, panic),
    };
    // SAFETY: the caller's contract, handed on.
    unsafe { complete(cell, raw, Err(err), true) };
}

/// Replaces the stage, dropping what it held; a panicking destructor is caught (the new
/// stage is stored all the same).
///
/// # Safety
/// The caller has exclusive access to the stage (RUNNING, or COMPLETE with the output
/// its to drop).
unsafe fn replace_stage<F: Future, S>(cell: &Cell<F, S>, next: Stage<F>) {
    cell.stage.with_mut(|stage| {
        // SAFETY: exclusive access, as the caller guarantees.
        let prev = std::mem::replace(unsafe { &mut *stage }, next);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(prev)));
    });
}

/// Stores the result, publishes COMPLETE, notifies the JoinHandle, releases the task
/// from the registry, and drops the caller's reference.
///
/// # Safety
/// `raw` is the task of `cell`; the caller owns the future (RUNNING) and hands over one
/// reference.
unsafe fn complete<F, S>(
    cell: &Cell<F, S>,
    raw: RawTask,
    result: Result<F::Output, JoinError>,
    cancelled: bool,
) where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // Storing the result drops the future first; a panicking destructor is caught and
    // the output still stored.
    // SAFETY: RUNNING gives exclusive access to the stage.
    unsafe { replace_stage(cell, Stage::Finished(result)) };
    let snapshot = cell.header.state.transition_to_complete(cancelled);
    if !snapshot.has_join_interest() {
        // Nobody will read the output: drop it here (COMPLETE without JOIN_INTEREST
        // leaves the stage to us).
        // SAFETY: as above.
        unsafe { replace_stage(cell, Stage::Consumed) };
    } else if snapshot.has_join_waker() {
        cell.join_waker.with(|w| {
            // SAFETY: COMPLETE | JOIN_WAKER: the JoinHandle stays off the waker slot
            // until we clear JOIN_WAKER below.
            if let Some(w) = unsafe { &*w } {
                w.wake_by_ref();
            }
        });
        let after = cell.header.state.unset_join_waker_after_complete();
        if !after.has_join_interest() {
            // The JoinHandle went away meanwhile and left the waker to us.
            // SAFETY: without JOIN_INTEREST nobody else touches the waker slot.
            cell.join_waker.with_mut(|w| unsafe { *w = None });
        }
    }
    let released = cell.scheduler.release(&cell.header);
    // SAFETY: the caller's reference plus the ones the registry just gave up.
    unsafe { raw.drop_refs(1 + released) };
}

/// Submits a task to its scheduler.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>`, and the caller hands over a counted reference
/// for the new `Notified` (just counted by a transition that set `NOTIFIED`).
unsafe fn schedule<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.scheduler.schedule(Notified(RawTask(ptr)));
}

/// A wake on a paused idle task: parks it (the wake is remembered in the suspended
/// queue) or, if the pause was withdrawn meanwhile, submits it.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>` (the caller's reference keeps it alive).
unsafe fn wake_paused<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    let slot = cell.header.slot.load(Relaxed) as usize;
    let mut parking = lock(cell.scheduler.parking(slot));
    match cell.header.state.transition_to_notified_parked() {
        ToNotifiedParked::DoNothing => {}
        ToNotifiedParked::Submit => {
            drop(parking);
            cell.scheduler.schedule(Notified(RawTask(ptr)));
        }
        ToNotifiedParked::Parked => {
            // The task may have run on another slot since `slot` was read: from now on
            // its header names the slot whose suspended queue holds it.
            cell.header.slot.store(slot as u32, Relaxed);
            cell.header.note_parked();
            parking.park(Notified(RawTask(ptr)), clock::now_ns());
            cell.scheduler.parked(slot, &parking);
        }
    }
}

/// See `Vtable::unpark`.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>` (the caller's reference keeps it alive).
unsafe fn unpark<F, S>(ptr: NonNull<Header>, by: Option<PauseBy>) -> bool
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    let header = &cell.header;
    // A hint: the task may have been unparked and parked again on another slot since
    // the caller saw PARKED. The suspended queue, checked under its lock, decides.
    let slot = header.slot.load(Relaxed) as usize;
    let mut parking = lock(cell.scheduler.parking(slot));
    if !parking.holds(header) {
        return false;
    }
    if header.state.transition_to_unparked(by) {
        header.pause_at.store(0, Relaxed);
        let now = clock::now_ns().max(1);
        header.resume_at.store(now, Relaxed);
        let moved = parking.move_to_resumed(header, now);
        // Guard: a Notified left behind in the suspended queue of a task no longer
        // PARKED would be run twice.
        assert!(moved, "a PARKED task sits in its slot's suspended queue");
        cell.scheduler.unparked(slot, &parking);
    }
    true
}

/// Lets the slot whose suspended queue holds the task recount its parked tasks.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>` (the caller's reference keeps it alive).
unsafe fn refresh_parked<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    loop {
        // A hint, as in `unpark`: recount the slot whose queue really holds the task.
        let slot = cell.header.slot.load(Relaxed) as usize;
        let parking = lock(cell.scheduler.parking(slot));
        if parking.holds(&cell.header) {
            cell.scheduler.parked(slot, &parking);
            return;
        }
        drop(parking);
        if !cell.header.state.load().is_parked() {
            return;
        }
        crate::sync::spin_hint();
    }
}

/// See `Vtable::paused_ns`.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>` (the caller's reference keeps it alive).
unsafe fn paused_ns<F, S>(ptr: NonNull<Header>) -> u64
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    let header = &cell.header;
    loop {
        // A hint, as in `unpark`: the queue that holds the task decides, and under its
        // lock the parking's start and the total (changed only under it) agree.
        let slot = header.slot.load(Relaxed) as usize;
        let parking = lock(cell.scheduler.parking(slot));
        let total = header.paused_ns.load(Relaxed);
        if let Some(since) = parking.parked_since(header) {
            return total + clock::now_ns().saturating_sub(since);
        }
        drop(parking);
        if !header.state.load().is_parked() {
            return header.paused_ns.load(Relaxed);
        }
        crate::sync::spin_hint();
    }
}

/// See `RawTask::try_read_output`.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>`; the caller is its JoinHandle, and `dst` points
/// at a writable `Poll<Result<F::Output, JoinError>>`.
unsafe fn try_read_output<F, S>(ptr: NonNull<Header>, dst: *mut (), waker: &Waker)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: the caller's contract: `dst` has this type and nobody else uses it.
    let dst = unsafe { &mut *(dst as *mut Poll<Result<F::Output, JoinError>>) };
    // SAFETY: the caller is the JoinHandle.
    if unsafe { can_read_output(cell, waker) } {
        cell.stage.with_mut(|stage| {
            // SAFETY: COMPLETE with JOIN_INTEREST: the JoinHandle owns the output.
            match std::mem::replace(unsafe { &mut *stage }, Stage::Consumed) {
                Stage::Finished(out) => *dst = Poll::Ready(out),
                _ => panic!("JoinHandle polled after completion"),
            }
        });
    }
}

/// The JoinHandle side of the join-waker protocol: true if the output is ready.
///
/// # Safety
/// The caller is the task's JoinHandle (it holds `JOIN_INTEREST`), so that it is the
/// only writer of the waker slot while `JOIN_WAKER` is clear.
unsafe fn can_read_output<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is_complete() {
        return true;
    }
    let res = if snapshot.has_join_waker() {
        let same = cell.join_waker.with(|w| {
            // SAFETY: JOIN_WAKER without COMPLETE: the runtime does not touch the waker
            // slot, and reading it is shared with nobody.
            unsafe { (*w).as_ref() }.is_some_and(|w| w.will_wake(waker))
        });
        if same {
            return false;
        }
        state.unset_join_waker()
    } else {
        Ok(snapshot)
    };
    match res {
        Ok(_) => {
            // SAFETY: JOIN_WAKER is clear: the JoinHandle owns the waker slot.
            cell.join_waker
                .with_mut(|w| unsafe { *w = Some(waker.clone()) });
            match state.set_join_waker() {
                Ok(_) => false,
                Err(s) => {
                    debug_assert!(s.is_complete());
                    // SAFETY: the waker was not published (JOIN_WAKER stays clear): the
                    // slot is still the JoinHandle's.
                    cell.join_waker.with_mut(|w| unsafe { *w = None });
                    true
                }
            }
        }
        Err(s) => {
            debug_assert!(s.is_complete());
            true
        }
    }
}

/// See `RawTask::drop_join_handle`.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>`; called once, by its JoinHandle, which gives up
/// its reference.
unsafe fn drop_join_handle<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    let (prev, next) = cell.header.state.transition_to_join_handle_dropped();
    if prev.is_complete() {
        // The output is ours to drop (the runtime stored it for us).
        // SAFETY: COMPLETE, and JOIN_INTEREST was ours.
        unsafe { replace_stage(cell, Stage::Consumed) };
    }
    if !next.has_join_waker() {
        // SAFETY: JOIN_WAKER is clear: the waker slot is ours.
        cell.join_waker.with_mut(|w| unsafe { *w = None });
    }
    // SAFETY: the JoinHandle's reference, given up as the caller's contract says.
    unsafe { RawTask(ptr).drop_ref() };
}

/// See `Vtable::shutdown`.
///
/// # Safety
/// `ptr` points at a live `Cell<F, S>` (the caller's reference keeps it alive).
unsafe fn shutdown<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's contract.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        // The registry's caller keeps its own reference; `complete` consumes one, so
        // take one for it.
        cell.header.state.ref_inc();
        // SAFETY: `transition_to_shutdown` made this thread the owner of the future
        // (RUNNING), and the reference just counted is handed on.
        unsafe { cancel_future(cell, RawTask(ptr)) };
    }
}

/// Frees the task.
///
/// # Safety
/// `ptr` points at a `Cell<F, S>` allocated by `allocate` whose last reference is gone.
unsafe fn dealloc<F, S>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: the caller's reference (the last) keeps the header alive until here.
    let offset = usize::from(unsafe { ptr.as_ref() }.alloc_offset);
    let cell = ptr.cast::<Cell<F, S>>().as_ptr();
    // SAFETY: the last reference is gone, so nothing touches the cell any more; it was
    // written at `offset` bytes into an allocation of `alloc_layout::<F, S>()` by
    // `allocate_cell`.
    unsafe {
        std::ptr::drop_in_place(cell);
        std::alloc::dealloc(cell.cast::<u8>().sub(offset), alloc_layout::<F, S>());
    }
}

/// The layout of the plain allocation a `Cell<F, S>` is placed in (see `CELL_ALIGN`).
fn alloc_layout<F: Future, S>() -> std::alloc::Layout {
    debug_assert_eq!(std::mem::align_of::<Cell<F, S>>(), CELL_ALIGN);
    let size = std::mem::size_of::<Cell<F, S>>() + CELL_ALIGN - BASE_ALIGN;
    std::alloc::Layout::from_size_align(size, BASE_ALIGN).expect("task cell layout")
}
