//! Per-registration readiness state and the tasks waiting on it.
//!
//! mio delivers edge-triggered events, so the driver accumulates them into readiness bits
//! that stay set until a task observes `WouldBlock` and clears them. Each update from the
//! driver also stamps the bits with the driver's current *tick*; a task clears only the
//! bits it observed and only if the tick is still the one it observed, so an event that
//! arrives between the failed I/O attempt and the clear is never lost.
//!
//! Waiting tasks are kept in two places:
//!
//! * a list of waiters (a slab) for the `async fn` APIs: each pending readiness future
//!   owns one entry and removes it when dropped, so any number of tasks can wait for the
//!   same direction of the same socket at once and all of them are woken;
//! * one waker slot per direction for the `poll_*` APIs, which have no future that could
//!   own an entry; only the waker of the latest call is kept there.

use std::future::Future;
use std::io;
use std::ops::{BitAnd, BitOr, Not};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::{lock, shutdown_error};

/// A set of readiness bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Ready(usize);

impl Ready {
    pub(crate) const EMPTY: Ready = Ready(0);
    pub(crate) const READABLE: Ready = Ready(1);
    pub(crate) const WRITABLE: Ready = Ready(1 << 1);
    pub(crate) const READ_CLOSED: Ready = Ready(1 << 2);
    pub(crate) const WRITE_CLOSED: Ready = Ready(1 << 3);
    pub(crate) const ERROR: Ready = Ready(1 << 4);
    const ALL: Ready = Ready(0b1_1111);

    /// The readiness reported by a mio event.
    pub(crate) fn from_event(event: &mio::event::Event) -> Ready {
        let mut ready = Ready::EMPTY;
        if event.is_readable() {
            ready = ready | Ready::READABLE;
        }
        if event.is_writable() {
            ready = ready | Ready::WRITABLE;
        }
        if event.is_read_closed() {
            ready = ready | Ready::READ_CLOSED;
        }
        if event.is_write_closed() {
            ready = ready | Ready::WRITE_CLOSED;
        }
        if event.is_error() {
            ready = ready | Ready::ERROR;
        }
        ready
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn intersects(self, other: Ready) -> bool {
        !(self & other).is_empty()
    }
}

impl BitOr for Ready {
    type Output = Ready;
    fn bitor(self, rhs: Ready) -> Ready {
        Ready(self.0 | rhs.0)
    }
}

impl BitAnd for Ready {
    type Output = Ready;
    fn bitand(self, rhs: Ready) -> Ready {
        Ready(self.0 & rhs.0)
    }
}

impl Not for Ready {
    type Output = Ready;
    fn not(self) -> Ready {
        Ready(!self.0 & Ready::ALL.0)
    }
}

/// The direction a task waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The readiness bits that wake a task waiting in this direction.
    pub(crate) fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready::READABLE | Ready::READ_CLOSED | Ready::ERROR,
            Direction::Write => Ready::WRITABLE | Ready::WRITE_CLOSED | Ready::ERROR,
        }
    }
}

/// Readiness observed by a task, to be handed back to [`ScheduledIo::clear_readiness`]
/// when the I/O attempt it prompted returned `WouldBlock`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    tick: u16,
    pub(crate) ready: Ready,
}

// Layout of `ScheduledIo::readiness`: readiness bits, a shutdown flag and the tick of the
// last update from the driver. It fits in 32 bits so it works with any `usize`.
const READY_MASK: usize = Ready::ALL.0;
const SHUTDOWN: usize = 1 << 5;
const TICK_SHIFT: u32 = 16;
const TICK_MASK: usize = 0xffff << TICK_SHIFT;

fn tick_of(state: usize) -> u16 {
    ((state & TICK_MASK) >> TICK_SHIFT) as u16
}

/// The readiness state of one registered I/O resource.
pub(crate) struct ScheduledIo {
    /// Distinguishes this registration from earlier ones that used the same slab slot.
    pub(crate) generation: usize,
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    /// Waiters of the `async fn` APIs, one entry per pending [`Readiness`] future.
    list: Slab<Waiter>,
    /// Waker of the latest `poll_*` call waiting for read readiness.
    reader: Option<Waker>,
    /// Waker of the latest `poll_*` call waiting for write readiness.
    writer: Option<Waker>,
}

struct Waiter {
    direction: Direction,
    /// `None` once woken, until the future stores a new waker.
    waker: Option<Waker>,
}

impl ScheduledIo {
    /// `initial` is the readiness assumed before the first event (tick 0): assuming a
    /// fresh socket is ready lets the first operation try the syscall directly instead of
    /// waiting for the driver to report what the socket already is.
    pub(crate) fn new(generation: usize, initial: Ready) -> ScheduledIo {
        ScheduledIo {
            generation,
            readiness: AtomicUsize::new(initial.0),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// Adds readiness reported by the driver and stamps it with `tick` (never 0).
    pub(crate) fn set_readiness(&self, tick: u16, ready: Ready) {
        let mut current = self.readiness.load(Ordering::Acquire);
        loop {
            let new = (current & !TICK_MASK) | ready.0 | ((tick as usize) << TICK_SHIFT);
            match self.readiness.compare_exchange_weak(
                current,
                new,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// Clears the readiness in `event` unless the driver reported new readiness since it
    /// was observed. Closed bits are final and stay set.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.ready & !(Ready::READ_CLOSED | Ready::WRITE_CLOSED);
        let mut current = self.readiness.load(Ordering::Acquire);
        loop {
            if tick_of(current) != event.tick {
                return;
            }
            let new = current & !clear.0;
            if new == current {
                return;
            }
            match self.readiness.compare_exchange_weak(
                current,
                new,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The readiness event for `direction` in `state`, if the task need not wait.
    fn event(state: usize, direction: Direction) -> Option<io::Result<ReadyEvent>> {
        if state & SHUTDOWN != 0 {
            return Some(Err(shutdown_error()));
        }
        let ready = Ready(state & READY_MASK) & direction.mask();
        if ready.is_empty() {
            None
        } else {
            Some(Ok(ReadyEvent {
                tick: tick_of(state),
                ready,
            }))
        }
    }

    /// The readiness event for `direction` now, if a task need not wait (or the error
    /// if the driver shut down).
    pub(crate) fn current_event(&self, direction: Direction) -> Option<io::Result<ReadyEvent>> {
        Self::event(self.readiness.load(Ordering::Acquire), direction)
    }

    /// Polls for readiness in `direction`, keeping only `cx`'s waker in the per-direction
    /// slot (for the `poll_*` APIs).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(event) = self.current_event(direction) {
            return Poll::Ready(event);
        }
        let mut waiters = lock(&self.waiters);
        let slot = match direction {
            Direction::Read => &mut waiters.reader,
            Direction::Write => &mut waiters.writer,
        };
        let old = match slot {
            Some(waker) if waker.will_wake(cx.waker()) => None,
            _ => slot.replace(cx.waker().clone()),
        };
        // Checked again under the lock: the driver sets readiness before it takes the
        // lock to collect wakers, so either it sees our waker or we see its readiness.
        let event = self.current_event(direction);
        drop(waiters);
        drop(old);
        match event {
            Some(event) => Poll::Ready(event),
            None => Poll::Pending,
        }
    }

    /// Polls for readiness in `direction` on behalf of the waiter `key` (registered on
    /// first use; the caller must hand it to [`ScheduledIo::remove_waiter`] when it stops
    /// waiting, as [`Readiness`] does on drop).
    pub(crate) fn poll_waiter(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        key: &mut Option<usize>,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(event) = self.current_event(direction) {
            if let Some(key) = key.take() {
                self.remove_waiter(key);
            }
            return Poll::Ready(event);
        }
        let mut waiters = lock(&self.waiters);
        let mut old = None;
        match *key {
            Some(k) => {
                let waiter = &mut waiters.list[k];
                match &waiter.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => old = waiter.waker.replace(cx.waker().clone()),
                }
            }
            None => {
                *key = Some(waiters.list.insert(Waiter {
                    direction,
                    waker: Some(cx.waker().clone()),
                }));
            }
        }
        // See `poll_ready` for why this is checked again under the lock.
        let event = self.current_event(direction);
        let removed = match event {
            Some(_) => key.take().map(|k| waiters.list.remove(k)),
            None => None,
        };
        drop(waiters);
        drop(old);
        drop(removed);
        match event {
            Some(event) => Poll::Ready(event),
            None => Poll::Pending,
        }
    }

    pub(crate) fn remove_waiter(&self, key: usize) {
        let removed = lock(&self.waiters).list.try_remove(key);
        // Dropped outside the lock: dropping a waker may run arbitrary code.
        drop(removed);
    }

    /// Takes the wakers of every task waiting for `ready` and pushes them onto `out`.
    pub(crate) fn collect_wakers(&self, ready: Ready, out: &mut Vec<Waker>) {
        let mut waiters = lock(&self.waiters);
        if ready.intersects(Direction::Read.mask()) {
            out.extend(waiters.reader.take());
        }
        if ready.intersects(Direction::Write.mask()) {
            out.extend(waiters.writer.take());
        }
        for (_, waiter) in waiters.list.iter_mut() {
            if ready.intersects(waiter.direction.mask()) {
                out.extend(waiter.waker.take());
            }
        }
    }

    /// Marks the resource as shut down and takes every waker.
    pub(crate) fn shutdown(&self, out: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, Ordering::AcqRel);
        self.collect_wakers(Ready::ALL, out);
    }

    /// A future that resolves once the resource is ready in `direction`. Any number of
    /// them may be pending at once; all are woken by a matching event.
    pub(crate) fn readiness(&self, direction: Direction) -> Readiness<'_> {
        Readiness {
            io: self,
            direction,
            key: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn waiter_count(&self) -> usize {
        lock(&self.waiters).list.len()
    }
}

/// Future returned by [`ScheduledIo::readiness`]; removes its waiter entry when dropped.
pub(crate) struct Readiness<'a> {
    io: &'a ScheduledIo,
    direction: Direction,
    key: Option<usize>,
}

impl Future for Readiness<'_> {
    type Output = io::Result<ReadyEvent>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.io.poll_waiter(cx, this.direction, &mut this.key)
    }
}

impl Drop for Readiness<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.io.remove_waiter(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker;

    fn ready_now(io: &ScheduledIo, direction: Direction) -> Option<ReadyEvent> {
        io.current_event(direction).map(|event| event.unwrap())
    }

    #[test]
    fn clear_keeps_readiness_that_arrived_later() {
        let io = ScheduledIo::new(0, Ready::EMPTY);
        io.set_readiness(1, Ready::READABLE);
        let seen = ready_now(&io, Direction::Read).unwrap();
        // A new edge arrives before the task that got WouldBlock clears.
        io.set_readiness(2, Ready::READABLE);
        io.clear_readiness(seen);
        assert!(ready_now(&io, Direction::Read).is_some());
        let seen = ready_now(&io, Direction::Read).unwrap();
        io.clear_readiness(seen);
        assert!(ready_now(&io, Direction::Read).is_none());
    }

    #[test]
    fn optimistic_readiness_is_not_cleared_over_a_driver_event() {
        let io = ScheduledIo::new(0, Ready::READABLE | Ready::WRITABLE);
        let seen = ready_now(&io, Direction::Read).unwrap();
        io.set_readiness(1, Ready::READABLE);
        io.clear_readiness(seen);
        assert!(ready_now(&io, Direction::Read).is_some());
    }

    #[test]
    fn clearing_one_direction_keeps_the_other() {
        let io = ScheduledIo::new(0, Ready::EMPTY);
        io.set_readiness(3, Ready::READABLE | Ready::WRITABLE);
        let seen = ready_now(&io, Direction::Read).unwrap();
        io.clear_readiness(seen);
        assert!(ready_now(&io, Direction::Read).is_none());
        assert!(ready_now(&io, Direction::Write).is_some());
    }

    #[test]
    fn closed_bits_survive_clearing() {
        let io = ScheduledIo::new(0, Ready::EMPTY);
        io.set_readiness(3, Ready::READABLE | Ready::READ_CLOSED);
        let seen = ready_now(&io, Direction::Read).unwrap();
        io.clear_readiness(seen);
        let again = ready_now(&io, Direction::Read).unwrap();
        assert_eq!(again.ready, Ready::READ_CLOSED);
    }

    #[test]
    fn all_waiters_are_woken_and_dropped_waiters_leave() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        use std::task::Wake;

        struct Counter(AtomicUsize);
        impl Wake for Counter {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }

        let io = ScheduledIo::new(0, Ready::EMPTY);
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut futures: Vec<_> = (0..4).map(|_| io.readiness(Direction::Read)).collect();
        let mut writer = io.readiness(Direction::Write);
        for fut in &mut futures {
            assert!(Pin::new(fut).poll(&mut cx).is_pending());
        }
        assert!(Pin::new(&mut writer).poll(&mut cx).is_pending());
        assert_eq!(io.waiter_count(), 5);
        drop(futures.pop());
        assert_eq!(io.waiter_count(), 4);

        io.set_readiness(1, Ready::READABLE);
        let mut wakers = Vec::new();
        io.collect_wakers(Ready::READABLE, &mut wakers);
        assert_eq!(wakers.len(), 3, "only the read waiters are woken");
        wakers.into_iter().for_each(Waker::wake);
        assert_eq!(counter.0.load(Ordering::SeqCst), 3);
        for fut in &mut futures {
            assert!(matches!(Pin::new(fut).poll(&mut cx), Poll::Ready(Ok(_))));
        }
        drop(futures);
        assert!(Pin::new(&mut writer).poll(&mut cx).is_pending());
        assert_eq!(io.waiter_count(), 1);
        drop(writer);
        assert_eq!(io.waiter_count(), 0);
    }

    #[test]
    fn shutdown_fails_waiters() {
        let io = ScheduledIo::new(0, Ready::EMPTY);
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut fut = io.readiness(Direction::Read);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        let mut wakers = Vec::new();
        io.shutdown(&mut wakers);
        assert_eq!(wakers.len(), 1);
        match Pin::new(&mut fut).poll(&mut cx) {
            Poll::Ready(Err(err)) => assert_eq!(err.kind(), io::ErrorKind::Other),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            io.poll_ready(&mut cx, Direction::Write),
            Poll::Ready(Err(_))
        ));
    }
}
