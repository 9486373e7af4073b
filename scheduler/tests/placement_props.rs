//! Properties of the placement policies, over random clusters and task sets.

use neptune_runtime::Class;
use neptune_scheduler::placement::{
    ExecutorView, Lma, LoadBalance, Placement, PlacementError, PlacementKind, Random, TaskRequest,
};
use neptune_scheduler::ExecutorId;
use proptest::prelude::*;

fn executor() -> impl Strategy<Value = (bool, usize, usize, usize, usize, u64, u64, u64)> {
    (
        prop::bool::weighted(0.8),
        0usize..6,
        0usize..4,
        0usize..6,
        0usize..6,
        0u64..(1 << 34),
        prop_oneof![Just(0u64), 0u64..(1 << 30)],
        0u64..(1 << 28),
    )
}

fn cluster() -> impl Strategy<Value = Vec<ExecutorView>> {
    prop::collection::vec(executor(), 0..6).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(
                |(i, (alive, slots, stream, batch, pausable, mem, spill, churn))| {
                    let mut v = ExecutorView::new(ExecutorId(i as u32), slots);
                    v.alive = alive;
                    v.running = [stream, batch];
                    v.pausable_batch = pausable.min(batch);
                    v.window.push(mem, spill, churn);
                    v
                },
            )
            .collect()
    })
}

fn tasks(executors: usize) -> impl Strategy<Value = Vec<TaskRequest>> {
    prop::collection::vec(
        (
            prop::bool::ANY,
            prop::option::of(0..executors.max(1) as u32 + 1),
        ),
        0..16,
    )
    .prop_map(|ts| {
        ts.into_iter()
            .map(|(stream, pref)| TaskRequest {
                preferred: pref.map(ExecutorId),
                class: if stream { Class::Stream } else { Class::Batch },
            })
            .collect()
    })
}

fn cluster_and_tasks() -> impl Strategy<Value = (Vec<ExecutorView>, Vec<TaskRequest>)> {
    cluster().prop_flat_map(|c| {
        let n = c.len();
        (Just(c), tasks(n))
    })
}

fn policies(seed: u64) -> Vec<Box<dyn Placement>> {
    vec![
        Box::new(Random::new(seed)),
        Box::new(LoadBalance),
        Box::new(Lma),
    ]
}

proptest! {
    #[test]
    fn never_on_a_dead_executor((executors, tasks) in cluster_and_tasks(), seed in any::<u64>()) {
        let any_alive = executors.iter().any(|e| e.alive);
        for mut p in policies(seed) {
            match p.place(&tasks, &executors) {
                Ok(placed) => {
                    prop_assert_eq!(placed.len(), tasks.len());
                    for id in placed {
                        let e = executors.iter().find(|e| e.id == id);
                        prop_assert!(e.is_some_and(|e| e.alive), "{} placed on {}", p.name(), id);
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e, PlacementError::NoLiveExecutor);
                    prop_assert!(!any_alive && !tasks.is_empty());
                }
            }
        }
    }

    #[test]
    fn lma_honours_locality_while_the_preferred_executor_has_room(
        (executors, tasks) in cluster_and_tasks(),
    ) {
        prop_assume!(executors.iter().any(|e| e.alive));
        let placed = Lma.place(&tasks, &executors).unwrap();
        // Room left on each executor as the tasks are pinned in order.
        let mut room: Vec<usize> = executors.iter().map(|e| e.free_slots()).collect();
        for (task, got) in tasks.iter().zip(&placed) {
            let Some(want) = task.preferred else { continue };
            let Some(i) = executors.iter().position(|e| e.id == want) else { continue };
            if executors[i].alive && room[i] > 0 {
                room[i] -= 1;
                prop_assert_eq!(*got, want);
            }
        }
    }

    #[test]
    fn lma_prefers_lower_memory_pressure_when_all_else_is_equal(
        slots in 1usize..6,
        running in 0usize..6,
        memory in prop::collection::vec(0u64..(1 << 40), 2..6),
        spilled in prop::collection::vec(prop_oneof![Just(0u64), 1u64..(1 << 30)], 6),
    ) {
        let executors: Vec<ExecutorView> = memory
            .iter()
            .zip(&spilled)
            .enumerate()
            .map(|(i, (&mem, &spill))| {
                let mut v = ExecutorView::new(ExecutorId(i as u32), slots);
                v.running = [0, running];
                v.window.push(mem, spill, 0);
                v
            })
            .collect();
        let placed = Lma.place(&[TaskRequest::batch()], &executors).unwrap();
        let got = executors.iter().find(|e| e.id == placed[0]).unwrap();
        let least = executors.iter().map(|e| e.pressure()).min().unwrap();
        prop_assert_eq!(got.pressure(), least);
    }

    #[test]
    fn lb_spreads_batch_tasks_evenly_over_equal_executors(n in 1usize..8, k in 0usize..40, slots in 1usize..5) {
        let executors: Vec<ExecutorView> =
            (0..n).map(|i| ExecutorView::new(ExecutorId(i as u32), slots)).collect();
        let placed = LoadBalance.place(&vec![TaskRequest::batch(); k], &executors).unwrap();
        let mut counts = vec![0usize; n];
        for id in placed {
            counts[id.0 as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        prop_assert!(max - min <= 1, "{:?}", counts);
    }

    #[test]
    fn random_is_reproducible_from_its_seed((executors, tasks) in cluster_and_tasks(), seed in any::<u64>()) {
        let a = Random::new(seed).place(&tasks, &executors);
        let b = Random::new(seed).place(&tasks, &executors);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn no_live_executor_is_an_error_and_no_task_is_not() {
    let mut dead = ExecutorView::new(ExecutorId(0), 4);
    dead.alive = false;
    for kind in PlacementKind::ALL {
        let mut p = kind.build(1);
        assert_eq!(
            p.place(&[TaskRequest::stream()], &[dead.clone()]),
            Err(PlacementError::NoLiveExecutor),
            "{kind}"
        );
        assert_eq!(p.place(&[], &[dead.clone()]), Ok(vec![]));
        assert_eq!(
            p.place(&[TaskRequest::batch()], &[]),
            Err(PlacementError::NoLiveExecutor)
        );
    }
    assert!("round-robin".parse::<PlacementKind>().is_err());
}
