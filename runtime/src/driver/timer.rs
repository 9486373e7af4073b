//! The timer queue.
//!
//! Timers live in a slab and are ordered by an indexed binary min-heap on
//! `(deadline, sequence number)`: each entry knows its position in the heap, so a timer
//! can be moved (reset) or removed (dropped) in `O(log n)` without searching and without
//! allocating, and dropped timers leave nothing behind. The sequence number is taken when
//! a timer is scheduled, so timers with equal deadlines fire in the order they were
//! scheduled.
//!
//! The queue also records until when the driver thread sleeps. Scheduling a timer wakes
//! the driver thread only if the new deadline is earlier than that; every other insert,
//! reset or removal is a plain update under the mutex.

use std::sync::Mutex;
use std::task::Waker;
use std::time::Instant;

use slab::Slab;

use super::lock;

/// Identifies a timer in the queue; owned by exactly one timer future.
pub(crate) type TimerKey = usize;

/// Heap position of an entry that is not queued (fired, or the queue is shut down).
const NOT_QUEUED: usize = usize::MAX;

/// Result of [`Timers::poll`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TimerPoll {
    /// The deadline has passed or the runtime shut down.
    Elapsed,
    /// The timer is queued and the waker stored; `wake_driver` says whether the caller
    /// must wake the driver thread because the deadline is now its earliest.
    Pending { wake_driver: bool },
}

struct Entry {
    deadline: Instant,
    seq: u64,
    /// Position in `TimerQueue::heap`, or `NOT_QUEUED`.
    pos: usize,
    waker: Option<Waker>,
}

/// Until when the driver thread blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Park {
    Until(Instant),
    Forever,
}

struct TimerQueue {
    entries: Slab<Entry>,
    /// Slab keys ordered as a binary min-heap on `(deadline, seq)`.
    heap: Vec<TimerKey>,
    next_seq: u64,
    park: Park,
    shutdown: bool,
}

/// The timers of one driver.
pub(crate) struct Timers {
    queue: Mutex<TimerQueue>,
}

impl TimerQueue {
    fn new() -> TimerQueue {
        TimerQueue {
            entries: Slab::new(),
            heap: Vec::new(),
            next_seq: 0,
            park: Park::Forever,
            shutdown: false,
        }
    }

    fn less(&self, a: TimerKey, b: TimerKey) -> bool {
        let (a, b) = (&self.entries[a], &self.entries[b]);
        (a.deadline, a.seq) < (b.deadline, b.seq)
    }

    fn set_pos(&mut self, pos: usize) {
        let key = self.heap[pos];
        self.entries[key].pos = pos;
    }

    /// Moves the entry at `pos` towards the root; returns whether it moved.
    fn sift_up(&mut self, mut pos: usize) -> bool {
        let start = pos;
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !self.less(self.heap[pos], self.heap[parent]) {
                break;
            }
            self.heap.swap(pos, parent);
            self.set_pos(pos);
            pos = parent;
        }
        self.set_pos(pos);
        pos != start
    }

    fn sift_down(&mut self, mut pos: usize) {
        let len = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.less(self.heap[right], self.heap[left]) {
                right
            } else {
                left
            };
            if !self.less(self.heap[child], self.heap[pos]) {
                break;
            }
            self.heap.swap(pos, child);
            self.set_pos(pos);
            pos = child;
        }
        self.set_pos(pos);
    }

    /// Restores the heap order after the entry at `pos` changed its key.
    fn fix(&mut self, pos: usize) {
        if !self.sift_up(pos) {
            self.sift_down(pos);
        }
    }

    fn unqueue(&mut self, key: TimerKey) {
        let pos = self.entries[key].pos;
        if pos == NOT_QUEUED {
            return;
        }
        self.entries[key].pos = NOT_QUEUED;
        let last = self.heap.pop().expect("a queued entry is in the heap");
        if pos < self.heap.len() {
            self.heap[pos] = last;
            self.fix(pos);
        }
    }

    /// Records that the driver must be up by `deadline`; returns whether it has to be
    /// woken for that.
    fn note_deadline(&mut self, deadline: Instant) -> bool {
        let wake = match self.park {
            Park::Forever => true,
            Park::Until(until) => deadline < until,
        };
        if wake {
            self.park = Park::Until(deadline);
        }
        wake
    }

    /// (Re)queues `key` for `deadline`; returns whether the driver must be woken.
    fn schedule(&mut self, key: TimerKey, deadline: Instant) -> bool {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = &mut self.entries[key];
        entry.deadline = deadline;
        entry.seq = seq;
        if entry.pos == NOT_QUEUED {
            let pos = self.heap.len();
            self.heap.push(key);
            self.entries[key].pos = pos;
            self.sift_up(pos);
        } else {
            let pos = entry.pos;
            self.fix(pos);
        }
        self.note_deadline(deadline)
    }

    fn pop_expired(&mut self, now: Instant) -> Option<TimerKey> {
        let &key = self.heap.first()?;
        if self.entries[key].deadline > now {
            return None;
        }
        self.unqueue(key);
        Some(key)
    }
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            queue: Mutex::new(TimerQueue::new()),
        }
    }

    /// Queues a timer for `deadline` that wakes `waker`. Returns `None` when the runtime
    /// is shut down (the timer counts as elapsed), else its key and whether the caller
    /// must wake the driver thread.
    pub(crate) fn insert(&self, deadline: Instant, waker: &Waker) -> Option<(TimerKey, bool)> {
        let mut queue = lock(&self.queue);
        if queue.shutdown {
            return None;
        }
        let key = queue.entries.insert(Entry {
            deadline,
            seq: 0,
            pos: NOT_QUEUED,
            waker: Some(waker.clone()),
        });
        let wake_driver = queue.schedule(key, deadline);
        Some((key, wake_driver))
    }

    /// Polls timer `key`, whose owner now wants it to fire at `deadline`: it has elapsed
    /// if `deadline <= now`; otherwise it is requeued if it fired early or is queued for
    /// another deadline (the owner extended it lazily), and `waker` is stored.
    pub(crate) fn poll(
        &self,
        key: TimerKey,
        deadline: Instant,
        now: Instant,
        waker: &Waker,
    ) -> TimerPoll {
        let mut queue = lock(&self.queue);
        if queue.shutdown {
            return TimerPoll::Elapsed;
        }
        if deadline <= now {
            queue.unqueue(key);
            let old = queue.entries[key].waker.take();
            drop(queue);
            // Dropped outside the lock: dropping a waker may run arbitrary code.
            drop(old);
            return TimerPoll::Elapsed;
        }
        let entry = &queue.entries[key];
        let wake_driver = if entry.pos == NOT_QUEUED || entry.deadline != deadline {
            queue.schedule(key, deadline)
        } else {
            false
        };
        let entry = &mut queue.entries[key];
        let old = match &entry.waker {
            Some(current) if current.will_wake(waker) => None,
            _ => entry.waker.replace(waker.clone()),
        };
        drop(queue);
        drop(old);
        TimerPoll::Pending { wake_driver }
    }

    /// Moves timer `key` to `deadline` (also requeuing it if it already fired); returns
    /// whether the caller must wake the driver thread.
    pub(crate) fn reschedule(&self, key: TimerKey, deadline: Instant) -> bool {
        let mut queue = lock(&self.queue);
        if queue.shutdown {
            return false;
        }
        queue.schedule(key, deadline)
    }

    /// Removes timer `key` for good.
    pub(crate) fn remove(&self, key: TimerKey) {
        let mut queue = lock(&self.queue);
        let removed = if queue.entries.contains(key) {
            queue.unqueue(key);
            Some(queue.entries.remove(key))
        } else {
            None
        };
        drop(queue);
        drop(removed);
    }

    /// Fires every timer whose deadline is at or before `now`, in deadline order, pushing
    /// their wakers onto `out`. Returns the earliest remaining deadline, which the driver
    /// thread will sleep until.
    pub(crate) fn fire_expired(&self, now: Instant, out: &mut Vec<Waker>) -> Option<Instant> {
        let mut queue = lock(&self.queue);
        while let Some(key) = queue.pop_expired(now) {
            out.extend(queue.entries[key].waker.take());
        }
        let next = queue.heap.first().map(|&key| queue.entries[key].deadline);
        queue.park = next.map_or(Park::Forever, Park::Until);
        next
    }

    /// Completes every timer, now and in the future, and wakes their tasks.
    pub(crate) fn shutdown(&self) {
        let mut wakers = Vec::new();
        {
            let mut queue = lock(&self.queue);
            queue.shutdown = true;
            queue.heap.clear();
            for (_, entry) in queue.entries.iter_mut() {
                entry.pos = NOT_QUEUED;
                wakers.extend(entry.waker.take());
            }
        }
        for waker in wakers {
            waker.wake();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.queue).entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::task::Wake;
    use std::time::Duration;

    /// A waker that records its id in a shared log when woken.
    struct Recorder {
        id: usize,
        log: Arc<Mutex<Vec<usize>>>,
    }

    impl Wake for Recorder {
        fn wake(self: Arc<Self>) {
            self.log.lock().unwrap().push(self.id);
        }
    }

    fn recorder(id: usize, log: &Arc<Mutex<Vec<usize>>>) -> Waker {
        Waker::from(Arc::new(Recorder {
            id,
            log: log.clone(),
        }))
    }

    fn fire_all(timers: &Timers, now: Instant) -> Option<Instant> {
        let mut wakers = Vec::new();
        let next = timers.fire_expired(now, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
        next
    }

    #[test]
    fn fires_in_deadline_then_insertion_order() {
        let timers = Timers::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let base = Instant::now();
        // A deterministic pseudo-random sequence of deadlines with many duplicates.
        let mut x: u32 = 12345;
        let mut expected = Vec::new();
        for id in 0..500 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let ms = u64::from((x >> 16) % 50);
            let deadline = base + Duration::from_millis(ms);
            timers.insert(deadline, &recorder(id, &log)).unwrap();
            expected.push((deadline, id));
        }
        expected.sort();
        // Fire in several steps to exercise partial drains.
        for step in [10, 25, 49] {
            fire_all(&timers, base + Duration::from_millis(step));
        }
        let expected: Vec<usize> = expected.into_iter().map(|(_, id)| id).collect();
        assert_eq!(*log.lock().unwrap(), expected);
    }

    #[test]
    fn removal_and_reschedule_keep_the_heap_consistent() {
        let timers = Timers::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let base = Instant::now();
        let keys: Vec<TimerKey> = (0..100)
            .map(|id| {
                let deadline = base + Duration::from_millis(id as u64);
                timers.insert(deadline, &recorder(id, &log)).unwrap().0
            })
            .collect();
        // Remove every third timer, push every odd remaining one 1s later.
        for (id, &key) in keys.iter().enumerate() {
            if id % 3 == 0 {
                timers.remove(key);
            } else if id % 2 == 1 {
                timers.reschedule(
                    key,
                    base + Duration::from_secs(1) + Duration::from_millis(id as u64),
                );
            }
        }
        assert_eq!(timers.len(), 66);
        let next = fire_all(&timers, base + Duration::from_millis(200));
        assert_eq!(next, Some(base + Duration::from_millis(1001)));
        fire_all(&timers, base + Duration::from_secs(2));
        let early: Vec<usize> = (0..100).filter(|id| id % 3 != 0 && id % 2 == 0).collect();
        let late: Vec<usize> = (0..100).filter(|id| id % 3 != 0 && id % 2 == 1).collect();
        let expected: Vec<usize> = early.into_iter().chain(late).collect();
        assert_eq!(*log.lock().unwrap(), expected);
        for (id, &key) in keys.iter().enumerate() {
            if id % 3 != 0 {
                timers.remove(key);
            }
        }
        assert_eq!(timers.len(), 0);
        assert!(lock(&timers.queue).heap.is_empty());
    }

    #[test]
    fn driver_is_woken_only_for_earlier_deadlines() {
        let timers = Timers::new();
        let waker = futures::task::noop_waker();
        let base = Instant::now();
        let (a, wake) = timers
            .insert(base + Duration::from_secs(10), &waker)
            .unwrap();
        assert!(wake, "first timer while the driver sleeps forever");
        assert_eq!(
            fire_all(&timers, base),
            Some(base + Duration::from_secs(10))
        );
        let (_b, wake) = timers
            .insert(base + Duration::from_secs(20), &waker)
            .unwrap();
        assert!(!wake, "later deadline");
        assert!(!timers.reschedule(a, base + Duration::from_secs(15)));
        let (_c, wake) = timers
            .insert(base + Duration::from_secs(5), &waker)
            .unwrap();
        assert!(wake, "earlier deadline");
        let (_d, wake) = timers
            .insert(base + Duration::from_secs(6), &waker)
            .unwrap();
        assert!(
            !wake,
            "the driver was already woken for an earlier deadline"
        );
    }

    #[test]
    fn poll_requeues_lazily_extended_timers() {
        let timers = Timers::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let waker = recorder(7, &log);
        let base = Instant::now();
        let first = base + Duration::from_millis(10);
        let (key, _) = timers.insert(first, &waker).unwrap();
        // The owner extended its deadline without telling the queue; the old deadline
        // fires and wakes it, and its next poll requeues it.
        fire_all(&timers, first);
        assert_eq!(*log.lock().unwrap(), vec![7]);
        let later = base + Duration::from_millis(30);
        assert!(matches!(
            timers.poll(key, later, first, &waker),
            TimerPoll::Pending { .. }
        ));
        assert_eq!(fire_all(&timers, first), Some(later));
        assert_eq!(timers.poll(key, later, later, &waker), TimerPoll::Elapsed);
        assert_eq!(fire_all(&timers, later), None);
    }

    #[test]
    fn shutdown_completes_everything() {
        let timers = Timers::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let base = Instant::now();
        let (key, _) = timers
            .insert(base + Duration::from_secs(60), &recorder(1, &log))
            .unwrap();
        timers.shutdown();
        assert_eq!(*log.lock().unwrap(), vec![1]);
        assert_eq!(
            timers.poll(
                key,
                base + Duration::from_secs(60),
                base,
                &recorder(1, &log)
            ),
            TimerPoll::Elapsed
        );
        assert!(timers.insert(base, &recorder(2, &log)).is_none());
        timers.remove(key);
        assert_eq!(timers.len(), 0);
    }
}
