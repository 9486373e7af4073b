//! Fault scenarios on a 3-executor loopback cluster (this test binary is its own
//! executor), each compared with the undisturbed run: see
//! `neptune_apps::faults`. Faults hit at fixed record counts or
//! protocol points, never at a time; nothing here is timed.

use neptune::dataflow::cluster::main_or_executor;
use neptune_apps::faults::{self as scenarios, Baseline, Launcher, Workload, SCENARIOS, WORKLOADS};
use std::sync::OnceLock;

/// Not a test of its own: the entry point of this binary's executor processes.
#[test]
fn executor_entry() {
    main_or_executor(&neptune_apps::builders());
}

fn launcher() -> Launcher {
    Launcher {
        program: None,
        args: vec![
            "executor_entry".into(),
            "--exact".into(),
            "--nocapture".into(),
        ],
    }
}

/// The undisturbed answers, computed once per test binary.
fn baselines() -> &'static [(Workload, Baseline)] {
    static B: OnceLock<Vec<(Workload, Baseline)>> = OnceLock::new();
    B.get_or_init(|| {
        WORKLOADS
            .iter()
            .map(|w| {
                let b = scenarios::baseline(w, &launcher()).expect("the undisturbed run");
                (*w, b)
            })
            .collect()
    })
}

/// Runs scenario `name` on every workload; each must end as expected.
fn survive(name: &str) {
    let scenario = SCENARIOS
        .iter()
        .find(|s| s.name == name)
        .expect("a known scenario");
    for (workload, baseline) in baselines() {
        let outcome = scenarios::run(scenario, workload, baseline, &launcher());
        assert!(outcome.ok, "{}", outcome.json());
    }
}

#[test]
fn a_task_error_is_retried_with_the_same_result() {
    survive("task-error");
}

#[test]
fn a_task_panic_fails_the_job_and_the_executor_serves_on() {
    survive("task-panic");
}

#[test]
fn an_executor_killed_mid_stage_loses_nothing() {
    survive("kill-mid-stage");
}

#[test]
fn an_executor_killed_after_writing_map_outputs_has_its_map_stage_run_again() {
    survive("kill-after-map-outputs");
}

#[test]
fn a_hung_executor_is_declared_lost_and_its_tasks_run_elsewhere() {
    survive("stop-past-loss-timeout");
}

#[test]
fn a_restarted_executor_rejoins_with_a_new_id() {
    survive("restart");
}

#[test]
fn with_every_executor_killed_the_job_fails_saying_so() {
    survive("every-executor-killed");
}

#[test]
fn a_peer_without_a_certificate_is_refused_and_the_job_is_undisturbed() {
    survive("peer-without-certificate");
}
