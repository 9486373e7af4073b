//! Runs a driver and its executors as processes of the `neptune` binary on loopback
//! ports that were free a moment ago, trying again with other ports when one was taken
//! in between; every process is killed and waited for, also when the test fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The unified application's options for a short run.
pub const SMALL_RUN: [&str; 10] = [
    "--seconds",
    "2",
    "--rows",
    "20000",
    "--holdout",
    "2000",
    "--rate",
    "2000",
    "--slots",
    "1",
];

/// How long a whole cluster run may take (a debug build on a busy 2-core machine).
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// How long executors may take to exit once their driver has.
const EXIT_LIMIT: Duration = Duration::from_secs(30);

/// Processes that are killed and waited for when this is dropped.
pub struct Processes(pub Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `n` distinct loopback UDP ports that were free a moment ago: all are bound at once
/// (so they differ), then released for the processes to bind.
pub fn free_ports(n: usize) -> Vec<u16> {
    let sockets: Vec<std::net::UdpSocket> = (0..n)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    sockets
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect()
}

/// What one attempt came to.
enum Outcome {
    /// The driver's standard output.
    Ran(String),
    /// A port picked as free was taken before a process bound it.
    PortTaken,
}

/// One process's output files.
struct Logs {
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Logs {
    fn stderr(&self) -> String {
        std::fs::read(&self.stderr)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// Polls `children` until `done` says so, or panics past `deadline`.
fn poll_until(
    children: &mut Processes,
    deadline: Instant,
    what: &str,
    mut done: impl FnMut(&[Option<ExitStatus>]) -> bool,
) -> Vec<Option<ExitStatus>> {
    loop {
        let statuses: Vec<Option<ExitStatus>> = children
            .0
            .iter_mut()
            .map(|c| c.try_wait().unwrap())
            .collect();
        if done(&statuses) {
            return statuses;
        }
        assert!(Instant::now() < deadline, "{what}: still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `commands` (the arguments of `neptune`; the first is the driver) with their
/// outputs in files under `dir`: waits for the driver, then for the executors, which
/// exit on their own once their driver is gone.
fn run_once(dir: &Path, tag: &str, commands: &[Vec<String>]) -> Outcome {
    let mut children = Processes(Vec::new());
    let mut logs = Vec::new();
    for (i, args) in commands.iter().enumerate() {
        let log = Logs {
            stdout: dir.join(format!("{tag}-{i}.out")),
            stderr: dir.join(format!("{tag}-{i}.err")),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_neptune"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&log.stdout).unwrap())
            .stderr(File::create(&log.stderr).unwrap())
            .spawn()
            .unwrap();
        children.0.push(child);
        logs.push(log);
    }
    // Until the driver exits, or an executor fails (it would never register).
    let deadline = Instant::now() + RUN_LIMIT;
    let statuses = poll_until(&mut children, deadline, "the cluster", |s| {
        s[0].is_some() || s[1..].iter().flatten().any(|st| !st.success())
    });
    for (i, status) in statuses.iter().enumerate() {
        if let Some(status) = status.filter(|st| !st.success()) {
            let stderr = logs[i].stderr();
            if stderr.contains("in use") {
                return Outcome::PortTaken;
            }
            panic!(
                "`neptune {}` failed ({status}): {stderr}",
                commands[i].join(" ")
            );
        }
    }
    let deadline = Instant::now() + EXIT_LIMIT;
    let statuses = poll_until(
        &mut children,
        deadline,
        "an executor after its driver",
        |s| s.iter().all(Option::is_some),
    );
    for (i, status) in statuses.iter().enumerate().skip(1) {
        let status = status.expect("exited");
        assert!(status.success(), "executor {i}: {}", logs[i].stderr());
    }
    let stdout = std::fs::read(&logs[0].stdout).unwrap();
    Outcome::Ran(String::from_utf8_lossy(&stdout).into_owned())
}

/// Runs the cluster that `commands` makes from `ports` free loopback ports and an
/// attempt number (for file names), with fresh ports while one turns out taken (three
/// attempts); the driver's standard output.
pub fn run_on_free_ports(
    dir: &Path,
    ports: usize,
    mut commands: impl FnMut(&[u16], usize) -> Vec<Vec<String>>,
) -> String {
    (0..3)
        .find_map(|attempt| {
            let commands = commands(&free_ports(ports), attempt);
            match run_once(dir, &format!("attempt-{attempt}"), &commands) {
                Outcome::Ran(stdout) => Some(stdout),
                Outcome::PortTaken => None,
            }
        })
        .expect("three attempts found a picked port taken")
}

/// Checks the first JSON line of the unified application's output: a run that trained
/// and streamed, each of its executors heard from; returns the executors' (name,
/// slots), sorted.
pub fn check_report(stdout: &str) -> Vec<(String, u64)> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no report: {stdout}"));
    let report: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(report["policy"], "neptune", "{line}");
    assert!(report["passes"].as_u64().unwrap() > 0, "{line}");
    assert!(report["micro_batches"].as_u64().unwrap() > 0, "{line}");
    assert!(report["accuracy"].as_f64().unwrap() > 0.6, "{line}");
    let mut executors: Vec<(String, u64)> = report["executors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["heartbeats"].as_u64().unwrap() >= 1, "{line}");
            (
                e["name"].as_str().unwrap().to_owned(),
                e["slots"].as_u64().unwrap(),
            )
        })
        .collect();
    executors.sort();
    executors
}
