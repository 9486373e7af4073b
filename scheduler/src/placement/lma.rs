//! LMA: locality first, then memory pressure, then load.

use super::tally::Tally;
use super::window::MemoryPressure;
use super::{live_tallies, Placement, PlacementError, TaskRequest};
use crate::placement::ExecutorView;
use crate::ExecutorId;
use neptune_runtime::Class;
use std::cmp::Ordering;

/// LMA (locality- and memory-aware), in two passes over the task set:
///
/// 1. **Locality.** A task whose preferred executor is alive and has a free slot goes
///    there (tasks are pinned in order, each taking a slot, so a preferred executor
///    takes as many as it has room for).
/// 2. **Memory, then load.** Each other task goes, while some executor has a free
///    slot, to the executor with room and the lowest [`MemoryPressure`] (bucketed mean
///    plus standard deviation of bytes spilled, bytes in use and allocation churn over
///    its metrics window), the fewest tasks per slot breaking ties; once every executor
///    is full, to the fewest tasks per slot, the lowest pressure breaking ties. So low
///    pressure decides where free capacity is used, and a full cluster is still
///    loaded evenly. Remaining ties go to the earlier executor in the slice.
///
///    For a **Stream** task "room" is a slot it can take at once: one not held by a
///    Stream task or by Batch work its executor cannot pause (as for
///    [`LoadBalance`](super::LoadBalance)); between executors without such a slot, the
///    fewest of those blockers per slot wins. Counting queued and pausable Batch tasks
///    instead sent a micro-batch's Stream tasks all to the executor with the fewest
///    Batch tasks, where they waited for each other while another executor's slots,
///    whose Batch work they could have paused, went on with it.
///
/// ```
/// use neptune_scheduler::placement::{ExecutorView, Lma, Placement, TaskRequest};
/// use neptune_scheduler::ExecutorId;
///
/// let mut hot = ExecutorView::new(ExecutorId(0), 4);
/// hot.window.push(8 << 30, 0, 0); // 8 GiB in use
/// let mut cool = ExecutorView::new(ExecutorId(1), 4);
/// cool.window.push(1 << 30, 0, 0);
/// let tasks = [TaskRequest::batch().prefer(ExecutorId(0)), TaskRequest::batch()];
/// let placed = Lma.place(&tasks, &[hot, cool]).unwrap();
/// assert_eq!(placed, vec![ExecutorId(0), ExecutorId(1)]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Lma;

/// LMA's order of candidates for an unpinned Batch task (less is better).
fn compare(a: (&Tally, MemoryPressure), b: (&Tally, MemoryPressure)) -> Ordering {
    let ((ta, pa), (tb, pb)) = (a, b);
    match (ta.has_room(), tb.has_room()) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (true, true) => (pa, ta.load(), ta.index).cmp(&(pb, tb.load(), tb.index)),
        (false, false) => (ta.load(), pa, ta.index).cmp(&(tb.load(), pb, tb.index)),
    }
}

/// LMA's order of candidates for an unpinned Stream task (less is better): an executor
/// where it starts at once first, then as [`compare`] with the tasks it could not
/// displace in place of all tasks.
fn compare_stream(a: (&Tally, MemoryPressure), b: (&Tally, MemoryPressure)) -> Ordering {
    let ((ta, pa), (tb, pb)) = (a, b);
    match (ta.starts_stream(), tb.starts_stream()) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (true, true) => (pa, ta.stream_blockers(), ta.load(), ta.index).cmp(&(
            pb,
            tb.stream_blockers(),
            tb.load(),
            tb.index,
        )),
        (false, false) => (ta.stream_blockers(), pa, ta.load(), ta.index).cmp(&(
            tb.stream_blockers(),
            pb,
            tb.load(),
            tb.index,
        )),
    }
}

impl Placement for Lma {
    fn name(&self) -> &str {
        "lma"
    }

    fn place(
        &mut self,
        tasks: &[TaskRequest],
        executors: &[ExecutorView],
    ) -> Result<Vec<ExecutorId>, PlacementError> {
        let mut tallies = live_tallies(tasks, executors)?;
        let pressure: Vec<MemoryPressure> = tallies
            .iter()
            .map(|t| executors[t.index].pressure())
            .collect();
        let mut out: Vec<Option<ExecutorId>> = vec![None; tasks.len()];
        // Pass 1: locality.
        for (slot, task) in out.iter_mut().zip(tasks) {
            let Some(want) = task.preferred else { continue };
            if let Some(t) = tallies
                .iter_mut()
                .find(|t| executors[t.index].id == want && t.has_room())
            {
                t.assign(task.class);
                *slot = Some(want);
            }
        }
        // Pass 2: memory pressure, then load.
        for (slot, task) in out.iter_mut().zip(tasks) {
            if slot.is_some() {
                continue;
            }
            let order = match task.class {
                Class::Stream => compare_stream,
                Class::Batch => compare,
            };
            let best = (0..tallies.len())
                .min_by(|&a, &b| order((&tallies[a], pressure[a]), (&tallies[b], pressure[b])))
                .expect("at least one live executor");
            tallies[best].assign(task.class);
            *slot = Some(executors[tallies[best].index].id);
        }
        Ok(out
            .into_iter()
            .map(|e| e.expect("every task placed"))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_capacity_goes_to_low_pressure_then_load_evens_out() {
        let mut hot = ExecutorView::new(ExecutorId(0), 2);
        hot.window.push(1 << 30, 0, 0);
        let mut cool = ExecutorView::new(ExecutorId(1), 2);
        cool.window.push(1 << 20, 0, 0);
        let tasks = [TaskRequest::batch(); 6];
        let placed = Lma.place(&tasks, &[hot, cool]).unwrap();
        let ids: Vec<u32> = placed.iter().map(|e| e.0).collect();
        // Two free slots on the cool executor first, then the hot one's, then evenly.
        assert_eq!(ids, vec![1, 1, 0, 0, 1, 0]);
    }

    #[test]
    fn a_micro_batch_spreads_over_the_slots_it_can_take_by_pausing_batch_work() {
        // Two one-slot executors full of pausable Batch work, one with fewer Batch
        // tasks: each Stream task takes a slot of its own, not a turn on the same one.
        let few = ExecutorView::busy(0, 1, [0, 2], 2);
        let many = ExecutorView::busy(1, 1, [0, 5], 5);
        let placed = Lma
            .place(&[TaskRequest::stream(); 2], &[few, many])
            .unwrap();
        assert_eq!(placed, vec![ExecutorId(0), ExecutorId(1)]);
    }

    #[test]
    fn a_stream_task_goes_where_it_can_pause_batch_work_not_where_it_would_queue() {
        // Executor 0 runs a Stream task on its only slot; executor 1's Batch work can
        // be paused, executor 2's cannot.
        let streaming = ExecutorView::busy(0, 1, [1, 0], 0);
        let pausable = ExecutorView::busy(1, 1, [0, 3], 3);
        let unpausable = ExecutorView::busy(2, 1, [0, 1], 0);
        let placed = Lma
            .place(&[TaskRequest::stream()], &[streaming, pausable, unpausable])
            .unwrap();
        assert_eq!(placed, vec![ExecutorId(1)]);
        // With no slot to take at once anywhere, the fewest blockers per slot: two
        // Stream tasks on two slots (1 per slot) beat two unpausable Batch tasks on one.
        let two_unpausable = ExecutorView::busy(0, 1, [0, 2], 0);
        let wide = ExecutorView::busy(1, 2, [2, 0], 0);
        let placed = Lma
            .place(&[TaskRequest::stream()], &[two_unpausable, wide])
            .unwrap();
        assert_eq!(placed, vec![ExecutorId(1)]);
    }

    #[test]
    fn a_full_preferred_executor_is_not_forced() {
        let mut full = ExecutorView::new(ExecutorId(0), 1);
        full.running = [0, 1];
        let free = ExecutorView::new(ExecutorId(1), 1);
        let placed = Lma
            .place(&[TaskRequest::batch().prefer(ExecutorId(0))], &[full, free])
            .unwrap();
        assert_eq!(placed, vec![ExecutorId(1)]);
    }
}
