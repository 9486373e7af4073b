//! A mio I/O resource together with its registration.

use std::io;
use std::ops::Deref;

use mio::event::Source;
use mio::Interest;

use super::{Ready, Registration};

/// A mio resource registered with the current runtime's driver; deregistered (and then
/// closed) when dropped.
pub(crate) struct PollEvented<E: Source> {
    /// `Some` until dropped.
    io: Option<E>,
    registration: Registration,
}

impl<E: Source> PollEvented<E> {
    /// Registers `io` for `interest`, assuming `initial` readiness until the driver reports
    /// otherwise.
    ///
    /// # Panics
    ///
    /// Panics outside a runtime.
    #[track_caller]
    pub(crate) fn new(mut io: E, interest: Interest, initial: Ready) -> io::Result<Self> {
        let registration = Registration::new(&mut io, interest, initial)?;
        Ok(PollEvented {
            io: Some(io),
            registration,
        })
    }

    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }
}

impl<E: Source> Deref for PollEvented<E> {
    type Target = E;

    fn deref(&self) -> &E {
        self.io
            .as_ref()
            .expect("I/O resource is present until dropped")
    }
}

impl<E: Source> Drop for PollEvented<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            // Deregistering can only fail if the driver's poll instance is gone, in which
            // case there is nothing left to remove from.
            let _ = self.registration.deregister(&mut io);
        }
    }
}

impl<E: Source + std::fmt::Debug> std::fmt::Debug for PollEvented<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}
