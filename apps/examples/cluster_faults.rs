//! Fault scenarios on a 3-executor loopback cluster ([`neptune_apps::faults`]), each compared with the
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

use clap::builder::PossibleValuesParser;
use clap::Parser;
use neptune::dataflow::cluster::main_or_executor;
use neptune_apps::faults::{self as scenarios, Launcher, SCENARIOS, WORKLOADS};

/// Fault scenarios on a 3-executor loopback cluster, each compared with the undisturbed
/// run. Exits with status 1 unless every scenario is `ok`.
#[derive(Parser, Debug)]
#[command(name = "cluster_faults")]
struct Cli {
    /// Print one JSON object per scenario and workload instead of a table.
    #[arg(long)]
    json: bool,
    /// Only these scenarios, comma-separated [default: all].
    #[arg(
        long,
        value_name = "SCENARIO,…",
        value_delimiter = ',',
        value_parser = PossibleValuesParser::new(SCENARIOS.map(|s| s.name))
    )]
    only: Vec<String>,
    /// Only this workload [default: both].
    #[arg(
        long,
        value_name = "WORKLOAD",
        value_parser = PossibleValuesParser::new(WORKLOADS.map(|w| w.name))
    )]
    workload: Option<String>,
}

fn main() {
    main_or_executor(&neptune_apps::builders());
    let Cli {
        json,
        only,
        workload,
    } = Cli::parse();
    let launcher = Launcher::default();
    let mut all_ok = true;
    for w in WORKLOADS
        .iter()
        .filter(|w| workload.as_deref().is_none_or(|name| w.name == name))
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
            .filter(|s| only.is_empty() || only.iter().any(|n| n == s.name))
        {
            let outcome = scenarios::run(s, w, &baseline, &launcher);
            all_ok &= outcome.ok;
            if json {
                println!("{}", outcome.json());
            } else {
                println!("{}", outcome.text());
            }
        }
    }
    if !all_ok {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli() {
        Cli::command().debug_assert();
        let c = Cli::try_parse_from(["cluster_faults"]).unwrap();
        assert!(!c.json);
        assert!(c.only.is_empty());
        assert_eq!(c.workload, None);
        let (a, b) = (SCENARIOS[0].name, SCENARIOS[1].name);
        let both = format!("{a},{b}");
        let c = Cli::try_parse_from([
            "cluster_faults",
            "--json",
            "--only",
            &both,
            "--workload",
            WORKLOADS[1].name,
        ])
        .unwrap();
        assert!(c.json);
        assert_eq!(c.only, [a, b]);
        assert_eq!(c.workload.as_deref(), Some(WORKLOADS[1].name));
        neptune_support::args::assert_refused::<Cli>(&[
            &["--jsno"][..],
            &["--only", "no-such-scenario"],
            &["--workload", "no-such-workload"],
            &["--workload"],
        ]);
    }
}
