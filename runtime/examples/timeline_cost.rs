//! A small fixed workload for comparing the slot loop's cost with the timeline off and
//! on by instruction count (`valgrind --tool=callgrind`), which, unlike time, does not
//! depend on what else the machine runs: one slot; 100 Batch tasks that each yield 200
//! times (the polls `yield_many` is made of) and 20 Stream tasks that do the same.
//!
//! `cargo run --release -p neptune-runtime --example timeline_cost -- [off|on]`

use clap::{Parser, ValueEnum};
use neptune_runtime::{Builder, SpawnOptions};

/// Runs the fixed workload once, with the slot timeline off or on.
#[derive(Parser)]
struct Cli {
    /// Whether the slot records its timeline (1,024 spans) while the workload runs.
    #[arg(value_enum, default_value_t = Timeline::Off)]
    timeline: Timeline,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Timeline {
    Off,
    On,
}

fn main() {
    let on = Cli::parse().timeline == Timeline::On;
    let rt = Builder::new()
        .slots(1)
        .timeline(if on { 1024 } else { 0 })
        .build()
        .expect("runtime starts");
    let task = |class: SpawnOptions| {
        rt.spawn_with(class, async {
            for _ in 0..200 {
                neptune_runtime::yield_now().await;
            }
        })
    };
    let tasks: Vec<_> = (0..100)
        .map(|_| task(SpawnOptions::batch()))
        .chain((0..20).map(|_| task(SpawnOptions::stream())))
        .collect();
    for t in tasks {
        rt.block_on(t).expect("task completes");
    }
    let m = rt.metrics();
    println!(
        "polls {} spans {}",
        m.total(|s| s.polls),
        rt.timeline().spans().count()
    );
}
