//! The I/O and timer driver.
//!
//! Every runtime owns one driver thread. It blocks in [`mio::Poll::poll`] until the
//! earliest pending timer deadline (on Linux through a `timerfd` registered with the poll,
//! for sub-millisecond resolution, see [`timerfd`]; elsewhere through the poll timeout,
//! whole milliseconds), and after each wake-up it
//!
//! 1. turns the readiness events it received into readiness bits on the matching
//!    registrations and collects the wakers of the tasks waiting for them
//!    ([`reactor`]),
//! 2. fires every timer whose deadline has passed, in deadline order ([`timer`]),
//! 3. wakes the collected wakers outside of every lock.
//!
//! Executor threads never block in mio: they only touch the shared state behind a
//! [`Handle`] (a mutex-protected registration slab and timer queue) and wake the driver
//! thread through a [`mio::Waker`] when they need it to return early, which happens only
//! when a new timer deadline is earlier than the one the driver thread sleeps until.
//!
//! **Who waits for I/O.** A thread blocked in `epoll_wait` is woken by every event, and
//! on a busy link that is a context switch per burst of packets, taking a core from a
//! slot each time. So the driver thread waits in `epoll_wait` only while no slot will
//! look at I/O soon. Slots that are awake and not inside a Batch poll are *harvesters*:
//! they poll the reactor without blocking between tasks (every few polls, and whenever
//! they run out of work). Once harvesters have been there without a break for a few
//! driver polls, the driver thread turns *dormant*: it sleeps on a condition variable
//! until the next timer deadline, and events wait in the kernel's ready list for a
//! harvester instead of waking anyone. It checks every `DORMANT_CHECK` that slots still
//! harvest (one in a long Stream poll does not), and takes over if not. When the last
//! harvester parks or starts a Batch poll (which may last long), it wakes the driver
//! thread, which goes back to `epoll_wait`: I/O is still noticed at once while every
//! slot is busy with Batch work or asleep.
//!
//! The driver thread holds only a weak reference to the shared state, so it also exits
//! when the last [`Handle`] is dropped without [`Handle::shutdown`] having been called.

mod poll_evented;
mod reactor;
mod scheduled_io;
mod timer;
#[cfg(target_os = "linux")]
mod timerfd;

pub(crate) use poll_evented::PollEvented;
pub(crate) use reactor::Registration;
pub(crate) use scheduled_io::{Direction, Ready};
pub(crate) use timer::{TimerKey, TimerPoll};

use std::cell::RefCell;
use std::io;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Waker;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use reactor::Reactor;
use timer::Timers;

/// The message of the panic raised when a timer or socket is created outside a runtime.
pub(crate) const CONTEXT_MISSING: &str = "must be called from within a neptune runtime";

/// Token of the [`mio::Waker`] used to interrupt the driver thread. Registration tokens
/// never take this value (see [`reactor`]).
const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

/// Token of the driver thread's `timerfd` (Linux); like [`WAKER_TOKEN`], never a
/// registration's token.
const TIMER_TOKEN: mio::Token = mio::Token(usize::MAX - 1);

/// Polls in a row with slots harvesting throughout before the driver thread leaves
/// `epoll_wait` to them (see the module docs).
const CALM_POLLS: u32 = 8;

/// The longest a dormant driver thread sleeps before it checks that slots still
/// harvest: the bound on how late I/O is seen while every harvester is inside a long
/// Stream poll.
const DORMANT_CHECK: std::time::Duration = std::time::Duration::from_millis(2);

/// How many readiness events one `poll` call can return.
const EVENTS_CAPACITY: usize = 1024;

/// Locks `mutex`, ignoring poisoning: the driver's critical sections never leave the
/// protected state inconsistent, and wakers are always called outside of them.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The error returned by I/O operations once the runtime is shutting down.
pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other("runtime is shutting down")
}

/// The poll instance and its event buffer: held by whoever polls, the driver thread
/// (blocking) or a harvesting slot (not blocking).
struct Poller {
    poll: mio::Poll,
    events: mio::Events,
    /// Readiness tick of the current batch of events; never 0, which marks the optimistic
    /// readiness a registration starts with.
    tick: u16,
}

impl Poller {
    /// Polls once; false if the poll instance is unusable.
    fn poll(&mut self, timeout: Option<std::time::Duration>) -> bool {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => self.events.clear(),
            Err(_) => return false,
        }
        self.tick = match self.tick.wrapping_add(1) {
            0 => 1,
            tick => tick,
        };
        true
    }
}

/// What the driver thread and the slots share to decide who waits for I/O (see the
/// module docs). Kept apart from `Inner` so that the driver thread never holds `Inner`
/// while it sleeps.
struct Watch {
    poller: Mutex<Poller>,
    /// Slots that are not parked.
    awake: AtomicUsize,
    /// Counts the slots inside a Batch poll (set when the runtime is built). Awake slots
    /// outside one are the harvesters. The executor answers from the address each slot
    /// publishes around a Batch poll for its preemption protocol, so a Batch poll costs
    /// no store of its own for the driver.
    in_batch_poll: std::sync::OnceLock<BatchPolls>,
    /// How many times the last harvester parked: while this stays put, slots have been
    /// harvesting without a break.
    gaps: AtomicU64,
    /// Harvests so far: a dormant driver thread that sees none for `DORMANT_CHECK`
    /// takes over again (harvesters stuck in long Stream polls).
    harvests: AtomicU64,
    /// The driver thread sleeps dormant (set under `dormant` before it checks for
    /// harvesters one last time).
    is_dormant: AtomicBool,
    /// Guards the driver thread's decision to sleep dormant, against a harvester
    /// leaving or a timer moving earlier in between.
    dormant: Mutex<()>,
    wake_dormant: Condvar,
}

/// Counts the slots inside a Batch poll; its reads must be SeqCst (see
/// `Watch::harvester_may_have_left`).
pub(crate) type BatchPolls = Box<dyn Fn() -> usize + Send + Sync>;

/// The part of the driver that lives on the driver thread.
pub(crate) struct Driver {
    watch: Arc<Watch>,
    wakers: Vec<Waker>,
    inner: Weak<Inner>,
    deadline_wait: DeadlineWait,
    /// Keeps the waker's file descriptor open after `Inner` is dropped: its last wake-up
    /// must still reach `poll`, and closing the descriptor would discard it.
    _waker: Arc<mio::Waker>,
}

/// How the driver thread's blocking poll returns at the next timer deadline.
struct DeadlineWait {
    /// Ends the poll at the deadline to the microsecond; `None` where the kernel would
    /// not give one, and timers then have the poll timeout's millisecond resolution.
    #[cfg(target_os = "linux")]
    timer_fd: Option<timerfd::TimerFd>,
}

impl DeadlineWait {
    /// The timeout of a blocking poll that must return by `deadline`: none with a timerfd
    /// armed for it, whose event ends the poll.
    fn timeout(&mut self, deadline: Option<Instant>) -> Option<std::time::Duration> {
        let deadline = deadline?;
        #[cfg(target_os = "linux")]
        if let Some(timer_fd) = &mut self.timer_fd {
            if timer_fd.arm(deadline) {
                return None;
            }
        }
        Some(deadline.saturating_duration_since(Instant::now()))
    }
}

/// State shared by the driver thread and every [`Handle`].
pub(crate) struct Inner {
    pub(crate) reactor: Reactor,
    pub(crate) timers: Timers,
    waker: Arc<mio::Waker>,
    watch: Arc<Watch>,
    shutdown: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A cloneable reference to a runtime's driver, used to register I/O resources and
/// timers with it.
#[derive(Clone)]
pub(crate) struct Handle {
    inner: Arc<Inner>,
}

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Makes a driver handle current on a thread until dropped; see [`enter`].
#[must_use = "the handle is current only until the guard is dropped"]
pub(crate) struct EnterGuard {
    prev: Option<Handle>,
    /// The guard restores thread-local state, so it must stay on its thread.
    _not_send: PhantomData<Rc<()>>,
}

/// Makes `handle` the current driver handle of this thread until the returned guard is
/// dropped. Guards nest: dropping one restores the handle that was current before.
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let prev = CURRENT.with(|current| current.borrow_mut().replace(handle));
    EnterGuard {
        prev,
        _not_send: PhantomData,
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // The thread-local may already be gone while the thread exits; then there is
        // nothing left to restore.
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = prev);
    }
}

impl Handle {
    /// Starts the driver thread (named `thread_name`) that runs `mio::Poll` with a
    /// timeout equal to the next timer deadline, fires timers and wakes the tasks whose
    /// I/O resources became ready.
    pub(crate) fn start(thread_name: &str) -> io::Result<Handle> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER_TOKEN)?);
        // Not fatal: a runtime whose timers are late by up to a millisecond beats none.
        #[cfg(target_os = "linux")]
        let timer_fd = timerfd::TimerFd::new(poll.registry(), TIMER_TOKEN).ok();
        let watch = Arc::new(Watch {
            poller: Mutex::new(Poller {
                poll,
                events: mio::Events::with_capacity(EVENTS_CAPACITY),
                tick: 1,
            }),
            awake: AtomicUsize::new(0),
            in_batch_poll: std::sync::OnceLock::new(),
            gaps: AtomicU64::new(0),
            harvests: AtomicU64::new(0),
            is_dormant: AtomicBool::new(false),
            dormant: Mutex::new(()),
            wake_dormant: Condvar::new(),
        });
        let inner = Arc::new(Inner {
            reactor: Reactor::new(registry),
            timers: Timers::new(),
            waker: waker.clone(),
            watch: watch.clone(),
            shutdown: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let driver = Driver {
            watch,
            wakers: Vec::new(),
            inner: Arc::downgrade(&inner),
            deadline_wait: DeadlineWait {
                #[cfg(target_os = "linux")]
                timer_fd,
            },
            _waker: waker,
        };
        let thread = thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || {
                // A timer or socket that wakes Stream work must not wait for a busy
                // slot's slice to end. Best effort: without it, wakes are only later.
                let _ = crate::time_slice::make_urgent();
                // Its waits end at timer deadlines: the default 50 µs of timer slack
                // (which the kernel may add to a dormant wait's timeout) would be most of
                // a sub-millisecond sleep's lateness. Best effort too.
                #[cfg(target_os = "linux")]
                // SAFETY: PR_SET_TIMERSLACK takes a plain integer (nanoseconds) and only
                // changes the calling thread's slack.
                unsafe {
                    libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
                }
                driver.run()
            })?;
        *lock(&inner.thread) = Some(thread);
        Ok(Handle { inner })
    }

    /// Stops the driver thread and joins it; idempotent.
    ///
    /// Nothing waits forever afterwards: every registered waker is woken, pending and new
    /// timers complete immediately, and I/O operations fail with
    /// `io::ErrorKind::Other` ("runtime is shutting down").
    pub(crate) fn shutdown(&self) {
        self.inner.shutdown.store(true, Ordering::Release);
        let _ = self.inner.waker.wake();
        self.inner.watch.wake_dormant();
        let thread = lock(&self.inner.thread).take();
        if let Some(thread) = thread {
            // A waker run by the driver thread itself could end up here; it cannot join
            // itself, and it exits at the top of its next loop iteration anyway.
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
        self.inner.finish_shutdown();
    }

    /// The driver handle of the runtime this thread runs in, if any.
    pub(crate) fn try_current() -> Option<Handle> {
        CURRENT
            .try_with(|current| current.borrow().clone())
            .ok()
            .flatten()
    }

    /// The driver handle of the runtime this thread runs in.
    ///
    /// # Panics
    ///
    /// Panics with "must be called from within a neptune runtime" outside a runtime.
    #[track_caller]
    pub(crate) fn current() -> Handle {
        match Handle::try_current() {
            Some(handle) => handle,
            None => panic!("{CONTEXT_MISSING}"),
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Interrupts the driver thread's `poll` (or its dormant sleep) so that it
    /// recomputes its timeout.
    pub(crate) fn unpark(&self) {
        // Failing to write to the waker means the driver is gone; nothing to wake then.
        let _ = self.inner.waker.wake();
        if self.inner.watch.is_dormant.load(Ordering::SeqCst) {
            self.inner.watch.wake_dormant();
        }
    }

    /// Tells the driver how to count the slots inside a Batch poll; called once, when
    /// the runtime is built.
    pub(crate) fn set_batch_polls(&self, count: BatchPolls) {
        let _ = self.inner.watch.in_batch_poll.set(count);
    }

    /// A slot wakes up (or starts): it harvests until it parks or starts a Batch poll.
    pub(crate) fn slot_wakes(&self) {
        self.inner.watch.awake.fetch_add(1, Ordering::SeqCst);
    }

    /// A slot parks (or stops).
    pub(crate) fn slot_parks(&self) {
        let watch = &self.inner.watch;
        watch.awake.fetch_sub(1, Ordering::SeqCst);
        if watch.harvesters() == 0 {
            watch.gaps.fetch_add(1, Ordering::Relaxed);
            // SeqCst like `harvester_may_have_left`: the last harvester leaving sees
            // the driver thread dormant, or the driver thread sees it gone.
            if watch.is_dormant.load(Ordering::SeqCst) {
                watch.wake_dormant();
            }
        }
    }

    /// A slot has just published a Batch poll (with a SeqCst write that
    /// `BatchPolls` reads): if that left no harvester, the driver thread must wait for
    /// I/O itself. One load while the driver thread is not dormant, the common case.
    #[inline]
    pub(crate) fn batch_poll_starts(&self) {
        let watch = &self.inner.watch;
        if watch.is_dormant.load(Ordering::SeqCst) {
            watch.harvester_may_have_left();
        }
    }

    /// Whether the driver thread sleeps dormant now.
    #[cfg(test)]
    pub(crate) fn is_dormant(&self) -> bool {
        self.inner.watch.is_dormant.load(Ordering::SeqCst)
    }

    /// Polls the reactor without blocking, unless another thread is polling it, and
    /// wakes the tasks whose I/O became ready; true if any were.
    pub(crate) fn harvest(&self) -> bool {
        let mut wakers = Vec::new();
        {
            let Ok(mut poller) = self.inner.watch.poller.try_lock() else {
                return false;
            };
            self.inner.watch.harvests.fetch_add(1, Ordering::Relaxed);
            if !poller.poll(Some(std::time::Duration::ZERO)) || poller.events.is_empty() {
                return false;
            }
            self.inner
                .reactor
                .dispatch(&poller.events, poller.tick, &mut wakers);
        }
        let woke = !wakers.is_empty();
        for waker in wakers {
            waker.wake();
        }
        woke
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("shutdown", &self.inner.shutdown.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Marks every registration and timer as shut down and wakes their wakers.
    fn finish_shutdown(&self) {
        self.reactor.shutdown();
        self.timers.shutdown();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The driver thread only holds a weak reference: wake it so it notices that the
        // runtime is gone and exits.
        let _ = self.waker.wake();
        self.watch.wake_dormant();
    }
}

impl Watch {
    /// Slots that will look at I/O soon: awake and not inside a Batch poll.
    fn harvesters(&self) -> usize {
        let busy = self.in_batch_poll.get().map_or(0, |count| count());
        self.awake.load(Ordering::SeqCst).saturating_sub(busy)
    }

    /// A slot parked or started a Batch poll: if that left no harvester while the
    /// driver thread is dormant, it must wait for I/O itself again. The caller's change
    /// and this check are SeqCst, as are the driver thread's flag and its own count:
    /// either it sees the change, or the change sees it dormant.
    fn harvester_may_have_left(&self) {
        if self.is_dormant.load(Ordering::SeqCst) && self.harvesters() == 0 {
            self.wake_dormant();
        }
    }

    /// Wakes the driver thread if it sleeps dormant. Under the lock, so that it cannot
    /// fall between the thread's last check and its wait.
    fn wake_dormant(&self) {
        let _guard = lock(&self.dormant);
        self.wake_dormant.notify_one();
    }
}

impl Driver {
    /// The driver thread's loop.
    fn run(mut self) {
        // Polls in a row during which slots harvested without a break.
        let mut calm = 0u32;
        let mut gaps = self.watch.gaps.load(Ordering::Relaxed);
        loop {
            {
                let Some(inner) = self.inner.upgrade() else {
                    return;
                };
                if inner.shutdown.load(Ordering::Acquire) {
                    inner.finish_shutdown();
                    return;
                }
            }
            let now_gaps = self.watch.gaps.load(Ordering::Relaxed);
            if now_gaps != gaps {
                (gaps, calm) = (now_gaps, 0);
            }
            // Dormant only once slots have kept harvesting for a while: where they park
            // between packets (a request at a time), handing over twice per packet would
            // cost more than the wake-ups it saves.
            if calm >= CALM_POLLS && self.watch.harvesters() > 0 {
                if !self.sleep_dormant() {
                    // No slot harvested for a while: they are all in long polls.
                    calm = 0;
                }
                self.wake_all();
                continue;
            }
            // The poller first, then the timers: a timer queued after this looks wakes
            // the poll through the waker, and no harvesting slot can take that event
            // while this thread holds the poller.
            let mut poller = lock(&self.watch.poller);
            let next_deadline = match self.inner.upgrade() {
                Some(inner) => inner.timers.fire_expired(Instant::now(), &mut self.wakers),
                None => return,
            };
            if !self.wakers.is_empty() {
                drop(poller);
                self.wake_all();
                continue;
            }
            let usable = poller.poll(self.deadline_wait.timeout(next_deadline));
            let Some(inner) = self.inner.upgrade() else {
                return;
            };
            if !usable {
                // The poll instance is unusable: fail everything rather than let tasks
                // wait for events that can no longer arrive.
                drop(poller);
                inner.shutdown.store(true, Ordering::Release);
                inner.finish_shutdown();
                return;
            }
            inner
                .reactor
                .dispatch(&poller.events, poller.tick, &mut self.wakers);
            drop(poller);
            drop(inner);
            self.wake_all();
            calm = calm.saturating_add(1);
        }
    }

    /// Sleeps while some slot harvests I/O: until the next timer deadline, or until
    /// woken (the last harvester left, a timer moved earlier, shutdown), for at most
    /// `DORMANT_CHECK`. Expired timers are collected into `wakers` instead. False if a
    /// whole `DORMANT_CHECK` passed without a slot harvesting.
    fn sleep_dormant(&mut self) -> bool {
        let harvests = self.watch.harvests.load(Ordering::Relaxed);
        let since = Instant::now();
        let watch = &self.watch;
        let guard = lock(&watch.dormant);
        // The flag first: from here on, a harvester leaving or a timer moving earlier
        // wakes us, and both take the lock we hold until we wait. So what is checked
        // below cannot change unseen before the wait.
        watch.is_dormant.store(true, Ordering::SeqCst);
        let (stay, deadline) = match self.inner.upgrade() {
            Some(inner) if watch.harvesters() > 0 && !inner.shutdown.load(Ordering::Acquire) => {
                let deadline = inner.timers.fire_expired(Instant::now(), &mut self.wakers);
                (self.wakers.is_empty(), deadline)
            }
            _ => (false, None),
        };
        if stay {
            // `Inner` is not held while asleep: a runtime dropped meanwhile wakes us.
            let timeout = deadline.map_or(DORMANT_CHECK, |deadline| {
                deadline
                    .saturating_duration_since(Instant::now())
                    .min(DORMANT_CHECK)
            });
            let _guard = watch
                .wake_dormant
                .wait_timeout(guard, timeout)
                .unwrap_or_else(PoisonError::into_inner);
        }
        watch.is_dormant.store(false, Ordering::SeqCst);
        // Judged only over a whole check period: a timer due sooner says nothing.
        !stay
            || since.elapsed() < DORMANT_CHECK
            || watch.harvests.load(Ordering::Relaxed) != harvests
    }

    fn wake_all(&mut self) {
        for waker in self.wakers.drain(..) {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enter_nests_and_restores() {
        assert!(Handle::try_current().is_none());
        let a = Handle::start("neptune-test-driver-a").unwrap();
        let b = Handle::start("neptune-test-driver-b").unwrap();
        {
            let _ga = enter(a.clone());
            assert!(Arc::ptr_eq(&Handle::try_current().unwrap().inner, &a.inner));
            {
                let _gb = enter(b.clone());
                assert!(Arc::ptr_eq(&Handle::try_current().unwrap().inner, &b.inner));
            }
            assert!(Arc::ptr_eq(&Handle::try_current().unwrap().inner, &a.inner));
        }
        assert!(Handle::try_current().is_none());
        a.shutdown();
        b.shutdown();
    }

    #[test]
    fn shutdown_is_idempotent() {
        let handle = Handle::start("neptune-test-driver").unwrap();
        handle.shutdown();
        handle.shutdown();
        assert!(lock(&handle.inner.thread).is_none());
    }

    #[test]
    fn driver_thread_exits_when_last_handle_drops() {
        let handle = Handle::start("neptune-test-driver").unwrap();
        let thread = lock(&handle.inner.thread).take().unwrap();
        drop(handle);
        thread.join().unwrap();
    }

    #[test]
    fn deadline_wait_falls_back_to_the_poll_timeout() {
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let mut fallback = DeadlineWait {
            #[cfg(target_os = "linux")]
            timer_fd: None,
        };
        assert_eq!(fallback.timeout(None), None);
        let timeout = fallback.timeout(Some(deadline)).unwrap();
        assert!(timeout > std::time::Duration::from_secs(4));
        #[cfg(target_os = "linux")]
        {
            let poll = mio::Poll::new().unwrap();
            let mut fine = DeadlineWait {
                timer_fd: Some(timerfd::TimerFd::new(poll.registry(), TIMER_TOKEN).unwrap()),
            };
            assert_eq!(
                fine.timeout(Some(deadline)),
                None,
                "the timerfd ends the poll"
            );
            assert_eq!(fine.timeout(None), None);
        }
    }

    #[test]
    #[should_panic(expected = "must be called from within a neptune runtime")]
    fn current_panics_outside_runtime() {
        let _ = Handle::current();
    }
}
