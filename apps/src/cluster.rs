//! The `neptune` command line.
//!
//! ```text
//! neptune [OPTIONS]                       the unified application (as `neptune run`)
//! neptune run [OPTIONS]                   the same; `neptune run --help` lists OPTIONS
//! neptune driver --listen ADDR --expect N --certs DIR [OPTIONS]
//!                                         the application as the driver of a cluster
//! neptune executor --driver HOST:PORT --slots K --certs DIR --name NAME [--advertise ADDR]
//!                                         an executor process of that cluster
//! neptune hostfile --file FILE --index I --certs DIR [OPTIONS]
//!                                         entry I of a static hostfile: the driver
//!                                         (0) or an executor (1, 2, …)
//! neptune cert init DIR [--force]         a new cluster CA: DIR/ca.pem, DIR/ca.key
//! neptune cert issue --ca DIR NAME [--out DIR2] [--days N] [--force]
//!                                         node NAME's DIR2/NAME.pem, NAME.key, ca.pem
//! ```
//!
//! The unified application keeps its own option parser (and its `--help`): arguments
//! that start with an option go to it unchanged, so `neptune --policy fifo` works as it
//! always has, while a first word that is no subcommand is an error that lists them.

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use neptune_dataflow::cluster::hostfile::{Hostfile, Role};
use neptune_dataflow::cluster::{run_executor, ExecutorConfig};
use neptune_runtime::quic::{ClusterCa, ClusterIdentity, IdentityError};

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
    /// Runs the unified application as the driver of a cluster: executors started
    /// with `neptune executor` dial ADDR; the application starts once N registered.
    /// OPTIONS are the application's (`neptune run --help`).
    Driver(DriverArgs),
    /// Runs an executor process: dials the driver, runs the tasks it is sent, until
    /// the driver goes away.
    Executor(ExecutorArgs),
    /// Runs entry I of a static hostfile: the driver (0) or an executor (1, 2, …)
    ///
    /// Every process of the cluster gets the same FILE and its own I (ssh, Slurm's
    /// $SLURM_PROCID). Entry 0 runs as `neptune driver`, listening on its line's
    /// address and waiting for every executor of the file, with the application's
    /// OPTIONS; entry I ≥ 1 runs as `neptune executor` with its line's slots, name and
    /// address (OPTIONS unused).
    Hostfile {
        /// The hostfile (format: `deploy/hostfile.example`).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// This process's entry: 0 the driver, 1, 2, … the executors in file order
        /// (under Slurm: $SLURM_PROCID).
        #[arg(long, value_name = "I")]
        index: usize,
        /// Directory holding ca.pem and this node's NAME.pem and NAME.key.
        #[arg(long, value_name = "DIR")]
        certs: PathBuf,
        /// How long an executor retries resolving host names of the file.
        #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_RESOLVE_SECS)]
        resolve_timeout: u64,
        /// The application's options (used by the driver).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "OPTIONS"
        )]
        args: Vec<String>,
    },
    /// Makes the cluster's certificates (mutual TLS between nodes)
    #[command(subcommand)]
    Cert(CertCommand),
}

/// `neptune driver`'s arguments.
#[derive(Args)]
struct DriverArgs {
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
}

/// How long an executor retries resolving the driver's name by default: under
/// Kubernetes an executor may start before the driver's Service name resolves.
const DEFAULT_RESOLVE_SECS: u64 = 30;

/// The pause between two attempts at resolving a name.
const RESOLVE_RETRY: Duration = Duration::from_millis(500);

/// `neptune executor`'s arguments.
#[derive(Args)]
struct ExecutorArgs {
    /// The driver's address: IP:PORT, or HOST:PORT with a DNS name (a Kubernetes
    /// Service: `neptune-driver:7077`), resolved at start, retried every 0.5 s for up
    /// to --resolve-timeout seconds (the name may not resolve yet).
    #[arg(long, value_name = "HOST:PORT", value_parser = host_port)]
    driver: String,
    /// How long to retry resolving --driver before giving up.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_RESOLVE_SECS)]
    resolve_timeout: u64,
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
        Some(Command::Driver(driver)) => run_driver(driver, "neptune driver", progress),
        Some(Command::Executor(executor)) => run_executor_process(executor),
        Some(Command::Hostfile {
            file,
            index,
            certs,
            resolve_timeout,
            args,
        }) => run_hostfile(&file, index, certs, resolve_timeout, args, progress),
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

/// The application's configuration from `args`; `Ok(None)` when they asked for its
/// usage, which is then printed.
fn application_config(args: Vec<String>, program: &str) -> Result<Option<unified::Config>, String> {
    match unified::Config::from_args(args) {
        Ok(cfg) => Ok(Some(cfg)),
        Err(e) if e == unified::USAGE => {
            println!("{program} {}", unified::USAGE);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// `neptune driver`, and entry 0 of a hostfile.
fn run_driver(args: DriverArgs, program: &str, progress: &mut dyn FnMut(&Progress)) -> ExitCode {
    let DriverArgs {
        listen,
        expect,
        certs,
        name,
        args,
    } = args;
    let identity = match ClusterIdentity::from_dir(&certs, &name) {
        Ok(id) => id,
        Err(e) => return fail(&e.to_string()),
    };
    let mut cfg = match application_config(args, program) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => return ExitCode::SUCCESS,
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
    unified::run_config(&cfg, program, progress)
}

/// `neptune executor`, and entries 1, 2, … of a hostfile.
fn run_executor_process(args: ExecutorArgs) -> ExitCode {
    let identity = match ClusterIdentity::from_dir(&args.certs, &args.name) {
        Ok(id) => id,
        Err(e) => return fail(&e.to_string()),
    };
    if let Err(e) = neptune_scheduler::policy_by_name(&args.policy, 1) {
        return fail(&e.to_string());
    }
    // Local mistakes first; then the wait for a name that may not resolve yet.
    let within = Duration::from_secs(args.resolve_timeout);
    let driver = match resolve(&args.driver, within) {
        Ok(addr) => addr,
        Err(e) => return fail(&format!("--driver {e}")),
    };
    let mut config = ExecutorConfig::new(driver, identity, usize::from(args.slots));
    config.policy = args.policy;
    config.advertise = args.advertise;
    config.driver_name = args.driver_name;
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    match run_executor(config, &unified::builders()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

/// `neptune hostfile`: runs entry `index` of `file` as `neptune driver` or `neptune
/// executor` would.
fn run_hostfile(
    file: &Path,
    index: usize,
    certs: PathBuf,
    resolve_timeout: u64,
    args: Vec<String>,
    progress: &mut dyn FnMut(&Progress),
) -> ExitCode {
    let hostfile = match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| Hostfile::parse(&text).map_err(|e| e.to_string()))
    {
        Ok(h) => h,
        Err(e) => return fail(&format!("{}: {e}", file.display())),
    };
    let role = match hostfile.role(index) {
        Ok(role) => role,
        Err(e) => return fail(&format!("{}: --index {e}", file.display())),
    };
    match role {
        Role::Driver(driver) => run_driver(
            DriverArgs {
                listen: driver.listen(),
                expect: hostfile.executors.len(),
                certs,
                name: driver.name.clone(),
                args,
            },
            "neptune hostfile",
            progress,
        ),
        Role::Executor(executor) => {
            let within = Duration::from_secs(resolve_timeout);
            let at =
                |line: usize, e: String| fail(&format!("{}: line {line}: {e}", file.display()));
            let driver = match resolve(&hostfile.driver.address(), within) {
                Ok(addr) => addr,
                Err(e) => return at(hostfile.driver.line, e),
            };
            // Where the other executors will dial: a name resolved here must not be
            // this host's loopback alias when the driver, and so the cluster, is
            // elsewhere.
            let advertise = match resolve(&executor.address(), within) {
                Ok(addr) => addr,
                Err(e) => return at(executor.line, e),
            };
            if advertise.ip().is_loopback() && !driver.ip().is_loopback() {
                return at(
                    executor.line,
                    format!(
                        "{} resolves to {} here, which other hosts cannot reach; write this \
                         host's address in the hostfile",
                        executor.host,
                        advertise.ip()
                    ),
                );
            }
            run_executor_process(ExecutorArgs {
                driver: driver.to_string(),
                resolve_timeout,
                slots: executor.slots,
                certs,
                name: executor.name.clone(),
                policy: executor.policy.clone(),
                advertise: Some(advertise),
                bind: Some(executor.bind()),
                driver_name: hostfile.driver.name.clone(),
            })
        }
    }
}

/// Checks that `s` is `HOST:PORT` (a DNS name, an IPv4 address or a bracketed IPv6
/// address, and a port); resolving it is left to [`resolve`].
fn host_port(s: &str) -> Result<String, String> {
    if s.parse::<SocketAddr>().is_ok() {
        return Ok(s.to_owned());
    }
    let expected = "expected HOST:PORT (neptune-driver:7077, 10.0.0.1:7077, [fd00::1]:7077)";
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!("no port: {expected}"));
    };
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(format!("bad port {port:?}: {expected}"));
    }
    let name_like = !host.is_empty()
        && !host.starts_with(['-', '.'])
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_like {
        return Err(format!("bad host {host:?}: {expected}"));
    }
    Ok(s.to_owned())
}

/// Resolves `HOST:PORT`, retrying every [`RESOLVE_RETRY`] for up to `within` (a
/// name that does not resolve yet may soon: DNS records appear after the pods that
/// look them up start). Prefers an IPv4 address, as the driver most often listens on
/// one.
fn resolve(address: &str, within: Duration) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + within;
    loop {
        let outcome = address.to_socket_addrs().map(|addrs| {
            let addrs: Vec<SocketAddr> = addrs.collect();
            addrs
                .iter()
                .find(|a| a.is_ipv4())
                .or(addrs.first())
                .copied()
        });
        let reason = match outcome {
            Ok(Some(addr)) => return Ok(addr),
            Ok(None) => "it resolves to no address".to_owned(),
            Err(e) => e.to_string(),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "{address}: cannot resolve it ({reason}; tried for {} s)",
                within.as_secs()
            ));
        }
        std::thread::sleep(RESOLVE_RETRY.min(deadline - now));
    }
}

/// Parses a `neptune` command line (`args` without the program name) as the binary
/// would, runs nothing, and says why it would be refused: clap's usage errors, the
/// application's options (for `neptune`, `run`, `driver`, `hostfile`) and the
/// executor's policy. Files named on it (certificates, a hostfile) are not read and
/// names are not resolved: it checks command lines written for other machines, such
/// as a Kubernetes manifest's.
pub fn check_args(args: &[String]) -> Result<(), String> {
    let app = |args: &[String]| match unified::Config::from_args(args.iter().cloned()) {
        Ok(_) => Ok(()),
        Err(e) if e == unified::USAGE => Ok(()),
        Err(e) => Err(e),
    };
    let os: Vec<OsString> = args.iter().map(OsString::from).collect();
    if goes_to_the_application(&os) {
        return app(args);
    }
    let cli = match Cli::try_parse_from(std::iter::once(OsString::from("neptune")).chain(os)) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
            return match e.kind() {
                DisplayHelp | DisplayVersion => Ok(()),
                _ => Err(e.render().to_string()),
            };
        }
    };
    match cli.command {
        None | Some(Command::Cert(_)) => Ok(()),
        Some(Command::Run { args }) | Some(Command::Hostfile { args, .. }) => app(&args),
        Some(Command::Driver(d)) if d.expect == 0 => Err("--expect must be at least 1".into()),
        Some(Command::Driver(d)) => app(&d.args),
        Some(Command::Executor(e)) => neptune_scheduler::policy_by_name(&e.policy, 1)
            .map(drop)
            .map_err(|err| format!("--policy: {err}")),
    }
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

    #[test]
    fn the_driver_is_host_and_port() {
        for good in [
            "neptune-driver:7077",
            "10.0.0.1:7077",
            "[fd00::1]:7077",
            "driver.ns.svc.cluster.local:1",
        ] {
            assert_eq!(host_port(good).as_deref(), Ok(good));
        }
        for (bad, says) in [
            ("neptune-driver", "no port"),
            ("neptune-driver:0", "bad port"),
            ("neptune-driver:http", "bad port"),
            (":7077", "bad host"),
            ("a b:7077", "bad host"),
            ("fd00::1:7077", "bad host"),
        ] {
            let e = host_port(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let cli = Cli::try_parse_from([
            "neptune",
            "executor",
            "--driver",
            "neptune-driver:7077",
            "--certs",
            "c",
            "--name",
            "executor",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Executor(e)) => {
                assert_eq!(e.driver, "neptune-driver:7077");
                assert_eq!(e.resolve_timeout, DEFAULT_RESOLVE_SECS);
            }
            _ => panic!("not executor"),
        }
    }

    #[test]
    fn names_resolve_and_unknown_ones_fail_with_the_name() {
        let addr = resolve("localhost:7077", Duration::ZERO).unwrap();
        assert!(addr.ip().is_loopback() && addr.port() == 7077, "{addr}");
        // `.invalid` never resolves (RFC 6761).
        let e = resolve("no-such-host.invalid:7077", Duration::ZERO).unwrap_err();
        assert!(e.contains("no-such-host.invalid:7077"), "{e}");
        assert!(e.contains("cannot resolve"), "{e}");
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
            (&["executer"], "executer"),
        ] {
            let e = check_args(&args(bad)).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
