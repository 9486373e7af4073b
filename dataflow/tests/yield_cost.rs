//! What the per-record yield points cost, and how soon a paused task parks.
//!
//! A measurement, not a test: it is ignored by default and asserts nothing about
//! time. Run it once as is and once with the yield points compiled out, alternating:
//!
//! ```text
//! cargo test --release -p neptune-dataflow --test yield_cost -- --ignored --nocapture
//! cargo test --release -p neptune-dataflow --features no-yield-points --test yield_cost -- --ignored --nocapture
//! ```
//!
//! Each prints one JSON object per line: nanoseconds per record (median of several
//! runs) for pipelines that do almost nothing per record, so that the yield points'
//! share is as large as it can be; and, with yield points, the pause-to-park latency of
//! a running task (from the runtime's metrics).
//!
//! On a shared machine, time varies more between runs than the yield points cost;
//! count instructions instead, one pipeline at a time:
//!
//! ```text
//! YIELD_COST_ONLY='range>map>filter>count' YIELD_COST_RECORDS=1000000 YIELD_COST_RUNS=1 \
//!     valgrind --tool=cachegrind --cache-sim=no target/release/deps/yield_cost-HASH --ignored
//! ```

use neptune_dataflow::Context;
use neptune_runtime::TaskState;
use neptune_support::stats::median;
use std::time::{Duration, Instant};

/// Records per pipeline and runs per measurement: `YIELD_COST_RECORDS` and
/// `YIELD_COST_RUNS` override them (smaller values suit an instruction-counting run
/// under cachegrind, which is immune to the noise of a shared machine).
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `YIELD_COST_ONLY`, if set: the one pipeline to measure (and no pause measurement).
fn only() -> Option<String> {
    std::env::var("YIELD_COST_ONLY").ok()
}

fn measure(name: &str, records: u64, run: impl Fn() -> u64) {
    if only().is_some_and(|o| o != name) {
        return;
    }
    let mut ns = Vec::new();
    for _ in 0..setting("YIELD_COST_RUNS", 7) {
        let t = Instant::now();
        let n = run();
        ns.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    println!(
        "{{\"bench\":\"yield_cost\",\"pipeline\":\"{name}\",\"yield_points\":{},\"records\":{records},\"ns_per_record\":{:.3}}}",
        !cfg!(feature = "no-yield-points"),
        median(ns)
    );
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture, in release"]
fn yield_cost() {
    let records = setting("YIELD_COST_RECORDS", 10_000_000) / 4 * 4;
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(1)
        .build()
        .unwrap();
    let ds = ctx.range(0..records, 1);
    measure("range>map>filter>count", records, || {
        let kept = ds
            .map(|x| x ^ 0x5555)
            .filter(|x| x & 3 != 0)
            .count()
            .unwrap();
        assert_eq!(kept.value, records / 4 * 3);
        records
    });
    measure("range>flat_map>count", records, || {
        ds.flat_map(|x| [x, x + 1]).count().unwrap().value
    });
    measure("range>key_by>reduce_by_key>count", records, || {
        let groups = ds
            .key_by(|x| x % 1024)
            .map(|(k, _)| (k, 1u64))
            .reduce_by_key(|a, b| a + b);
        assert_eq!(groups.count().unwrap().value, 1024);
        records
    });

    if cfg!(feature = "no-yield-points") || only().is_some() {
        return;
    }
    // Pause a running task 50 times and let the runtime time pause-to-park.
    let endless = ctx
        .generate(1, |_| 0u64..)
        .map(|x| x.wrapping_mul(7))
        .job()
        .count();
    while endless.tasks().is_empty() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let task = endless.tasks()[0].handle.clone();
    for _ in 0..50 {
        while task.state() != TaskState::Running {
            std::thread::yield_now();
        }
        task.pause();
        while task.state() != TaskState::Paused {
            std::thread::yield_now();
        }
        task.resume();
        std::thread::sleep(Duration::from_millis(1));
    }
    endless.cancel();
    let _ = endless.wait();
    let h = ctx.executors()[0].metrics().pause_to_park();
    let us = |q: f64| h.quantile(q).map_or(0.0, |d| d.as_nanos() as f64 / 1000.0);
    println!(
        "{{\"bench\":\"pause_to_park\",\"pauses\":{},\"p50_us\":{:.2},\"p99_us\":{:.2},\"max_us\":{:.2}}}",
        h.count(),
        us(0.5),
        us(0.99),
        h.max().as_nanos() as f64 / 1000.0
    );
}
