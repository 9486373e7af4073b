//! The `neptune` binary in cluster mode: the unified application on a local cluster of
//! executor processes, a driver and executors started by hand with certificates from
//! `neptune cert`, and an executor of another binary refused at registration.

mod common;

use common::{cluster, text, TempDir};
use neptune::dataflow::Context;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn neptune() -> Command {
    Command::new(env!("CARGO_BIN_EXE_neptune"))
}

/// Kills a child process when dropped, also when the test fails.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` to exit, up to `limit`; kills it past that.
fn wait_output(child: Child, limit: Duration) -> Output {
    let mut child = Killed(child);
    let deadline = Instant::now() + limit;
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the process ran past {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let Killed(inner) = &mut child;
    let mut out = Output {
        status: inner.wait().unwrap(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    use std::io::Read;
    if let Some(mut s) = inner.stdout.take() {
        s.read_to_end(&mut out.stdout).unwrap();
    }
    if let Some(mut s) = inner.stderr.take() {
        s.read_to_end(&mut out.stderr).unwrap();
    }
    out
}

fn check_report(stdout: &str) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("{stdout}"));
    let report: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(report["policy"], "neptune", "{line}");
    assert!(report["passes"].as_u64().unwrap() > 0, "{line}");
    assert!(report["micro_batches"].as_u64().unwrap() > 0, "{line}");
    assert!(
        report["model_versions_used"].as_u64().unwrap() > 0,
        "{line}"
    );
    assert!(report["accuracy"].as_f64().unwrap() > 0.6, "{line}");
    // Heartbeats with the executors' own allocator figures reached the driver.
    let executors = report["executors"].as_array().unwrap();
    assert_eq!(executors.len(), 2, "{line}");
    for e in executors {
        assert!(e["heartbeats"].as_u64().unwrap() >= 1, "{line}");
        assert!(e["memory_in_use"].as_u64().unwrap() > 0, "{line}");
    }
}

#[test]
fn the_unified_application_runs_on_a_local_cluster() {
    let child = spawn_piped(
        neptune()
            .args(["--cluster", "local:2", "--json"])
            .args(cluster::SMALL_RUN),
    );
    let out = wait_output(child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", text(&out.stderr));
    check_report(&text(&out.stdout));
}

fn cert(args: &[&str]) {
    let out = neptune().arg("cert").args(args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Starts `cmd` with no input and both outputs piped, for [`wait_output`].
fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_driver_and_executors_started_by_hand_run_the_application() {
    let tmp = TempDir::new("cluster-by-hand");
    let dir = tmp.path().to_str().unwrap();
    cert(&["init", dir]);
    for name in ["driver", "executor-a", "executor-b"] {
        cert(&["issue", "--ca", dir, name]);
    }
    // A free loopback port for the driver.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let driver = spawn_piped(
        neptune()
            .args([
                "driver", "--listen", &addr, "--expect", "2", "--certs", dir, "--json",
            ])
            .args(cluster::SMALL_RUN),
    );
    let executors: Vec<Killed> = ["executor-a", "executor-b"]
        .iter()
        .map(|name| {
            Killed(
                neptune()
                    .args([
                        "executor", "--driver", &addr, "--slots", "1", "--certs", dir, "--name",
                        name,
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    let out = wait_output(driver, Duration::from_secs(120));
    assert!(out.status.success(), "{}", text(&out.stderr));
    check_report(&text(&out.stdout));
    // The executors stop on their own once the driver is gone.
    for mut e in executors {
        let deadline = Instant::now() + Duration::from_secs(30);
        while e.0.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "an executor outlived its driver");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn an_executor_of_another_binary_is_refused_at_registration() {
    // This test binary is the driver; the `neptune` binary, with the same builders,
    // is not the same executable.
    let built = Context::builder()
        .builders(neptune_apps::builders())
        .local_cluster(1)
        .local_cluster_command(Some(env!("CARGO_BIN_EXE_neptune").into()), Vec::new())
        .build();
    let e = built.expect_err("a foreign executor");
    assert!(e.to_string().contains("another binary"), "{e}");
}

#[test]
fn bad_executor_and_driver_arguments_are_refused_with_a_reason() {
    let tmp = TempDir::new("cluster-bad-args");
    let dir = tmp.path().to_str().unwrap();
    let out = neptune()
        .args([
            "executor",
            "--driver",
            "127.0.0.1:1",
            "--certs",
            dir,
            "--name",
            "nobody",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("nobody.pem") || text(&out.stderr).contains("ca.pem"),
        "{}",
        text(&out.stderr)
    );
    let out = neptune()
        .args(["executor", "--driver", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--driver"),
        "{}",
        text(&out.stderr)
    );
    let out = neptune().args(["--cluster", "remote:2"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("local:N"),
        "{}",
        text(&out.stderr)
    );
}
