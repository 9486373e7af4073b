//! The I/O and timer driver.
//!
//! Every runtime owns one driver thread. It blocks in [`mio::Poll::poll`] with a timeout
//! equal to the earliest pending timer deadline, and after each wake-up it
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
//! The driver thread holds only a weak reference to the shared state, so it also exits
//! when the last [`Handle`] is dropped without [`Handle::shutdown`] having been called.

mod poll_evented;
mod reactor;
mod scheduled_io;
mod timer;

pub(crate) use poll_evented::PollEvented;
pub(crate) use reactor::Registration;
pub(crate) use scheduled_io::{Direction, Ready};
pub(crate) use timer::{TimerKey, TimerPoll};

use std::cell::RefCell;
use std::io;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
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

/// The part of the driver that lives on the driver thread: the poll instance, its event
/// buffer and the scratch list of wakers to call.
pub(crate) struct Driver {
    poll: mio::Poll,
    events: mio::Events,
    /// Readiness tick of the current batch of events; never 0, which marks the optimistic
    /// readiness a registration starts with.
    tick: u16,
    wakers: Vec<Waker>,
    inner: Weak<Inner>,
    /// Keeps the waker's file descriptor open after `Inner` is dropped: its last wake-up
    /// must still reach `poll`, and closing the descriptor would discard it.
    _waker: Arc<mio::Waker>,
}

/// State shared by the driver thread and every [`Handle`].
pub(crate) struct Inner {
    pub(crate) reactor: Reactor,
    pub(crate) timers: Timers,
    waker: Arc<mio::Waker>,
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
        let inner = Arc::new(Inner {
            reactor: Reactor::new(registry),
            timers: Timers::new(),
            waker: waker.clone(),
            shutdown: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        let driver = Driver {
            poll,
            events: mio::Events::with_capacity(EVENTS_CAPACITY),
            tick: 1,
            wakers: Vec::new(),
            inner: Arc::downgrade(&inner),
            _waker: waker,
        };
        let thread = thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || {
                // A timer or socket that wakes Stream work must not wait for a busy
                // slot's slice to end. Best effort: without it, wakes are only later.
                let _ = crate::time_slice::set_time_slice(crate::time_slice::SHORT_SLICE);
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

    /// Interrupts the driver thread's `poll` so that it recomputes its timeout.
    pub(crate) fn unpark(&self) {
        // Failing to write to the waker means the driver is gone; nothing to wake then.
        let _ = self.inner.waker.wake();
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
    }
}

impl Driver {
    /// The driver thread's loop.
    fn run(mut self) {
        loop {
            let next_deadline = {
                let Some(inner) = self.inner.upgrade() else {
                    return;
                };
                if inner.shutdown.load(Ordering::Acquire) {
                    inner.finish_shutdown();
                    return;
                }
                inner
                    .reactor
                    .dispatch(&self.events, self.tick, &mut self.wakers);
                inner.timers.fire_expired(Instant::now(), &mut self.wakers)
            };
            for waker in self.wakers.drain(..) {
                waker.wake();
            }
            let timeout =
                next_deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => self.events.clear(),
                Err(_) => {
                    // The poll instance is unusable: fail everything rather than let
                    // tasks wait for events that can no longer arrive.
                    if let Some(inner) = self.inner.upgrade() {
                        inner.shutdown.store(true, Ordering::Release);
                        inner.finish_shutdown();
                    }
                    return;
                }
            }
            self.tick = match self.tick.wrapping_add(1) {
                0 => 1,
                tick => tick,
            };
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
    #[should_panic(expected = "must be called from within a neptune runtime")]
    fn current_panics_outside_runtime() {
        let _ = Handle::current();
    }
}
