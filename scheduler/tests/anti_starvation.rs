//! NEPTUNE's anti-starvation on a real one-slot runtime under a steady stream of
//! Stream arrivals: a Batch task is suspended at most N + 1 times between quanta, and
//! each run of N + 1 suspensions is followed by an uninterrupted quantum.
//!
//! Without anti-starvation every arrival (about one per millisecond here) pauses the
//! task, so N + 2 consecutive suspensions come within a few milliseconds of each
//! other and the check on the gaps fails. The only time-based check is a lower bound
//! on a gap (a slow machine only makes gaps longer), with half a quantum of slack.

use neptune_runtime::{preemption_point, Builder, SpawnOptions, TaskHandle};
use neptune_scheduler::local::Neptune;
use neptune_support::wait::DEADLINE;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const N: u32 = 2;
const QUANTUM: Duration = Duration::from_millis(50);
/// Enough suspensions to cross three quantum boundaries.
const TARGET: u32 = 3 * (N + 1) + 1;

#[test]
fn a_batch_task_gets_a_quantum_after_n_plus_one_suspensions() {
    let policy = Neptune::new().max_suspensions(N).quantum(QUANTUM);
    let stats = policy.stats();
    let rt = Builder::new().slots(1).policy(policy).build().unwrap();

    let me: Arc<OnceLock<TaskHandle>> = Arc::default();
    let batch = {
        let me = me.clone();
        rt.spawn(async move {
            // When the task saw each new suspension count: right after each resume.
            let mut resumed_at: Vec<Instant> = Vec::new();
            let mut seen = 0u32;
            let start = Instant::now();
            let mut units = 0u64;
            loop {
                units += 1;
                if let Some(h) = me.get() {
                    let s = h.suspensions();
                    if s != seen {
                        // Usually one suspension at a time; two when the task was paused
                        // again on its slot before its first poll after a resume. That
                        // pause cut a run of no time: a gap of zero.
                        let now = Instant::now();
                        resumed_at.extend((seen..s).map(|_| now));
                        seen = s;
                    }
                }
                if seen >= TARGET || (units & 1023 == 0 && start.elapsed() > DEADLINE) {
                    return resumed_at;
                }
                preemption_point().await;
            }
        })
    };
    me.set(batch.task()).unwrap();

    // A steady stream of Stream arrivals until the Batch task ends.
    let done = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (handle, done) = (rt.handle().clone(), done.clone());
        std::thread::spawn(move || {
            let mut sent = 0u64;
            while !done.load(SeqCst) {
                drop(handle.spawn_with(SpawnOptions::stream(), async {}));
                sent += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            sent
        })
    };
    let resumed_at = rt.block_on(batch).unwrap();
    done.store(true, SeqCst);
    let sent = feeder.join().unwrap();

    let suspensions = resumed_at.len() as u32;
    assert!(
        suspensions >= TARGET,
        "only {suspensions} suspensions in {sent} arrivals before the deadline"
    );
    // A run of a whole quantum starts a new count: a quantum granted, or a run that was
    // that long anyway (on a loaded machine the feeder can fall silent for a while). The
    // policy measures runs from the task's first poll after a resume, so every such run
    // shows here as a gap of at least about a quantum.
    let gaps: Vec<Duration> = resumed_at.windows(2).map(|w| w[1] - w[0]).collect();
    let long = gaps.iter().filter(|g| **g >= QUANTUM / 2).count() as u32;
    assert!(
        suspensions <= (N + 1) * (long + 1),
        "{suspensions} suspensions but {long} long runs: {stats:?}, gaps {gaps:?}"
    );
    // Gaps: among any N + 2 consecutive suspensions one resume came at least (about)
    // a quantum after the previous: the task ran uninterrupted in between.
    for (i, run) in gaps.windows(N as usize + 1).enumerate() {
        let longest = run.iter().max().unwrap();
        assert!(
            *longest >= QUANTUM / 2,
            "suspensions {}..={} came within {run:?} of each other",
            i + 1,
            i + N as usize + 2
        );
    }
}
