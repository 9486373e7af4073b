//! NEPTUNE on a real runtime: a Stream arrival pauses a Batch task, which resumes
//! later with its progress kept.

use neptune_runtime::{preemption_point, Builder, SpawnOptions, TaskState};
use neptune_scheduler::local::Neptune;
use neptune_support::wait::wait_for;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

const MIN_UNITS: u64 = 10_000;

#[test]
fn a_stream_arrival_pauses_a_batch_task_that_later_resumes_with_its_progress() {
    let policy = Neptune::new();
    let stats = policy.stats();
    let rt = Builder::new().slots(2).policy(policy).build().unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let mut jobs = Vec::new();
    for _ in 0..2 {
        let progress = Arc::new(AtomicU64::new(0));
        let starts = Arc::new(AtomicU64::new(0));
        let (p, s, r) = (progress.clone(), starts.clone(), release.clone());
        let join = rt.spawn(async move {
            s.fetch_add(1, SeqCst);
            let mut units = 0u64; // the state a pause must keep
            loop {
                units += 1;
                p.fetch_add(1, SeqCst);
                if units >= MIN_UNITS && r.load(SeqCst) {
                    return units;
                }
                preemption_point().await;
            }
        });
        jobs.push((join, progress, starts));
    }
    // Both slots busy with Batch work.
    wait_for("both batch tasks to run", || {
        jobs.iter().all(|(_, p, _)| p.load(SeqCst) > 0)
    });
    let tasks: Vec<_> = jobs.iter().map(|(j, _, _)| j.task()).collect();

    // The Batch tasks never end on their own before `release`: the Stream task can
    // only run if one of them is paused.
    let stream = rt.spawn_with(SpawnOptions::stream(), async { 7 });
    wait_for("the stream task to run", || stream.is_finished());
    assert_eq!(rt.block_on(stream).unwrap(), 7);
    assert!(stats.pauses() >= 1, "{stats:?}");
    // The paused task is resumed once the slot has no Stream work, and runs again.
    wait_for("the paused task to run again", || {
        tasks.iter().all(|t| t.state() == TaskState::Running)
    });
    assert!(tasks.iter().any(|t| t.suspensions() >= 1));
    assert!(stats.resumes() >= 1, "{stats:?}");

    release.store(true, SeqCst);
    for (join, progress, starts) in jobs {
        let units = rt.block_on(join).unwrap();
        // One run of the future from start to end: the count it kept in its own state
        // matches every unit it reported, nothing was redone.
        assert_eq!(starts.load(SeqCst), 1);
        assert_eq!(units, progress.load(SeqCst));
        assert!(units >= MIN_UNITS);
    }
    // Slots publish their counters after each poll: wait for the figures.
    wait_for("the park and the resume to be counted", || {
        let m = rt.metrics();
        m.total(|s| s.parks) >= 1 && m.total(|s| s.resumes) >= 1
    });
}
