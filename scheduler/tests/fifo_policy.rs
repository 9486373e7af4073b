//! FIFO on a real runtime with one slot: tasks run in arrival order, whatever their
//! class.

use neptune_runtime::{preemption_point, Builder, Class, JoinHandle, Runtime, SpawnOptions};
use neptune_scheduler::local::Fifo;
use neptune_support::wait::wait_for;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<&'static str>>>;

fn record(rt: &Runtime, log: &Log, class: Class, label: &'static str) -> JoinHandle<()> {
    let log = log.clone();
    rt.spawn_with(SpawnOptions::new().class(class), async move {
        log.lock().unwrap().push(label);
    })
}

/// Holds the only slot (it never yields it) until released, then `then` arrive behind
/// it in the given order; returns the order they ran in.
fn run_behind_blocker(rt: &Runtime, then: [(Class, &'static str); 2]) -> Vec<&'static str> {
    let log: Log = Arc::default();
    let (started, go) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let blocker = {
        let (log, started, go) = (log.clone(), started.clone(), go.clone());
        rt.spawn(async move {
            log.lock().unwrap().push("blocker");
            started.store(true, SeqCst);
            while !go.load(SeqCst) {
                preemption_point().await;
                std::hint::spin_loop();
            }
        })
    };
    wait_for("the blocker to run", || started.load(SeqCst));
    let joins: Vec<_> = then.iter().map(|&(c, l)| record(rt, &log, c, l)).collect();
    go.store(true, SeqCst);
    rt.block_on(blocker).unwrap();
    for j in joins {
        rt.block_on(j).unwrap();
    }
    let order = log.lock().unwrap().clone();
    order
}

#[test]
fn one_slot_runs_tasks_in_arrival_order() {
    let rt = Builder::new().slots(1).policy(Fifo).build().unwrap();
    // A Stream task does not overtake the Batch task that arrived before it...
    assert_eq!(
        run_behind_blocker(&rt, [(Class::Batch, "batch"), (Class::Stream, "stream")]),
        ["blocker", "batch", "stream"]
    );
    // ...nor is it held back behind Batch work that arrived after it.
    assert_eq!(
        run_behind_blocker(&rt, [(Class::Stream, "stream"), (Class::Batch, "batch")]),
        ["blocker", "stream", "batch"]
    );
}
