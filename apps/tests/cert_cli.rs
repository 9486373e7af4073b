//! `neptune cert`: the real binary makes a CA and node certificates that load back, and
//! refuses what it should with a message naming the file.

mod common;

use common::{text, TempDir};
use std::path::Path;
use std::process::{Command, Output};

use neptune::runtime::quic::ClusterIdentity;

fn neptune(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neptune"))
        .args(args)
        .output()
        .expect("the neptune binary runs")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn cert_init_and_issue_write_files_that_load() {
    let tmp = TempDir::new("init-issue");
    // `init` creates the directory.
    let ca_dir = tmp.path().join("ca");
    let out = neptune(&["cert", "init", path(&ca_dir)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for file in ["ca.pem", "ca.key"] {
        assert!(ca_dir.join(file).is_file(), "{file}");
        assert!(stdout.contains(path(&ca_dir.join(file))), "{stdout}");
    }
    let ca_pem = std::fs::read(ca_dir.join("ca.pem")).unwrap();

    // Into the CA's directory (the default).
    let out = neptune(&["cert", "issue", "--ca", path(&ca_dir), "driver"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("driver.pem"));
    let driver = ClusterIdentity::from_dir(&ca_dir, "driver").unwrap();
    assert_eq!(driver.name(), "driver");

    // Into a directory of its own, with the CA's certificate but not its key.
    let node_dir = tmp.path().join("executor-1");
    let out = neptune(&[
        "cert",
        "issue",
        "--ca",
        path(&ca_dir),
        "executor-1",
        "--out",
        path(&node_dir),
        "--days",
        "30",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let executor = ClusterIdentity::from_dir(&node_dir, "executor-1").unwrap();
    assert_eq!(executor.name(), "executor-1");
    assert_eq!(executor.ca_cert(), driver.ca_cert());
    assert!(!node_dir.join("ca.key").exists());

    // A second `init` keeps the CA, unless forced.
    let out = neptune(&["cert", "init", path(&ca_dir)]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("neptune: "), "{stderr}");
    assert!(
        stderr.contains("ca.pem") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(ca_dir.join("ca.pem")).unwrap(), ca_pem);
    ClusterIdentity::from_dir(&ca_dir, "driver").unwrap();

    let out = neptune(&["cert", "init", path(&ca_dir), "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_ne!(std::fs::read(ca_dir.join("ca.pem")).unwrap(), ca_pem);
    // The old CA's certificates no longer load against the new one.
    let err = ClusterIdentity::from_dir(&ca_dir, "driver").unwrap_err();
    assert!(err.to_string().contains("driver.pem"), "{err}");
}

#[test]
fn cert_issue_names_a_missing_ca_file() {
    let tmp = TempDir::new("missing-ca");
    let ca_dir = tmp.path().join("no-such-ca");
    let out = neptune(&["cert", "issue", "--ca", path(&ca_dir), "driver"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("neptune: "), "{stderr}");
    assert!(stderr.contains(path(&ca_dir.join("ca.pem"))), "{stderr}");
    assert!(!ca_dir.exists());
}

#[test]
fn cert_issue_refuses_a_bad_node_name() {
    let tmp = TempDir::new("bad-name");
    let out = neptune(&["cert", "init", path(tmp.path())]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = neptune(&["cert", "issue", "--ca", path(tmp.path()), "../escape"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("invalid node name"), "{stderr}");
}

#[test]
fn help_lists_the_subcommands_and_bad_words_are_refused() {
    let out = neptune(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("cert") && help.contains("run"), "{help}");

    let out = neptune(&["cert", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("init") && help.contains("issue"), "{help}");

    // `run` lists the applications, each of which lists its options.
    let out = neptune(&["run", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for app in ["unified", "ysb", "tpch", "mw1"] {
        assert!(help.contains(app), "{help}");
    }
    let out = neptune(&["run", "unified", "--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--policy"));
    let out = neptune(&["bench", "cluster", "--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--shuffle-mib"));

    let out = neptune(&["certs"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("certs") && stderr.contains("cert"),
        "{stderr}"
    );

    // Options first still go to the application; what it refuses is named.
    let out = neptune(&["--no-such-flag"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--no-such-flag"));

    let out = neptune(&["cert", "issue", "--ca", "x", "node", "--days", "many"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--days"));
}
