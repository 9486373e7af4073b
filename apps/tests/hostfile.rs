//! `neptune hostfile`: a driver and two executors started from one hostfile on
//! loopback, each with its own index, run the unified application; and the command
//! lines that must fail (a bad line, an index past the file, a driver name that does
//! not resolve) fail with a reason.

mod common;

use common::{cluster, text, TempDir};
use std::process::Command;

fn neptune() -> Command {
    Command::new(env!("CARGO_BIN_EXE_neptune"))
}

fn cert(args: &[&str]) {
    let out = neptune().arg("cert").args(args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_driver_and_two_executors_run_from_one_hostfile() {
    let tmp = TempDir::new("hostfile-cluster");
    let dir = tmp.path().to_str().unwrap();
    cert(&["init", dir]);
    // The names the hostfile gives by default.
    for name in ["driver", "executor-1", "executor-2"] {
        cert(&["issue", "--ca", dir, name]);
    }
    let stdout = cluster::run_on_free_ports(tmp.path(), 3, |ports, attempt| {
        let hostfile = tmp.path().join(format!("hosts-{attempt}"));
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
        // Every process gets the same command line but for its index.
        (0..3)
            .map(|index| {
                let hostfile = hostfile.to_str().unwrap();
                let index = index.to_string();
                [
                    "hostfile", "--file", hostfile, "--index", &index, "--certs", dir, "--json",
                ]
                .iter()
                .chain(&cluster::SMALL_RUN)
                .map(|s| s.to_string())
                .collect()
            })
            .collect()
    });
    // Both executors of the file, with its names and slots.
    assert_eq!(
        cluster::check_report(&stdout),
        [("executor-1".to_owned(), 1), ("executor-2".to_owned(), 2)]
    );
}

#[test]
fn bad_hostfiles_and_indices_are_refused_with_the_line() {
    let tmp = TempDir::new("hostfile-bad");
    let file = tmp.path().join("hosts");
    let run = |index: &str| {
        let out = neptune()
            .args(["hostfile", "--file"])
            .arg(&file)
            .args(["--index", index, "--certs"])
            .arg(tmp.path())
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
    let dir = tmp.path().to_str().unwrap();
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
