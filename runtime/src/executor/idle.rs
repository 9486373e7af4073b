//! Sleeping slots and the protocol that never loses a wake-up.
//!
//! A slot with nothing to run first *searches* (steals); if that finds nothing it
//! registers as a sleeper, checks every queue once more, and only then parks. A thread
//! that makes work available pushes it first and then wakes one sleeper, unless a slot is
//! already searching (that one will find the work, and wakes another when it does).
//! Both sides go through SeqCst operations on `searching`/`sleeping`, so either the
//! pusher sees the sleeper or the sleeper's final check sees the work.

use crate::sync::{fence, lock, AtomicUsize, Condvar, Mutex, Ordering::SeqCst};

/// Nothing to report.
const EMPTY: usize = 0;
/// The owner sleeps on the condition variable.
const PARKED: usize = 1;
/// An unpark arrived and was not consumed yet.
const NOTIFIED: usize = 2;

/// How long a slot spins before it blocks: a wake within this window (a resume right
/// after a park, the next micro-batch of a busy stream) costs no futex round trip.
pub(crate) const SPIN: std::time::Duration = std::time::Duration::from_micros(20);

/// Blocks one slot thread until unparked; an unpark that comes first is remembered.
pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            cond: Condvar::new(),
        }
    }

    fn consume(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
    }

    /// Blocks until unparked, spinning for `spin` first (not under loom, whose model
    /// would only see the extra steps).
    pub(crate) fn park(&self, spin: std::time::Duration) {
        if self.consume() {
            return;
        }
        #[cfg(loom)]
        let _ = spin;
        #[cfg(not(loom))]
        if !spin.is_zero() {
            let start = std::time::Instant::now();
            let mut i = 0u32;
            loop {
                if self.state.load(SeqCst) == NOTIFIED && self.consume() {
                    return;
                }
                std::hint::spin_loop();
                i = i.wrapping_add(1);
                if i.is_multiple_of(64) && start.elapsed() >= spin {
                    break;
                }
            }
        }
        let mut g = lock(&self.lock);
        if let Err(actual) = self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            // Only an unpark can have changed EMPTY: take it.
            debug_assert_eq!(actual, NOTIFIED);
            self.state.store(EMPTY, SeqCst);
            return;
        }
        loop {
            g = self.cond.wait(g).unwrap_or_else(|e| e.into_inner());
            if self.consume() {
                return;
            }
            // Spurious wake-up: still PARKED.
        }
    }

    pub(crate) fn unpark(&self) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            _ => {
                // The owner sleeps (or is about to wait): take the lock so the notify
                // cannot fall between its check and its wait.
                drop(lock(&self.lock));
                self.cond.notify_one();
            }
        }
    }
}

/// Which slots sleep, and how many search.
pub(crate) struct Idle {
    searching: AtomicUsize,
    sleeping: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    slots: usize,
}

impl Idle {
    pub(crate) fn new(slots: usize) -> Idle {
        Idle {
            searching: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            sleepers: Mutex::new(Vec::with_capacity(slots)),
            slots,
        }
    }

    /// Work was pushed: returns a sleeping slot to unpark, if one should be woken. The
    /// woken slot starts out searching. A searching slot is normally reason enough to
    /// wake nobody (it will find the work), except when `eligible` restricts which slots
    /// can take the work (the searcher may not be one of them), or for `urgent` work,
    /// which wakes a sleeper anyway so that several Stream tasks released together start
    /// together instead of one wake-up after another.
    pub(crate) fn slot_to_notify(
        &self,
        eligible: Option<&dyn Fn(usize) -> bool>,
        urgent: bool,
    ) -> Option<usize> {
        fence(SeqCst);
        let searcher_may_do = eligible.is_none() && !urgent;
        if (searcher_may_do && self.searching.load(SeqCst) != 0) || self.sleeping.load(SeqCst) == 0
        {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        // Re-check under the lock: another notifier may have started a searcher.
        if searcher_may_do && self.searching.load(SeqCst) != 0 {
            return None;
        }
        let i = match eligible {
            None => sleepers.len().checked_sub(1)?,
            Some(ok) => sleepers.iter().rposition(|&s| ok(s))?,
        };
        let slot = sleepers.swap_remove(i);
        self.sleeping.fetch_sub(1, SeqCst);
        self.searching.fetch_add(1, SeqCst);
        Some(slot)
    }

    /// Wakes slot `slot` specifically if it sleeps (its resumed queue got work). Returns
    /// true if it was asleep and must be unparked.
    pub(crate) fn take_sleeper(&self, slot: usize) -> bool {
        self.remove_sleeper(slot, true)
    }

    /// A slot starts searching. Returns false if enough slots already search (at most
    /// half of the awake ones), so this one should go to sleep instead.
    pub(crate) fn start_searching(&self) -> bool {
        let searching = self.searching.load(SeqCst);
        let awake = self.slots - self.sleeping.load(SeqCst);
        if 2 * searching >= awake.max(2) {
            return false;
        }
        self.searching.fetch_add(1, SeqCst);
        true
    }

    /// A searching slot stops searching. Returns true if it was the last searcher: when
    /// it found work, it must then wake another slot in case there is more.
    pub(crate) fn stop_searching(&self) -> bool {
        self.searching.fetch_sub(1, SeqCst) == 1
    }

    /// Registers `slot` as a sleeper (after it stopped searching). The caller must check
    /// every queue once more before parking, and call `cancel_sleep` if it found work.
    pub(crate) fn register_sleeper(&self, slot: usize) {
        let mut sleepers = lock(&self.sleepers);
        sleepers.push(slot);
        self.sleeping.fetch_add(1, SeqCst);
        drop(sleepers);
        fence(SeqCst);
    }

    /// The slot found work after registering. Returns true if it was still registered
    /// (it simply carries on); false if a notifier already took it off the list, in which
    /// case it was counted as searching and holds an unpark token it must consume.
    pub(crate) fn cancel_sleep(&self, slot: usize) -> bool {
        self.remove_sleeper(slot, false)
    }

    /// Takes `slot` off the sleepers, counting it as a searcher if `as_searcher` (both
    /// under the lock, so notifiers see one or the other). False if it was not there.
    fn remove_sleeper(&self, slot: usize, as_searcher: bool) -> bool {
        let mut sleepers = lock(&self.sleepers);
        let Some(i) = sleepers.iter().position(|&s| s == slot) else {
            return false;
        };
        sleepers.swap_remove(i);
        self.sleeping.fetch_sub(1, SeqCst);
        if as_searcher {
            self.searching.fetch_add(1, SeqCst);
        }
        true
    }

    /// Every sleeper, for shutdown.
    pub(crate) fn take_all(&self) -> Vec<usize> {
        let mut sleepers = lock(&self.sleepers);
        let all: Vec<usize> = sleepers.drain(..).collect();
        self.sleeping.fetch_sub(all.len(), SeqCst);
        all
    }
}
