//! The registration table and the dispatch of readiness events.
//!
//! Each registered I/O resource gets a [`ScheduledIo`] stored in a slab. Its mio token
//! packs the slab index with a generation number, and the driver ignores events whose
//! generation does not match the slot's current occupant: an event still in flight for a
//! resource that was deregistered cannot wake the resource that reused its slot.

use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use mio::event::Source;
use mio::{Interest, Token};
use slab::Slab;

use super::scheduled_io::{Direction, Ready, ReadyEvent, ScheduledIo};
use super::{lock, shutdown_error, Handle};

/// Bits of a token that hold the slab index; the rest hold the generation.
const INDEX_BITS: u32 = if usize::BITS >= 64 { 32 } else { 24 };
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Number of generations. One less than the bits allow, so that no token has all ones
/// in its generation bits, as the driver's own tokens (waker, timerfd) have.
const GENERATIONS: usize = (usize::MAX >> INDEX_BITS) - 1;
const _: () = assert!(
    super::WAKER_TOKEN.0 >> INDEX_BITS >= GENERATIONS
        && super::TIMER_TOKEN.0 >> INDEX_BITS >= GENERATIONS
);

fn token(index: usize, generation: usize) -> Token {
    Token(index | (generation << INDEX_BITS))
}

/// The registration table of one driver.
pub(crate) struct Reactor {
    registry: mio::Registry,
    state: Mutex<State>,
}

struct State {
    slab: Slab<Arc<ScheduledIo>>,
    next_generation: usize,
    shutdown: bool,
}

impl Reactor {
    pub(crate) fn new(registry: mio::Registry) -> Reactor {
        Reactor {
            registry,
            state: Mutex::new(State {
                slab: Slab::new(),
                next_generation: 0,
                shutdown: false,
            }),
        }
    }

    fn register(
        &self,
        io: &mut impl Source,
        interest: Interest,
        initial: Ready,
    ) -> io::Result<(Token, Arc<ScheduledIo>)> {
        let (token, shared) = {
            let mut state = lock(&self.state);
            if state.shutdown {
                return Err(shutdown_error());
            }
            let generation = state.next_generation;
            let entry = state.slab.vacant_entry();
            let index = entry.key();
            if index > INDEX_MASK {
                return Err(io::Error::other("too many registered I/O resources"));
            }
            let shared = Arc::new(ScheduledIo::new(generation, initial));
            entry.insert(shared.clone());
            state.next_generation = (generation + 1) % GENERATIONS;
            (token(index, generation), shared)
        };
        // The slot is filled before the resource is registered, so no event can arrive for
        // a token that is not in the table yet.
        if let Err(err) = self.registry.register(io, token, interest) {
            self.remove(token);
            return Err(err);
        }
        Ok((token, shared))
    }

    fn deregister(&self, io: &mut impl Source, token: Token) -> io::Result<()> {
        let result = self.registry.deregister(io);
        self.remove(token);
        result
    }

    fn remove(&self, token: Token) {
        let index = token.0 & INDEX_MASK;
        let generation = token.0 >> INDEX_BITS;
        let mut state = lock(&self.state);
        if state
            .slab
            .get(index)
            .is_some_and(|io| io.generation == generation)
        {
            let removed = state.slab.remove(index);
            drop(state);
            drop(removed);
        }
    }

    /// Records the readiness in `events` (stamped with `tick`) and collects the wakers
    /// to call.
    pub(crate) fn dispatch(&self, events: &mio::Events, tick: u16, wakers: &mut Vec<Waker>) {
        if events.is_empty() {
            return;
        }
        let state = lock(&self.state);
        for event in events {
            let raw = event.token().0;
            if raw == super::WAKER_TOKEN.0 || raw == super::TIMER_TOKEN.0 {
                continue;
            }
            let Some(io) = state.slab.get(raw & INDEX_MASK) else {
                continue;
            };
            if io.generation != raw >> INDEX_BITS {
                continue;
            }
            let ready = Ready::from_event(event);
            io.set_readiness(tick, ready);
            io.collect_wakers(ready, wakers);
        }
    }

    /// Fails every current and future registration and wakes all waiting tasks.
    pub(crate) fn shutdown(&self) {
        let registered: Vec<Arc<ScheduledIo>> = {
            let mut state = lock(&self.state);
            state.shutdown = true;
            state.slab.iter().map(|(_, io)| io.clone()).collect()
        };
        let mut wakers = Vec::new();
        for io in &registered {
            io.shutdown(&mut wakers);
        }
        for waker in wakers {
            waker.wake();
        }
    }

    #[cfg(test)]
    pub(crate) fn registration_count(&self) -> usize {
        lock(&self.state).slab.len()
    }
}

/// The registration of one I/O resource with the driver of the current runtime.
///
/// It does not own the resource: [`super::PollEvented`] pairs the two and deregisters on
/// drop.
pub(crate) struct Registration {
    handle: Handle,
    token: Token,
    shared: Arc<ScheduledIo>,
}

impl Registration {
    /// Registers `io` with the current runtime's driver. `initial` is the readiness assumed
    /// until the driver reports the real one.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime.
    #[track_caller]
    pub(crate) fn new(
        io: &mut impl Source,
        interest: Interest,
        initial: Ready,
    ) -> io::Result<Self> {
        let handle = Handle::current();
        let (token, shared) = handle.inner().reactor.register(io, interest, initial)?;
        Ok(Registration {
            handle,
            token,
            shared,
        })
    }

    /// Removes `io` (the resource this was created for) from the driver.
    pub(crate) fn deregister(&self, io: &mut impl Source) -> io::Result<()> {
        self.handle.inner().reactor.deregister(io, self.token)
    }

    /// Polls for readiness, keeping one waker per direction (see [`ScheduledIo::poll_ready`]).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.shared.poll_ready(cx, direction)
    }

    /// Waits for readiness; any number of tasks may wait at once.
    pub(crate) fn readiness(&self, direction: Direction) -> super::scheduled_io::Readiness<'_> {
        self.shared.readiness(direction)
    }

    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.shared.clear_readiness(event)
    }

    /// Runs the non-blocking operation `f` once the resource is ready in `direction`,
    /// waiting again whenever it returns `WouldBlock`.
    pub(crate) async fn async_io<R>(
        &self,
        direction: Direction,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            let event = self.readiness(direction).await?;
            match f() {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(event),
                result => return result,
            }
        }
    }

    /// The `poll_*` counterpart of [`Registration::async_io`].
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut f: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = match self.poll_ready(cx, direction) {
                Poll::Ready(Ok(event)) => event,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            };
            match f() {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(event),
                result => return Poll::Ready(result),
            }
        }
    }

    /// Runs the non-blocking operation `f` if the resource is believed ready in
    /// `direction`, without waiting: `WouldBlock` if it is not, and if `f` itself returns
    /// `WouldBlock` the readiness it was tried on is cleared (unless the driver reported
    /// new readiness meanwhile, which is kept), so the next wait really waits.
    #[cfg(feature = "quic")]
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        f: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let event = match self.shared.current_event(direction) {
            None => return Err(io::ErrorKind::WouldBlock.into()),
            Some(Err(err)) => return Err(err),
            Some(Ok(event)) => event,
        };
        match f() {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                self.clear_readiness(event);
                Err(err)
            }
            result => result,
        }
    }

    /// Polls for readiness as the waiter `key` of a list that any number of tasks may
    /// be in at once; `key` must be given to [`Registration::remove_waiter`] when the
    /// caller stops waiting (the `poll_*` counterpart of [`Registration::readiness`]).
    #[cfg(feature = "quic")]
    pub(crate) fn poll_waiter(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        key: &mut Option<usize>,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.shared.poll_waiter(cx, direction, key)
    }

    /// Leaves the waiter list (see [`Registration::poll_waiter`]).
    #[cfg(feature = "quic")]
    pub(crate) fn remove_waiter(&self, key: usize) {
        self.shared.remove_waiter(key)
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &ScheduledIo {
        &self.shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_collide_with_the_driver_tokens() {
        let max = token(INDEX_MASK, GENERATIONS - 1);
        assert_ne!(max, super::super::WAKER_TOKEN);
        assert_ne!(max, super::super::TIMER_TOKEN);
        assert_eq!(max.0 & INDEX_MASK, INDEX_MASK);
        assert_eq!(max.0 >> INDEX_BITS, GENERATIONS - 1);
    }

    #[test]
    fn stale_tokens_are_ignored() {
        let poll = mio::Poll::new().unwrap();
        let reactor = Reactor::new(poll.registry().try_clone().unwrap());
        let addr = "127.0.0.1:0".parse().unwrap();
        let mut first = mio::net::UdpSocket::bind(addr).unwrap();
        let (old, _) = reactor
            .register(&mut first, Interest::READABLE, Ready::EMPTY)
            .unwrap();
        reactor.deregister(&mut first, old).unwrap();
        let mut second = mio::net::UdpSocket::bind(addr).unwrap();
        let (new, shared) = reactor
            .register(&mut second, Interest::READABLE, Ready::EMPTY)
            .unwrap();
        assert_eq!(old.0 & INDEX_MASK, new.0 & INDEX_MASK, "slot is reused");
        assert_ne!(old, new);
        // Removing with the stale token must not remove the new registration.
        reactor.remove(old);
        assert_eq!(reactor.registration_count(), 1);
        assert!(shared.generation != old.0 >> INDEX_BITS);
        reactor.deregister(&mut second, new).unwrap();
        assert_eq!(reactor.registration_count(), 0);
    }
}
