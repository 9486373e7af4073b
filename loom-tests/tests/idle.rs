//! The idle protocol of a real runtime: a slot going to sleep while a task is spawned
//! from outside must not lose the wake-up.
#![cfg(loom)]

use neptune_loom_tests::*;

/// A one-slot runtime; the main thread spawns through the handle while the slot thread
/// searches, registers as a sleeper and parks, then blocks on the join handle. In every
/// interleaving the task runs and the main thread gets its output (a lost wake-up would
/// leave both threads parked, which loom reports as a deadlock); dropping the runtime
/// wakes and joins the slot thread, and frees everything.
#[test]
fn idle_slot_sleep_racing_remote_spawn() {
    model(|| {
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        let stats = Stats::new();
        let st = stats.clone();
        let jh = rt
            .handle()
            .spawn(Probe::new(&stats, async move { Output::new(&st, 11) }));
        let out = rt.block_on(jh).expect("the task completes");
        assert_eq!(out.value, 11);
        drop(out);
        drop(rt);
        assert_eq!(stats.outputs_made.get(), 1);
        stats.assert_clean();
    });
}

/// A one-slot runtime; the main thread spawns a Batch task, pauses it and resumes it at
/// once. The slot may park the task (when it pops it, or at its preemption point) and go
/// to sleep with nothing else to run while the resume moves the task to its resumed
/// queue and wakes it: the resume must not be lost (both threads parked would be a
/// deadlock), and the task completes.
#[test]
fn resume_racing_slot_sleep() {
    model(|| {
        let rt = neptune_runtime::Builder::new().slots(1).build().unwrap();
        let stats = Stats::new();
        let st = stats.clone();
        let jh = rt.spawn(Probe::new(&stats, async move {
            neptune_runtime::preemption_point().await;
            Output::new(&st, 12)
        }));
        let task = jh.task();
        // The resume finds nothing to withdraw only if the task finished in between.
        if task.pause() && !task.resume() {
            assert!(task.state() == neptune_runtime::TaskState::Completed);
        }
        let out = rt.block_on(jh).expect("the task completes");
        assert_eq!(out.value, 12);
        drop(out);
        drop(task);
        drop(rt);
        stats.assert_clean();
    });
}
