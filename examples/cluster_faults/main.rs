//! Fault scenarios on a 3-executor loopback cluster, each compared with the
//! undisturbed run: a task error (retried), a task panic (the job fails, the executor
//! stays), an executor SIGKILLed mid-stage, one SIGKILLed once its map outputs were
//! written (the map stage runs again), one SIGSTOPped past the loss timeout, one
//! killed and restarted (it rejoins with a new id), every executor killed (the job
//! fails with a clear error), and a peer without a certificate (refused).
//!
//! ```text
//! cargo run --release --example cluster_faults -- [--json] [--only SCENARIO,…] [--workload word-count|tpch-q1]
//! ```
//!
//! One line per scenario and workload; with `--json`, a JSON object per line:
//! `{"scenario", "workload", "expect", "ok", "result_equal", "error", "tasks_rerun",
//! "stages_resubmitted", "detect_ms", "wall_ms", "undisturbed_wall_ms", "fault_hit",
//! "rejoined", "processes_left", "notes"}` (`detect_ms`: from the fault, as the executor
//! logged it, to the driver declaring the executor lost). Exits with status 1 unless
//! every scenario is `ok`.

#[path = "../common/mod.rs"]
#[allow(dead_code)]
mod common;
mod scenarios;

use common::Args;
use neptune::dataflow::cluster::main_or_executor;
use scenarios::{Launcher, SCENARIOS, WORKLOADS};

fn main() {
    main_or_executor(&scenarios::builders());
    let args = Args::from_env();
    let json = args.flag("--json");
    let only: String = args.value("--only", String::new());
    let workload: String = args.value("--workload", String::new());
    for name in only.split(',').filter(|n| !n.is_empty()) {
        if !SCENARIOS.iter().any(|s| s.name == name) {
            let known: Vec<_> = SCENARIOS.iter().map(|s| s.name).collect();
            eprintln!("cluster_faults: unknown scenario {name:?} (known: {known:?})");
            std::process::exit(2);
        }
    }
    if !workload.is_empty() && !WORKLOADS.iter().any(|w| w.name == workload) {
        eprintln!("cluster_faults: unknown workload {workload:?} (word-count, tpch-q1)");
        std::process::exit(2);
    }
    let launcher = Launcher::default();
    let mut all_ok = true;
    for w in WORKLOADS
        .iter()
        .filter(|w| workload.is_empty() || w.name == workload)
    {
        let baseline = match scenarios::baseline(w, &launcher) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("cluster_faults: the undisturbed {} failed: {e}", w.name);
                std::process::exit(1);
            }
        };
        for s in SCENARIOS
            .iter()
            .filter(|s| only.is_empty() || only.split(',').any(|n| n == s.name))
        {
            let outcome = scenarios::run(s, w, &baseline, &launcher);
            all_ok &= outcome.ok;
            if json {
                println!("{}", outcome.json());
            } else {
                println!(
                    "{:<26} {:<11} ok={:<5} equal={:<5} rerun={:<3} resubmitted={:<2} detect={:>8} wall={:>8.0} ms (undisturbed {:.0} ms){}",
                    outcome.scenario,
                    outcome.workload,
                    outcome.ok,
                    outcome.result_equal,
                    outcome.tasks_rerun,
                    outcome.stages_resubmitted,
                    outcome
                        .detect
                        .map_or("-".to_owned(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3)),
                    outcome.wall.as_secs_f64() * 1e3,
                    outcome.undisturbed_wall.as_secs_f64() * 1e3,
                    outcome
                        .error
                        .as_deref()
                        .map_or(String::new(), |e| format!("  error: {e}"))
                );
            }
        }
    }
    if !all_ok {
        std::process::exit(1);
    }
}
