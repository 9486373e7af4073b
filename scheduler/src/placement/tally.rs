//! The load of each live executor while a task set is being placed: its running tasks
//! plus those assigned so far in this placement.

use super::ExecutorView;
use neptune_runtime::Class;
use std::cmp::Ordering;

/// A load per slot, compared exactly (by cross-multiplication).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PerSlot {
    tasks: u64,
    slots: u64,
}

impl PartialEq for PerSlot {
    fn eq(&self, other: &PerSlot) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PerSlot {}

impl PartialOrd for PerSlot {
    fn partial_cmp(&self, other: &PerSlot) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PerSlot {
    fn cmp(&self, other: &PerSlot) -> Ordering {
        (self.tasks as u128 * other.slots as u128).cmp(&(other.tasks as u128 * self.slots as u128))
    }
}

/// One live executor during a placement.
#[derive(Clone, Debug)]
pub(crate) struct Tally {
    /// Index into the executors slice.
    pub(crate) index: usize,
    pub(crate) slots: usize,
    pub(crate) stream: usize,
    pub(crate) batch: usize,
    /// Running Batch tasks a Stream task could still pause.
    pub(crate) pausable: usize,
    pub(crate) suspended: usize,
}

impl Tally {
    /// The live executors, in the slice's order.
    pub(crate) fn live(executors: &[ExecutorView]) -> Vec<Tally> {
        executors
            .iter()
            .enumerate()
            .filter(|(_, e)| e.alive)
            .map(|(index, e)| Tally {
                index,
                slots: e.slots,
                stream: e.running[0],
                batch: e.running[1],
                pausable: e.pausable_batch.min(e.running[1]),
                suspended: e.suspended,
            })
            .collect()
    }

    pub(crate) fn total(&self) -> usize {
        self.stream + self.batch
    }

    /// A slot is free for one more task.
    pub(crate) fn has_room(&self) -> bool {
        self.total() < self.slots
    }

    /// Tasks per slot (an executor reporting no slots counts as one slot).
    pub(crate) fn load(&self) -> PerSlot {
        PerSlot {
            tasks: self.total() as u64,
            slots: self.slots.max(1) as u64,
        }
    }

    /// Per slot, the tasks a new Stream task could not displace: Stream tasks and
    /// Batch tasks that cannot be paused.
    pub(crate) fn stream_blockers(&self) -> PerSlot {
        PerSlot {
            tasks: self.blockers() as u64,
            slots: self.slots.max(1) as u64,
        }
    }

    /// A new Stream task would start at once: a slot holds neither a Stream task nor
    /// Batch work that cannot be paused.
    pub(crate) fn starts_stream(&self) -> bool {
        self.blockers() < self.slots.max(1)
    }

    /// The tasks a new Stream task could not displace.
    fn blockers(&self) -> usize {
        self.stream + self.batch - self.pausable
    }

    /// Counts one more task of `class`. A Stream task that finds no free slot pauses a
    /// pausable Batch task, if there is one.
    pub(crate) fn assign(&mut self, class: Class) {
        match class {
            Class::Stream => {
                if !self.has_room() && self.pausable > 0 {
                    self.pausable -= 1;
                    self.batch -= 1;
                    self.suspended += 1;
                }
                self.stream += 1;
            }
            Class::Batch => self.batch += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_slot_compares_fractions() {
        let p = |tasks, slots| PerSlot { tasks, slots };
        assert!(p(1, 2) < p(1, 1));
        assert_eq!(p(2, 4), p(1, 2));
        assert!(p(3, 4) > p(2, 4));
    }

    #[test]
    fn a_stream_task_on_a_full_executor_pauses_pausable_batch_work() {
        let mut t = Tally {
            index: 0,
            slots: 2,
            stream: 0,
            batch: 2,
            pausable: 1,
            suspended: 0,
        };
        t.assign(Class::Stream);
        assert_eq!((t.stream, t.batch, t.pausable, t.suspended), (1, 1, 0, 1));
        t.assign(Class::Stream);
        assert_eq!((t.stream, t.batch, t.pausable, t.suspended), (2, 1, 0, 1));
    }
}
