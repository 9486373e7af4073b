//! Fault scenarios on a local cluster of 3 executor processes: each runs a workload
//! (word count, TPC-H Q1) with one fault injected deterministically, and compares the
//! outcome with the undisturbed run's.
//!
//! Faults are injected through the executors' environment
//! ([`neptune::dataflow::cluster::fault`]): at a record count of a map stage, when a
//! task's output is stored, or when an executor is first asked for a shuffle block.
//! The executors log the moment of the fault, so the time the driver took to declare
//! the executor lost is measured between two clocks of one host.
//!
//! Run by `examples/cluster_faults.rs` (one JSON line per scenario) and
//! `tests/cluster_faults.rs` (one test per scenario).

use neptune::dataflow::cluster::fault::{FAULT_ENV, FAULT_LOG_ENV};
use neptune::dataflow::cluster::Builders;
use neptune::dataflow::{Context, Dataset, JobStats};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::tpch::queries;

/// Executor processes of every scenario's cluster.
pub const EXECUTORS: usize = 3;

/// How long a job with no executor left waits for one here (the default is 30 s; the
/// scenario where every executor dies would spend it doing nothing).
pub const GRACE: Duration = Duration::from_secs(3);

/// A job run on a cluster: its answer in a comparable form, and its statistics.
pub type Run = (String, JobStats);

/// A workload: how to run it, and where its faults hit.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Its name in the output.
    pub name: &'static str,
    /// Records of a map task after which a mid-stage fault hits (fewer than any map
    /// partition holds).
    pub after: u64,
    run: fn(&Context) -> neptune::dataflow::Result<Run>,
}

/// Word count over generated lines: 4 map partitions, a shuffle, 4 reducers.
fn word_count(ctx: &Context, lines: u64) -> Dataset<(String, u64)> {
    ctx.range(0..lines, 4)
        .flat_map(|i| {
            vec![
                format!("w{}", i % 97),
                format!("v{}", i % 13),
                "shared".to_owned(),
            ]
        })
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b)
}

fn run_word_count(ctx: &Context) -> neptune::dataflow::Result<Run> {
    let ds: Dataset<(String, u64)> = ctx.build("faults-word-count", 20_000u64)?;
    let out = ds.collect()?;
    let mut counts = out.value;
    counts.sort();
    Ok((format!("{counts:?}"), out.stats))
}

fn run_q1(ctx: &Context) -> neptune::dataflow::Result<Run> {
    let ds: Dataset<((u8, u8), queries::Q1Sums)> = ctx.build("tpch-q1", (0.01f64, 4usize))?;
    let out = ds.collect()?;
    Ok((format!("{:?}", queries::q1_answer(out.value)), out.stats))
}

/// The workloads every scenario runs.
pub const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "word-count",
        after: 1_000,
        run: run_word_count,
    },
    Workload {
        name: "tpch-q1",
        after: 5_000,
        run: run_q1,
    },
];

/// Adds the plan builders of the workloads that TPC-H's do not cover to `builders`:
/// every process of the cluster registers them.
pub fn register(builders: Builders) -> Builders {
    builders.register("faults-word-count", word_count)
}

/// What a scenario must end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The undisturbed result.
    Equal,
    /// An error whose message contains this.
    Error(&'static str),
}

/// What happens besides the injected fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Extra {
    None,
    /// Once the driver declared an executor lost, start it again.
    Restart,
    /// Before the job, a peer without a certificate dials the driver.
    Intruder,
}

/// A fault scenario.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Its name in the output.
    pub name: &'static str,
    /// The fault spec; `{after}` becomes the workload's record count.
    fault: Option<&'static str>,
    /// The outcome that counts as surviving it.
    pub expect: Expect,
    extra: Extra,
}

/// Every scenario, in the order they are run.
pub const SCENARIOS: [Scenario; 8] = [
    Scenario {
        name: "task-error",
        fault: Some("fail,stage=shuffle,partition=1,after={after}"),
        expect: Expect::Equal,
        extra: Extra::None,
    },
    Scenario {
        name: "task-panic",
        fault: Some("panic,stage=shuffle,partition=1,attempt=any,after={after}"),
        expect: Expect::Error("injected panic"),
        extra: Extra::None,
    },
    Scenario {
        name: "kill-mid-stage",
        fault: Some("kill,node=executor-1,stage=shuffle,after={after}"),
        expect: Expect::Equal,
        extra: Extra::None,
    },
    Scenario {
        name: "kill-after-map-outputs",
        fault: Some("kill,node=executor-1,at=served:1"),
        expect: Expect::Equal,
        extra: Extra::None,
    },
    Scenario {
        name: "stop-past-loss-timeout",
        fault: Some("stop,node=executor-1,stage=shuffle,after={after}"),
        expect: Expect::Equal,
        extra: Extra::None,
    },
    Scenario {
        name: "restart",
        fault: Some("kill,node=executor-1,stage=shuffle,after={after}"),
        expect: Expect::Equal,
        extra: Extra::Restart,
    },
    Scenario {
        name: "every-executor-killed",
        fault: Some("kill,stage=shuffle,attempt=any,after={after}"),
        expect: Expect::Error("no executor is left"),
        extra: Extra::None,
    },
    Scenario {
        name: "peer-without-certificate",
        fault: None,
        expect: Expect::Equal,
        extra: Extra::Intruder,
    },
];

/// How executor processes are started: the program and its arguments (a test binary
/// names its executor entry point; an example is its own executor).
#[derive(Clone, Debug, Default)]
pub struct Launcher {
    /// The program (None: this executable).
    pub program: Option<PathBuf>,
    /// Its arguments.
    pub args: Vec<String>,
}

/// The undisturbed run of a workload.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// The answer.
    pub answer: String,
    /// Its wall time.
    pub wall: Duration,
}

/// What a scenario gave on one workload.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The scenario.
    pub scenario: &'static str,
    /// The workload.
    pub workload: &'static str,
    /// What it had to give.
    pub expect: Expect,
    /// Whether it gave that.
    pub ok: bool,
    /// Whether the job's answer equals the undisturbed one (false when it failed).
    pub result_equal: bool,
    /// The job's error, if it failed.
    pub error: Option<String>,
    /// Tasks run again.
    pub tasks_rerun: u64,
    /// Map stages run again for lost outputs.
    pub stages_resubmitted: u64,
    /// From the fault to the driver declaring its executor lost.
    pub detect: Option<Duration>,
    /// The faulted job's wall time.
    pub wall: Duration,
    /// The undisturbed job's.
    pub undisturbed_wall: Duration,
    /// Whether the fault hit (it is logged by the executor where it hit).
    pub fault_hit: bool,
    /// Executors registered with a new id after a restart.
    pub rejoined: usize,
    /// Executor processes still alive after the cluster stopped.
    pub processes_left: usize,
    /// What else was seen (a refused intruder, a surviving executor).
    pub notes: Vec<String>,
}

/// An [`Outcome`] as its JSON line: durations in ms to 0.1 ms, the expectation by
/// kind (`equal` or `error`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct OutcomeLine<'a> {
    /// The scenario.
    pub scenario: &'a str,
    /// The workload.
    pub workload: &'a str,
    /// `equal` or `error`.
    pub expect: &'static str,
    /// Whether it gave what it had to.
    pub ok: bool,
    /// Whether the job's answer equals the undisturbed one.
    pub result_equal: bool,
    /// The job's error, if it failed.
    pub error: Option<&'a str>,
    /// Tasks run again.
    pub tasks_rerun: u64,
    /// Map stages run again for lost outputs.
    pub stages_resubmitted: u64,
    /// From the fault to the driver declaring its executor lost.
    pub detect_ms: Option<f64>,
    /// The faulted job's wall time.
    pub wall_ms: f64,
    /// The undisturbed job's.
    pub undisturbed_wall_ms: f64,
    /// Whether the fault hit.
    pub fault_hit: bool,
    /// Executors registered with a new id after a restart.
    pub rejoined: usize,
    /// Executor processes still alive after the cluster stopped.
    pub processes_left: usize,
    /// What else was seen.
    pub notes: &'a [String],
}

impl Outcome {
    /// The outcome as its JSON line's fields.
    pub fn line(&self) -> OutcomeLine<'_> {
        let ms = |d: Duration| (d.as_secs_f64() * 1e4).round() / 10.0;
        OutcomeLine {
            scenario: self.scenario,
            workload: self.workload,
            expect: match self.expect {
                Expect::Equal => "equal",
                Expect::Error(_) => "error",
            },
            ok: self.ok,
            result_equal: self.result_equal,
            error: self.error.as_deref(),
            tasks_rerun: self.tasks_rerun,
            stages_resubmitted: self.stages_resubmitted,
            detect_ms: self.detect.map(ms),
            wall_ms: ms(self.wall),
            undisturbed_wall_ms: ms(self.undisturbed_wall),
            fault_hit: self.fault_hit,
            rejoined: self.rejoined,
            processes_left: self.processes_left,
            notes: &self.notes,
        }
    }

    /// One JSON object.
    pub fn json(&self) -> String {
        // A struct of plain fields always serializes; the fallback keeps the line JSON.
        serde_json::to_string(&self.line())
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
    }

    /// One row of the table.
    pub fn text(&self) -> String {
        let line = self.line();
        format!(
            "{:<26} {:<11} ok={:<5} equal={:<5} rerun={:<3} resubmitted={:<2} detect={:>8} wall={:>8.0} ms (undisturbed {:.0} ms){}",
            line.scenario,
            line.workload,
            line.ok,
            line.result_equal,
            line.tasks_rerun,
            line.stages_resubmitted,
            line.detect_ms.map_or("-".to_owned(), |ms| format!("{ms:.0} ms")),
            line.wall_ms,
            line.undisturbed_wall_ms,
            line.error.map_or(String::new(), |e| format!("  error: {e}"))
        )
    }
}

/// A scratch directory for fault logs, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "neptune-faults-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cluster(launcher: &Launcher, env: &[(&str, String)]) -> neptune::dataflow::Result<Context> {
    let mut builder = Context::builder()
        .builders(crate::builders())
        .slots_per_executor(2)
        .executor_grace(GRACE)
        .local_cluster(EXECUTORS)
        .local_cluster_command(launcher.program.clone(), launcher.args.clone());
    for (k, v) in env {
        builder = builder.local_cluster_env(*k, v.clone());
    }
    builder.build()
}

/// Runs `workload` on an undisturbed cluster.
pub fn baseline(workload: &Workload, launcher: &Launcher) -> neptune::dataflow::Result<Baseline> {
    let ctx = cluster(launcher, &[])?;
    let started = Instant::now();
    let (answer, _) = (workload.run)(&ctx)?;
    Ok(Baseline {
        answer,
        wall: started.elapsed(),
    })
}

/// Whether process `pid` still exists (a zombie counts: it was not waited for).
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The wall-clock times (ns) at which faults hit, from the executors' log.
fn fault_times(log: &Path) -> Vec<u64> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

/// Dials the driver without a client certificate, trusting the cluster CA: the
/// driver must refuse it. What the peer saw.
fn intrude(ctx: &Context) -> Result<String, String> {
    let addr = ctx.cluster_addr().ok_or("no cluster address")?;
    let ca = ctx.cluster_ca_cert().ok_or("no cluster CA certificate")?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca))
        .map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"neptune/1".to_vec()];
    let crypto =
        quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| e.to_string())?;
    let config = quinn::ClientConfig::new(Arc::new(crypto));
    let rt = neptune::runtime::Builder::new()
        .slots(1)
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let endpoint = neptune::runtime::quic::client(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            &throwaway_identity()?,
        )
        .map_err(|e| e.to_string())?;
        let connecting = endpoint
            .connect_with(config, addr, "driver")
            .map_err(|e| e.to_string())?;
        let outcome = match connecting.await {
            Err(e) => Ok(format!("refused at the handshake: {e}")),
            // TLS 1.3: the client may finish first; the refusal closes the link.
            Ok(conn) => {
                let closed = neptune::runtime::time::timeout(Duration::from_secs(10), async {
                    if let Ok((mut send, _)) = conn.open_bi().await {
                        let _ = send.write_all(b"let me in").await;
                    }
                    conn.closed().await
                })
                .await;
                match closed {
                    Ok(reason) => Ok(format!("refused: {reason}")),
                    Err(_) => Err("the driver kept a peer without a certificate".to_owned()),
                }
            }
        };
        endpoint.close(0u32.into(), b"done");
        outcome
    })
}

/// A client endpoint needs an identity of its own; the intruder's connection uses a
/// hand-made configuration instead, so this one is never shown.
fn throwaway_identity() -> Result<neptune::runtime::quic::ClusterIdentity, String> {
    neptune::runtime::quic::ClusterCa::generate("intruder")
        .and_then(|ca| ca.issue("intruder"))
        .map_err(|e| e.to_string())
}

/// Runs `scenario` on `workload` and compares it with `baseline`.
pub fn run(
    scenario: &Scenario,
    workload: &Workload,
    baseline: &Baseline,
    launcher: &Launcher,
) -> Outcome {
    let scratch = Scratch::new(scenario.name);
    let log = scratch.0.join("faults.log");
    let mut env = vec![(FAULT_LOG_ENV, log.to_string_lossy().into_owned())];
    if let Some(spec) = scenario.fault {
        env.push((
            FAULT_ENV,
            spec.replace("{after}", &workload.after.to_string()),
        ));
    }
    let mut outcome = Outcome {
        scenario: scenario.name,
        workload: workload.name,
        expect: scenario.expect,
        ok: false,
        result_equal: false,
        error: None,
        tasks_rerun: 0,
        stages_resubmitted: 0,
        detect: None,
        wall: Duration::ZERO,
        undisturbed_wall: baseline.wall,
        fault_hit: false,
        rejoined: 0,
        processes_left: 0,
        notes: Vec::new(),
    };
    let ctx = match cluster(launcher, &env) {
        Ok(ctx) => ctx,
        Err(e) => {
            outcome.error = Some(format!("the cluster did not start: {e}"));
            return outcome;
        }
    };
    let mut pids = ctx.local_executor_pids();
    let mut intruder_refused = true;
    if scenario.extra == Extra::Intruder {
        match intrude(&ctx) {
            Ok(seen) => outcome.notes.push(seen),
            Err(e) => {
                intruder_refused = false;
                outcome.notes.push(e);
            }
        }
        if ctx.cluster_executors().len() != EXECUTORS {
            intruder_refused = false;
            outcome
                .notes
                .push("the intruder changed the membership".into());
        }
    }
    let started = Instant::now();
    let result = std::thread::scope(|s| {
        let restarter = (scenario.extra == Extra::Restart).then(|| {
            s.spawn(|| {
                // Bounded: the fault hits within the job, and a loss is declared
                // within a few heartbeats of it.
                let deadline = Instant::now() + Duration::from_secs(60);
                while ctx.cluster_losses().is_empty() {
                    if Instant::now() > deadline {
                        return Err("no executor was lost".to_owned());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                ctx.restart_local_executor(1).map_err(|e| e.to_string())
            })
        });
        let result = (workload.run)(&ctx);
        let restarted = restarter.map(|h| h.join().expect("the restarter"));
        (result, restarted)
    });
    outcome.wall = started.elapsed();
    let (result, restarted) = result;
    match result {
        Ok((answer, stats)) => {
            outcome.result_equal = answer == baseline.answer;
            outcome.tasks_rerun = stats.tasks_rerun;
            outcome.stages_resubmitted = stats.stages_resubmitted;
        }
        Err(e) => outcome.error = Some(e.to_string()),
    }
    let faults = fault_times(&log);
    outcome.fault_hit = !faults.is_empty() || scenario.fault.is_none();
    if let Some(&fault) = faults.iter().min() {
        let lost = ctx
            .cluster_losses()
            .into_iter()
            .filter(|l| l.at_ns >= fault)
            .map(|l| l.at_ns)
            .min();
        outcome.detect = lost.map(|at| Duration::from_nanos(at - fault));
    }
    let mut rejoined_ok = true;
    if let Some(restarted) = restarted {
        match restarted {
            Ok(pid) => {
                pids.push(pid);
                // The new process registers with an id no executor had before.
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let members = ctx.cluster_executors();
                    outcome.rejoined = members
                        .iter()
                        .filter(|m| m.id >= EXECUTORS as u32 && m.name == "executor-1")
                        .count();
                    if outcome.rejoined > 0 || Instant::now() > deadline {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                rejoined_ok = outcome.rejoined == 1;
            }
            Err(e) => {
                rejoined_ok = false;
                outcome.notes.push(format!("restart: {e}"));
            }
        }
    }
    // A failed task's executor serves on: a panic does not take it down.
    let mut survived = true;
    if matches!(scenario.name, "task-panic") {
        let live = ctx.cluster_executors().len();
        survived = live == EXECUTORS;
        outcome
            .notes
            .push(format!("{live} of {EXECUTORS} executors still registered"));
    }
    drop(ctx);
    outcome.processes_left = pids.iter().filter(|&&p| alive(p)).count();
    outcome.ok = outcome.fault_hit
        && outcome.processes_left == 0
        && intruder_refused
        && rejoined_ok
        && survived
        && match scenario.expect {
            Expect::Equal => outcome.result_equal,
            Expect::Error(what) => outcome.error.as_deref().is_some_and(|e| e.contains(what)),
        };
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_line_has_the_keys_it_always_had() {
        let outcome = Outcome {
            scenario: "kill-mid-stage",
            workload: "tpch-q1",
            expect: Expect::Equal,
            ok: true,
            result_equal: true,
            error: None,
            tasks_rerun: 2,
            stages_resubmitted: 1,
            detect: Some(Duration::from_micros(123_456)),
            wall: Duration::from_millis(900),
            undisturbed_wall: Duration::from_millis(400),
            fault_hit: true,
            rejoined: 0,
            processes_left: 0,
            notes: vec!["a note".into()],
        };
        let line = outcome.json();
        let keys = neptune_support::json::sorted_keys(&line);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let mut old = [
            "scenario",
            "workload",
            "expect",
            "ok",
            "result_equal",
            "error",
            "tasks_rerun",
            "stages_resubmitted",
            "detect_ms",
            "wall_ms",
            "undisturbed_wall_ms",
            "fault_hit",
            "rejoined",
            "processes_left",
            "notes",
        ];
        old.sort_unstable();
        assert_eq!(keys, old);
        assert_eq!(value["expect"], "equal");
        assert_eq!(value["detect_ms"], 123.5);
        assert!(value["error"].is_null());
        assert!(outcome.text().starts_with("kill-mid-stage"));
    }
}
