//! The counting allocator installed as the global allocator, and heartbeats built from
//! a live runtime.

use neptune_runtime::{preemption_point, Builder, SpawnOptions, TaskState};
use neptune_scheduler::metrics::{CountingAllocator, Heartbeat, HeartbeatSource, SpawnCounter};
use neptune_scheduler::ExecutorId;
use neptune_support::wait::wait_for;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

const BIG: usize = 64 << 20;

#[test]
fn the_global_allocator_counts_a_big_block_in_and_out() {
    let before = ALLOC.snapshot();
    let v = vec![1u8; BIG];
    let during = ALLOC.snapshot();
    // Other threads allocate too: compare with a margin far below the block's size.
    assert!(
        during.in_use >= before.in_use + BIG as u64 - (1 << 20),
        "{before:?} {during:?}"
    );
    assert!(during.allocations > before.allocations);
    assert!(during.allocated_bytes >= before.allocated_bytes + BIG as u64);
    drop(std::hint::black_box(v));
    let after = ALLOC.snapshot();
    assert!(
        after.in_use + BIG as u64 - (1 << 20) <= during.in_use,
        "{during:?} {after:?}"
    );
    assert!(after.frees > before.frees);
}

/// A Batch task that runs until the flag is set, once it is running.
fn spin(
    rt: &neptune_runtime::Runtime,
    census: &SpawnCounter,
) -> (neptune_runtime::JoinHandle<()>, Arc<AtomicBool>) {
    let (running, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let spinner = {
        let (running, stop) = (running.clone(), stop.clone());
        census.spawn_with(rt.handle(), SpawnOptions::batch(), async move {
            while !stop.load(SeqCst) {
                running.store(true, SeqCst);
                preemption_point().await;
            }
        })
    };
    wait_for("the spinner to run", || running.load(SeqCst));
    (spinner, stop)
}

#[test]
fn a_heartbeat_reports_the_runtime_and_the_allocator() {
    let rt = Builder::new().slots(2).build().unwrap();
    let census = SpawnCounter::new();
    let spilled = Arc::new(AtomicU64::new(12_345));
    let mut source = HeartbeatSource::new(ExecutorId(9), rt.handle(), &ALLOC)
        .census(census.clone())
        .spill_counter(spilled);
    // One idle Stream task, one idle Batch task, one Batch task to park.
    let _stream = census.spawn_with(
        rt.handle(),
        SpawnOptions::stream(),
        std::future::pending::<()>(),
    );
    let _idle = census.spawn_with(
        rt.handle(),
        SpawnOptions::batch(),
        std::future::pending::<()>(),
    );
    let (spinner, stop) = spin(&rt, &census);
    let task = spinner.task();
    task.pause();
    wait_for("the spinner to park", || {
        task.state() == TaskState::Paused && rt.metrics().slots.iter().any(|s| s.suspended == 1)
    });
    wait_for("the idle tasks to be polled once", || {
        rt.metrics().total(|s| s.polls) >= 3
    });

    let hb = source.beat();
    assert_eq!(hb.executor, ExecutorId(9));
    assert_eq!(hb.slots, 2);
    assert_eq!(hb.running, [1, 1]);
    assert_eq!(hb.suspended, 1);
    assert_eq!(hb.pausable_batch, 1, "the default policy pauses batch work");
    assert_eq!(hb.bytes_spilled, 12_345);
    assert!(hb.memory_in_use > 0);
    assert!(hb.suspended_bytes > 0 && hb.suspended_bytes <= hb.memory_in_use);
    assert!(hb.timestamp_ms > 0);
    assert_eq!(Heartbeat::decode(&hb.encode()).unwrap(), hb);
    stop.store(true, SeqCst);
    task.resume();
    rt.block_on(spinner).unwrap();
}

/// A policy of this program's own, with only a name and its preemption.
struct Custom(neptune_runtime::policy::Preemption);

impl neptune_runtime::policy::Policy for Custom {
    fn name(&self) -> &str {
        "custom"
    }

    fn preemption(&self) -> neptune_runtime::policy::Preemption {
        self.0
    }
}

#[test]
fn a_custom_pausing_policy_offers_its_running_batch_tasks_to_placement() {
    use neptune_runtime::policy::Preemption;
    for (preemption, pausable) in [
        (Preemption::Pause, 1),
        (Preemption::None, 0),
        (Preemption::Cancel, 0),
    ] {
        let rt = Builder::new()
            .slots(1)
            .policy(Custom(preemption))
            .build()
            .unwrap();
        assert_eq!(rt.policy_preemption(), preemption);
        let census = SpawnCounter::new();
        let mut source =
            HeartbeatSource::new(ExecutorId(1), rt.handle(), &ALLOC).census(census.clone());
        let (spinner, stop) = spin(&rt, &census);
        let hb = source.beat();
        assert_eq!(hb.running, [0, 1]);
        assert_eq!(hb.pausable_batch, pausable, "{preemption:?}");
        stop.store(true, SeqCst);
        rt.block_on(spinner).unwrap();
    }
}
