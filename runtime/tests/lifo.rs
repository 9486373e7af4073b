//! The LIFO slot: a task woken or spawned by a poll runs next on the same slot, but
//! never at the expense of the rules that matter more — Stream work spawned by a Batch
//! task is seen by idle slots at once, a task that computes on instead of yielding lets
//! other slots take what it spawned, and a chain of LIFO wakes does not starve the
//! queues. Each test would hang (and fail at its deadline) if the rule were broken.

mod common;

use common::*;
use futures::channel::mpsc;
use futures::StreamExt;
use neptune_runtime::{preemption_point, spawn, spawn_with, Class, SpawnOptions};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

/// A Batch task spawns a task and then holds its slot until that task has run: the
/// task must run on the other slot. `options` is the child's class; the parent waits
/// with `preemption_point` (`yield_points`) or with no yield point at all.
fn child_runs_elsewhere(options: SpawnOptions, yield_points: bool) -> bool {
    let rt = runtime(2);
    let ran = Flag::new();
    let _release = ran.set_on_drop();
    let parent = rt.spawn(async move {
        let r = ran.clone();
        drop(spawn_with(options, async move { r.set() }));
        let start = Instant::now();
        while !ran.is_set() && start.elapsed() < DEADLINE {
            if yield_points {
                preemption_point().await;
            } else {
                std::hint::spin_loop();
            }
        }
        ran.is_set()
    });
    join(parent).unwrap()
}

#[test]
fn a_stream_task_spawned_by_a_batch_task_runs_at_once_elsewhere() {
    assert!(
        child_runs_elsewhere(SpawnOptions::stream(), false),
        "the Stream task waited for its Batch spawner to finish"
    );
}

#[test]
fn a_task_spawned_by_a_computing_task_is_handed_to_other_slots() {
    assert!(
        child_runs_elsewhere(SpawnOptions::batch(), true),
        "the spawned task waited in the LIFO slot while its spawner computed"
    );
}

#[test]
fn a_chain_of_lifo_wakes_does_not_starve_the_queue() {
    // One slot: two tasks wake each other over channels for as long as a third task,
    // queued behind them, has not run. Without a bound on LIFO runs in a row the
    // third never would.
    let rt = runtime(1);
    let rounds = Arc::new(AtomicU64::new(0));
    let r = rounds.clone();
    let out = rt.block_on(rt.spawn(async move {
        let third = Flag::new();
        let (to_b, mut b_rx) = mpsc::unbounded::<()>();
        let (to_a, mut a_rx) = mpsc::unbounded::<()>();
        // Spawned first, so that `b` takes its place in the LIFO slot and it goes to
        // the queue.
        let t = third.clone();
        let third_task = spawn(async move { t.set() });
        let b = spawn(async move {
            while b_rx.next().await.is_some() {
                if to_a.unbounded_send(()).is_err() {
                    break;
                }
            }
        });
        to_b.unbounded_send(()).unwrap();
        // Bounded: a starved third task shows as a count at the bound.
        while !third.is_set() && r.load(SeqCst) < 1_000_000 {
            a_rx.next().await.unwrap();
            r.fetch_add(1, SeqCst);
            to_b.unbounded_send(()).unwrap();
        }
        drop(to_b);
        b.await.unwrap();
        third_task.await.unwrap();
        third.is_set()
    }));
    assert!(out.unwrap(), "the queued task never ran");
    let n = rounds.load(SeqCst);
    // Three LIFO runs in a row, then the queue: the third task runs within a round or
    // two (a slot without the bound reaches it only on its periodic global-queue turn).
    assert!(n <= 4, "the queued task waited {n} ping-pong rounds");
}

#[test]
fn spawn_takes_the_class_of_the_spawning_task() {
    let rt = runtime(2);
    let from_stream = rt.spawn_with(SpawnOptions::stream(), async {
        let child = spawn(async {});
        let class = child.task().class();
        child.await.unwrap();
        class
    });
    let from_batch = rt.spawn_with(SpawnOptions::batch(), async {
        let mut set = neptune_runtime::JoinSet::new();
        set.spawn(async {}).class()
    });
    assert_eq!(join(from_stream).unwrap(), Class::Stream);
    assert_eq!(join(from_batch).unwrap(), Class::Batch);
    // Outside a task (here `block_on`) a spawned task is a Batch task.
    let outside = rt.block_on(async { spawn(async {}).task().class() });
    assert_eq!(outside, Class::Batch);
    // An explicit class wins.
    let explicit = rt.spawn_with(SpawnOptions::stream(), async {
        spawn_with(SpawnOptions::batch(), async {}).task().class()
    });
    assert_eq!(join(explicit).unwrap(), Class::Batch);
}

/// Slot 0 runs both classes, slot 1 only Batch work.
struct OneStreamSlot;

impl neptune_runtime::policy::Policy for OneStreamSlot {
    fn name(&self) -> &str {
        "one-stream-slot"
    }

    fn slot_classes(&self, slot: usize, _slots: usize) -> neptune_runtime::policy::SlotClasses {
        if slot == 0 {
            neptune_runtime::policy::SlotClasses::Both
        } else {
            neptune_runtime::policy::SlotClasses::BatchOnly
        }
    }
}

#[test]
fn a_task_in_the_lifo_slot_behind_stream_work_is_handed_to_other_slots() {
    // A Stream task on slot 0 spawns a Batch task (into slot 0's LIFO slot) and ends
    // once a second Stream task is queued. Slot 0 takes that one first, which holds it
    // until the Batch task has run: only slot 1 can run it then.
    let rt = neptune_runtime::Builder::new()
        .slots(2)
        .policy(OneStreamSlot)
        .build()
        .unwrap();
    let (spawned, queued, ran) = (Flag::new(), Flag::new(), Flag::new());
    let _release = (queued.set_on_drop(), ran.set_on_drop());
    let (s, q, r) = (spawned.clone(), queued.clone(), ran.clone());
    let first = rt.spawn_with(SpawnOptions::stream(), async move {
        drop(spawn_with(SpawnOptions::batch(), async move { r.set() }));
        s.set();
        let start = Instant::now();
        while !q.is_set() && start.elapsed() < DEADLINE {
            std::hint::spin_loop();
        }
    });
    wait_for("the first Stream task to spawn", || spawned.is_set());
    let r = ran.clone();
    let second = rt.spawn_with(SpawnOptions::stream(), async move {
        let start = Instant::now();
        while !r.is_set() && start.elapsed() < DEADLINE {
            std::hint::spin_loop();
        }
        r.is_set()
    });
    queued.set();
    join(first).unwrap();
    assert!(
        join(second).unwrap(),
        "the Batch task waited in the LIFO slot behind Stream work"
    );
}

/// On one slot, a task spawns two others: the order they run in.
fn spawn_order(lifo: bool) -> Vec<&'static str> {
    let rt = neptune_runtime::Builder::new()
        .slots(1)
        .lifo_slot(lifo)
        .build()
        .unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let o = order.clone();
    let parent = rt.spawn(async move {
        let (o1, o2) = (o.clone(), o.clone());
        let b = spawn(async move { o1.lock().unwrap().push("first") });
        let c = spawn(async move { o2.lock().unwrap().push("second") });
        b.await.unwrap();
        c.await.unwrap();
    });
    join(parent).unwrap();
    let order = order.lock().unwrap().clone();
    order
}

#[test]
fn the_lifo_slot_can_be_turned_off() {
    // With it the task spawned last runs first, right after its spawner's poll;
    // without it they run in the order they were spawned.
    assert_eq!(spawn_order(true), ["second", "first"]);
    assert_eq!(spawn_order(false), ["first", "second"]);
}
