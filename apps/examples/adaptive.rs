//! The adaptive policy against the fixed ones on a phased workload: the load changes
//! while each runtime runs, and every row sees the same phases.
//!
//! ```text
//! cargo run --release --example adaptive -- [--json] [--svg FILE] [--report FILE] [--rounds R]
//!     [--phase-seconds S] [--slots W] [--slo-ms MS] [--rows a,b,...]
//! ```
//!
//! MW-1's harness (`neptune_apps::mw1::workload`) drives it: the batch job (4×W tasks of
//! 200 ms in ~1 µs units with a yield point after each, resubmitted as it finishes)
//! runs throughout; micro-batches of W stream tasks are released on a schedule that
//! changes per phase:
//!
//! | phase | stream | CPU share of stream work |
//! |---|---|---|
//! | `batch-only` | none | 0 |
//! | `light` | every 20 ms, tasks of 0.2 ms | 1% |
//! | `mw1` | every 10 ms, tasks of 0.5 ms (MW-1's rate) | 5% |
//! | `heavy` | every 2.5 ms, tasks of 0.9 ms | 36% |
//! | `batch-again` | none | 0 |
//!
//! Each phase lasts `--phase-seconds` (default 2.2 s: five rows in under a minute on
//! two cores); the first 100 ms of each are left out of its figures, for every row
//! alike. A micro-batch counts in the phase that released it; its latency is the end
//! of its last task minus its scheduled release. Rows: `fifo`, `fair`, `neptune`,
//! `static` and `adaptive`, one fresh runtime each, row after row; with `--rounds R`
//! the whole set runs R times and each figure is the median over rounds.
//!
//! Output: one JSON object per row and phase with `--json` (`policy`, `phase`,
//! `stream_p50_us`, `stream_p99_us`, `batch_units_per_s`, `suspensions`; then
//! diagnostics: micro-batches measured, and for `adaptive` its mode at the phase's end
//! and its mode switches so far), else a table; then (on stderr with `--json`) how
//! `adaptive` compares with the best fixed policy in each phase: its stream p99 within
//! 1.25× of the best, its batch throughput within 5% of the best among the fixed
//! policies that meet the SLO (p99 ≤ `--slo-ms`, default 5), and whether any fixed
//! policy stays within those bounds in every phase. `--svg FILE` plots stream p99 and
//! batch throughput per phase and row; `--report FILE` writes one self-contained HTML
//! page with the table, the comparison and the plot.

use clap::Parser;
use neptune::scheduler::PolicyKind;
use neptune_apps::html::{esc, page, Section};
use neptune_apps::mw1::workload::{self as mw1, BatchShared, MicroBatch, Setup, StopOnDrop};
use neptune_apps::mw1::{Config, Row};
use neptune_apps::plot::{self, short_count, short_us, BarChart, Bars, Reference, Scale};
use neptune_apps::progress::Progress;
use neptune_support::args::{at_least_one, available_cores, positive_f64};
use neptune_support::stats::{median, quantile};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Acquire;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One phase of the workload.
#[derive(Clone, Copy, Debug)]
struct Phase {
    name: &'static str,
    /// Trigger interval and CPU work of one stream task, in ms; `None`: no stream.
    stream: Option<(f64, f64)>,
}

const PHASES: [Phase; 5] = [
    Phase {
        name: "batch-only",
        stream: None,
    },
    Phase {
        name: "light",
        // Every 20 ms, not rarer: a phase then has about 100 micro-batches, so its p99
        // is not simply its worst one.
        stream: Some((20.0, 0.2)),
    },
    Phase {
        name: "mw1",
        stream: Some((10.0, 0.5)),
    },
    Phase {
        name: "heavy",
        // 36% of the CPU rather than 40%: then STATIC's one Stream slot runs at 72%,
        // not 80%, and a moment when a core runs slower (2 ms of Stream work taking
        // 2.5 ms, nothing else on the core) does not overflow it for the phase.
        stream: Some((2.5, 0.9)),
    },
    Phase {
        name: "batch-again",
        stream: None,
    },
];

const ROWS: [PolicyKind; 5] = [
    PolicyKind::Fifo,
    PolicyKind::Fair,
    PolicyKind::Neptune,
    PolicyKind::Static,
    PolicyKind::Adaptive,
];

/// Start of each phase left out of its figures.
const WARMUP: Duration = Duration::from_millis(100);

struct Settings {
    json: bool,
    svg: Option<String>,
    report: Option<String>,
    rounds: usize,
    phase: Duration,
    slo_us: f64,
    rows: Vec<PolicyKind>,
    mw1: Config,
}

/// One row's figures in one phase (of one round, or medians).
#[derive(Clone, Debug, Default)]
struct PhaseResult {
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    batch_units_per_s: f64,
    suspensions: f64,
    micro_batches: usize,
    /// ADAPTIVE: its mode at the phase's end and its switches so far.
    mode: Option<String>,
    switches: Option<u64>,
}

/// The adaptive policy against the fixed ones on a phased workload.
#[derive(Parser, Debug)]
#[command(name = "adaptive")]
struct Cli {
    /// One JSON object per row and phase on stdout.
    #[arg(long)]
    json: bool,
    /// Also plot stream p99 and batch throughput per phase to FILE (SVG).
    #[arg(long, value_name = "FILE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    svg: Option<String>,
    /// Also write a self-contained HTML report (table, comparison, plot) to FILE.
    #[arg(long, value_name = "FILE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    report: Option<String>,
    /// Run every row R times and report medians.
    #[arg(long, value_name = "R", default_value_t = 1, value_parser = at_least_one::<usize>)]
    rounds: usize,
    /// Length of each of the five phases, in seconds (more than the 0.1 s warm-up).
    #[arg(long, value_name = "S", default_value_t = 2.2, value_parser = phase_seconds)]
    phase_seconds: f64,
    /// Slots of the runtime, one per core by default.
    #[arg(long, value_name = "W", default_value_t = available_cores(), value_parser = at_least_one::<usize>)]
    slots: usize,
    /// The stream p99 target the comparison uses, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5.0, value_parser = positive_f64)]
    slo_ms: f64,
    /// Policies to run, in order.
    #[arg(long, value_name = "A,B,...", value_delimiter = ',', default_values_t = ROWS.to_vec())]
    rows: Vec<PolicyKind>,
}

/// A phase length longer than the warm-up left out of each phase's figures.
fn phase_seconds(s: &str) -> Result<f64, String> {
    let x = positive_f64(s)?;
    if x > WARMUP.as_secs_f64() {
        Ok(x)
    } else {
        Err(format!(
            "must be more than the {} s warm-up",
            WARMUP.as_secs_f64()
        ))
    }
}

fn settings(cli: Cli) -> Result<Settings, String> {
    // MW-1's own settings (batch job, units, release thread), at their defaults.
    let mw1 = Config::new(cli.slots);
    Ok(Settings {
        json: cli.json,
        svg: cli.svg,
        report: cli.report,
        rounds: cli.rounds,
        phase: Duration::from_secs_f64(cli.phase_seconds),
        slo_us: cli.slo_ms * 1e3,
        rows: cli.rows,
        mw1,
    })
}

/// Runs the five phases on one runtime with `kind`'s policy, calling `phase_done`
/// with each phase's index as it ends.
fn run_row(
    s: &Settings,
    kind: PolicyKind,
    phase_done: &dyn Fn(usize),
) -> Result<Vec<PhaseResult>, String> {
    let cfg = &s.mw1;
    let row = Row::Policy(kind);
    let setup = Setup::new(cfg, row)?;
    let shared = BatchShared::new();
    let stopper = StopOnDrop(shared.clone());
    let start = Instant::now();
    let phase_at = |i: usize| start + s.phase * i as u32;
    let batch = mw1::spawn_thread(
        "adaptive-batch-driver",
        setup.batch_driver(cfg, shared.clone()),
    )?;
    let release = {
        let spawn = setup.stream_spawner();
        let (c, phase) = (cfg.clone(), s.phase);
        mw1::spawn_thread("adaptive-release", move || {
            mw1::release_thread_slice(&c);
            let mut out: Vec<(usize, Arc<MicroBatch>)> = Vec::new();
            for (i, p) in PHASES.iter().enumerate() {
                let Some((trigger_ms, task_ms)) = p.stream else {
                    continue;
                };
                let (from, to) = (phase * i as u32, phase * (i as u32 + 1));
                let trigger = Duration::from_secs_f64(trigger_ms / 1e3);
                let units = ((task_ms * 1e3 / c.unit_us).round() as u64).max(1);
                let mut due = from;
                while due < to {
                    let at = start + due;
                    mw1::sleep_until(at);
                    let ns = due.as_nanos() as u64;
                    let mb =
                        mw1::release_micro_batch(ns, at, c.slots, units, c.unit_us, start, &spawn);
                    out.push((i, mb));
                    due += trigger;
                }
            }
            out
        })?
    };
    let mut snaps = Vec::with_capacity(PHASES.len());
    for i in 0..PHASES.len() {
        mw1::sleep_until(phase_at(i) + WARMUP);
        let s0 = setup.snapshot(&shared);
        // The mode a little before the phase ends: at the boundary itself the next
        // phase's first release may already have changed it.
        mw1::sleep_until(phase_at(i + 1) - Duration::from_millis(5));
        let policy = match &setup {
            Setup::Neptune { rt, .. } => Some(rt.metrics().policy),
            Setup::Tokio { .. } => None,
        };
        mw1::sleep_until(phase_at(i + 1));
        let s1 = setup.snapshot(&shared);
        snaps.push((s0, s1, policy));
        phase_done(i);
    }
    let batches = release
        .join()
        .map_err(|_| "the release thread panicked".to_owned())?;
    // Let released micro-batches finish, the batch job still running (as MW-1 does).
    let give_up = Instant::now() + Duration::from_secs(3);
    while batches.iter().any(|(_, b)| b.remaining.load(Acquire) > 0) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(1));
    }
    let waited_ns = start.elapsed().as_nanos() as u64;
    drop(stopper);
    let errors = batch
        .join()
        .map_err(|_| "the batch driver panicked".to_owned())?;
    drop(setup);
    if errors > 0 {
        return Err(format!("{errors} batch task(s) of row {row} failed"));
    }
    let mut out = Vec::with_capacity(PHASES.len());
    for (i, (s0, s1, policy)) in snaps.into_iter().enumerate() {
        let warm_ns = (s.phase * i as u32 + WARMUP).as_nanos() as u64;
        let mut lat: Vec<u64> = batches
            .iter()
            .filter(|(p, b)| *p == i && b.release_ns >= warm_ns)
            .map(|(_, b)| {
                let end = if b.remaining.load(Acquire) == 0 {
                    b.last_end_ns.load(Acquire)
                } else {
                    waited_ns
                };
                end.saturating_sub(b.release_ns) / 1000
            })
            .collect();
        let secs = (s1.at - s0.at).as_secs_f64();
        let useful = |x: &mw1::Snapshot| x.units.saturating_sub(x.wasted) as f64;
        let adaptive = kind == PolicyKind::Adaptive;
        out.push(PhaseResult {
            micro_batches: lat.len(),
            p50_us: (!lat.is_empty()).then(|| quantile(&mut lat, 0.5) as f64),
            p99_us: (!lat.is_empty()).then(|| quantile(&mut lat, 0.99) as f64),
            batch_units_per_s: ((useful(&s1) - useful(&s0)) / secs).max(0.0),
            suspensions: (s1.suspensions - s0.suspensions) as f64,
            mode: policy
                .as_ref()
                .filter(|_| adaptive)
                .map(|p| p.active().to_owned()),
            switches: policy
                .as_ref()
                .filter(|_| adaptive)
                .map(|p| p.switches_total()),
        });
    }
    Ok(out)
}

/// Medians over rounds, per phase.
fn medians(rounds: &[Vec<PhaseResult>]) -> Vec<PhaseResult> {
    let opt = |v: Vec<Option<f64>>| {
        let v: Vec<f64> = v.into_iter().flatten().collect();
        (!v.is_empty()).then(|| median(v))
    };
    (0..PHASES.len())
        .map(|i| {
            let all: Vec<&PhaseResult> = rounds.iter().map(|r| &r[i]).collect();
            PhaseResult {
                p50_us: opt(all.iter().map(|r| r.p50_us).collect()),
                p99_us: opt(all.iter().map(|r| r.p99_us).collect()),
                batch_units_per_s: median(all.iter().map(|r| r.batch_units_per_s).collect()),
                suspensions: median(all.iter().map(|r| r.suspensions).collect()),
                micro_batches: all.iter().map(|r| r.micro_batches).sum::<usize>() / all.len(),
                mode: all.last().and_then(|r| r.mode.clone()),
                switches: all.last().and_then(|r| r.switches),
            }
        })
        .collect()
}

/// One row's figures in one phase as printed: one JSON object per line with `--json`,
/// a line of the table otherwise. `null` where the phase has no stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct PhaseReport {
    policy: &'static str,
    phase: &'static str,
    stream_p50_us: Option<i64>,
    stream_p99_us: Option<i64>,
    batch_units_per_s: i64,
    suspensions: i64,
    micro_batches: usize,
    /// ADAPTIVE only (left out for the other policies): its mode at the phase's end.
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    /// ADAPTIVE only: its mode switches so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_switches: Option<u64>,
}

/// `v` rounded to a whole number; `None` when missing or not finite.
fn whole(v: Option<f64>) -> Option<i64> {
    v.filter(|x| x.is_finite()).map(|x| x.round() as i64)
}

impl PhaseReport {
    fn new(kind: PolicyKind, phase: &Phase, r: &PhaseResult) -> PhaseReport {
        // Both or neither: a mode without its switch count says too little.
        let (mode, policy_switches) = match (&r.mode, r.switches) {
            (Some(m), Some(sw)) => (Some(m.clone()), Some(sw)),
            _ => (None, None),
        };
        PhaseReport {
            policy: kind.name(),
            phase: phase.name,
            stream_p50_us: whole(r.p50_us),
            stream_p99_us: whole(r.p99_us),
            batch_units_per_s: whole(Some(r.batch_units_per_s)).unwrap_or(0),
            suspensions: whole(Some(r.suspensions)).unwrap_or(0),
            micro_batches: r.micro_batches,
            mode,
            policy_switches,
        }
    }

    fn json(&self) -> String {
        serde_json::to_string(self).expect("a report of numbers and names serializes")
    }

    const HEADERS: [&'static str; 7] = [
        "policy",
        "phase",
        "p50 µs",
        "p99 µs",
        "batch units/s",
        "suspensions",
        "mode",
    ];

    /// The table's cells, `-` for a latency the phase has not.
    fn cells(&self) -> Vec<String> {
        let f = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
        vec![
            self.policy.to_owned(),
            self.phase.to_owned(),
            f(self.stream_p50_us),
            f(self.stream_p99_us),
            self.batch_units_per_s.to_string(),
            self.suspensions.to_string(),
            self.mode.clone().unwrap_or_default(),
        ]
    }
}

/// Every row's report per phase, row after row.
fn reports(results: &[(PolicyKind, Vec<PhaseResult>)]) -> Vec<PhaseReport> {
    results
        .iter()
        .flat_map(|(kind, phases)| {
            PHASES
                .iter()
                .zip(phases)
                .map(|(p, r)| PhaseReport::new(*kind, p, r))
        })
        .collect()
}

/// The settings in one line (table header, plot subtitle, report).
fn settings_line(s: &Settings) -> String {
    format!(
        "{} slots, {} s per phase, median of {} round(s), SLO p99 {} ms",
        s.mw1.slots,
        s.phase.as_secs_f64(),
        s.rounds,
        s.slo_us / 1e3
    )
}

fn table(s: &Settings, reports: &[PhaseReport]) -> String {
    let mut out = format!(
        "Phased workload on {} slots, {} s per phase, median of {} round(s)\n\n",
        s.mw1.slots,
        s.phase.as_secs_f64(),
        s.rounds
    );
    let line = |c: &[&str]| {
        format!(
            "{:<10} {:<12} {:>10} {:>10} {:>14} {:>12}  {}\n",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6]
        )
    };
    out.push_str(&line(&PhaseReport::HEADERS));
    for r in reports {
        let cells = r.cells();
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    out
}

/// Whether `r` is within the bounds against the fixed rows in phase `i`: p99 within
/// 1.25× of the best, batch within 5% of the best that meets the SLO.
fn within(r: &PhaseResult, fixed: &[&PhaseResult], slo_us: f64) -> (bool, String) {
    let best_p99 = fixed
        .iter()
        .filter_map(|f| f.p99_us)
        .fold(f64::INFINITY, f64::min);
    let meets = |f: &&&PhaseResult| f.p99_us.is_none_or(|p| p <= slo_us);
    let best_batch = fixed
        .iter()
        .filter(meets)
        .map(|f| f.batch_units_per_s)
        .fold(0.0, f64::max);
    let lat_ok = match r.p99_us {
        None => true,
        Some(p) => p <= 1.25 * best_p99,
    };
    let batch_ok = r.batch_units_per_s >= 0.95 * best_batch;
    let lat = match r.p99_us {
        Some(p) if best_p99.is_finite() => format!("p99 {:.2}× best", p / best_p99),
        _ => "no stream".to_owned(),
    };
    let batch = if best_batch > 0.0 {
        format!(
            "batch {:.3}× best meeting SLO",
            r.batch_units_per_s / best_batch
        )
    } else {
        "no fixed policy meets the SLO".to_owned()
    };
    (lat_ok && batch_ok, format!("{lat}, {batch}"))
}

fn verdict(s: &Settings, results: &[(PolicyKind, Vec<PhaseResult>)]) -> String {
    let fixed: Vec<&(PolicyKind, Vec<PhaseResult>)> = results
        .iter()
        .filter(|(k, _)| *k != PolicyKind::Adaptive)
        .collect();
    let mut out = format!(
        "\nTargets (SLO p99 <= {:.1} ms; p99 within 1.25x of the best fixed policy, batch within 5% of the best fixed policy meeting the SLO):\n",
        s.slo_us / 1e3
    );
    for (kind, phases) in results {
        let mut all = true;
        let mut lines = Vec::new();
        for (i, p) in PHASES.iter().enumerate() {
            // Against the fixed rows other than this one.
            let others: Vec<&PhaseResult> = fixed
                .iter()
                .filter(|(k, _)| k != kind)
                .map(|(_, v)| &v[i])
                .collect();
            let (ok, why) = within(&phases[i], &others, s.slo_us);
            all &= ok;
            if *kind == PolicyKind::Adaptive {
                lines.push(format!(
                    "  {:<12} {}  {why}\n",
                    p.name,
                    if ok { "met" } else { "MISSED" }
                ));
            }
        }
        out.push_str(&format!(
            "{:<10} within bounds in every phase: {}\n",
            kind.name(),
            if all { "yes" } else { "no" }
        ));
        for l in lines {
            out.push_str(&l);
        }
    }
    out
}

/// Stream p99 (log scale, left) and batch throughput (right), per phase and row, the
/// SLO dashed on the left.
fn figure(s: &Settings, reports: &[PhaseReport]) -> plot::Result<String> {
    let groups: Vec<String> = PHASES.iter().map(|p| p.name.to_owned()).collect();
    let series = |f: fn(&PhaseReport) -> Option<f64>| -> Vec<Bars> {
        s.rows
            .iter()
            .map(|kind| Bars {
                name: kind.name().to_owned(),
                values: PHASES
                    .iter()
                    .map(|p| {
                        reports
                            .iter()
                            .find(|r| r.policy == kind.name() && r.phase == p.name)
                            .and_then(f)
                    })
                    .collect(),
            })
            .collect()
    };
    let mut latency = BarChart::new(
        "stream p99 latency (lower is better)",
        "stream p99 (log scale)",
        groups.clone(),
        series(|r| r.stream_p99_us.map(|v| v as f64)),
    );
    latency.scale = Scale::Log;
    latency.label = short_us;
    latency.references = vec![Reference {
        value: s.slo_us,
        name: format!("SLO {}", short_us(s.slo_us)),
    }];
    let mut batch = BarChart::new(
        "batch throughput (higher is better)",
        "useful batch units per second",
        groups,
        series(|r| Some(r.batch_units_per_s as f64)),
    );
    batch.label = short_count;
    plot::panels(
        1200,
        520,
        &format!(
            "Phased workload on {} slots: stream p99 and batch throughput per phase",
            s.mw1.slots
        ),
        &settings_line(s),
        &[&latency, &batch],
    )
}

/// The whole report as one self-contained HTML page.
fn html(s: &Settings, reports: &[PhaseReport], verdict: &str) -> plot::Result<String> {
    let rows: Vec<Vec<String>> = reports.iter().map(PhaseReport::cells).collect();
    let sections = [
        Section {
            heading: "Results".into(),
            html: neptune_apps::html::table(&PhaseReport::HEADERS, &rows),
        },
        Section {
            heading: "Against the fixed policies".into(),
            html: format!("<pre>{}</pre>\n", esc(verdict.trim())),
        },
        Section {
            heading: "Figure".into(),
            html: neptune_apps::html::figure(
                &figure(s, reports)?,
                "Left: stream p99 per phase and policy, log scale, the SLO dashed. Right: \
                 useful batch units per second per phase and policy.",
            ),
        },
    ];
    Ok(page(
        &format!("Phased workload on {} slots", s.mw1.slots),
        &settings_line(s),
        &sections,
    ))
}

fn main() -> ExitCode {
    let s = match settings(Cli::parse()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("adaptive: {e}");
            return ExitCode::from(2);
        }
    };
    // Fail now, not after the whole run, if the plot or the report cannot be written.
    for (flag, path) in [("--svg", &s.svg), ("--report", &s.report)] {
        if let Some(path) = path {
            if let Err(e) = std::fs::File::create(path) {
                eprintln!("adaptive: {flag}: cannot write {path}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    match run(&s) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("adaptive: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(s: &Settings) -> Result<(), String> {
    let iters = neptune_support::spin::iters_per_micro();
    eprintln!(
        "adaptive: {} slots, {} rows x {} round(s) of {} phases x {} s; 1 µs = {iters} spin rounds",
        s.mw1.slots,
        s.rows.len(),
        s.rounds,
        PHASES.len(),
        s.phase.as_secs_f64()
    );
    let progress = Progress::new((s.rounds * s.rows.len() * PHASES.len()) as u64, "adaptive");
    let mut per_row: Vec<Vec<Vec<PhaseResult>>> = vec![Vec::new(); s.rows.len()];
    for round in 0..s.rounds {
        for (j, &kind) in s.rows.iter().enumerate() {
            let before = ((round * s.rows.len() + j) * PHASES.len()) as u64;
            let r = run_row(s, kind, &|i| {
                progress.set(
                    before + i as u64 + 1,
                    format!(
                        "round {}/{} {} {}",
                        round + 1,
                        s.rounds,
                        kind.name(),
                        PHASES[i].name
                    ),
                );
            })?;
            let p99s: Vec<String> = r
                .iter()
                .map(|p| whole(p.p99_us).map_or("-".to_owned(), |v| v.to_string()))
                .collect();
            progress.set(
                before + PHASES.len() as u64,
                format!(
                    "round {}/{} {}: p99 per phase (µs) {}",
                    round + 1,
                    s.rounds,
                    kind.name(),
                    p99s.join(" ")
                ),
            );
            per_row[j].push(r);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    progress.finish("done");
    let results: Vec<(PolicyKind, Vec<PhaseResult>)> = s
        .rows
        .iter()
        .zip(&per_row)
        .map(|(k, rounds)| (*k, medians(rounds)))
        .collect();
    let reports = reports(&results);
    let verdict = verdict(s, &results);
    let text = if s.json {
        reports.iter().map(|r| r.json() + "\n").collect()
    } else {
        format!("{}{verdict}", table(s, &reports))
    };
    let mut stdout = std::io::stdout().lock();
    // A reader that went away (`| head`) is not an error.
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    if s.json {
        eprint!("{verdict}");
    }
    if let Some(path) = &s.svg {
        let svg = figure(s, &reports).map_err(|e| e.to_string())?;
        std::fs::write(path, svg).map_err(|e| format!("cannot write {path}: {e}"))?;
        eprintln!("adaptive: plot written to {path}");
    }
    if let Some(path) = &s.report {
        let page = html(s, &reports, &verdict).map_err(|e| e.to_string())?;
        std::fs::write(path, page).map_err(|e| format!("cannot write {path}: {e}"))?;
        eprintln!("adaptive: report written to {path}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli() {
        Cli::command().debug_assert();
        let c = Cli::try_parse_from(["adaptive"]).unwrap();
        assert!(!c.json && c.svg.is_none() && c.report.is_none());
        assert_eq!((c.rounds, c.phase_seconds, c.slo_ms), (1, 2.2, 5.0));
        assert_eq!(c.slots, available_cores());
        assert_eq!(c.rows, ROWS.to_vec());
        let c = Cli::try_parse_from([
            "adaptive",
            "--json",
            "--rows",
            "neptune,adaptive",
            "--phase-seconds",
            "1",
            "--svg",
            "x.svg",
            "--report",
            "x.html",
        ])
        .unwrap();
        assert!(c.json);
        assert_eq!(c.report.as_deref(), Some("x.html"));
        assert_eq!(c.rows, vec![PolicyKind::Neptune, PolicyKind::Adaptive]);
        assert_eq!((c.phase_seconds, c.svg.as_deref()), (1.0, Some("x.svg")));
        neptune_support::args::assert_refused::<Cli>(&[
            &["--jsno"][..],
            &["--rows", "nope"],
            &["--phase-seconds", "0.05"],
            &["--slots", "0"],
            &["--rounds", "0"],
            &["--slo-ms", "-1"],
            &["--svg", ""],
            &["--report", ""],
        ]);
    }

    /// FIFO and ADAPTIVE over the five phases, as if measured.
    fn measured() -> (Settings, Vec<(PolicyKind, Vec<PhaseResult>)>) {
        let cli = Cli::try_parse_from(["adaptive", "--rows", "fifo,adaptive", "--slots", "2"]);
        let s = settings(cli.unwrap()).unwrap();
        let phases = |p99: f64, adaptive: bool| -> Vec<PhaseResult> {
            PHASES
                .iter()
                .map(|p| PhaseResult {
                    p50_us: p.stream.map(|_| p99 / 4.0),
                    p99_us: p.stream.map(|_| p99),
                    batch_units_per_s: 1.5e6,
                    suspensions: if adaptive { 12.0 } else { 0.0 },
                    micro_batches: if p.stream.is_some() { 200 } else { 0 },
                    mode: adaptive.then(|| "neptune".to_owned()),
                    switches: adaptive.then_some(3),
                })
                .collect()
        };
        let results = vec![
            (PolicyKind::Fifo, phases(40_000.0, false)),
            (PolicyKind::Adaptive, phases(900.0, true)),
        ];
        (s, results)
    }

    fn keys(line: &str) -> Vec<String> {
        neptune_support::json::sorted_keys(line)
    }

    #[test]
    fn json_lines_have_exactly_the_fields_of_a_phase() {
        let (_, results) = measured();
        let reports = reports(&results);
        assert_eq!(reports.len(), 2 * PHASES.len());
        let mut common = vec![
            "policy",
            "phase",
            "stream_p50_us",
            "stream_p99_us",
            "batch_units_per_s",
            "suspensions",
            "micro_batches",
        ];
        common.sort_unstable();
        assert_eq!(keys(&reports[0].json()), common);
        // ADAPTIVE adds its mode and switches.
        let mut adaptive = common.clone();
        adaptive.extend(["mode", "policy_switches"]);
        adaptive.sort_unstable();
        let line = reports[PHASES.len() + 2].json();
        assert_eq!(keys(&line), adaptive);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (v["policy"].as_str(), v["phase"].as_str()),
            (Some("adaptive"), Some("mw1"))
        );
        assert_eq!(
            (v["stream_p99_us"].as_i64(), v["batch_units_per_s"].as_i64()),
            (Some(900), Some(1_500_000))
        );
        // No stream in the phase: null latencies.
        let v: serde_json::Value = serde_json::from_str(&reports[0].json()).unwrap();
        assert!(v["stream_p50_us"].is_null() && v["stream_p99_us"].is_null());
    }

    #[test]
    fn the_table_figure_and_report_show_every_policy_and_phase() {
        let (s, results) = measured();
        let reports = reports(&results);
        let table = table(&s, &reports);
        assert!(table.contains("adaptive") && table.contains("batch-again"));
        assert!(table.contains("40000") && table.contains("1500000"));
        let svg = figure(&s, &reports).unwrap();
        assert_eq!(svg.matches("<svg").count(), 1);
        for text in [
            "fifo",
            "adaptive",
            "batch-only",
            "heavy",
            "batch-again",
            "SLO 5 ms",
        ] {
            assert!(svg.contains(text), "{text} missing from the figure");
        }
        let page = html(&s, &reports, &verdict(&s, &results)).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<table>") && page.contains("<th>p99 µs</th>"));
        assert!(page.contains("<td>adaptive</td>") && page.contains("<td>40000</td>"));
        assert!(page.contains("<svg") && page.contains("within bounds in every phase"));
    }
}
