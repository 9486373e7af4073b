//! The `neptune` command line.
//!
//! ```text
//! neptune [OPTIONS]                        the unified application (as `neptune run unified`)
//! neptune run unified [OPTIONS]            the unified stream/batch application
//! neptune run ysb [OPTIONS]                the Yahoo Streaming Benchmark
//! neptune run tpch [OPTIONS]               TPC-H Q1 and Q6 against a plain loop
//! neptune run mw1 [OPTIONS]                workload MW-1 under every policy
//! neptune bench vs-tokio [OPTIONS]         tokio's scheduler benchmarks, neptune vs tokio
//! neptune bench pause-latency [OPTIONS]    pause -> parked, resume -> polled
//! neptune bench quic [OPTIONS]             quinn on neptune vs quinn on tokio
//! neptune bench cluster [OPTIONS]          cluster mode against local mode
//! neptune bench ui-cost [OPTIONS]          the unified app without and with the live UI
//! neptune demo [OPTIONS]                   the runtime's pause/resume, step by step
//! neptune driver --listen ADDR --expect N --certs DIR [OPTIONS]
//!                                          the unified application as a cluster's driver
//! neptune executor --driver HOST:PORT --slots K --certs DIR --name NAME [--advertise ADDR]
//!                                          an executor process of that cluster
//! neptune hostfile --file FILE --index I --certs DIR [OPTIONS]
//!                                          entry I of a static hostfile: the driver
//!                                          (0) or an executor (1, 2, …)
//! neptune cert init DIR [--force]          a new cluster CA: DIR/ca.pem, DIR/ca.key
//! neptune cert issue --ca DIR NAME [--out DIR2] [--days N] [--force]
//!                                          node NAME's DIR2/NAME.pem, NAME.key, ca.pem
//! ```
//!
//! Every `run X` and `bench X` takes the flags of the example of the same program
//! (`--example tpch`, `--example cluster_bench`, …): they share one clap `Args`. The
//! unified application's options are also accepted with no subcommand at all, so
//! `neptune --all-policies --json` is `neptune run unified --all-policies --json`
//! (clap's `args_conflicts_with_subcommands`: options first, or a subcommand).

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

use crate::bench::{cluster as cluster_bench, pause_latency, quic, ui_cost, vs_tokio};
use crate::cluster::{CertCommand, DriverArgs, ExecutorArgs, HostfileArgs};
use crate::unified::{self, Progress};
use crate::{cluster, demo, mw1, tpch, ysb};

/// Unified stream/batch execution on an async runtime with pausable, prioritised tasks.
#[derive(Parser, Debug)]
#[command(
    name = "neptune",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "With no subcommand, runs the unified application with the options \
                  above: `neptune --policy fifo` is `neptune run unified --policy fifo`."
)]
pub struct Cli {
    /// What to run (default: the unified application).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The unified application's options, when no subcommand is given.
    #[command(flatten)]
    pub unified: unified::Args,
}

/// `neptune`'s subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Runs an application
    #[command(subcommand)]
    Run(RunCommand),
    /// Runs a benchmark
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The runtime's pause/resume demo: Stream micro-batches pause Batch work
    Demo(demo::Args),
    /// Writes the HTML report of saved runs (`neptune run unified --json > RUN.jsonl`)
    Report(ReportArgs),
    /// Runs the unified application as the driver of a cluster
    ///
    /// Executors started with `neptune executor` dial ADDR; the application starts
    /// once N registered. OPTIONS are the application's (`neptune run unified
    /// --help`).
    Driver(DriverArgs),
    /// Runs an executor process of a cluster
    ///
    /// It dials the driver and runs the tasks it is sent, until the driver goes away.
    Executor(ExecutorArgs),
    /// Runs entry I of a static hostfile: the driver (0) or an executor (1, 2, …)
    ///
    /// Every process of the cluster gets the same FILE and its own I (ssh, Slurm's
    /// $SLURM_PROCID). Entry 0 runs as `neptune driver`, listening on its line's
    /// address and waiting for every executor of the file, with the application's
    /// OPTIONS; entry I ≥ 1 runs as `neptune executor` with its line's slots, name and
    /// address (OPTIONS unused).
    Hostfile(HostfileArgs),
    /// Makes the cluster's certificates (mutual TLS between nodes)
    #[command(subcommand)]
    Cert(CertCommand),
}

/// `neptune run`'s applications.
#[derive(Subcommand, Debug)]
pub enum RunCommand {
    /// The unified stream/batch application: a batch job trains a model while a
    /// stream job scores events against its latest version
    Unified(unified::Args),
    /// The Yahoo Streaming Benchmark on micro-batch streams (with --cost, against a
    /// single-threaded loop)
    Ysb(ysb::Args),
    /// TPC-H Q1 and Q6 as batch jobs, checked against a single-threaded loop
    Tpch(tpch::Args),
    /// Workload MW-1: stream latency under batch load, for every policy and tokio
    Mw1(mw1::Args),
}

/// `neptune bench`'s benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Neptune against tokio on tokio's multi-thread scheduler benchmarks
    VsTokio(vs_tokio::Args),
    /// How fast a pause takes effect and a resumed task runs again
    PauseLatency(pause_latency::Args),
    /// quinn on Neptune's runtime against the same quinn on tokio, over loopback
    Quic(quic::Args),
    /// Cluster mode's figures on a loopback cluster, against local mode
    Cluster(cluster_bench::Args),
    /// The unified application without the live UI and with it scraped, alternating
    UiCost(ui_cost::Args),
}

/// `neptune report`'s options.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The unified application's JSON lines (`neptune run unified --json`)
    #[arg(value_name = "RUN.jsonl")]
    pub runs: std::path::PathBuf,
    /// Where to write the report
    #[arg(short = 'o', long = "output", value_name = "FILE.html")]
    pub output: std::path::PathBuf,
}

impl Cli {
    /// What the command line asks to run: its subcommand, or the unified application
    /// with the options given at the top level.
    pub fn into_command(self) -> Command {
        self.command
            .unwrap_or(Command::Run(RunCommand::Unified(self.unified)))
    }
}

/// Runs `command`; `progress` is called as the unified application runs. Returns the
/// process's exit status.
pub fn run(command: Command, progress: &mut dyn FnMut(&Progress)) -> ExitCode {
    match command {
        Command::Run(RunCommand::Unified(args)) => unified::main(&args, "neptune", progress),
        Command::Run(RunCommand::Ysb(args)) => ysb::main(args),
        Command::Run(RunCommand::Tpch(args)) => tpch::main(args),
        Command::Run(RunCommand::Mw1(args)) => mw1::main(args),
        Command::Bench(BenchCommand::VsTokio(args)) => vs_tokio::main(args),
        Command::Bench(BenchCommand::PauseLatency(args)) => pause_latency::main(args),
        Command::Bench(BenchCommand::Quic(args)) => quic::main(args),
        Command::Bench(BenchCommand::Cluster(args)) => cluster_bench::main(args),
        Command::Bench(BenchCommand::UiCost(args)) => ui_cost::main(args),
        Command::Demo(args) => demo::main(args),
        Command::Report(args) => match unified::report_from_file(&args.runs, &args.output) {
            Ok(()) => {
                eprintln!("report: {}", args.output.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("neptune report: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Driver(args) => cluster::driver(args, progress),
        Command::Executor(args) => cluster::executor(args),
        Command::Hostfile(args) => cluster::hostfile(args, progress),
        Command::Cert(command) => cluster::cert(command),
    }
}

/// Parses a `neptune` command line (`args` without the program name) as the binary
/// would, runs nothing, and says why it would be refused: clap's usage errors, MW-1's
/// settings checked together, and the executor's policy. Files named on it
/// (certificates, a hostfile) are not read and names are not resolved: it checks
/// command lines written for other machines, such as a Kubernetes manifest's.
pub fn check_args(args: &[String]) -> Result<(), String> {
    let argv = std::iter::once("neptune").chain(args.iter().map(String::as_str));
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            return Ok(())
        }
        Err(e) => return Err(e.render().to_string()),
    };
    match cli.into_command() {
        Command::Run(RunCommand::Mw1(args)) => args.config().map(drop),
        Command::Executor(e) => neptune::scheduler::policy_by_name(&e.policy, 1)
            .map(drop)
            .map_err(|err| format!("--policy: {err}")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::PathBuf;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("neptune").chain(args.iter().copied()))
            .map(Cli::into_command)
    }

    fn unified_of(args: &[&str]) -> unified::Config {
        match parse(args).unwrap() {
            Command::Run(RunCommand::Unified(a)) => a.config(),
            other => panic!("{args:?} is not the unified application: {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_neptune_and_top_level_options_run_the_unified_application() {
        let bare = unified_of(&[]);
        assert_eq!(
            (bare.policy.as_str(), bare.all_policies, bare.json),
            ("neptune", false, false)
        );
        let old = unified_of(&["--all-policies", "--json"]);
        assert!(old.all_policies && old.json);
        let new = unified_of(&["run", "unified", "--all-policies", "--json"]);
        assert!(new.all_policies && new.json);
        let cfg = unified_of(&["--policy", "fifo", "--seconds=2", "--cluster", "local:2"]);
        assert_eq!(
            (cfg.policy.as_str(), cfg.seconds, cfg.executors()),
            ("fifo", 2.0, 2)
        );
    }

    #[test]
    fn each_subcommand_takes_its_flags() {
        let ok = |args: &[&str]| parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let debug = |args: &[&str]| format!("{:?}", ok(args));
        assert!(matches!(
            ok(&[
                "run",
                "ysb",
                "--json",
                "--cost",
                "--slots",
                "1",
                "--seconds",
                "1"
            ]),
            Command::Run(RunCommand::Ysb(_))
        ));
        assert!(debug(&[
            "run",
            "tpch",
            "--json",
            "--sf",
            "0.01",
            "--cluster",
            "local:2"
        ])
        .contains("cluster: Some(2)"));
        assert!(matches!(
            ok(&[
                "run",
                "mw1",
                "--json",
                "--rows",
                "fifo,neptune",
                "--svg",
                "x.svg"
            ]),
            Command::Run(RunCommand::Mw1(_))
        ));
        assert!(debug(&[
            "bench",
            "vs-tokio",
            "--json",
            "--workers",
            "2",
            "--only",
            "yield_many"
        ])
        .contains("workers: 2"));
        assert!(
            debug(&["bench", "pause-latency", "--json", "--samples", "5"]).contains("samples: 5")
        );
        assert!(
            debug(&["bench", "quic", "--json", "--only", "rtt", "--side", "tokio"])
                .contains("side: \"tokio\"")
        );
        assert!(
            debug(&["bench", "cluster", "--json", "--only", "dispatch", "--tasks", "10"])
                .contains("tasks: 10")
        );
        assert!(matches!(
            ok(&["demo", "--slots", "2", "--json"]),
            Command::Demo(_)
        ));
        match ok(&["report", "run.jsonl", "-o", "run.html"]) {
            Command::Report(r) => assert_eq!(
                (r.runs, r.output),
                (PathBuf::from("run.jsonl"), PathBuf::from("run.html"))
            ),
            other => panic!("not report: {other:?}"),
        }
        assert!(parse(&["report", "run.jsonl"]).is_err(), "-o is required");
        assert!(
            parse(&["report", "-o", "x.html"]).is_err(),
            "RUN.jsonl is required"
        );
        match ok(&["cert", "issue", "--ca", "ca-dir", "driver", "--days", "30"]) {
            Command::Cert(CertCommand::Issue {
                ca,
                name,
                out,
                days,
                force,
            }) => assert_eq!(
                (ca, name.as_str(), out, days, force),
                (PathBuf::from("ca-dir"), "driver", None, 30, false)
            ),
            other => panic!("not cert issue: {other:?}"),
        }
        match ok(&[
            "driver",
            "--listen",
            "0.0.0.0:7077",
            "--certs",
            "c",
            "--json",
            "--seconds",
            "5",
        ]) {
            Command::Driver(d) => {
                assert_eq!((d.expect, d.name.as_str()), (1, "driver"));
                assert!(d.app.json && d.app.seconds == 5.0 && !d.urgency.realtime);
            }
            other => panic!("not driver: {other:?}"),
        }
        match ok(&[
            "executor",
            "--driver",
            "neptune-driver:7077",
            "--certs",
            "c",
            "--name",
            "e",
            "--realtime",
        ]) {
            Command::Executor(e) => {
                assert_eq!(
                    (e.driver.as_str(), e.slots, e.resolve_timeout),
                    ("neptune-driver:7077", 1, 30)
                );
                assert!(e.urgency.realtime);
            }
            other => panic!("not executor: {other:?}"),
        }
        match ok(&[
            "hostfile",
            "--file",
            "f",
            "--index",
            "2",
            "--certs",
            "c",
            "--json",
            "--realtime",
        ]) {
            Command::Hostfile(h) => assert!(h.index == 2 && h.app.json && h.urgency.realtime),
            other => panic!("not hostfile: {other:?}"),
        }
    }

    #[test]
    fn unknown_flags_and_bad_values_are_refused_with_a_usage_hint() {
        for bad in [
            &["--jsno"][..],
            &["--policy", "lottery"],
            &["--json", "run", "tpch"],
            &["run"],
            &["run", "unified", "--bogus"],
            &["run", "ysb", "--rate", "0"],
            &["run", "tpch", "--sf", "big"],
            &["run", "tpch", "--cluster", "3"],
            &["run", "mw1", "--rows", "lottery"],
            &["run", "spark"],
            &["bench", "vs-tokio", "--workers", "0"],
            &["bench", "pause-latency", "extra"],
            &["bench", "quic", "--side", "quinn"],
            &["bench", "cluster", "--only", "nope"],
            &["bench", "vs_tokio"],
            &["demo", "--seconds", "0"],
            &["certs"],
            &["cert", "issue", "--ca", "d", "n", "--days", "0"],
            &["cert", "issue", "node"],
            &[
                "driver",
                "--listen",
                "0.0.0.0:1",
                "--certs",
                "c",
                "--expect",
                "0",
            ],
        ] {
            let e = parse(bad).expect_err(&format!("{bad:?} must be refused"));
            let text = e.render().to_string();
            assert!(
                text.contains("Usage:") || text.contains("--help"),
                "{bad:?}: no usage hint in {text}"
            );
        }
        let e = parse(&["certs"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSubcommand);
    }

    #[test]
    fn help_everywhere() {
        for args in [
            &["--help"][..],
            &["run", "--help"],
            &["run", "unified", "--help"],
            &["run", "ysb", "--help"],
            &["run", "tpch", "--help"],
            &["run", "mw1", "--help"],
            &["bench", "--help"],
            &["bench", "vs-tokio", "--help"],
            &["bench", "pause-latency", "--help"],
            &["bench", "quic", "--help"],
            &["bench", "cluster", "--help"],
            &["demo", "--help"],
            &["driver", "--help"],
            &["executor", "--help"],
            &["hostfile", "--help"],
            &["cert", "--help"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DisplayHelp, "{args:?}");
        }
    }

    #[test]
    fn check_args_parses_without_running() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for good in [
            &["executor", "--driver", "d:1", "--certs", "c", "--name", "n"][..],
            &[
                "driver",
                "--listen",
                "0.0.0.0:7077",
                "--certs",
                "c",
                "--seconds",
                "5",
            ],
            &[
                "hostfile", "--file", "f", "--index", "2", "--certs", "c", "--json",
            ],
            &["--policy", "fifo"],
            &["run", "tpch", "--json"],
            &["--help"],
        ] {
            assert_eq!(check_args(&args(good)), Ok(()), "{good:?}");
        }
        for (bad, says) in [
            (
                &["executor", "--driver", "d:1", "--certs", "c"][..],
                "--name",
            ),
            (
                &[
                    "executor", "--driver", "d:1", "--certs", "c", "--name", "n", "--policy", "x",
                ],
                "--policy",
            ),
            (
                &["driver", "--listen", "neptune-driver:7077", "--certs", "c"],
                "--listen",
            ),
            (
                &[
                    "driver",
                    "--listen",
                    "0.0.0.0:1",
                    "--certs",
                    "c",
                    "--expect",
                    "0",
                ],
                "--expect",
            ),
            (
                &["driver", "--listen", "0.0.0.0:1", "--certs", "c", "--bogus"],
                "--bogus",
            ),
            (&["run", "mw1", "--unit-us", "1000"], "--unit-us"),
            (&["executer"], "executer"),
        ] {
            let e = check_args(&args(bad)).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
