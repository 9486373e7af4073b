//! Asking the policy again later: a policy that cannot free a slot for waiting Stream
//! work now, but knows when it can (a Batch task's anti-starvation quantum ends then),
//! answers [`Preempt::AskAgainAt`](crate::policy::Preempt::AskAgainAt). Without a
//! second question the Stream task would wait for that Batch task's poll to end, which
//! may be never for a task that only yields at preemption points.
//!
//! The same timer serves the policy's re-check hook
//! ([`Policy::on_check`](crate::policy::Policy::on_check)): a decision that expires (an
//! exemption, a mode an adaptive policy chose for a window) names the instant it ends.
//!
//! One timer per runtime in the driver's timer queue, moved to the earliest instant
//! asked for; when it fires (on the driver thread), the runtime calls the policy's
//! re-check hook (which names its next instant again if it wants one), then counts
//! the Stream tasks that still find no free slot and, if any, asks the policy again.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Wake, Waker};
use std::time::Instant;

use super::shared::Shared;
use crate::driver::{self, lock, TimerKey, TimerPoll};

/// The runtime's re-ask timer.
#[derive(Default)]
pub(crate) struct Recheck {
    /// Set once the runtime is built: the timer's waker, which holds the runtime
    /// weakly (the timer must not keep it alive).
    waker: OnceLock<Waker>,
    state: Mutex<Armed>,
}

#[derive(Default)]
struct Armed {
    /// The timer's entry in the driver's queue, once created.
    key: Option<TimerKey>,
    /// When it fires, if armed.
    at: Option<Instant>,
}

/// The timer's waker: runs the re-ask on the driver thread.
struct Fire(Weak<Shared>);

impl Wake for Fire {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.0.upgrade() {
            lock(&shared.recheck.state).at = None;
            shared.run_check();
        }
    }
}

impl Recheck {
    /// Binds the timer to its runtime; called once, right after the runtime is built.
    pub(crate) fn bind(&self, shared: &Arc<Shared>) {
        let _ = self
            .waker
            .set(Waker::from(Arc::new(Fire(Arc::downgrade(shared)))));
    }

    /// Arms the timer for `at` in `driver`'s queue, unless it is armed for that or
    /// earlier already (the answer then will name the next instant). Returns true if
    /// `at` has passed already: the caller asks again now.
    pub(crate) fn at(&self, driver: &driver::Handle, at: Instant) -> bool {
        let Some(waker) = self.waker.get() else {
            return false;
        };
        let timers = &driver.inner().timers;
        let mut armed = lock(&self.state);
        if armed.at.is_some_and(|t| t <= at) {
            return false;
        }
        let wake_driver = match armed.key {
            None => match timers.insert(at, waker) {
                None => return false, // shut down
                Some((key, wake_driver)) => {
                    armed.key = Some(key);
                    wake_driver
                }
            },
            Some(key) => match timers.poll(key, at, Instant::now(), waker) {
                TimerPoll::Elapsed => {
                    armed.at = None;
                    return true;
                }
                TimerPoll::Pending { wake_driver } => wake_driver,
            },
        };
        armed.at = Some(at);
        drop(armed);
        if wake_driver {
            driver.unpark();
        }
        false
    }
}
