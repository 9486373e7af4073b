//! Sleeping slots and the protocol that never loses a wake-up.
//!
//! A slot with nothing to run first *searches* (steals); if that finds nothing it
//! registers as a sleeper, checks every queue once more, and only then parks. A thread
//! that makes work available pushes it first and then wakes one sleeper, unless a slot is
//! already searching (that one will find the work, and wakes another when it does).
//! Both sides go through SeqCst operations on `searching`/`sleeping`, so either the
//! pusher sees the sleeper or the sleeper's final check sees the work.

use crate::sync::{fence, lock, AtomicUsize, Condvar, Mutex, Ordering::SeqCst};

/// Blocks one slot thread until unparked; an unpark that comes first is remembered.
pub(crate) struct Parker {
    notified: Mutex<bool>,
    cond: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            notified: Mutex::new(false),
            cond: Condvar::new(),
        }
    }

    pub(crate) fn park(&self) {
        let mut n = lock(&self.notified);
        while !*n {
            n = self.cond.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n = false;
    }

    pub(crate) fn unpark(&self) {
        let mut n = lock(&self.notified);
        *n = true;
        drop(n);
        self.cond.notify_one();
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
    /// woken slot starts out searching. `eligible` is `None` when every slot can take
    /// the work; otherwise it tells which slots can, and a searcher is no reason to wake
    /// nobody (it may not be one of them).
    pub(crate) fn slot_to_notify(&self, eligible: Option<&dyn Fn(usize) -> bool>) -> Option<usize> {
        fence(SeqCst);
        let searcher_will_do = eligible.is_none() && self.searching.load(SeqCst) != 0;
        if searcher_will_do || self.sleeping.load(SeqCst) == 0 {
            return None;
        }
        let mut sleepers = lock(&self.sleepers);
        // Re-check under the lock: another notifier may have started a searcher.
        if eligible.is_none() && self.searching.load(SeqCst) != 0 {
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
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&s| s == slot) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.sleeping.fetch_sub(1, SeqCst);
                self.searching.fetch_add(1, SeqCst);
                true
            }
            None => false,
        }
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
        let mut sleepers = lock(&self.sleepers);
        match sleepers.iter().position(|&s| s == slot) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.sleeping.fetch_sub(1, SeqCst);
                true
            }
            None => false,
        }
    }

    /// Slots currently parked.
    pub(crate) fn sleeping(&self) -> usize {
        self.sleeping.load(SeqCst)
    }

    /// Slots currently searching.
    pub(crate) fn searching(&self) -> usize {
        self.searching.load(SeqCst)
    }

    /// Every sleeper, for shutdown.
    pub(crate) fn take_all(&self) -> Vec<usize> {
        let mut sleepers = lock(&self.sleepers);
        let all: Vec<usize> = sleepers.drain(..).collect();
        self.sleeping.fetch_sub(all.len(), SeqCst);
        all
    }
}
