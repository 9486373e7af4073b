//! Policy preemption on a real runtime: a Stream spawn while the only slot polls a Batch
//! task.
#![cfg(loom)]

use neptune_loom_tests::*;
use neptune_runtime::{preemption_point, Builder, SpawnOptions};

/// A one-slot runtime runs a Batch task that stops at one preemption point while the
/// main thread spawns a Stream task. When the spawn finds the slot polling the Batch
/// task, it takes a reference to it through the slot's publication (which the slot waits
/// on after the poll) and the default policy pauses it; the slot parks it at its
/// preemption point (or it completes first), runs the Stream task, and resumes it when
/// no Stream work is left. In every interleaving both tasks complete with their outputs
/// and dropping the runtime frees everything (a reference the preemptor leaked would
/// leak the task's scheduler handle, which loom reports).
///
/// Large: several minutes at `LOOM_MAX_PREEMPTIONS=3`, so it runs only when asked for
/// (`-- --ignored`).
#[test]
#[ignore = "long: run with --ignored"]
fn stream_spawn_preempts_running_batch() {
    model(|| {
        let rt = Builder::new().slots(1).build().unwrap();
        let batch_stats = Stats::new();
        let stream_stats = Stats::new();
        let batch = {
            let st = batch_stats.clone();
            rt.spawn(async move {
                preemption_point().await;
                Output::new(&st, 1)
            })
        };
        let st = stream_stats.clone();
        let stream = rt.spawn_with(SpawnOptions::stream(), async move { Output::new(&st, 2) });
        assert_eq!(rt.block_on(stream).expect("stream task completes").value, 2);
        assert_eq!(rt.block_on(batch).expect("batch task completes").value, 1);
        drop(rt);
        assert_eq!(batch_stats.outputs_made.get(), 1);
        assert_eq!(stream_stats.outputs_made.get(), 1);
    });
}
