//! Cluster mode with real executor processes on loopback: this test binary is also
//! its own executor (`executor_entry`, started with the local cluster's environment),
//! as any program using `--cluster local:N` is.

mod common;

use common::{wait_for, TempDir};
use neptune_dataflow::cluster::{main_or_executor, Builders, RemoteAction};
use neptune_dataflow::stream::{batches, sinks, EventTime, MicroBatch, Windows};
use neptune_dataflow::{Class, Context, DataflowError, Dataset};
use neptune_runtime::TaskState;
use std::path::Path;
use std::time::Duration;

fn word_count(ctx: &Context, lines: Vec<String>) -> Dataset<(String, u64)> {
    ctx.parallelize(lines, 4)
        .flat_map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b)
}

fn join(ctx: &Context, n: u64) -> Dataset<(u64, (u64, u64))> {
    let left = ctx.range(0..n, 3).map(|x| (x % 50, x));
    let right = ctx.range(0..50, 2).map(|k| (k, k * 1000));
    left.join(&right)
}

/// Two Batch partitions of `n` records; each waits, at its middle record, until the
/// file `gate` exists, staying runnable (and pausable) while it waits.
fn gated(ctx: &Context, (n, gate): (u64, String)) -> Dataset<u64> {
    ctx.range(0..n, 2).map_async(move |x| {
        let gate = gate.clone();
        async move {
            if x % (n / 2) == n / 4 {
                while !Path::new(&gate).exists() {
                    neptune_runtime::preemption_point().await;
                }
            }
            x * 3
        }
    })
}

/// The `gated` job of `n` records, once both its tasks run.
fn gated_running(ctx: &Context, n: u64, gate: &str) -> neptune_dataflow::JobHandle<Vec<u64>> {
    let batch: Dataset<u64> = ctx.build("gated", (n, gate.to_owned())).unwrap();
    let job = batch.job().collect();
    wait_for("both batch tasks to run", || {
        let tasks = job.tasks();
        tasks.len() == 2 && tasks.iter().all(|t| t.handle.state() == TaskState::Running)
    });
    job
}

fn small(ctx: &Context, n: u64) -> Dataset<u64> {
    ctx.range(0..n, 1).map(|x| x + 1)
}

fn sensor((key, time): (char, EventTime)) -> (char, EventTime, u64) {
    (key, time, 1)
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// A builder that panics in executor processes (a local cluster's executors are told
/// apart by their environment).
fn fragile(ctx: &Context, n: u64) -> Dataset<u64> {
    assert!(
        std::env::var_os("NEPTUNE_EXECUTOR_DRIVER").is_none(),
        "fragile builds only on the driver"
    );
    ctx.range(0..n, 1)
}

/// The micro-batch's records above the published threshold (read once per build).
fn above(ctx: &Context, batch: MicroBatch<u64>) -> Dataset<u64> {
    let threshold = ctx.published("threshold", 0u64).unwrap().latest().value;
    batch.into_dataset(ctx).filter(move |x| *x > threshold)
}

fn builders() -> Builders {
    Builders::new()
        .register("above", above)
        .register("fragile", fragile)
        .register("word_count", word_count)
        .register("join", join)
        .register("gated", gated)
        .register("small", small)
        .register_windows("sensor", sensor, add)
}

/// Not a test of its own: the entry point of this binary's executor processes.
#[test]
fn executor_entry() {
    main_or_executor(&builders());
}

/// The entry point of executors that lack builders.
#[test]
fn executor_entry_fewer() {
    main_or_executor(&Builders::new().register("word_count", word_count));
}

fn cluster(n: usize) -> Context {
    Context::builder()
        .builders(builders())
        .slots_per_executor(2)
        .local_cluster(n)
        .local_cluster_command(
            None,
            vec![
                "executor_entry".into(),
                "--exact".into(),
                "--nocapture".into(),
            ],
        )
        .build()
        .expect("a local cluster")
}

fn local() -> Context {
    Context::builder()
        .builders(builders())
        .executors(2)
        .slots_per_executor(2)
        .build()
        .unwrap()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn lines() -> Vec<String> {
    (0..200)
        .map(|i| format!("w{} w{} shared", i % 7, i % 13))
        .collect()
}

#[test]
fn word_count_and_join_equal_local_mode_on_two_and_three_executors() {
    type Wc = Dataset<(String, u64)>;
    type Joined = Dataset<(u64, (u64, u64))>;
    let wc: Wc = local().build("word_count", lines()).unwrap();
    let expected_wc = sorted(wc.collect().unwrap().into_value());
    let joined: Joined = local().build("join", 1000u64).unwrap();
    let expected_join = sorted(joined.collect().unwrap().into_value());
    for n in [2, 3] {
        let ctx = cluster(n);
        assert_eq!(ctx.cluster_executors().len(), n);
        let wc: Wc = ctx.build("word_count", lines()).unwrap();
        assert_eq!(sorted(wc.collect().unwrap().into_value()), expected_wc);
        let joined: Joined = ctx.build("join", 1000u64).unwrap();
        let out = joined.collect().unwrap();
        assert_eq!(sorted(out.value.clone()), expected_join);
        assert_eq!(*joined.count().unwrap(), 1000);
        // Tasks ran on more than one executor.
        assert!(
            out.stats
                .tasks_per_executor
                .iter()
                .filter(|&&t| t > 0)
                .count()
                > 1
        );
    }
}

#[test]
fn a_stream_task_pauses_batch_work_on_a_full_executor_which_then_finishes_undisturbed() {
    let dir = TempDir::new("cluster-gate");
    let gate = dir.path().join("open").to_string_lossy().into_owned();
    let ctx = cluster(1);
    let expected: u64 = (0..10_000u64).map(|x| x * 3).sum();
    // Both slots run a Batch task that cannot finish before the gate opens.
    let job = gated_running(&ctx, 10_000, &gate);
    // A Stream job needs a slot there: the executor's NEPTUNE policy pauses a Batch task.
    let urgent: Dataset<u64> = ctx.build("small", 100u64).unwrap();
    let urgent = urgent.with_class(Class::Stream).count().unwrap();
    assert_eq!(*urgent, 100);
    assert_eq!(urgent.stats.class, Class::Stream);

    std::fs::write(&gate, b"").unwrap();
    let out = job.wait().unwrap();
    assert_eq!(out.value.iter().sum::<u64>(), expected);
    assert_eq!(out.value.len(), 10_000);
    assert!(out.stats.suspensions >= 1, "{:?}", out.stats);
}

#[test]
fn the_driver_pauses_and_resumes_a_remote_task_which_then_finishes_undisturbed() {
    let dir = TempDir::new("cluster-pause");
    let gate = dir.path().join("open").to_string_lossy().into_owned();
    let ctx = cluster(1);
    let job = gated_running(&ctx, 1_000, &gate);
    let task = job.tasks()[0].handle.clone();
    assert!(task.pause());
    wait_for("the executor to report the park", || {
        task.state() == TaskState::Paused
    });
    let times = task.remote().unwrap().times();
    assert!(times.paused >= times.pause_sent && times.pause_sent >= times.started);
    // Paused, it stays parked even once the gate opens.
    std::fs::write(&gate, b"").unwrap();
    assert_eq!(task.state(), TaskState::Paused);
    assert!(task.resume());
    let out = job.wait().unwrap();
    assert_eq!(out.value, (0..1_000u64).map(|x| x * 3).collect::<Vec<_>>());
    assert!(out.stats.suspensions >= 1);
}

#[test]
fn two_builds_of_a_builder_give_the_same_stage_names() {
    let b = builders();
    let ctx = local();
    let once = b
        .stage_names(&ctx, "join", &1000u64, RemoteAction::Collect)
        .unwrap();
    let again = b
        .stage_names(&ctx, "join", &1000u64, RemoteAction::Collect)
        .unwrap();
    assert_eq!(once, again);
    assert_eq!(once.len(), 3);
    assert!(once[2].ends_with(">collect@job-0"), "{once:?}");
}

#[test]
fn an_executor_with_other_builders_is_refused_with_the_reason() {
    let built = Context::builder()
        .builders(builders())
        .local_cluster(1)
        .local_cluster_command(
            None,
            vec![
                "executor_entry_fewer".into(),
                "--exact".into(),
                "--nocapture".into(),
            ],
        )
        .build();
    let e = built.expect_err("a refused executor");
    let message = e.to_string();
    assert!(matches!(e, DataflowError::Cluster(_)), "{e}");
    assert!(message.contains("plan builders"), "{message}");
}

#[test]
fn a_job_on_a_dataset_derived_on_the_driver_is_refused() {
    let ctx = cluster(1);
    let ds: Dataset<u64> = ctx.build("small", 10u64).unwrap();
    let e = ds
        .map(|x| x * 2)
        .count()
        .expect_err("closures cannot travel");
    assert!(e.to_string().contains("plan builder"), "{e}");
    let e = ds
        .reduce(|a, b| a + b)
        .expect_err("reduce's closure cannot travel");
    assert!(e.to_string().contains("cannot travel"), "{e}");
    assert_eq!(*ds.count().unwrap(), 10);
}

/// Window results as (window start, update, key, value), late records accepted, late
/// records dropped.
type Emitted = (Vec<(i64, bool, char, u64)>, u64, u64);

/// Window results with each emission's keys in order (their order within one
/// emission is not fixed).
/// With `built`, through the registered windowed builder; otherwise through closures
/// (local mode only).
fn windowed(ctx: &Context, built: bool) -> Emitted {
    let script: Vec<Vec<(char, EventTime)>> = vec![
        vec![('a', 3_000), ('b', 2_000), ('a', 12_000), ('a', 1_000)],
        vec![('b', 9_000), ('a', 11_500), ('a', 9_500)],
        vec![('a', 16_500)],
        vec![('b', 5_000), ('a', 14_000), ('c', 500)],
        vec![('a', 21_000), ('b', 31_000)],
    ];
    let windows = Windows::sliding(Duration::from_secs(10), Duration::from_secs(5))
        .watermark_delay(Duration::from_millis(1_000))
        .allowed_lateness(Duration::from_secs(6));
    let (sink, out) = sinks::channel();
    let stream = ctx
        .stream(batches(script))
        .trigger(Duration::ZERO)
        .partitions(3);
    let handle = if built {
        stream
            .window_built::<char, u64>(windows, "sensor")
            .unwrap()
            .start(sink)
    } else {
        stream.window(windows, sensor, add).start(sink)
    };
    let stats = handle.unwrap().wait().unwrap();
    let mut results: Vec<(i64, bool, char, u64)> = out
        .try_iter()
        .map(|r| (r.window.start, r.update, r.key, r.value))
        .collect();
    // Emission order across windows is fixed; keys within one are not.
    let mut i = 0;
    while i < results.len() {
        let mut j = i;
        while j < results.len() && results[j].0 == results[i].0 && results[j].1 == results[i].1 {
            j += 1;
        }
        results[i..j].sort();
        i = j;
    }
    (results, stats.late_accepted, stats.late_dropped)
}

#[test]
fn a_windowed_stream_on_executor_processes_equals_local_mode() {
    let expected = windowed(&local(), true);
    assert!(expected.0.len() > 5, "{expected:?}");
    assert!(
        expected.1 > 0 && expected.2 > 0,
        "late records accepted and dropped: {expected:?}"
    );
    // The builder's windows are the closures' windows.
    assert_eq!(windowed(&local(), false), expected);
    assert_eq!(windowed(&cluster(2), true), expected);
}

#[test]
fn a_builder_that_panics_on_an_executor_fails_its_job_and_the_executor_serves_on() {
    let ctx = cluster(1);
    let ds: Dataset<u64> = ctx.build("fragile", 10u64).unwrap();
    let e = ds.count().expect_err("the executor's build panics");
    assert!(
        e.to_string().contains("fragile builds only on the driver"),
        "{e}"
    );
    let ok: Dataset<u64> = ctx.build("small", 10u64).unwrap();
    assert_eq!(*ok.count().unwrap(), 10);
}

/// A stream whose builder reads a value published before it started: the records it
/// kept, and the versions each micro-batch read.
fn thresholded(ctx: &Context) -> (Vec<u64>, Vec<Vec<(String, u64)>>) {
    let threshold = ctx.published("threshold", 0u64).unwrap();
    assert_eq!(threshold.publish(5), 1);
    let (sink, out) = sinks::channel();
    let stats = ctx
        .stream(batches(vec![vec![1u64, 7, 3], vec![9, 5, 6]]))
        .trigger(Duration::ZERO)
        .build_batches::<u64>("above")
        .start(sink)
        .unwrap()
        .wait()
        .unwrap();
    (sorted(out.try_iter().collect()), stats.published)
}

#[test]
fn a_published_value_reaches_the_executors_before_the_jobs_launched_after_it() {
    let expected = (vec![6, 7, 9], vec![vec![("threshold".to_owned(), 1)]; 2]);
    assert_eq!(thresholded(&local()), expected);
    assert_eq!(thresholded(&cluster(2)), expected);
}

#[test]
fn a_task_whose_executor_is_killed_runs_again_elsewhere_with_the_same_result() {
    let dir = TempDir::new("cluster-kill");
    let gate = dir.path().join("open").to_string_lossy().into_owned();
    let ctx = cluster(2);
    let job = gated_running(&ctx, 1_000, &gate);
    let victim = job.tasks()[0].handle.remote().unwrap().executor();
    let pid = ctx
        .cluster_executors()
        .iter()
        .find(|e| e.id == victim)
        .unwrap()
        .pid;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The driver counts it lost once it misses its heartbeats, and runs its tasks on
    // the executor that is left; the gate lets every attempt finish.
    std::fs::write(&gate, b"").unwrap();
    let out = job.wait().unwrap();
    assert_eq!(out.value, (0..1_000u64).map(|x| x * 3).collect::<Vec<_>>());
    assert!(out.stats.tasks_rerun >= 1, "{:?}", out.stats);
    assert_eq!(ctx.cluster_executors().len(), 1);
}
