//! The cost of a yield point in a tight CPU loop inside a Neptune task: the same loop
//! with no yield point, with `preemption_point().await` per iteration, and with a
//! `pause_requested()` check per iteration (awaiting `preemption_point()` only when it
//! is true; and, to separate the check from the cost of an `await` in the loop, the
//! check alone). One runtime, one criterion group.
//!
//! The loop is timed inside the task (`iter_custom`), so spawning and joining the task
//! is not part of the figures.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neptune::runtime::{pause_requested, preemption_point, Builder, Runtime};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Iterations of the loop per measured run.
const ITERS: u64 = 10_000;

#[derive(Clone, Copy)]
enum Check {
    None,
    PreemptionPoint,
    PauseRequested,
    PauseRequestedNoAwait,
}

/// One unit of work: a multiply-add the compiler cannot fold away.
#[inline(always)]
fn work(acc: u64, i: u64) -> u64 {
    acc.wrapping_mul(6364136223846793005)
        .wrapping_add(black_box(i))
}

async fn tight_loop(check: Check) -> u64 {
    let mut acc = 0u64;
    match check {
        Check::None => {
            for i in 0..ITERS {
                acc = work(acc, i);
            }
        }
        Check::PreemptionPoint => {
            for i in 0..ITERS {
                acc = work(acc, i);
                preemption_point().await;
            }
        }
        Check::PauseRequested => {
            for i in 0..ITERS {
                acc = work(acc, i);
                if pause_requested() {
                    preemption_point().await;
                }
            }
        }
        Check::PauseRequestedNoAwait => {
            // The check alone: no await in the loop, so the loop's state is not kept in
            // the future across iterations.
            for i in 0..ITERS {
                acc = work(acc, i);
                if pause_requested() {
                    acc = black_box(acc);
                }
            }
        }
    }
    acc
}

/// Runs `iters` loops in one task on `rt` and returns the time they took, measured
/// inside the task.
fn run(rt: &Runtime, check: Check, iters: u64) -> Duration {
    let task = rt.spawn(async move {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(tight_loop(check).await);
        }
        start.elapsed()
    });
    rt.block_on(task).expect("loop task")
}

fn yield_point(c: &mut Criterion) {
    let rt = Builder::new().slots(1).build().expect("runtime");
    let mut group = c.benchmark_group("yield_point");
    group.throughput(Throughput::Elements(ITERS));
    for (name, check) in [
        ("none", Check::None),
        ("preemption_point", Check::PreemptionPoint),
        ("pause_requested", Check::PauseRequested),
        ("pause_requested_no_await", Check::PauseRequestedNoAwait),
    ] {
        group.bench_function(name, |b| b.iter_custom(|iters| run(&rt, check, iters)));
    }
    group.finish();
}

criterion_group!(benches, yield_point);
criterion_main!(benches);
