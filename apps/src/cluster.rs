//! The cluster commands of `neptune`: `driver` (the unified application as the
//! driver of a cluster), `executor` (a process that runs the tasks a driver sends),
//! `hostfile` (entry I of a static hostfile as either) and `cert` (the cluster's
//! certificates); and `local:N`, the value of every `--cluster` flag.
//!
//! Executors run plan builders by name: `neptune executor` registers every builder of
//! [`crate::builders`], the table the driver's context is built with too.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use neptune::dataflow::cluster::hostfile::{Hostfile, Role};
use neptune::dataflow::cluster::{run_executor, ExecutorConfig};
use neptune::runtime::quic::{ClusterCa, ClusterIdentity, IdentityError};
use neptune_support::args::at_least_one;

use crate::unified::{self, Progress};

/// The common name of the CAs that `neptune cert init` makes.
const CA_COMMON_NAME: &str = "Neptune cluster CA";

/// `local:N` with N > 0, the value of `--cluster`: N executor processes of this
/// program on loopback.
pub fn local_cluster(s: &str) -> Result<usize, String> {
    s.strip_prefix("local:")
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| "expected local:N with N > 0".to_owned())
}

/// How the urgent threads run: `--realtime`, shared by the cluster's subcommands.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct Urgency {
    /// Run the urgent threads (network, timers, stream triggers, job driver) under
    /// SCHED_FIFO at the lowest real-time priority where permitted (root or
    /// CAP_SYS_NICE), so that they run the moment they wake even when Batch work fills
    /// every core; else they ask for short time slices.
    #[arg(long)]
    pub realtime: bool,
}

/// `neptune driver`'s arguments.
#[derive(Args, Debug)]
pub struct DriverArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Executors to wait for.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one::<usize>)]
    pub expect: usize,
    /// Directory holding ca.pem and the driver's NAME.pem and NAME.key.
    #[arg(long, value_name = "DIR")]
    pub certs: PathBuf,
    /// The driver's node name (its certificate's).
    #[arg(long, default_value = "driver")]
    pub name: String,
    /// `--realtime`.
    #[command(flatten)]
    pub urgency: Urgency,
    /// The application's options.
    #[command(flatten)]
    pub app: unified::Args,
}

/// `neptune hostfile`'s arguments.
#[derive(Args, Debug)]
pub struct HostfileArgs {
    /// The hostfile (format: `deploy/hostfile.example`).
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    /// This process's entry: 0 the driver, 1, 2, … the executors in file order
    /// (under Slurm: $SLURM_PROCID).
    #[arg(long, value_name = "I")]
    pub index: usize,
    /// Directory holding ca.pem and this node's NAME.pem and NAME.key.
    #[arg(long, value_name = "DIR")]
    pub certs: PathBuf,
    /// How long an executor retries resolving host names of the file.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_RESOLVE_SECS)]
    pub resolve_timeout: u64,
    /// `--realtime`.
    #[command(flatten)]
    pub urgency: Urgency,
    /// The application's options (used by the driver).
    #[command(flatten)]
    pub app: unified::Args,
}

/// How long an executor retries resolving the driver's name by default: under
/// Kubernetes an executor may start before the driver's Service name resolves.
const DEFAULT_RESOLVE_SECS: u64 = 30;

/// The pause between two attempts at resolving a name.
const RESOLVE_RETRY: Duration = Duration::from_millis(500);

/// `neptune executor`'s arguments.
#[derive(Args, Debug)]
pub struct ExecutorArgs {
    /// The driver's address: IP:PORT, or HOST:PORT with a DNS name (a Kubernetes
    /// Service: `neptune-driver:7077`), resolved at start, retried every 0.5 s for up
    /// to --resolve-timeout seconds (the name may not resolve yet).
    #[arg(long, value_name = "HOST:PORT", value_parser = host_port)]
    pub driver: String,
    /// How long to retry resolving --driver before giving up.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_RESOLVE_SECS)]
    pub resolve_timeout: u64,
    /// Slots (worker threads) for tasks.
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub slots: u16,
    /// Directory holding ca.pem and this executor's NAME.pem and NAME.key.
    #[arg(long, value_name = "DIR")]
    pub certs: PathBuf,
    /// This executor's node name (its certificate's).
    #[arg(long)]
    pub name: String,
    /// The local scheduling policy.
    #[arg(long, default_value = "neptune")]
    pub policy: String,
    /// The address other executors fetch shuffle blocks from (default: the one
    /// it listens on).
    #[arg(long, value_name = "ADDR")]
    pub advertise: Option<SocketAddr>,
    /// Where to listen for shuffle fetches (default: an ephemeral port).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// The driver's node name (its certificate's).
    #[arg(long, default_value = "driver")]
    pub driver_name: String,
    /// `--realtime`.
    #[command(flatten)]
    pub urgency: Urgency,
}

/// `neptune cert`'s subcommands.
#[derive(Subcommand, Debug)]
pub enum CertCommand {
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

/// `neptune driver`: the unified application as the driver of a cluster.
pub fn driver(args: DriverArgs, progress: &mut dyn FnMut(&Progress)) -> ExitCode {
    run_driver(args, "neptune driver", progress)
}

/// `neptune executor`: an executor process, until its driver goes away.
pub fn executor(args: ExecutorArgs) -> ExitCode {
    run_executor_process(args)
}

/// `neptune driver`, and entry 0 of a hostfile.
fn run_driver(args: DriverArgs, program: &str, progress: &mut dyn FnMut(&Progress)) -> ExitCode {
    let DriverArgs {
        listen,
        expect,
        certs,
        name,
        urgency,
        app,
    } = args;
    // Before the context's runtimes start (their threads are made urgent as they do).
    neptune::runtime::time_slice::allow_realtime(urgency.realtime);
    let identity = match ClusterIdentity::from_dir(&certs, &name) {
        Ok(id) => id,
        Err(e) => return fail(&e.to_string()),
    };
    if expect == 0 {
        return fail("--expect must be at least 1");
    }
    let mut cfg = app.config();
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
    if let Err(e) = neptune::scheduler::policy_by_name(&args.policy, 1) {
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
    config.realtime = args.urgency.realtime;
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    match run_executor(config, &crate::builders()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

/// `neptune hostfile`: runs entry `index` of `file` as `neptune driver` or `neptune
/// executor` would.
pub fn hostfile(args: HostfileArgs, progress: &mut dyn FnMut(&Progress)) -> ExitCode {
    let HostfileArgs {
        file,
        index,
        certs,
        resolve_timeout,
        urgency,
        app,
    } = args;
    let file = file.as_path();
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
                urgency,
                app,
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
                urgency,
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

/// `neptune cert`: makes the certificates and says which files it wrote.
pub fn cert(command: CertCommand) -> ExitCode {
    match run_cert(command) {
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
        assert_eq!(local_cluster("local:3"), Ok(3));
        for bad in ["local:0", "3", "remote:3", "local:"] {
            assert!(local_cluster(bad).is_err(), "{bad}");
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
}
