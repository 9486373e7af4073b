//! A cluster across a lossy link: two network namespaces joined by a veth pair, an
//! nftables table dropping 5% of the UDP packets that cross it, the driver in one
//! namespace and executor processes in both (so driver-executor traffic *and* shuffle
//! fetches between executors cross the lossy link). Results must equal local mode's.
//!
//! This needs root, `ip` and `nft`. Without them the test prints `SKIPPED: …` on stderr
//! and passes, unless `NEPTUNE_REQUIRE_NETNS=1` (CI sets it), where it fails instead.
//! Everything it makes (namespaces, processes, certificates) is removed by [`Lab`]'s
//! `Drop`, so also when an assertion fails.

mod common;

use common::{wait_for, TempDir};
use neptune_dataflow::cluster::{main_or_executor, Builders, DriverConfig};
use neptune_dataflow::{Context, Dataset};
use neptune_runtime::quic::ClusterCa;
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

fn word_count(ctx: &Context, lines: Vec<String>) -> Dataset<(String, u64)> {
    ctx.parallelize(lines, 6)
        .flat_map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b)
}

fn join(ctx: &Context, n: u64) -> Dataset<(u64, (u64, u64))> {
    let left = ctx.range(0..n, 4).map(|x| (x % 97, x));
    let right = ctx.range(0..97, 3).map(|k| (k, k * 1000));
    left.join(&right)
}

fn builders() -> Builders {
    Builders::new()
        .register("word_count", word_count)
        .register("join", join)
}

/// Not a test of its own: the entry point of this binary's executor processes.
#[test]
fn executor_entry() {
    main_or_executor(&builders());
}

/// The driver's side of the link (namespace A); one executor lives there too.
const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 213, 7, 1);
/// The executors' side (namespace B), where the nftables table drops packets.
const ADDR_B: Ipv4Addr = Ipv4Addr::new(10, 213, 7, 2);
/// Slots of each executor.
const SLOTS: usize = 2;

/// How often the nftables rules drop a packet crossing the veth, in percent, each way.
const LOSS_PERCENT: u32 = 5;

/// The bound on any one command of the set-up (a hung `ip` must not hang the test).
const COMMAND_WAIT: Duration = Duration::from_secs(30);

/// The bound on the cluster part of the test (registration and both jobs).
const CLUSTER_WAIT: Duration = Duration::from_secs(300);

// Two calls of the C library (which std links already): switching a thread's network
// namespace, and the effective user id.
extern "C" {
    fn setns(fd: i32, nstype: i32) -> i32;
    fn geteuid() -> u32;
}

/// `setns`'s namespace type for network namespaces (linux/sched.h).
const CLONE_NEWNET: i32 = 0x4000_0000;

/// Runs a command to completion within [`COMMAND_WAIT`]; its stdout, or why it failed.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let shown = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    let deadline = Instant::now() + COMMAND_WAIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{shown}` did not finish in {COMMAND_WAIT:?}"));
            }
            Err(e) => return Err(format!("waiting for `{shown}`: {e}")),
        }
    };
    let output = child
        .wait_with_output()
        .map_err(|e| format!("reading `{shown}`'s output: {e}"))?;
    if status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{shown}` failed ({status}): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The namespaces, the processes started in them and the certificates' directory of
/// one run; dropping it kills and reaps every process and deletes the namespaces.
struct Lab {
    /// The driver's namespace.
    a: String,
    /// The lossy one.
    b: String,
    /// Namespaces made so far (deleted on drop).
    made: Vec<String>,
    /// Executor processes (shared with the thread that starts them).
    children: Arc<Mutex<Vec<Child>>>,
    /// Certificates and the nftables script.
    dir: TempDir,
}

impl Lab {
    /// Makes the namespaces, the link and the lossy table; why not, if it cannot.
    fn create() -> Result<Lab, String> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { geteuid() } != 0 {
            return Err("not running as root (network namespaces need it)".into());
        }
        run("ip", &["-V"]).map_err(|e| format!("no iproute2: {e}"))?;
        run("nft", &["--version"]).map_err(|e| format!("no nftables: {e}"))?;
        let pid = std::process::id();
        let mut lab = Lab {
            a: format!("nep-{pid}-a"),
            b: format!("nep-{pid}-b"),
            made: Vec::new(),
            children: Arc::default(),
            dir: TempDir::new("netns"),
        };
        let (a, b) = (lab.a.clone(), lab.b.clone());
        for ns in [&a, &b] {
            run("ip", &["netns", "add", ns])?;
            lab.made.push(ns.clone());
        }
        // Created straight into the namespaces, so the names cannot clash with the
        // host's interfaces or another run's.
        run(
            "ip",
            &[
                "link", "add", "veth-a", "netns", &a, "type", "veth", "peer", "name", "veth-b",
                "netns", &b,
            ],
        )?;
        for (ns, dev, addr) in [(&a, "veth-a", ADDR_A), (&b, "veth-b", ADDR_B)] {
            run(
                "ip",
                &["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev],
            )?;
            run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
            run("ip", &["-n", ns, "link", "set", dev, "up"])?;
        }
        let rules = lab.dir.file(
            "loss.nft",
            &format!(
                "table inet neptune_loss {{
                    chain input {{
                        type filter hook input priority 0; policy accept;
                        iifname \"veth-b\" meta l4proto udp numgen random mod 100 < {LOSS_PERCENT} counter drop
                    }}
                    chain output {{
                        type filter hook output priority 0; policy accept;
                        oifname \"veth-b\" meta l4proto udp numgen random mod 100 < {LOSS_PERCENT} counter drop
                    }}
                }}\n"
            ),
        );
        run(
            "ip",
            &["netns", "exec", &b, "nft", "-f", &rules.to_string_lossy()],
        )?;
        Ok(lab)
    }

    /// Packets the lossy table dropped so far (both directions).
    fn dropped(&self) -> u64 {
        let table = run(
            "ip",
            &[
                "netns",
                "exec",
                &self.b,
                "nft",
                "list",
                "table",
                "inet",
                "neptune_loss",
            ],
        )
        .expect("the lossy table can be listed");
        let counts: Vec<u64> = table
            .split("counter packets ")
            .skip(1)
            .map(|rest| {
                let n = rest.split_whitespace().next().unwrap_or("");
                n.parse().expect("a packet count")
            })
            .collect();
        assert_eq!(counts.len(), 2, "two drop rules in {table}");
        counts.iter().sum()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        for child in children.iter_mut() {
            let _ = child.kill();
        }
        // SIGKILL cannot be ignored; the bound only guards against a process stuck in
        // the kernel, which is then left behind with a message rather than a hang.
        let deadline = Instant::now() + COMMAND_WAIT;
        for child in children.iter_mut() {
            while matches!(child.try_wait(), Ok(None)) {
                if Instant::now() > deadline {
                    eprintln!("executor process {} did not exit", child.id());
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        for ns in &self.made {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("cannot delete network namespace {ns}: {e}");
            }
        }
    }
}

/// The lab, or `None` (after saying why) where namespaces cannot be made and the
/// environment does not require them.
fn lab_or_skip() -> Option<Lab> {
    match Lab::create() {
        Ok(lab) => Some(lab),
        Err(why) if std::env::var("NEPTUNE_REQUIRE_NETNS").as_deref() == Ok("1") => {
            panic!("NEPTUNE_REQUIRE_NETNS=1 but network namespaces cannot be made: {why}")
        }
        Err(why) => {
            // Straight to the process's stderr: the test harness captures `eprintln!`
            // of a passing test, and a skip must be seen.
            let _ = writeln!(std::io::stderr(), "\nSKIPPED: cluster_netns: {why}\n");
            None
        }
    }
}

/// Moves the calling thread into network namespace `ns`. Sockets it makes from then
/// on, and threads it starts (which inherit the namespace), live there.
fn enter(ns: &str) {
    let file = File::open(format!("/run/netns/{ns}")).expect("the namespace's file");
    // SAFETY: a valid descriptor of a network namespace, and the flag that says so;
    // the call changes only this thread's namespace.
    let done = unsafe { setns(file.as_raw_fd(), CLONE_NEWNET) };
    assert_eq!(
        done,
        0,
        "setns into {ns}: {}",
        std::io::Error::last_os_error()
    );
}

/// Starts executor `name` in namespace `ns`, serving blocks on `addr`, dialling
/// `driver`.
fn spawn_executor(
    ns: &str,
    name: &str,
    addr: Ipv4Addr,
    driver: SocketAddr,
    certs: &std::path::Path,
) -> Child {
    let exe: PathBuf = std::env::current_exe().expect("this test executable");
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(exe)
        .args(["executor_entry", "--exact", "--nocapture"])
        .env("NEPTUNE_EXECUTOR_DRIVER", driver.to_string())
        .env("NEPTUNE_EXECUTOR_CERTS", certs)
        .env("NEPTUNE_EXECUTOR_NAME", name)
        .env("NEPTUNE_EXECUTOR_SLOTS", SLOTS.to_string())
        .env("NEPTUNE_EXECUTOR_POLICY", "neptune")
        .env(
            "NEPTUNE_EXECUTOR_BIND",
            SocketAddr::new(IpAddr::V4(addr), 0).to_string(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("an executor process")
}

fn lines() -> Vec<String> {
    (0..2000)
        .map(|i| format!("w{} w{} w{} shared", i % 7, i % 13, i % 101))
        .collect()
}

type WordCounts = Vec<(String, u64)>;
type Joined = Vec<(u64, (u64, u64))>;

/// Word count and join, sorted.
fn run_jobs(ctx: &Context) -> (WordCounts, Joined, Vec<usize>) {
    let wc: Dataset<(String, u64)> = ctx.build("word_count", lines()).unwrap();
    let mut wc = wc.collect().unwrap().into_value();
    wc.sort();
    let joined: Dataset<(u64, (u64, u64))> = ctx.build("join", 5000u64).unwrap();
    let out = joined.collect().unwrap();
    let mut rows = out.value;
    rows.sort();
    (wc, rows, out.stats.tasks_per_executor)
}

#[test]
fn word_count_and_join_across_a_lossy_link_equal_local_mode() {
    let Some(lab) = lab_or_skip() else {
        return;
    };
    let local = Context::builder()
        .builders(builders())
        .executors(2)
        .slots_per_executor(SLOTS)
        .default_partitions(6)
        .build()
        .unwrap();
    let (expected_wc, expected_join, _) = run_jobs(&local);
    assert_eq!(expected_join.len(), 5000);

    let ca = ClusterCa::generate("netns test").unwrap();
    let certs = lab.dir.path().join("certs");
    let executors = [
        (lab.b.clone(), "executor-b0", ADDR_B),
        (lab.b.clone(), "executor-b1", ADDR_B),
        (lab.a.clone(), "executor-a0", ADDR_A),
    ];
    for (_, name, _) in &executors {
        ca.issue(name).unwrap().save(&certs).unwrap();
    }
    let driver_identity = ca.issue("driver").unwrap();
    let children = lab.children.clone();
    let a = lab.a.clone();

    // The driver lives in namespace A: its thread enters A before the context (and
    // with it the driver's socket and threads) is made. The cluster part runs there,
    // bounded by the channel's wait below, so a hang fails the test and `lab` cleans up.
    let (done, result) = mpsc::channel();
    let cluster = std::thread::spawn(move || {
        enter(&a);
        let config = DriverConfig {
            // No executor yet: they are started below, once the driver's port is known.
            wait: Duration::from_secs(1),
            ..DriverConfig::new(SocketAddr::new(IpAddr::V4(ADDR_A), 0), driver_identity, 0)
        };
        let ctx = Context::builder()
            .builders(builders())
            .default_partitions(6)
            .cluster(config)
            .build()
            .expect("a driver in namespace A");
        let driver = ctx.cluster_addr().unwrap();
        assert_eq!(driver.ip(), IpAddr::V4(ADDR_A));
        for (ns, name, addr) in &executors {
            let child = spawn_executor(ns, name, *addr, driver, &certs);
            children.lock().unwrap().push(child);
        }
        wait_for("three executors to register and send a heartbeat", || {
            for child in children.lock().unwrap().iter_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("executor process {} exited ({status})", child.id());
                }
            }
            let members = ctx.cluster_executors();
            members.len() == executors.len() && members.iter().all(|m| m.heartbeats > 0)
        });
        let out = run_jobs(&ctx);
        // Stopped here, so that stopping is inside the bounded wait too.
        drop(ctx);
        let _ = done.send(out);
    });
    let (wc, joined, tasks_per_executor) = match result.recv_timeout(CLUSTER_WAIT) {
        Ok(out) => out,
        Err(mpsc::RecvTimeoutError::Disconnected) => match cluster.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the cluster thread ends by sending its results"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the cluster did not finish within {CLUSTER_WAIT:?}")
        }
    };
    cluster.join().expect("the cluster thread");

    assert_eq!(wc, expected_wc);
    assert_eq!(joined, expected_join);
    assert!(
        tasks_per_executor.iter().filter(|&&t| t > 0).count() > 1,
        "tasks ran on one executor only: {tasks_per_executor:?}"
    );
    // The link really was lossy while the jobs ran.
    let dropped = lab.dropped();
    eprintln!("cluster_netns: the lossy link dropped {dropped} UDP packets");
    assert!(
        dropped > 0,
        "no packet was dropped: the test did not test loss"
    );
}
