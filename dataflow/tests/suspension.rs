//! Transparent suspension: dataflow tasks pause at their yield points without the
//! operators knowing, and give exactly the undisturbed result once resumed.

mod common;

use common::wait_for;
use neptune_dataflow::{Class, Context, DataflowError, Dataset, StageId};
use neptune_runtime::TaskState;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const PARTS: usize = 4;
const PER_PART: u64 = 20_000;
/// Where partition 0 stops until the test has asked every task to pause.
const GATE_AT: u64 = 1_000;
/// The most records in one chunk of a pipeline (the engine's bound): a task runs at
/// most the rest of its chunk once asked to pause.
const MAX_CHUNK: u64 = 1024;

/// Lets a test stop partition 0 in the middle of its records.
#[derive(Clone, Default)]
struct Gate {
    reached: Arc<AtomicBool>,
    open: Arc<AtomicBool>,
    progress: Arc<AtomicU64>,
}

/// Records per residue, summed: a two-stage batch job. With a gate, partition 0 waits
/// at record `GATE_AT` until the gate opens.
fn job(ctx: &Context, gate: Option<Gate>) -> Dataset<(u64, u64)> {
    ctx.generate(PARTS, |p| (0..PER_PART).map(move |i| (p as u64, i)))
        .map(move |(p, i)| {
            if let (Some(g), 0) = (&gate, p) {
                g.progress.fetch_add(1, SeqCst);
                if i == GATE_AT {
                    g.reached.store(true, SeqCst);
                    while !g.open.load(SeqCst) {
                        std::thread::yield_now();
                    }
                }
            }
            (i % 97, (p + 1) * i)
        })
        .reduce_by_key(|a, b| a.wrapping_add(b))
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn a_batch_job_paused_and_resumed_mid_stage_gives_the_undisturbed_result() {
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(2)
        .policy("neptune")
        .build()
        .unwrap();
    let undisturbed = sorted(job(&ctx, None).collect().unwrap().into_value());

    let gate = Gate::default();
    let running = job(&ctx, Some(gate.clone())).job().collect();
    wait_for("partition 0 to reach the gate", || {
        gate.reached.load(SeqCst)
    });
    // The driver lists a stage's tasks once it has spawned all of them.
    wait_for("the first stage's tasks", || running.tasks().len() == PARTS);
    let tasks = running.tasks();
    for t in &tasks {
        assert!(t.handle.pause() || t.handle.state() == TaskState::Completed);
    }
    gate.open.store(true, SeqCst);

    // Partition 0 parks at the yield point of its next chunk, and stays parked.
    let first = tasks.iter().find(|t| t.id.partition == 0).unwrap();
    wait_for("partition 0 to park", || {
        first.handle.state() == TaskState::Paused
    });
    let parked_at = gate.progress.load(SeqCst);
    assert!(
        parked_at > GATE_AT && parked_at - GATE_AT <= MAX_CHUNK,
        "it parks at the end of the chunk it was in, not {} records later",
        parked_at - GATE_AT
    );
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        gate.progress.load(SeqCst),
        parked_at,
        "a paused task makes no progress"
    );
    // The count follows the park on the slot's thread.
    wait_for("the park to be counted", || first.handle.suspensions() >= 1);
    // The stage cannot end while one of its tasks is paused: no later stage started.
    assert!(running.tasks().iter().all(|t| t.id.stage == StageId(0)));

    for t in &tasks {
        t.handle.resume();
    }
    let resumed = running.wait().unwrap();
    assert_eq!(gate.progress.load(SeqCst), PER_PART);
    assert!(resumed.stats.suspensions >= 1);
    assert_eq!(resumed.stats.records_in, PARTS as u64 * PER_PART);
    assert_eq!(sorted(resumed.value), undisturbed);
}

#[test]
fn a_stream_job_runs_while_batch_tasks_hold_every_slot() {
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(2)
        .policy("neptune")
        .build()
        .unwrap();
    // Two batch tasks that never finish on their own: one per slot.
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let batch = ctx
        .generate(2, move |_| {
            let s = s.clone();
            (0u64..).take_while(move |_| !s.load(SeqCst))
        })
        .map(|x| x.wrapping_mul(31))
        .job()
        .count();
    wait_for("both batch tasks to run", || {
        let tasks = batch.tasks();
        tasks.len() == 2 && tasks.iter().all(|t| t.handle.state() == TaskState::Running)
    });

    // The stream job can only run if the policy pauses batch work for it.
    let stream = ctx
        .range(0..1000, 2)
        .with_class(Class::Stream)
        .map(|x| x * 2)
        .job()
        .reduce(|a, b| a + b);
    assert_eq!(stream.class(), Class::Stream);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(stream.wait());
    });
    let answer = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the stream job finishes while batch tasks hold every slot")
        .unwrap();
    assert_eq!(answer.value, Some(999_000));
    assert_eq!(answer.stats.class, Class::Stream);

    stop.store(true, SeqCst);
    let batch = batch.wait().unwrap();
    assert!(
        batch.stats.suspensions >= 1,
        "batch tasks were paused for the stream job"
    );
}

#[test]
fn stream_jobs_spawn_stream_tasks() {
    let ctx = Context::builder()
        .executors(2)
        .slots_per_executor(1)
        .build()
        .unwrap();
    let ds = ctx.range(0..100, 4).with_class(Class::Stream);
    let job = ds.key_by(|x| x % 3).group_by_key().job().count();
    assert_eq!(job.wait().unwrap().value, 3);
    let job = ds.job().count();
    wait_for("the tasks to launch", || job.tasks().len() == 4);
    assert!(job
        .tasks()
        .iter()
        .all(|t| t.handle.class() == Class::Stream));
    job.wait().unwrap();
    let job = ctx.range(0..100, 4).job().count();
    wait_for("the tasks to launch", || job.tasks().len() == 4);
    assert!(job.tasks().iter().all(|t| t.handle.class() == Class::Batch));
    job.wait().unwrap();
}

#[test]
fn cancelling_a_job_stops_its_tasks() {
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(2)
        .build()
        .unwrap();
    let endless = ctx.generate(2, |_| 0u64..).job().count();
    wait_for("the tasks to run", || endless.tasks().len() == 2);
    endless.cancel();
    let id = endless.id();
    match endless.wait() {
        Err(DataflowError::JobCancelled(j)) => assert_eq!(j, id),
        other => panic!("expected a cancelled job, got {other:?}"),
    }
}

#[test]
fn a_panicking_operator_fails_its_job_with_the_message() {
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(2)
        .build()
        .unwrap();
    let err = ctx
        .range(0..10, 2)
        .map(|x| {
            if x == 7 {
                panic!("cannot handle record 7")
            } else {
                x
            }
        })
        .count()
        .unwrap_err();
    match err {
        DataflowError::TaskPanicked { task, message } => {
            assert_eq!(message, "cannot handle record 7");
            assert_eq!(task.partition, 1);
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    // The context keeps working.
    assert_eq!(ctx.range(0..10, 2).count().unwrap().value, 10);
}
