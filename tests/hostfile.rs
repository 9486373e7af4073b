//! `neptune hostfile`: a driver and two executors started from one hostfile on
//! loopback, each with its own index, run the unified application; and the command
//! lines that must fail (a bad line, an index past the file, a driver name that does
//! not resolve) fail with a reason.

mod common;

use common::{text, TempDir};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn neptune() -> Command {
    Command::new(env!("CARGO_BIN_EXE_neptune"))
}

/// The application's options for a short run.
const SMALL_RUN: [&str; 10] = [
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

/// The processes of one cluster: every one still running is killed and waited for
/// when this is dropped, also when the test fails.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One process's output files.
struct Logs {
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Logs {
    fn stderr(&self) -> String {
        std::fs::read(&self.stderr)
            .map(|b| text(&b))
            .unwrap_or_default()
    }
}

/// What one attempt at running the cluster came to.
enum Outcome {
    /// The driver's standard output.
    Ran(String),
    /// A port picked as free was taken before a process bound it.
    PortTaken,
}

fn cert(args: &[&str]) {
    let out = neptune().arg("cert").args(args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `n` distinct loopback UDP ports that were free a moment ago: all are bound at once
/// (so they differ), then released for the processes to bind.
fn free_ports(n: usize) -> Vec<u16> {
    let sockets: Vec<std::net::UdpSocket> = (0..n)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    sockets
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect()
}

fn is_port_taken(stderr: &str) -> bool {
    stderr.contains("in use")
}

/// Starts `neptune hostfile --index index` with its outputs in files under `dir`.
fn start(dir: &Path, hostfile: &Path, index: usize, attempt: usize) -> (Child, Logs) {
    let logs = Logs {
        stdout: dir.join(format!("attempt-{attempt}-{index}.out")),
        stderr: dir.join(format!("attempt-{attempt}-{index}.err")),
    };
    let child = neptune()
        .args(["hostfile", "--file"])
        .arg(hostfile)
        .args(["--index", &index.to_string(), "--certs"])
        .arg(dir)
        .arg("--json")
        .args(SMALL_RUN)
        .stdin(Stdio::null())
        .stdout(File::create(&logs.stdout).unwrap())
        .stderr(File::create(&logs.stderr).unwrap())
        .spawn()
        .unwrap();
    (child, logs)
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

/// Runs the driver and two executors of one hostfile; the driver's output.
fn run_cluster(dir: &Path, attempt: usize) -> Outcome {
    let ports = free_ports(3);
    let hostfile = dir.join(format!("hosts-{attempt}"));
    std::fs::write(
        &hostfile,
        format!(
            "# A cluster on loopback.\n\
             driver   127.0.0.1:{}\n\
             \n\
             executor 127.0.0.1:{} slots=1   # executor-1\n\
             executor 127.0.0.1:{} slots=2\n",
            ports[0], ports[1], ports[2]
        ),
    )
    .unwrap();
    let mut children = Processes(Vec::new());
    let mut logs = Vec::new();
    for index in 0..3 {
        let (child, log) = start(dir, &hostfile, index, attempt);
        children.0.push(child);
        logs.push(log);
    }
    let deadline = Instant::now() + RUN_LIMIT;
    // Until the driver exits, or an executor fails (it would never register).
    let statuses = poll_until(&mut children, deadline, "the cluster", |s| {
        s[0].is_some() || s[1..].iter().flatten().any(|st| !st.success())
    });
    for (i, status) in statuses.iter().enumerate() {
        if let Some(status) = status.filter(|st| !st.success()) {
            let stderr = logs[i].stderr();
            if is_port_taken(&stderr) {
                return Outcome::PortTaken;
            }
            panic!("process {i} failed ({status}): {stderr}");
        }
    }
    // The executors stop on their own once their driver is gone.
    let statuses = poll_until(
        &mut children,
        Instant::now() + Duration::from_secs(30),
        "an executor after its driver",
        |s| s.iter().all(Option::is_some),
    );
    for (i, status) in statuses.iter().enumerate().skip(1) {
        let status = status.expect("exited");
        assert!(status.success(), "executor {i}: {}", logs[i].stderr());
    }
    Outcome::Ran(text(&std::fs::read(&logs[0].stdout).unwrap()))
}

#[test]
fn a_driver_and_two_executors_run_from_one_hostfile() {
    let tmp = TempDir::new("hostfile-cluster");
    let dir = tmp.0.to_str().unwrap();
    cert(&["init", dir]);
    // The names the hostfile gives by default.
    for name in ["driver", "executor-1", "executor-2"] {
        cert(&["issue", "--ca", dir, name]);
    }
    let stdout = (0..3)
        .find_map(|attempt| match run_cluster(&tmp.0, attempt) {
            Outcome::Ran(stdout) => Some(stdout),
            Outcome::PortTaken => None,
        })
        .expect("three attempts found every picked port taken");
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no report: {stdout}"));
    let report: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(report["policy"], "neptune", "{line}");
    assert!(report["passes"].as_u64().unwrap() > 0, "{line}");
    assert!(report["micro_batches"].as_u64().unwrap() > 0, "{line}");
    assert!(report["accuracy"].as_f64().unwrap() > 0.6, "{line}");
    // Both executors of the file, with its names and slots, heard from.
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
    assert_eq!(
        executors,
        [("executor-1".to_owned(), 1), ("executor-2".to_owned(), 2)],
        "{line}"
    );
}

#[test]
fn bad_hostfiles_and_indices_are_refused_with_the_line() {
    let tmp = TempDir::new("hostfile-bad");
    let file = tmp.0.join("hosts");
    let run = |index: &str| {
        let out = neptune()
            .args(["hostfile", "--file"])
            .arg(&file)
            .args(["--index", index, "--certs"])
            .arg(&tmp.0)
            .output()
            .unwrap();
        assert!(!out.status.success());
        text(&out.stderr)
    };
    std::fs::write(&file, "driver 127.0.0.1:7077\nexecutor 127.0.0.1 cores=2\n").unwrap();
    let err = run("1");
    assert!(err.contains("line 2: unknown key \"cores\""), "{err}");
    std::fs::write(&file, "driver 127.0.0.1:7077\nexecutor 127.0.0.1 slots=2\n").unwrap();
    let err = run("2");
    assert!(err.contains("index 2 is out of range"), "{err}");
    std::fs::remove_file(&file).unwrap();
    let err = run("0");
    assert!(err.contains("hosts"), "{err}");
}

#[test]
fn a_driver_name_that_does_not_resolve_fails_with_the_name() {
    let tmp = TempDir::new("hostfile-unresolved");
    let dir = tmp.0.to_str().unwrap();
    cert(&["init", dir]);
    cert(&["issue", "--ca", dir, "executor"]);
    // `.invalid` never resolves (RFC 6761); one second of retries.
    let out = neptune()
        .args([
            "executor",
            "--driver",
            "neptune-driver.invalid:7077",
            "--resolve-timeout",
            "1",
            "--certs",
            dir,
            "--name",
            "executor",
        ])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("neptune-driver.invalid:7077") && err.contains("cannot resolve"),
        "{err}"
    );
    assert!(err.contains("tried for 1 s"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
