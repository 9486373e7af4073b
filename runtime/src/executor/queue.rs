//! Run queues: a slot-local deque per class that other slots can steal from, and a
//! global injector per class.
//!
//! Normally these are crossbeam-deque's lock-free queues. Under loom they become small
//! mutex-protected deques, so the models see every hand-off as a synchronisation point.

use crate::task::Notified;

#[cfg(not(loom))]
mod imp {
    use super::Notified;
    use crossbeam_deque::{Injector, Steal, Stealer, Worker};

    /// The owning slot's end of a local run queue (FIFO).
    pub(crate) struct Local(Worker<Notified>);
    /// Other slots' end of a local run queue.
    pub(crate) struct Remote(Stealer<Notified>);
    /// A global queue any thread can push to.
    pub(crate) struct Inject(Injector<Notified>);

    pub(crate) fn local() -> (Local, Remote) {
        let w = Worker::new_fifo();
        let s = w.stealer();
        (Local(w), Remote(s))
    }

    impl Local {
        #[inline]
        pub(crate) fn push(&self, task: Notified) {
            self.0.push(task)
        }
        #[inline]
        pub(crate) fn pop(&self) -> Option<Notified> {
            self.0.pop()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }

    impl Remote {
        /// Steals about half of the queue into `dest` and returns one task to run.
        pub(crate) fn steal_into(&self, dest: &Local) -> Option<Notified> {
            loop {
                match self.0.steal_batch_and_pop(&dest.0) {
                    Steal::Success(t) => return Some(t),
                    Steal::Empty => return None,
                    Steal::Retry => std::hint::spin_loop(),
                }
            }
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        /// Tasks in the queue now (for the metrics' task counts).
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
        /// Takes one task (used to drain at shutdown).
        pub(crate) fn steal_one(&self) -> Option<Notified> {
            loop {
                match self.0.steal() {
                    Steal::Success(t) => return Some(t),
                    Steal::Empty => return None,
                    Steal::Retry => std::hint::spin_loop(),
                }
            }
        }
    }

    impl Inject {
        pub(crate) fn new() -> Inject {
            Inject(Injector::new())
        }
        #[inline]
        pub(crate) fn push(&self, task: Notified) {
            self.0.push(task)
        }
        /// Moves a batch of tasks into `dest` and returns one to run.
        pub(crate) fn pop_into(&self, dest: &Local) -> Option<Notified> {
            loop {
                match self.0.steal_batch_and_pop(&dest.0) {
                    Steal::Success(t) => return Some(t),
                    Steal::Empty => return None,
                    Steal::Retry => std::hint::spin_loop(),
                }
            }
        }
        pub(crate) fn pop(&self) -> Option<Notified> {
            loop {
                match self.0.steal() {
                    Steal::Success(t) => return Some(t),
                    Steal::Empty => return None,
                    Steal::Retry => std::hint::spin_loop(),
                }
            }
        }
        #[inline]
        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }
}

#[cfg(loom)]
mod imp {
    use super::Notified;
    use crate::sync::{lock, Arc, Mutex};
    use std::collections::VecDeque;

    /// Under loom a stolen batch is at most this many tasks, to keep models small.
    const STEAL_BATCH: usize = 2;

    pub(crate) struct Local(Arc<Mutex<VecDeque<Notified>>>);
    pub(crate) struct Remote(Arc<Mutex<VecDeque<Notified>>>);
    pub(crate) struct Inject(Mutex<VecDeque<Notified>>);

    pub(crate) fn local() -> (Local, Remote) {
        let q = Arc::new(Mutex::new(VecDeque::new()));
        (Local(q.clone()), Remote(q))
    }

    impl Local {
        pub(crate) fn push(&self, task: Notified) {
            lock(&self.0).push_back(task)
        }
        pub(crate) fn pop(&self) -> Option<Notified> {
            lock(&self.0).pop_front()
        }
        pub(crate) fn is_empty(&self) -> bool {
            lock(&self.0).is_empty()
        }
    }

    fn move_batch(src: &mut VecDeque<Notified>, dest: &Local) -> Option<Notified> {
        let first = src.pop_front()?;
        let n = (src.len() / 2).min(STEAL_BATCH - 1);
        let moved: Vec<_> = src.drain(..n).collect();
        let mut d = lock(&dest.0);
        d.extend(moved);
        Some(first)
    }

    impl Remote {
        pub(crate) fn steal_into(&self, dest: &Local) -> Option<Notified> {
            let mut src = lock(&self.0);
            move_batch(&mut src, dest)
        }
        pub(crate) fn is_empty(&self) -> bool {
            lock(&self.0).is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            lock(&self.0).len()
        }
        pub(crate) fn steal_one(&self) -> Option<Notified> {
            lock(&self.0).pop_front()
        }
    }

    impl Inject {
        pub(crate) fn new() -> Inject {
            Inject(Mutex::new(VecDeque::new()))
        }
        pub(crate) fn push(&self, task: Notified) {
            lock(&self.0).push_back(task)
        }
        pub(crate) fn pop_into(&self, dest: &Local) -> Option<Notified> {
            let mut src = lock(&self.0);
            move_batch(&mut src, dest)
        }
        pub(crate) fn pop(&self) -> Option<Notified> {
            lock(&self.0).pop_front()
        }
        pub(crate) fn is_empty(&self) -> bool {
            lock(&self.0).is_empty()
        }
        pub(crate) fn len(&self) -> usize {
            lock(&self.0).len()
        }
    }
}

pub(crate) use imp::{local, Inject, Local, Remote};
