//! Figures per row (medians over rounds), and the two text outputs: JSON lines and an
//! aligned table.

use super::args::{Config, Row};
use super::workload::Sample;
use neptune::scheduler::PolicyKind;
use neptune_support::stats::median_interpolated;
use neptune_support::stats::quantile_sorted as quantile;
use std::fmt::Write as _;

/// The figures of one row, each the median over the rounds that produced it.
#[derive(Clone, Debug)]
pub struct RowResult {
    pub row: Row,
    pub stream_p50_us: Option<f64>,
    pub stream_p99_us: Option<f64>,
    pub stream_p999_us: Option<f64>,
    pub stream_max_us: Option<f64>,
    pub batch_units_per_s: Option<f64>,
    /// Against `batch-alone` of the same round; `None` without a batch-alone row.
    pub batch_ratio: Option<f64>,
    pub wasted_units: Option<f64>,
    pub suspensions: f64,
    pub kills: f64,
    /// Parks whatever the policy (for the notes: KILL parks before it cancels).
    pub parks: f64,
    pub micro_batches: f64,
    /// Micro-batches still running when the harness stopped waiting (their latency
    /// is then a lower bound).
    pub unfinished: f64,
    pub release_lag_p99_us: Option<f64>,
    /// p99 over micro-batches of release → first poll of its last task to start.
    pub start_p99_us: Option<f64>,
    /// p99 over micro-batches of the longest task run (first poll → end).
    pub run_p99_us: Option<f64>,
    /// CPU the process got over the measured stretch, in cores.
    pub cpu_cores: Option<f64>,
    /// The runtime's pause → parked and resume → polled p99, µs (Neptune runtimes).
    pub pause_to_park_p99_us: Option<f64>,
    pub pause_to_park_p50_us: Option<f64>,
    pub resume_to_poll_p99_us: Option<f64>,
    /// NEPTUNE's anti-starvation quanta granted and exempt skips (medians).
    pub quanta: Option<(f64, f64)>,
    /// The longest spawn of one micro-batch by the release thread (median), µs.
    pub spawn_max_us: f64,
}

/// The median of the values present (the mean of the middle two for an even count).
pub fn median(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    median_interpolated(values.into_iter().flatten().collect())
}

/// Per-row medians over `rounds`: `rounds[r][i]` is row `rows[i]` in round `r`.
pub fn summarize(rows: &[Row], rounds: &[Vec<Sample>]) -> Vec<RowResult> {
    let alone = rows.iter().position(|r| *r == Row::BatchAlone);
    rows.iter()
        .enumerate()
        .map(|(i, &row)| {
            let samples: Vec<&Sample> = rounds.iter().map(|r| &r[i]).collect();
            let q_of = |f: &dyn Fn(&Sample) -> &Vec<u64>, q: f64| {
                median(samples.iter().map(|s| {
                    let mut v = f(s).clone();
                    v.sort_unstable();
                    quantile(&v, q).map(|x| x as f64)
                }))
            };
            let lat = |q: f64| q_of(&|s| &s.latencies_us, q);
            let ratio = alone.and_then(|a| {
                median(rounds.iter().map(|r| {
                    let base = r[a].batch_units_per_s?;
                    let mine = r[i].batch_units_per_s?;
                    (base > 0.0).then(|| mine / base)
                }))
            });
            let all = |f: &dyn Fn(&Sample) -> f64| {
                median(samples.iter().map(|s| Some(f(s)))).unwrap_or(0.0)
            };
            RowResult {
                row,
                stream_p50_us: lat(0.50),
                stream_p99_us: lat(0.99),
                stream_p999_us: lat(0.999),
                stream_max_us: lat(1.0),
                batch_units_per_s: median(samples.iter().map(|s| s.batch_units_per_s)),
                batch_ratio: ratio,
                wasted_units: median(samples.iter().map(|s| s.wasted_units.map(|w| w as f64))),
                suspensions: all(&|s| s.suspensions as f64),
                kills: all(&|s| s.kills as f64),
                parks: all(&|s| s.parks as f64),
                micro_batches: all(&|s| s.latencies_us.len() as f64),
                unfinished: all(&|s| s.unfinished as f64),
                release_lag_p99_us: q_of(&|s| &s.release_lag_us, 0.99),
                start_p99_us: q_of(&|s| &s.start_us, 0.99),
                run_p99_us: q_of(&|s| &s.run_us, 0.99),
                cpu_cores: median(samples.iter().map(|s| s.cpu_cores)),
                pause_to_park_p99_us: median(samples.iter().map(|s| s.pause_to_park_p99_us)),
                pause_to_park_p50_us: median(samples.iter().map(|s| s.pause_to_park_p50_us)),
                resume_to_poll_p99_us: median(samples.iter().map(|s| s.resume_to_poll_p99_us)),
                quanta: median(samples.iter().map(|s| s.quanta.map(|q| q.0 as f64)))
                    .zip(median(samples.iter().map(|s| s.quanta.map(|q| q.1 as f64)))),
                spawn_max_us: all(&|s| s.spawn_max_us as f64),
            }
        })
        .collect()
}

fn json_num(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(x) if x.is_finite() => {
            if decimals == 0 {
                format!("{}", x.round() as i64)
            } else {
                format!("{x:.decimals$}")
            }
        }
        _ => "null".to_owned(),
    }
}

/// One JSON object (one line) for a row.
pub fn json_line(cfg: &Config, r: &RowResult) -> String {
    format!(
        concat!(
            "{{\"policy\":\"{}\",\"stream_p50_us\":{},\"stream_p99_us\":{},",
            "\"stream_p999_us\":{},\"stream_max_us\":{},\"batch_units_per_s\":{},",
            "\"batch_ratio\":{},\"wasted_units\":{},\"suspensions\":{},",
            "\"micro_batches\":{},\"unfinished_micro_batches\":{},",
            "\"release_lag_p99_us\":{},\"stream_start_p99_us\":{},\"stream_run_p99_us\":{},",
            "\"cpu_cores_used\":{},\"pause_to_park_p50_us\":{},\"pause_to_park_p99_us\":{},",
            "\"resume_to_poll_p99_us\":{},",
            "\"kills\":{},\"slots\":{},\"rounds\":{}}}"
        ),
        r.row.name(),
        json_num(r.stream_p50_us, 0),
        json_num(r.stream_p99_us, 0),
        json_num(r.stream_p999_us, 0),
        json_num(r.stream_max_us, 0),
        json_num(r.batch_units_per_s, 0),
        json_num(r.batch_ratio, 4),
        json_num(r.wasted_units, 0),
        json_num(Some(r.suspensions), 0),
        json_num(Some(r.micro_batches), 0),
        json_num(Some(r.unfinished), 0),
        json_num(r.release_lag_p99_us, 0),
        json_num(r.start_p99_us, 0),
        json_num(r.run_p99_us, 0),
        json_num(r.cpu_cores, 2),
        json_num(r.pause_to_park_p50_us, 1),
        json_num(r.pause_to_park_p99_us, 1),
        json_num(r.resume_to_poll_p99_us, 1),
        json_num(Some(r.kills), 0),
        cfg.slots,
        cfg.rounds,
    )
}

/// The settings in one line (table header and plot title).
pub fn settings(cfg: &Config) -> String {
    format!(
        "batch {} x {} ms, stream {} x {} ms every {} ms, {} µs units, static {} stream \
         slot{}; {} s per row (first {} ms left out), {} round{}",
        cfg.batch_tasks(),
        cfg.batch_ms,
        cfg.slots,
        cfg.stream_ms,
        cfg.trigger_ms,
        cfg.unit_us,
        cfg.static_stream_slots(),
        if cfg.static_stream_slots() == 1 {
            ""
        } else {
            "s"
        },
        cfg.seconds,
        cfg.warmup_ms,
        cfg.rounds,
        if cfg.rounds == 1 { "" } else { "s, medians" }
    )
}

fn cell(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.decimals$}"),
        _ => "-".to_owned(),
    }
}

/// The aligned table, then how NEPTUNE fares against the targets.
pub fn table(cfg: &Config, results: &[RowResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "MW-1 on {} slots: {}", cfg.slots, settings(cfg));
    let _ = writeln!(
        out,
        "{:<17}{:>9}{:>9}{:>10}{:>9}{:>14}{:>8}{:>11}{:>8}{:>10}{:>6}",
        "row",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs",
        "batch units/s",
        "ratio",
        "wasted",
        "kills",
        "suspens.",
        "cpu"
    );
    for r in results {
        let _ = writeln!(
            out,
            "{:<17}{:>9}{:>9}{:>10}{:>9}{:>14}{:>8}{:>11}{:>8}{:>10}{:>6}",
            r.row.name(),
            cell(r.stream_p50_us, 0),
            cell(r.stream_p99_us, 0),
            cell(r.stream_p999_us, 0),
            cell(r.stream_max_us, 0),
            cell(r.batch_units_per_s, 0),
            cell(r.batch_ratio, 3),
            cell(r.wasted_units, 0),
            if r.row.has_batch() {
                format!("{:.0}", r.kills)
            } else {
                "-".into()
            },
            format!("{:.0}", r.suspensions),
            cell(r.cpu_cores, 2),
        );
    }
    let _ = writeln!(
        out,
        "cpu: cores of CPU time the process got over the measured stretch (a loaded machine \
         gives less than {})",
        cfg.slots
    );
    let parts: Vec<String> = results
        .iter()
        .filter(|r| r.row.has_stream())
        .map(|r| {
            format!(
                "{} {}/{}",
                r.row,
                cell(r.start_p99_us, 0),
                cell(r.run_p99_us, 0)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "stream p99 µs of release -> last task started / longest task run: {}",
        parts.join(", ")
    );
    let pauses: Vec<String> = results
        .iter()
        .filter_map(|r| {
            let (m, p) = (r.pause_to_park_p50_us?, r.pause_to_park_p99_us?);
            let q = r.resume_to_poll_p99_us?;
            Some(format!("{} {m:.1}/{p:.1}/{q:.1}", r.row))
        })
        .collect();
    if !pauses.is_empty() {
        let _ = writeln!(
            out,
            "runtime µs of pause -> parked p50/p99, resume -> polled p99: {}",
            pauses.join(", ")
        );
    }
    for r in results {
        if let Some((q, e)) = r.quanta {
            let _ = writeln!(
                out,
                "{}: {q:.0} anti-starvation quanta granted; stream arrivals passed over a \
                 running batch task {e:.0} times because of them",
                r.row
            );
        }
    }
    // Batch work per CPU-second left to it: separates what a policy costs from how
    // much CPU a loaded machine happened to give the row.
    let cpu_of = |row: Row| {
        results
            .iter()
            .find(|r| r.row == row)
            .and_then(|r| r.cpu_cores)
    };
    if let (Some(stream_cpu), Some(alone)) = (
        cpu_of(Row::StreamAlone),
        results.iter().find(|r| r.row == Row::BatchAlone),
    ) {
        if let (Some(u0), Some(c0)) = (alone.batch_units_per_s, alone.cpu_cores) {
            let parts: Vec<String> = results
                .iter()
                .filter(|r| r.row.has_batch() && r.row.has_stream())
                .filter_map(|r| {
                    let left = r.cpu_cores? - stream_cpu;
                    let u = r.batch_units_per_s?;
                    (left > 0.0 && c0 > 0.0 && u0 > 0.0)
                        .then(|| format!("{} {:.2}", r.row, u / left / (u0 / c0)))
                })
                .collect();
            if !parts.is_empty() {
                let _ = writeln!(
                    out,
                    "batch units per CPU-second left to batch (row's cpu − stream-alone's), vs \
                     batch-alone's: {}",
                    parts.join(", ")
                );
            }
        }
    }
    let spawn = results
        .iter()
        .filter(|r| r.row.has_stream())
        .map(|r| r.spawn_max_us)
        .fold(0.0f64, f64::max);
    let parked: Vec<String> = results
        .iter()
        .filter(|r| r.parks > 0.0 && r.suspensions == 0.0)
        .map(|r| format!("{} {:.0}", r.row, r.parks))
        .collect();
    if !parked.is_empty() {
        let _ = writeln!(
            out,
            "parks not counted as suspensions (the policy does not pause to resume): {}",
            parked.join(", ")
        );
    }
    let mb: Vec<String> = results
        .iter()
        .filter(|r| r.row.has_stream())
        .map(|r| format!("{} {:.0}", r.row, r.micro_batches))
        .collect();
    let _ = writeln!(out, "micro-batches measured per row: {}", mb.join(", "));
    let unfinished: Vec<String> = results
        .iter()
        .filter(|r| r.unfinished > 0.0)
        .map(|r| format!("{} {:.0}", r.row, r.unfinished))
        .collect();
    if !unfinished.is_empty() {
        let _ = writeln!(
            out,
            "micro-batches still running when the harness stopped waiting (counted with \
             their latency so far): {}",
            unfinished.join(", ")
        );
    }
    let lag = results
        .iter()
        .filter_map(|r| r.release_lag_p99_us)
        .fold(0.0f64, f64::max);
    let _ = writeln!(
        out,
        "release thread: p99 lateness of a release at most {lag:.0} µs, longest spawn of \
         one micro-batch {spawn:.0} µs, over the rows"
    );
    let _ = write!(out, "{}", targets(results));
    out
}

/// NEPTUNE against the targets of the workload's design, from the rows present.
fn targets(results: &[RowResult]) -> String {
    let get = |row: Row| results.iter().find(|r| r.row == row);
    let Some(n) = get(Row::Policy(PolicyKind::Neptune)) else {
        return String::new();
    };
    let mut out = String::from("neptune against its targets:\n");
    let mut line = |ok: bool, what: String| {
        let _ = writeln!(out, "  [{}] {what}", if ok { "met " } else { "MISS" });
    };
    if let (Some(p99), Some(alone)) = (
        n.stream_p99_us,
        get(Row::StreamAlone).and_then(|r| r.stream_p99_us),
    ) {
        let x = p99 / alone;
        line(
            x <= 1.5,
            format!("stream p99 {x:.2}x stream-alone's (target <= 1.5x)"),
        );
    }
    for other in [PolicyKind::Fifo, PolicyKind::Fair] {
        if let (Some(p99), Some(theirs)) = (
            n.stream_p99_us,
            get(Row::Policy(other)).and_then(|r| r.stream_p99_us),
        ) {
            let x = p99 / theirs;
            line(
                x <= 1.0 / 3.0,
                format!("stream p99 {x:.3}x {other}'s (target <= 0.333x)"),
            );
        }
    }
    if let Some(ratio) = n.batch_ratio {
        line(
            ratio >= 0.95,
            format!("batch ratio {ratio:.3} (target >= 0.95)"),
        );
    }
    let kill_wasted = get(Row::Policy(PolicyKind::Kill)).and_then(|r| r.wasted_units);
    if let Some(w) = n.wasted_units {
        let kill = kill_wasted.map_or(String::new(), |k| format!(", kill wasted {k:.0}"));
        line(
            w == 0.0 && !matches!(kill_wasted, Some(k) if k <= 0.0),
            format!("wasted units {w:.0}{kill} (target 0, and kill > 0)"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_medians() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(quantile(&v, 0.5), Some(500));
        assert_eq!(quantile(&v, 0.99), Some(990));
        assert_eq!(quantile(&v, 0.999), Some(999));
        assert_eq!(quantile(&v, 1.0), Some(1000));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(median([Some(3.0), None, Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(median([Some(4.0), Some(1.0)]), Some(2.5));
        assert_eq!(median([None]), None);
    }
}
