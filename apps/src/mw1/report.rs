//! Figures per row (medians over rounds), and what is made of them: JSON lines and an
//! aligned table (both from [`RowReport`]), the two-panel figure, and the HTML report.

use super::args::{Config, Row};
use super::workload::Sample;
use crate::html::{esc, page, Section};
use crate::plot::{self, short_count, short_us, BarChart, Bars, Reference, Scale};
use neptune::scheduler::PolicyKind;
use neptune_support::stats::median_interpolated;
use neptune_support::stats::quantile_sorted as quantile;
use serde::Serialize;
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

/// `v` rounded to a whole number; `None` (JSON `null`) when missing or not finite.
fn whole(v: Option<f64>) -> Option<i64> {
    v.filter(|x| x.is_finite()).map(|x| x.round() as i64)
}

/// `v` rounded to `decimals` places; `None` (JSON `null`) when missing or not finite.
fn places(v: Option<f64>, decimals: i32) -> Option<f64> {
    let scale = 10f64.powi(decimals);
    v.filter(|x| x.is_finite())
        .map(|x| (x * scale).round() / scale)
}

/// One row's figures as printed: one JSON object per line with `--json`, a line of the
/// table otherwise, a row of the HTML report's table. Whole numbers are rounded;
/// `null` where a row has no such figure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowReport {
    /// The row, as the table names it (not printed in JSON: `policy` names it).
    #[serde(skip)]
    pub row: Row,
    /// The row's name (`stream-alone`, `fifo`, `tokio-split`, …).
    pub policy: &'static str,
    /// Stream micro-batch latency p50, µs.
    pub stream_p50_us: Option<i64>,
    /// p99, µs.
    pub stream_p99_us: Option<i64>,
    /// p99.9, µs.
    pub stream_p999_us: Option<i64>,
    /// The longest, µs.
    pub stream_max_us: Option<i64>,
    /// Useful batch units per second.
    pub batch_units_per_s: Option<i64>,
    /// Against batch-alone's of the same round (4 decimals).
    pub batch_ratio: Option<f64>,
    /// Units done by killed attempts.
    pub wasted_units: Option<i64>,
    /// Suspensions (parks, for policies that pause).
    pub suspensions: i64,
    /// Micro-batches measured.
    pub micro_batches: i64,
    /// Micro-batches still running when the harness stopped waiting (counted with
    /// their latency so far, a lower bound).
    pub unfinished_micro_batches: i64,
    /// The release thread's p99 lateness, µs.
    pub release_lag_p99_us: Option<i64>,
    /// p99 of release → last task of the micro-batch started, µs.
    pub stream_start_p99_us: Option<i64>,
    /// p99 of the longest task run of a micro-batch, µs.
    pub stream_run_p99_us: Option<i64>,
    /// CPU the process got over the measured stretch, in cores (2 decimals).
    pub cpu_cores_used: Option<f64>,
    /// The runtime's pause → parked p50, µs (1 decimal).
    pub pause_to_park_p50_us: Option<f64>,
    /// Pause → parked p99, µs (1 decimal).
    pub pause_to_park_p99_us: Option<f64>,
    /// Resume → polled p99, µs (1 decimal).
    pub resume_to_poll_p99_us: Option<f64>,
    /// Attempts killed.
    pub kills: i64,
    /// Slots of the runtime.
    pub slots: usize,
    /// Rounds the figures are medians over.
    pub rounds: usize,
}

impl RowReport {
    /// The report of `r` under `cfg`.
    pub fn new(cfg: &Config, r: &RowResult) -> RowReport {
        let count = |x: f64| whole(Some(x)).unwrap_or(0);
        RowReport {
            row: r.row,
            policy: r.row.name(),
            stream_p50_us: whole(r.stream_p50_us),
            stream_p99_us: whole(r.stream_p99_us),
            stream_p999_us: whole(r.stream_p999_us),
            stream_max_us: whole(r.stream_max_us),
            batch_units_per_s: whole(r.batch_units_per_s),
            batch_ratio: places(r.batch_ratio, 4),
            wasted_units: whole(r.wasted_units),
            suspensions: count(r.suspensions),
            micro_batches: count(r.micro_batches),
            unfinished_micro_batches: count(r.unfinished),
            release_lag_p99_us: whole(r.release_lag_p99_us),
            stream_start_p99_us: whole(r.start_p99_us),
            stream_run_p99_us: whole(r.run_p99_us),
            cpu_cores_used: places(r.cpu_cores, 2),
            pause_to_park_p50_us: places(r.pause_to_park_p50_us, 1),
            pause_to_park_p99_us: places(r.pause_to_park_p99_us, 1),
            resume_to_poll_p99_us: places(r.resume_to_poll_p99_us, 1),
            kills: count(r.kills),
            slots: cfg.slots,
            rounds: cfg.rounds,
        }
    }

    /// The JSON object, on one line.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a report of numbers and names serializes")
    }

    /// The table's headers, one per cell of [`RowReport::cells`].
    pub const HEADERS: [&'static str; 11] = [
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
        "cpu",
    ];

    /// The table's cells: `-` where the row has no such figure.
    pub fn cells(&self) -> Vec<String> {
        let int = |v: Option<i64>| v.map_or("-".to_owned(), |x| x.to_string());
        let dec = |v: Option<f64>, d: usize| v.map_or("-".to_owned(), |x| format!("{x:.d$}"));
        vec![
            self.policy.to_owned(),
            int(self.stream_p50_us),
            int(self.stream_p99_us),
            int(self.stream_p999_us),
            int(self.stream_max_us),
            int(self.batch_units_per_s),
            dec(self.batch_ratio, 3),
            int(self.wasted_units),
            int(self.row.has_batch().then_some(self.kills)),
            self.suspensions.to_string(),
            dec(self.cpu_cores_used, 2),
        ]
    }
}

/// One aligned line of the table: the first cell left-aligned, the others right.
fn aligned(cells: &[impl AsRef<str>]) -> String {
    const WIDTHS: [usize; 11] = [17, 9, 9, 10, 9, 14, 8, 11, 8, 10, 6];
    let mut line = String::new();
    for (i, (cell, w)) in cells.iter().zip(WIDTHS).enumerate() {
        let cell = cell.as_ref();
        if i == 0 {
            let _ = write!(line, "{cell:<w$}");
        } else {
            let _ = write!(line, "{cell:>w$}");
        }
    }
    line
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

/// The aligned table of `reports`, then [`notes`].
pub fn table(cfg: &Config, results: &[RowResult], reports: &[RowReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "MW-1 on {} slots: {}", cfg.slots, settings(cfg));
    let _ = writeln!(out, "{}", aligned(&RowReport::HEADERS));
    for r in reports {
        let _ = writeln!(out, "{}", aligned(&r.cells()));
    }
    out.push_str(&notes(cfg, results));
    out
}

/// What the table's columns leave out, a line each: CPU, where stream latency goes,
/// the runtime's pause latencies, anti-starvation quanta, batch work per CPU-second,
/// parks, micro-batches, the release thread; then how NEPTUNE fares against the
/// targets.
pub fn notes(cfg: &Config, results: &[RowResult]) -> String {
    let mut out = String::new();
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

/// The figure: stream latency percentiles per row on a log axis (left) and batch
/// throughput against batch-alone's (right).
pub fn figure(cfg: &Config, reports: &[RowReport]) -> plot::Result<String> {
    let title = format!(
        "Workload MW-1 on {} slots: stream latency and batch throughput per policy",
        cfg.slots
    );
    plot::panels(
        1340,
        600,
        &title,
        &settings(cfg),
        &[&latency_chart(reports), &throughput_chart(cfg, reports)],
    )
}

/// Stream latency p50/p99/p99.9 per row with its max marked and its p99 written
/// above; the dashed line is stream-alone's p99.
fn latency_chart(reports: &[RowReport]) -> BarChart {
    let rows: Vec<&RowReport> = reports.iter().filter(|r| r.row.has_stream()).collect();
    let us = |v: Option<i64>| v.map(|x| x as f64);
    let series = |name: &str, f: fn(&RowReport) -> Option<i64>| Bars {
        name: name.to_owned(),
        values: rows.iter().map(|r| us(f(r))).collect(),
    };
    let censored = rows.iter().any(|r| r.unfinished_micro_batches > 0);
    let mut c = BarChart::new(
        if censored {
            "Stream micro-batch latency (lower is better; above: p99, ≥ a lower bound)"
        } else {
            "Stream micro-batch latency (lower is better; above: p99)"
        },
        "latency: last task end − release (log scale)",
        rows.iter().map(|r| r.policy.to_owned()).collect(),
        vec![
            series("p50", |r| r.stream_p50_us),
            series("p99", |r| r.stream_p99_us),
            series("p99.9", |r| r.stream_p999_us),
        ],
    );
    c.scale = Scale::Log;
    c.label = short_us;
    c.marks = rows.iter().map(|r| us(r.stream_max_us)).collect();
    // Micro-batches that had not finished count with their latency so far: their p99
    // is a lower bound.
    c.notes = rows
        .iter()
        .map(|r| match r.stream_p99_us {
            Some(p99) if r.unfinished_micro_batches > 0 => format!("≥ {}", short_us(p99 as f64)),
            Some(p99) => short_us(p99 as f64),
            None => String::new(),
        })
        .collect();
    c.references = reports
        .iter()
        .find(|r| r.row == Row::StreamAlone)
        .and_then(|r| us(r.stream_p99_us))
        .map(|value| Reference {
            value,
            name: "stream-alone p99".into(),
        })
        .into_iter()
        .collect();
    c
}

/// Useful batch units per second ÷ batch-alone's per row, with references at 1.0 and
/// at the CPU share the stream job leaves (it needs `stream_ms` of every trigger
/// interval on every slot); the ratio, and units wasted by killed attempts, above.
fn throughput_chart(cfg: &Config, reports: &[RowReport]) -> BarChart {
    let rows: Vec<&RowReport> = reports.iter().filter(|r| r.row.has_batch()).collect();
    let mut c = BarChart::new(
        "Batch throughput vs batch-alone (higher is better)",
        "useful batch units/s ÷ batch-alone's",
        rows.iter().map(|r| r.policy.to_owned()).collect(),
        vec![Bars {
            name: "batch ratio".into(),
            values: rows.iter().map(|r| r.batch_ratio).collect(),
        }],
    );
    c.label = |v| format!("{v:.1}");
    c.notes = rows
        .iter()
        .map(
            |r| match (r.batch_ratio, r.wasted_units.filter(|&w| w > 0)) {
                (Some(v), Some(w)) => format!("{v:.2}, {} wasted", short_count(w as f64)),
                (Some(v), None) => format!("{v:.2}"),
                (None, _) => String::new(),
            },
        )
        .collect();
    if rows.iter().any(|r| r.batch_ratio.is_some()) {
        c.references.push(Reference {
            value: 1.0,
            name: "batch-alone".into(),
        });
        let left = 1.0 - cfg.stream_ms / cfg.trigger_ms;
        if left > 0.0 && left < 1.0 {
            c.references.push(Reference {
                value: left,
                name: format!("{left:.2} = CPU share the stream job leaves"),
            });
        }
    }
    c
}

/// The whole report as one self-contained HTML page: the settings, the results table,
/// the notes and the figure inline.
pub fn html(cfg: &Config, results: &[RowResult], reports: &[RowReport]) -> plot::Result<String> {
    let rows: Vec<Vec<String>> = reports.iter().map(RowReport::cells).collect();
    let sections = [
        Section {
            heading: "Results".into(),
            html: crate::html::table(&RowReport::HEADERS, &rows),
        },
        Section {
            heading: "Notes".into(),
            html: format!("<pre>{}</pre>\n", esc(&notes(cfg, results))),
        },
        Section {
            heading: "Figure".into(),
            html: crate::html::figure(
                &figure(cfg, reports)?,
                "Left: stream latency per row, log scale; the number above each group is its \
                 p99. Right: useful batch units per second against batch-alone's.",
            ),
        },
    ];
    Ok(page(
        &format!("Workload MW-1 on {} slots", cfg.slots),
        &settings(cfg),
        &sections,
    ))
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

    /// Stream-alone, batch-alone, FAIR with three unfinished micro-batches, KILL with
    /// wasted units, and tokio-split without a single micro-batch.
    fn results() -> (Config, Vec<RowResult>) {
        let cfg = Config::new(2);
        let rows = [
            Row::StreamAlone,
            Row::BatchAlone,
            Row::Policy(PolicyKind::Fair),
            Row::Policy(PolicyKind::Kill),
            Row::TokioSplit,
        ];
        let stream = |lat: Vec<u64>, unfinished| Sample {
            latencies_us: lat,
            unfinished,
            ..Sample::default()
        };
        let round = vec![
            stream((500..900).collect(), 0),
            Sample {
                batch_units_per_s: Some(1e6),
                wasted_units: Some(0),
                cpu_cores: Some(1.987),
                ..Sample::default()
            },
            Sample {
                batch_units_per_s: Some(9e5),
                wasted_units: Some(0),
                ..stream((1000..2_000_000).step_by(5000).collect(), 3)
            },
            Sample {
                batch_units_per_s: Some(5e5),
                wasted_units: Some(42_000),
                kills: 7,
                ..stream((600..700).collect(), 0)
            },
            stream(Vec::new(), 0),
        ];
        let results = summarize(&rows, &[round]);
        (cfg, results)
    }

    fn reports(cfg: &Config, results: &[RowResult]) -> Vec<RowReport> {
        results.iter().map(|r| RowReport::new(cfg, r)).collect()
    }

    #[test]
    fn a_json_line_has_exactly_the_fields_of_a_row() {
        let (cfg, results) = results();
        let reports = reports(&cfg, &results);
        let line = reports[2].json();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = vec![
            "policy",
            "stream_p50_us",
            "stream_p99_us",
            "stream_p999_us",
            "stream_max_us",
            "batch_units_per_s",
            "batch_ratio",
            "wasted_units",
            "suspensions",
            "micro_batches",
            "unfinished_micro_batches",
            "release_lag_p99_us",
            "stream_start_p99_us",
            "stream_run_p99_us",
            "cpu_cores_used",
            "pause_to_park_p50_us",
            "pause_to_park_p99_us",
            "resume_to_poll_p99_us",
            "kills",
            "slots",
            "rounds",
        ];
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(sorted, expected);
        assert_eq!(v["policy"], "fair");
        assert_eq!(v["batch_ratio"], 0.9);
        assert_eq!(v["unfinished_micro_batches"], 3);
        assert_eq!(v["slots"], 2);
        assert!(v["stream_p99_us"].is_i64());
        // Figures a row has not: null, as before.
        let alone: serde_json::Value = serde_json::from_str(&reports[0].json()).unwrap();
        assert!(alone["batch_units_per_s"].is_null() && alone["batch_ratio"].is_null());
        let batch: serde_json::Value = serde_json::from_str(&reports[1].json()).unwrap();
        assert!(batch["stream_p50_us"].is_null());
        assert_eq!(batch["cpu_cores_used"], 1.99);
    }

    #[test]
    fn the_table_and_figure_show_every_row() {
        let (cfg, results) = results();
        let reports = reports(&cfg, &results);
        let table = table(&cfg, &results, &reports);
        for row in ["stream-alone", "batch-alone", "fair", "kill", "tokio-split"] {
            assert!(table.contains(row), "{row} missing from\n{table}");
        }
        assert!(table.contains("0.900") && table.contains("42000"));
        let svg = figure(&cfg, &reports).unwrap();
        assert_eq!(svg.matches("<svg").count(), 1);
        for text in [
            // Groups, legends and references.
            "stream-alone",
            "tokio-split",
            "p50",
            "p99.9",
            "max",
            "stream-alone p99",
            "batch-alone",
            "CPU share the stream job leaves",
            // Notes: a censored p99 as a lower bound, ratios, KILL's lost work.
            "≥ ",
            "0.90",
            "42.0k wasted",
        ] {
            assert!(svg.contains(text), "{text} missing from the figure");
        }
        // Nothing at all to plot still gives a whole document.
        let empty = figure(&cfg, &[]).unwrap();
        assert!(empty.contains("no data") && empty.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn the_html_report_has_the_table_and_the_figure_inline() {
        let (cfg, results) = results();
        let reports = reports(&cfg, &results);
        let page = html(&cfg, &results, &reports).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<table>") && page.contains("<th>batch units/s</th>"));
        assert!(page.contains("<td>kill</td>") && page.contains("<td>0.900</td>"));
        assert!(page.contains("<svg") && !page.contains("<?xml"));
        assert!(page.contains(&esc(&settings(&cfg))));
    }
}
