//! tokio's multi-thread scheduler benchmarks (`spawn_many_local`,
//! `spawn_many_remote_idle`, `yield_many`, `ping_pong`, `chained_spawn`) on Neptune and
//! on tokio, with the same number of worker threads (one per available core). Each
//! workload is a criterion group with a `neptune` and a `tokio` function; the workload
//! code is `neptune_apps::bench::workloads`, which `neptune bench vs-tokio` runs too.
//!
//! As in tokio's benchmark, each runtime is built once and the workload iterated on it.

use criterion::{criterion_group, criterion_main, Criterion};

use neptune_apps::bench::workloads::{Bench, Neptune, Rt, Tokio, Workload};
use neptune_support::args::available_cores;

fn bench_one<R: Rt>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    b: &mut Bench<R>,
    w: Workload,
) {
    group.bench_function(R::NAME, |bencher| bencher.iter(|| b.run(w)));
}

fn vs_tokio(c: &mut Criterion) {
    let n = available_cores();
    let mut neptune = Bench::<Neptune>::new(n);
    let mut tokio = Bench::<Tokio>::new(n);
    for w in Workload::ALL {
        let mut group = c.benchmark_group(w.name());
        group.sample_size(20);
        bench_one(&mut group, &mut neptune, w);
        bench_one(&mut group, &mut tokio, w);
        group.finish();
    }
}

criterion_group!(benches, vs_tokio);
criterion_main!(benches);
