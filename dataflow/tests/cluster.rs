//! Cluster mode with real executor processes on loopback: this test binary is also
//! its own executor (`executor_entry`, started with the local cluster's environment),
//! as any program using `--cluster local:N` is.

use neptune_dataflow::cluster::{main_or_executor, Builders};
use neptune_dataflow::{Context, Dataset};

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

fn builders() -> Builders {
    Builders::new()
        .register("word_count", word_count)
        .register("join", join)
}

/// Not a test of its own: the entry point of this binary's executor processes.
#[test]
fn executor_entry() {
    main_or_executor(&builders());
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
    let wc: Wc = local().build("word_count", &lines()).unwrap();
    let expected_wc = sorted(wc.collect().unwrap().into_value());
    let joined: Joined = local().build("join", &1000u64).unwrap();
    let expected_join = sorted(joined.collect().unwrap().into_value());
    for n in [2, 3] {
        let ctx = cluster(n);
        assert_eq!(ctx.cluster_executors().len(), n);
        let wc: Wc = ctx.build("word_count", &lines()).unwrap();
        assert_eq!(sorted(wc.collect().unwrap().into_value()), expected_wc);
        let joined: Joined = ctx.build("join", &1000u64).unwrap();
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
