//! Contexts: executors, placement, the operator registry, concurrent jobs.

mod common;

use common::wait_for;
use neptune_dataflow::{Context, DataflowError};
use neptune_scheduler::placement::{ExecutorView, Placement, PlacementError, TaskRequest};
use neptune_scheduler::ExecutorId;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

fn config_error(result: Result<Context, DataflowError>) -> String {
    match result {
        Err(DataflowError::Config(m)) => m,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn bad_settings_are_refused() {
    assert!(config_error(Context::builder().executors(0).build()).contains("at least one executor"));
    assert!(
        config_error(Context::builder().slots_per_executor(0).build())
            .contains("at least one slot")
    );
    assert!(config_error(Context::builder().policy("lottery").build()).contains("unknown policy"));
    assert!(
        config_error(Context::builder().placement("nearest").build()).contains("unknown placement")
    );
}

#[test]
fn executors_have_their_own_slots_and_policy() {
    let ctx = Context::builder()
        .executors(3)
        .slots_per_executor(2)
        .policy("kill")
        .build()
        .unwrap();
    assert_eq!(ctx.executors().len(), 3);
    for (i, e) in ctx.executors().iter().enumerate() {
        assert_eq!(e.id(), ExecutorId(i as u32));
        assert_eq!(e.slots(), 2);
        assert_eq!(e.policy_name(), "kill");
        assert_eq!(e.metrics().slots.len(), 2);
    }
    assert_eq!(ctx.default_partitions(), 6);
    assert_eq!(ctx.placement_name(), "lb");
}

#[test]
fn lb_placement_spreads_a_stage_evenly() {
    let ctx = Context::builder()
        .executors(2)
        .slots_per_executor(2)
        .build()
        .unwrap();
    let out = ctx.range(0..1000, 8).map(|x| x + 1).count().unwrap();
    assert_eq!(out.value, 1000);
    assert_eq!(out.stats.tasks_per_executor, [4, 4]);
    let finished: u64 = ctx.executors().iter().map(|e| e.tasks_finished()).sum();
    assert_eq!(finished, 8);
    for e in ctx.executors() {
        assert_eq!(e.running(), [0, 0]);
        assert_eq!(e.shuffle_bytes(), 0);
    }
}

#[test]
fn lma_placement_runs_jobs_correctly() {
    let ctx = Context::builder()
        .executors(2)
        .slots_per_executor(2)
        .placement("lma")
        .build()
        .unwrap();
    assert_eq!(ctx.placement_name(), "lma");
    let mut counts = ctx
        .range(0..10_000, 6)
        .key_by(|x| x % 5)
        .map(|(k, _)| (k, 1u64))
        .reduce_by_key(|a, b| a + b)
        .collect()
        .unwrap();
    assert_eq!(counts.stats.tasks_per_executor.iter().sum::<usize>(), 12);
    counts.value.sort();
    assert_eq!(
        counts.value,
        [(0, 2000), (1, 2000), (2, 2000), (3, 2000), (4, 2000)]
    );
}

/// Everything on the last executor.
struct Last;

impl Placement for Last {
    fn name(&self) -> &str {
        "last"
    }

    fn place(
        &mut self,
        tasks: &[TaskRequest],
        executors: &[ExecutorView],
    ) -> Result<Vec<ExecutorId>, PlacementError> {
        let last = executors
            .iter()
            .rev()
            .find(|e| e.alive)
            .ok_or(PlacementError::NoLiveExecutor)?;
        Ok(vec![last.id; tasks.len()])
    }
}

#[test]
fn a_placement_policy_of_ones_own_is_used() {
    let ctx = Context::builder()
        .executors(3)
        .slots_per_executor(1)
        .placement_policy(Last)
        .build()
        .unwrap();
    let out = ctx
        .range(0..100, 5)
        .key_by(|x| x % 2)
        .group_by_key()
        .count()
        .unwrap();
    assert_eq!(out.value, 2);
    assert_eq!(out.stats.tasks_per_executor, [0, 0, 10]);
}

#[test]
fn a_custom_local_policy_is_built_per_executor() {
    let ctx = Context::builder()
        .executors(2)
        .slots_per_executor(1)
        .policy_with(|_, slots| neptune_scheduler::policy_by_name("fair", slots).unwrap())
        .build()
        .unwrap();
    assert!(ctx.executors().iter().all(|e| e.policy_name() == "fair"));
    assert_eq!(ctx.range(0..10, 2).count().unwrap().value, 10);
}

#[test]
fn the_registry_holds_a_running_jobs_stages_and_no_more() {
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(2)
        .build()
        .unwrap();
    let open = Arc::new(AtomicBool::new(false));
    let o = open.clone();
    let ds = ctx
        .range(0..4, 2)
        .map(move |x| {
            while !o.load(SeqCst) {
                std::thread::yield_now();
            }
            (x % 2, x)
        })
        .reduce_by_key(|a, b| a + b);
    let job = ds.job().collect();
    let names: Vec<String> = job.stages().into_iter().map(|s| s.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(ctx.registry().names(), sorted);
    assert!(names.iter().all(|n| ctx.registry().contains(n)));
    open.store(true, SeqCst);
    let mut out = job.wait().unwrap().into_value();
    out.sort();
    assert_eq!(out, [(0, 2), (1, 4)]);
    assert!(ctx.registry().is_empty());
}

#[test]
fn concurrent_jobs_share_the_executors() {
    let ctx = Context::builder()
        .executors(2)
        .slots_per_executor(1)
        .build()
        .unwrap();
    let jobs: Vec<_> = (0..6u64)
        .map(|i| {
            ctx.range(0..1000 * (i + 1), 3)
                .key_by(move |x| x % (i + 2))
                .group_by_key()
                .job()
                .count()
        })
        .collect();
    for (i, job) in jobs.into_iter().enumerate() {
        assert_eq!(job.wait().unwrap().value, i as u64 + 2);
    }
    wait_for("every task to be accounted for", || {
        ctx.executors().iter().all(|e| e.running() == [0, 0])
    });
}

#[test]
fn a_context_shuts_down_once_its_last_user_is_gone() {
    let ds = {
        let ctx = Context::builder()
            .executors(1)
            .slots_per_executor(1)
            .build()
            .unwrap();
        ctx.range(0..10, 2)
    };
    // The dataset keeps the context alive.
    let job = ds.job().count();
    drop(ds);
    // The job keeps it alive until it answers.
    assert_eq!(job.wait().unwrap().value, 10);
}
