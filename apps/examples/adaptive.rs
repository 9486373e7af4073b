//! The adaptive policy against the fixed ones on a phased workload: the load changes
//! while each runtime runs, and every row sees the same phases.
//!
//! ```text
//! cargo run --release --example adaptive -- [--json] [--svg FILE] [--rounds R]
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
//! | `light` | every 50 ms, tasks of 0.2 ms | 0.4% |
//! | `mw1` | every 10 ms, tasks of 0.5 ms (MW-1's rate) | 5% |
//! | `heavy` | every 2.5 ms, tasks of 1 ms | 40% |
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
//! batch throughput per phase and row.

use clap::Parser;
use neptune::scheduler::PolicyKind;
use neptune_apps::mw1::workload::{self as mw1, BatchShared, MicroBatch, Setup, StopOnDrop};
use neptune_apps::mw1::{Config, Row};
use neptune_apps::svg_text;
use neptune_support::args::{at_least_one, available_cores, positive_f64};
use neptune_support::stats::{median, quantile};
use std::io::Write;
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
        stream: Some((50.0, 0.2)),
    },
    Phase {
        name: "mw1",
        stream: Some((10.0, 0.5)),
    },
    Phase {
        name: "heavy",
        stream: Some((2.5, 1.0)),
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
    #[arg(long, value_name = "FILE")]
    svg: Option<String>,
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
        rounds: cli.rounds,
        phase: Duration::from_secs_f64(cli.phase_seconds),
        slo_us: cli.slo_ms * 1e3,
        rows: cli.rows,
        mw1,
    })
}

/// Runs the five phases on one runtime with `kind`'s policy.
fn run_row(s: &Settings, kind: PolicyKind) -> Result<Vec<PhaseResult>, String> {
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

fn num(v: Option<f64>) -> String {
    v.map_or("null".to_owned(), |v| format!("{v:.0}"))
}

fn json_line(kind: PolicyKind, phase: &Phase, r: &PhaseResult) -> String {
    let mut line = format!(
        "{{\"policy\":\"{}\",\"phase\":\"{}\",\"stream_p50_us\":{},\"stream_p99_us\":{},\"batch_units_per_s\":{:.0},\"suspensions\":{:.0},\"micro_batches\":{}",
        kind.name(),
        phase.name,
        num(r.p50_us),
        num(r.p99_us),
        r.batch_units_per_s,
        r.suspensions,
        r.micro_batches
    );
    if let (Some(mode), Some(sw)) = (&r.mode, r.switches) {
        line.push_str(&format!(",\"mode\":\"{mode}\",\"policy_switches\":{sw}"));
    }
    line.push('}');
    line
}

fn table(s: &Settings, results: &[(PolicyKind, Vec<PhaseResult>)]) -> String {
    let mut out = format!(
        "Phased workload on {} slots, {} s per phase, median of {} round(s)\n\n",
        s.mw1.slots,
        s.phase.as_secs_f64(),
        s.rounds
    );
    out.push_str(&format!(
        "{:<10} {:<12} {:>10} {:>10} {:>14} {:>12}  {}\n",
        "policy", "phase", "p50 µs", "p99 µs", "batch units/s", "suspensions", "mode"
    ));
    for (kind, phases) in results {
        for (p, r) in PHASES.iter().zip(phases) {
            let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
            out.push_str(&format!(
                "{:<10} {:<12} {:>10} {:>10} {:>14.0} {:>12.0}  {}\n",
                kind.name(),
                p.name,
                f(r.p50_us),
                f(r.p99_us),
                r.batch_units_per_s,
                r.suspensions,
                r.mode.as_deref().unwrap_or("")
            ));
        }
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

/// Stream p99 (log scale, left) and batch throughput (right), per phase and row.
fn svg(s: &Settings, results: &[(PolicyKind, Vec<PhaseResult>)]) -> String {
    const W: f64 = 1200.0;
    const H: f64 = 520.0;
    const TOP: f64 = 90.0;
    const BOTTOM: f64 = 420.0;
    const COLORS: [&str; 6] = [
        "#9D9D9D", "#B279A2", "#4C78A8", "#72B7B2", "#F58518", "#54A24B",
    ];
    let mut g = svg_text::Svg::new(W, H);
    g.text(
        W / 2.0,
        30.0,
        20.0,
        "middle",
        r#"font-weight="bold""#,
        &format!(
            "Phased workload on {} slots: stream p99 and batch throughput per phase",
            s.mw1.slots
        ),
    );
    g.text(
        W / 2.0,
        52.0,
        13.0,
        "middle",
        r##"fill="#333""##,
        &format!(
            "{} s per phase, median of {} round(s); dashed: SLO {:.0} ms",
            s.phase.as_secs_f64(),
            s.rounds,
            s.slo_us / 1e3
        ),
    );
    let panels = [(70.0, 580.0, true), (680.0, 1170.0, false)];
    let max_p99 = results
        .iter()
        .flat_map(|(_, v)| v.iter().filter_map(|r| r.p99_us))
        .fold(s.slo_us * 2.0, f64::max);
    let max_batch = results
        .iter()
        .flat_map(|(_, v)| v.iter().map(|r| r.batch_units_per_s))
        .fold(1.0, f64::max);
    let (lo, hi) = (100f64.log10(), (max_p99 * 1.5).log10());
    let y_lat = |us: f64| BOTTOM - (us.max(100.0).log10() - lo) / (hi - lo) * (BOTTOM - TOP);
    let y_batch = |u: f64| BOTTOM - u / (max_batch * 1.1) * (BOTTOM - TOP);
    for (x0, x1, latency) in panels {
        g.line(x0, BOTTOM, x1, BOTTOM, r##"stroke="#000""##);
        g.line(x0, TOP, x0, BOTTOM, r##"stroke="#000""##);
        g.text(
            (x0 + x1) / 2.0,
            TOP - 12.0,
            14.0,
            "middle",
            r#"font-weight="bold""#,
            if latency {
                "stream p99 latency (log scale)"
            } else {
                "batch units per second"
            },
        );
        if latency {
            let mut t = 100.0;
            while t <= max_p99 * 1.5 {
                let y = y_lat(t);
                g.line(x0, y, x1, y, r##"stroke="#ddd""##);
                g.text(x0 - 6.0, y + 4.0, 11.0, "end", "", &svg_text::short_us(t));
                t *= 10.0;
            }
            let y = y_lat(s.slo_us);
            g.line(x0, y, x1, y, r##"stroke="#B2362E" stroke-dasharray="6,4""##);
        } else {
            for k in 0..=4 {
                let u = max_batch * 1.1 * k as f64 / 4.0;
                let y = y_batch(u);
                g.line(x0, y, x1, y, r##"stroke="#ddd""##);
                g.text(
                    x0 - 6.0,
                    y + 4.0,
                    11.0,
                    "end",
                    "",
                    &svg_text::short_count(u),
                );
            }
        }
        let group = (x1 - x0) / PHASES.len() as f64;
        let bar = group * 0.8 / results.len().max(1) as f64;
        for (i, p) in PHASES.iter().enumerate() {
            let gx = x0 + group * i as f64 + group * 0.1;
            g.text(gx + group * 0.4, BOTTOM + 18.0, 12.0, "middle", "", p.name);
            for (j, (kind, phases)) in results.iter().enumerate() {
                let r = &phases[i];
                let x = gx + bar * j as f64;
                let color = COLORS[j % COLORS.len()];
                if latency {
                    if let Some(p99) = r.p99_us {
                        let y = y_lat(p99);
                        let title = format!(
                            "{} {}: p99 {}",
                            kind.name(),
                            p.name,
                            svg_text::short_us(p99)
                        );
                        g.rect(x, y, bar * 0.9, BOTTOM - y, color, &title);
                    }
                } else {
                    let y = y_batch(r.batch_units_per_s);
                    let title = format!(
                        "{} {}: {} units/s",
                        kind.name(),
                        p.name,
                        svg_text::short_count(r.batch_units_per_s)
                    );
                    g.rect(x, y, bar * 0.9, BOTTOM - y, color, &title);
                }
            }
        }
    }
    // Legend.
    for (j, (kind, _)) in results.iter().enumerate() {
        let x = 70.0 + 150.0 * j as f64;
        g.rect(
            x,
            H - 50.0,
            14.0,
            14.0,
            COLORS[j % COLORS.len()],
            kind.name(),
        );
        let weight = if *kind == PolicyKind::Adaptive {
            r#"font-weight="bold""#
        } else {
            ""
        };
        g.text(x + 20.0, H - 38.0, 13.0, "start", weight, kind.name());
    }
    g.finish()
}

fn main() {
    let s = match settings(Cli::parse()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("adaptive: {e}");
            std::process::exit(2);
        }
    };
    let iters = neptune_support::spin::iters_per_micro();
    eprintln!(
        "adaptive: {} slots, {} rows x {} round(s) of {} phases x {} s; 1 µs = {iters} spin rounds",
        s.mw1.slots,
        s.rows.len(),
        s.rounds,
        PHASES.len(),
        s.phase.as_secs_f64()
    );
    let mut per_row: Vec<Vec<Vec<PhaseResult>>> = vec![Vec::new(); s.rows.len()];
    for round in 0..s.rounds {
        for (j, &kind) in s.rows.iter().enumerate() {
            match run_row(&s, kind) {
                Ok(r) => {
                    eprintln!(
                        "  round {}/{} {:<9} p99 per phase (µs): {}",
                        round + 1,
                        s.rounds,
                        kind.name(),
                        r.iter()
                            .map(|p| num(p.p99_us))
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                    per_row[j].push(r);
                }
                Err(e) => {
                    eprintln!("adaptive: {e}");
                    std::process::exit(1);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let results: Vec<(PolicyKind, Vec<PhaseResult>)> = s
        .rows
        .iter()
        .zip(&per_row)
        .map(|(k, rounds)| (*k, medians(rounds)))
        .collect();
    let mut stdout = std::io::stdout().lock();
    let verdict = verdict(&s, &results);
    if s.json {
        for (kind, phases) in &results {
            for (p, r) in PHASES.iter().zip(phases) {
                let _ = writeln!(stdout, "{}", json_line(*kind, p, r));
            }
        }
        eprint!("{verdict}");
    } else {
        let _ = write!(stdout, "{}{verdict}", table(&s, &results));
    }
    if let Some(path) = &s.svg {
        match std::fs::write(path, svg(&s, &results)) {
            Ok(()) => eprintln!("adaptive: plot written to {path}"),
            Err(e) => {
                eprintln!("adaptive: cannot write {path}: {e}");
                std::process::exit(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli() {
        Cli::command().debug_assert();
        let c = Cli::try_parse_from(["adaptive"]).unwrap();
        assert!(!c.json && c.svg.is_none());
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
        ])
        .unwrap();
        assert!(c.json);
        assert_eq!(c.rows, vec![PolicyKind::Neptune, PolicyKind::Adaptive]);
        assert_eq!((c.phase_seconds, c.svg.as_deref()), (1.0, Some("x.svg")));
        neptune_support::args::assert_refused::<Cli>(&[
            &["--jsno"][..],
            &["--rows", "nope"],
            &["--phase-seconds", "0.05"],
            &["--slots", "0"],
            &["--rounds", "0"],
            &["--slo-ms", "-1"],
        ]);
    }
}
