//! The `neptune` command line.
//!
//! ```text
//! neptune [OPTIONS]                       the unified application (as `neptune run`)
//! neptune run [OPTIONS]                   the same; `neptune run --help` lists OPTIONS
//! neptune driver --listen ADDR --expect N --certs DIR [OPTIONS]
//!                                         the application as the driver of a cluster
//! neptune executor --driver ADDR --slots K --certs DIR --name NAME [--advertise ADDR]
//!                                         an executor process of that cluster
//! neptune cert init DIR [--force]         a new cluster CA: DIR/ca.pem, DIR/ca.key
//! neptune cert issue --ca DIR NAME [--out DIR2] [--days N] [--force]
//!                                         node NAME's DIR2/NAME.pem, NAME.key, ca.pem
//! ```
//!
//! The unified application keeps its own option parser (and its `--help`): arguments
//! that start with an option go to it unchanged, so `neptune --policy fifo` works as it
//! always has, while a first word that is no subcommand is an error that lists them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use neptune_dataflow::cluster::{run_executor, ExecutorConfig};
use neptune_runtime::quic::{ClusterCa, ClusterIdentity, IdentityError};
use std::net::SocketAddr;

use crate::apps::unified::{self, Progress};

/// The common name of the CAs that `neptune cert init` makes.
const CA_COMMON_NAME: &str = "Neptune cluster CA";

#[derive(Parser)]
#[command(
    name = "neptune",
    version,
    about = "Unified stream/batch execution on an async runtime with pausable, prioritised tasks",
    after_help = "With no subcommand, or with options first, runs the unified application: \
                  `neptune --policy fifo` is `neptune run --policy fifo`."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the unified stream/batch application (the default)
    #[command(disable_help_flag = true, after_help = unified::USAGE)]
    Run {
        /// The application's options (`neptune run --help` lists them)
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "OPTIONS"
        )]
        args: Vec<String>,
    },
    /// Makes the cluster's certificates (mutual TLS between nodes)
    /// Runs the unified application as the driver of a cluster: executors started
    /// with `neptune executor` dial ADDR; the application starts once N registered.
    /// OPTIONS are the application's (`neptune run --help`).
    Driver {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// Executors to wait for.
        #[arg(long, value_name = "N", default_value_t = 1)]
        expect: usize,
        /// Directory holding ca.pem and the driver's NAME.pem and NAME.key.
        #[arg(long, value_name = "DIR")]
        certs: PathBuf,
        /// The driver's node name (its certificate's).
        #[arg(long, default_value = "driver")]
        name: String,
        /// The application's options.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "OPTIONS"
        )]
        args: Vec<String>,
    },
    /// Runs an executor process: dials the driver, runs the tasks it is sent, until
    /// the driver goes away.
    Executor {
        /// The driver's address.
        #[arg(long, value_name = "ADDR")]
        driver: SocketAddr,
        /// Slots (worker threads) for tasks.
        #[arg(long, value_name = "K", default_value_t = 1,
              value_parser = clap::value_parser!(u16).range(1..))]
        slots: u16,
        /// Directory holding ca.pem and this executor's NAME.pem and NAME.key.
        #[arg(long, value_name = "DIR")]
        certs: PathBuf,
        /// This executor's node name (its certificate's).
        #[arg(long)]
        name: String,
        /// The local scheduling policy.
        #[arg(long, default_value = "neptune")]
        policy: String,
        /// The address other executors fetch shuffle blocks from (default: the one
        /// it listens on).
        #[arg(long, value_name = "ADDR")]
        advertise: Option<SocketAddr>,
        /// Where to listen for shuffle fetches (default: an ephemeral port).
        #[arg(long, value_name = "ADDR")]
        bind: Option<SocketAddr>,
        /// The driver's node name (its certificate's).
        #[arg(long, default_value = "driver")]
        driver_name: String,
    },
    #[command(subcommand)]
    Cert(CertCommand),
}

#[derive(Subcommand)]
enum CertCommand {
    /// Generates the cluster CA: DIR/ca.pem and DIR/ca.key (creating DIR)
    Init {
        /// The directory to write ca.pem and ca.key into
        dir: PathBuf,
        /// Replaces an existing CA (certificates it issued stop being trusted)
        #[arg(long)]
        force: bool,
    },
    /// Issues node NAME's certificate and key, signed by the cluster CA
    Issue {
        /// The CA's directory (ca.pem, ca.key)
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// The node's name, its certificate's DNS name (driver, executor-1, …)
        name: String,
        /// The directory to write NAME.pem, NAME.key and ca.pem into [default: the CA's]
        #[arg(long, value_name = "DIR2")]
        out: Option<PathBuf>,
        /// How many days the certificate is valid
        #[arg(long, value_name = "N", default_value_t = 365,
              value_parser = clap::value_parser!(u32).range(1..=36_500))]
        days: u32,
        /// Replaces NAME.pem and NAME.key if they exist
        #[arg(long)]
        force: bool,
    },
}

/// Runs the `neptune` command line `args` (without the program name); `progress` is
/// called as the unified application runs. Errors are printed as `neptune: …`.
pub fn main_with(
    args: impl IntoIterator<Item = OsString>,
    progress: &mut dyn FnMut(&Progress),
) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    if goes_to_the_application(&args) {
        return match utf8_args(args) {
            Ok(args) => run_application(args, progress),
            Err(msg) => fail(&msg),
        };
    }
    let cli = match Cli::try_parse_from(std::iter::once(OsString::from("neptune")).chain(args)) {
        Ok(cli) => cli,
        // Help and version included: clap prints them and picks the exit code.
        Err(err) => err.exit(),
    };
    match cli.command {
        None => run_application(Vec::new(), progress),
        Some(Command::Run { args }) => run_application(args, progress),
        Some(Command::Driver {
            listen,
            expect,
            certs,
            name,
            args,
        }) => {
            let identity = match ClusterIdentity::from_dir(&certs, &name) {
                Ok(id) => id,
                Err(e) => return fail(&e.to_string()),
            };
            let mut cfg = match unified::Config::from_args(args) {
                Ok(cfg) => cfg,
                Err(e) if e == unified::USAGE => {
                    println!("neptune driver {}", unified::USAGE);
                    return ExitCode::SUCCESS;
                }
                Err(e) => return fail(&e),
            };
            if expect == 0 {
                return fail("--expect must be at least 1");
            }
            cfg.cluster = unified::Where::Driver {
                listen,
                expect,
                identity,
            };
            unified::run_config(&cfg, "neptune driver", progress)
        }
        Some(Command::Executor {
            driver,
            slots,
            certs,
            name,
            policy,
            advertise,
            bind,
            driver_name,
        }) => {
            let identity = match ClusterIdentity::from_dir(&certs, &name) {
                Ok(id) => id,
                Err(e) => return fail(&e.to_string()),
            };
            if let Err(e) = neptune_scheduler::policy_by_name(&policy, 1) {
                return fail(&e.to_string());
            }
            let mut config = ExecutorConfig::new(driver, identity, usize::from(slots));
            config.policy = policy;
            config.advertise = advertise;
            config.driver_name = driver_name;
            if let Some(bind) = bind {
                config.bind = bind;
            }
            match run_executor(config, &unified::builders()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
        Some(Command::Cert(cert)) => match run_cert(cert) {
            Ok(written) => {
                for path in written {
                    println!("wrote {}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(IdentityError::AlreadyExists { path }) => fail(&format!(
                "{} already exists; pass --force to replace it",
                path.display()
            )),
            Err(err) => fail(&err.to_string()),
        },
    }
}

/// Whether `args` are the unified application's options: a first argument that is an
/// option other than the command line's own `--help` and `--version`.
fn goes_to_the_application(args: &[OsString]) -> bool {
    args.first().is_some_and(|first| {
        let first = first.to_string_lossy();
        first.starts_with('-') && !matches!(&*first, "-h" | "--help" | "-V" | "--version")
    })
}

fn utf8_args(args: Vec<OsString>) -> Result<Vec<String>, String> {
    args.into_iter()
        .map(|arg| {
            arg.into_string()
                .map_err(|arg| format!("argument {arg:?} is not valid UTF-8"))
        })
        .collect()
}

fn run_application(args: Vec<String>, progress: &mut dyn FnMut(&Progress)) -> ExitCode {
    unified::main_with(args, "neptune", progress)
}

fn run_cert(command: CertCommand) -> Result<Vec<PathBuf>, IdentityError> {
    match command {
        CertCommand::Init { dir, force } => {
            let ca = ClusterCa::generate(CA_COMMON_NAME)?;
            if force {
                ca.save_replacing(&dir)
            } else {
                ca.save(&dir)
            }
        }
        CertCommand::Issue {
            ca,
            name,
            out,
            days,
            force,
        } => {
            let authority = ClusterCa::load(&ca)?;
            let identity =
                authority.issue_for(&name, Duration::from_secs(u64::from(days) * 24 * 60 * 60))?;
            let out: &Path = out.as_deref().unwrap_or(&ca);
            if force {
                identity.save_replacing(out)
            } else {
                identity.save(out)
            }
        }
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("neptune: {msg}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_first_go_to_the_application() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(goes_to_the_application(&args(&["--policy", "fifo"])));
        assert!(goes_to_the_application(&args(&["--json"])));
        for own in [
            &[][..],
            &["--help"],
            &["-h"],
            &["--version"],
            &["cert"],
            &["run"],
        ] {
            assert!(!goes_to_the_application(&args(own)), "{own:?}");
        }
    }

    #[test]
    fn cert_commands_parse() {
        let cli = Cli::try_parse_from([
            "neptune", "cert", "issue", "--ca", "ca-dir", "driver", "--days", "30",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Cert(CertCommand::Issue {
                ca,
                name,
                out,
                days,
                force,
            })) => {
                assert_eq!(
                    (ca, name.as_str(), out, days, force),
                    (PathBuf::from("ca-dir"), "driver", None, 30, false)
                );
            }
            _ => panic!("not cert issue"),
        }
        let err =
            Cli::try_parse_from(["neptune", "cert", "issue", "--ca", "d", "n", "--days", "0"])
                .err()
                .unwrap();
        assert!(err.to_string().contains("--days"), "{err}");
        let err = Cli::try_parse_from(["neptune", "cert", "issue", "node"])
            .err()
            .unwrap();
        assert!(err.to_string().contains("--ca"), "{err}");
        let err = Cli::try_parse_from(["neptune", "certs"]).err().unwrap();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidSubcommand);
    }

    #[test]
    fn run_passes_everything_on() {
        let cli = Cli::try_parse_from(["neptune", "run", "--help", "--policy", "fifo"]).unwrap();
        match cli.command {
            Some(Command::Run { args }) => assert_eq!(args, ["--help", "--policy", "fifo"]),
            _ => panic!("not run"),
        }
    }
}
