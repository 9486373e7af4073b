//! LB: equalize tasks per slot across executors.

use super::tally::Tally;
use super::{live_tallies, Placement, PlacementError, TaskRequest};
use crate::placement::ExecutorView;
use crate::ExecutorId;
use neptune_runtime::Class;

/// LB (load balancing): each task goes to the executor with the fewest tasks per slot,
/// counting the tasks already placed in this call, so a task set spreads evenly.
///
/// A **Stream** task first looks at what it could not displace: Stream tasks and Batch
/// tasks that cannot be paused. An executor whose running Batch work can be paused
/// (its `pausable_batch`) starts a Stream task at once even when full, so it is
/// preferred over one whose slots hold unpausable work; between equals, the executor
/// with fewer tasks per slot (a free slot beats pausing), then fewer suspended tasks.
/// A Stream task placed on a full executor is counted as pausing one of its pausable
/// Batch tasks.
///
/// A **Batch** task goes to the fewest tasks per slot, then fewest suspended tasks (a
/// suspended task will want its slot back). Remaining ties go to the earlier executor
/// in the slice.
///
/// ```
/// use neptune_scheduler::placement::{ExecutorView, LoadBalance, Placement, TaskRequest};
/// use neptune_scheduler::ExecutorId;
///
/// let mut busy = ExecutorView::new(ExecutorId(0), 2);
/// busy.running = [0, 2];
/// let idle = ExecutorView::new(ExecutorId(1), 2);
/// let placed = LoadBalance.place(&vec![TaskRequest::batch(); 2], &[busy, idle]).unwrap();
/// assert_eq!(placed, vec![ExecutorId(1), ExecutorId(1)]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadBalance;

/// The executor LB picks for a task of `class` among `tallies` (not empty).
pub(crate) fn least_loaded(tallies: &[Tally], class: Class) -> usize {
    let best = match class {
        Class::Stream => tallies
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| (t.stream_blockers(), t.load(), t.suspended, t.index)),
        Class::Batch => tallies
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| (t.load(), t.suspended, t.index)),
    };
    best.map(|(i, _)| i).expect("at least one live executor")
}

impl Placement for LoadBalance {
    fn name(&self) -> &str {
        "lb"
    }

    fn place(
        &mut self,
        tasks: &[TaskRequest],
        executors: &[ExecutorView],
    ) -> Result<Vec<ExecutorId>, PlacementError> {
        let mut tallies = live_tallies(tasks, executors)?;
        Ok(tasks
            .iter()
            .map(|task| {
                let i = least_loaded(&tallies, task.class);
                tallies[i].assign(task.class);
                executors[tallies[i].index].id
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_prefers_pausable_batch_work_over_unpausable() {
        let fifo = ExecutorView::busy(0, 2, [0, 2], 0);
        let neptune = ExecutorView::busy(1, 2, [0, 2], 2);
        let placed = LoadBalance
            .place(&[TaskRequest::stream()], &[fifo.clone(), neptune.clone()])
            .unwrap();
        assert_eq!(placed, vec![ExecutorId(1)]);
        // Batch work sees both as equally loaded: the first wins.
        let placed = LoadBalance
            .place(&[TaskRequest::batch()], &[fifo, neptune])
            .unwrap();
        assert_eq!(placed, vec![ExecutorId(0)]);
    }

    #[test]
    fn a_free_slot_beats_pausing() {
        let full = ExecutorView::busy(0, 2, [0, 2], 2);
        let free = ExecutorView::busy(1, 2, [0, 1], 1);
        let placed = LoadBalance
            .place(&[TaskRequest::stream()], &[full, free])
            .unwrap();
        assert_eq!(placed, vec![ExecutorId(1)]);
    }

    #[test]
    fn load_is_per_slot() {
        let small = ExecutorView::busy(0, 1, [0, 0], 0);
        let big = ExecutorView::busy(1, 4, [0, 0], 0);
        let placed = LoadBalance
            .place(&[TaskRequest::batch(); 5], &[small, big])
            .unwrap();
        let on_big = placed.iter().filter(|e| **e == ExecutorId(1)).count();
        assert_eq!(on_big, 4);
    }
}
