//! KILL on a real runtime: a Stream arrival cancels a Batch task, which the restart
//! wrapper runs again from scratch; the killed attempt's units are counted as wasted.

use neptune_runtime::{preemption_point, Builder, SpawnOptions};
use neptune_scheduler::local::Kill;
use neptune_scheduler::restart::{Progress, Restarter};
use neptune_support::wait::wait_for;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

const MIN_UNITS: u64 = 10_000;

/// Counts units until released and at least `MIN_UNITS` are done; returns its count.
fn counting_job(
    release: Arc<AtomicBool>,
) -> impl Fn(Progress) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> + Send + Sync {
    move |progress| {
        let release = release.clone();
        Box::pin(async move {
            let mut units = 0u64;
            loop {
                units += 1;
                progress.add(1);
                if units >= MIN_UNITS && release.load(SeqCst) {
                    return units;
                }
                preemption_point().await;
            }
        })
    }
}

#[test]
fn a_killed_batch_task_restarts_from_scratch_and_its_units_are_wasted() {
    let kill = Kill::new();
    let log = kill.log();
    let rt = Builder::new().slots(2).policy(kill).build().unwrap();
    let restarter = Restarter::new(rt.handle(), &log);
    let release = Arc::new(AtomicBool::new(false));
    let jobs: Vec<_> = (0..2)
        .map(|_| restarter.spawn_batch(counting_job(release.clone())))
        .collect();
    wait_for("both batch tasks to run", || {
        jobs.iter().all(|j| j.progress().get() > 0)
    });

    let stream = rt.spawn_with(SpawnOptions::stream(), async { "served" });
    wait_for("the stream task to run", || stream.is_finished());
    assert_eq!(rt.block_on(stream).unwrap(), "served");
    assert!(log.kills() >= 1);

    release.store(true, SeqCst);
    let mut killed_jobs = 0;
    for mut job in jobs {
        let units = rt.block_on(&mut job).unwrap();
        if job.attempts() > 1 {
            killed_jobs += 1;
            // The last attempt started from zero and stopped at the first chance.
            assert_eq!(units, MIN_UNITS);
            assert!(job.wasted_units() > 0);
        } else {
            assert_eq!(job.wasted_units(), 0);
        }
    }
    assert!(killed_jobs >= 1);
    let stats = restarter.stats();
    assert!(stats.kills >= 1);
    assert!(stats.wasted_units > 0, "{stats:?}");
    assert_eq!(stats.attempts, 2 + stats.kills);
    assert_eq!(stats.completed, 2);
    assert!(
        log.is_empty(),
        "every kill was taken by the restart wrapper"
    );
}

#[test]
fn a_user_cancel_is_not_restarted() {
    let kill = Kill::new();
    let log = kill.log();
    let rt = Builder::new().slots(1).policy(kill).build().unwrap();
    let restarter = Restarter::new(rt.handle(), &log);
    let release = Arc::new(AtomicBool::new(false));

    // Through the attempt's handle (paused first: a CPU-bound task only notices a
    // cancel at a point where it yields).
    let job = restarter.spawn_batch(counting_job(release.clone()));
    wait_for("the batch task to run", || job.progress().get() > 0);
    let task = job.task();
    task.pause();
    task.cancel();
    assert!(rt.block_on(job).unwrap_err().is_cancelled());

    // Through the wrapper.
    let job = restarter.spawn_batch(counting_job(release));
    wait_for("the batch task to run", || job.progress().get() > 0);
    job.abort();
    assert!(rt.block_on(job).unwrap_err().is_cancelled());

    let stats = restarter.stats();
    assert_eq!((stats.attempts, stats.kills, stats.completed), (2, 0, 0));
}
