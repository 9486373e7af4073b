//! A hand-written SVG plot of the results: stream latency percentiles per row on a
//! log scale (left) and batch throughput against batch-alone (right).

use super::args::{Config, Row};
use super::report::{settings, RowResult};
use crate::svg_text::{esc, short_count, short_us, Svg};
use neptune::scheduler::PolicyKind;
use std::fmt::Write as _;

const WIDTH: f64 = 1340.0;
const HEIGHT: f64 = 600.0;
/// Top and bottom of both plot areas.
const TOP: f64 = 110.0;
const BOTTOM: f64 = 450.0;
/// Left panel's plot area.
const L0: f64 = 95.0;
const L1: f64 = 770.0;
/// Right panel's plot area.
const R0: f64 = 890.0;
const R1: f64 = 1310.0;

const PERCENTILES: [(&str, &str); 3] =
    [("p50", "#4C78A8"), ("p99", "#F58518"), ("p99.9", "#B2362E")];
const BATCH: &str = "#54A24B";
const REFERENCE: &str = "#9D9D9D";
const PEER: &str = "#A6CF98";

fn is_peer(row: Row) -> bool {
    matches!(row, Row::TokioShared | Row::TokioYield | Row::TokioSplit)
}

fn is_neptune(row: Row) -> bool {
    matches!(row, Row::Policy(PolicyKind::Neptune) | Row::NeptuneNoStarve)
}

impl Svg {
    /// A row label under an axis, tilted so that long names fit.
    fn row_label(&mut self, x: f64, row: Row) {
        let weight = if is_neptune(row) { "bold" } else { "normal" };
        let _ = writeln!(
            self.0,
            r#"<text x="{x:.1}" y="{:.1}" font-size="13" text-anchor="end" font-weight="{weight}" transform="rotate(-35 {x:.1} {:.1})">{}</text>"#,
            BOTTOM + 16.0,
            BOTTOM + 16.0,
            esc(row.name())
        );
    }

    /// A dashed separator between Neptune rows and tokio peers, with captions.
    fn separator(&mut self, x: f64, left: &str, right: &str) {
        self.line(
            x,
            TOP,
            x,
            BOTTOM,
            r##"stroke="#777" stroke-dasharray="2,4" stroke-width="1""##,
        );
        self.text(x - 6.0, TOP + 14.0, 11.0, "end", r##"fill="#555""##, left);
        self.text(
            x + 6.0,
            TOP + 14.0,
            11.0,
            "start",
            r##"fill="#555""##,
            right,
        );
    }
}

/// The whole plot.
pub fn render(cfg: &Config, results: &[RowResult]) -> String {
    let mut s = Svg::new(WIDTH, HEIGHT);
    s.text(
        WIDTH / 2.0,
        30.0,
        20.0,
        "middle",
        r#"font-weight="bold""#,
        &format!(
            "Workload MW-1 on {} slots: stream latency and batch throughput per policy",
            cfg.slots
        ),
    );
    s.text(
        WIDTH / 2.0,
        54.0,
        13.0,
        "middle",
        r##"fill="#333""##,
        &settings(cfg),
    );
    latency_panel(&mut s, results);
    throughput_panel(&mut s, cfg, results);
    s.finish()
}

fn latency_panel(s: &mut Svg, results: &[RowResult]) {
    let rows: Vec<&RowResult> = results.iter().filter(|r| r.row.has_stream()).collect();
    s.text(
        (L0 + L1) / 2.0,
        TOP - 28.0,
        15.0,
        "middle",
        r#"font-weight="bold""#,
        "Stream micro-batch latency (lower is better)",
    );
    // Legend, under the panel title.
    let mut lx = L0 + 10.0;
    for (name, color) in PERCENTILES {
        s.rect(lx, TOP - 17.0, 12.0, 12.0, color, name);
        s.text(lx + 16.0, TOP - 7.0, 12.0, "start", "", name);
        lx += 70.0;
    }
    s.line(
        lx,
        TOP - 11.0,
        lx + 14.0,
        TOP - 11.0,
        r#"stroke="black" stroke-width="2""#,
    );
    s.text(lx + 18.0, TOP - 7.0, 12.0, "start", "", "max");
    lx += 60.0;
    let alone_p99 = results
        .iter()
        .find(|r| r.row == Row::StreamAlone)
        .and_then(|r| r.stream_p99_us);
    if alone_p99.is_some() {
        s.line(
            lx,
            TOP - 11.0,
            lx + 22.0,
            TOP - 11.0,
            r##"stroke="#2a7" stroke-width="1.5" stroke-dasharray="6,3""##,
        );
        s.text(lx + 26.0, TOP - 7.0, 12.0, "start", "", "stream-alone p99");
    }

    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            [
                r.stream_p50_us,
                r.stream_p99_us,
                r.stream_p999_us,
                r.stream_max_us,
            ]
        })
        .flatten()
        .map(|v| v.max(1.0))
        .collect();
    // Axis frame and label.
    s.line(L0, TOP, L0, BOTTOM, r#"stroke="black""#);
    s.line(L0, BOTTOM, L1, BOTTOM, r#"stroke="black""#);
    let _ = writeln!(
        s.0,
        r#"<text x="24" y="{:.1}" font-size="13" text-anchor="middle" transform="rotate(-90 24 {:.1})">latency: last task end − release (log scale)</text>"#,
        (TOP + BOTTOM) / 2.0,
        (TOP + BOTTOM) / 2.0
    );
    if rows.is_empty() || values.is_empty() {
        s.text(
            (L0 + L1) / 2.0,
            (TOP + BOTTOM) / 2.0,
            14.0,
            "middle",
            "",
            "no stream rows",
        );
        return;
    }
    let lo_exp = values
        .iter()
        .fold(f64::MAX, |a, &v| a.min(v))
        .log10()
        .floor();
    let mut hi_exp = values.iter().fold(0.0f64, |a, &v| a.max(v)).log10().ceil();
    if hi_exp <= lo_exp {
        hi_exp = lo_exp + 1.0;
    }
    // Leave headroom above the top decade for value labels.
    let span = hi_exp - lo_exp + 0.15;
    let y_of = |v: f64| BOTTOM - (v.max(1.0).log10() - lo_exp) / span * (BOTTOM - TOP);
    // Grid and ticks: every decade labelled, 2x and 5x as light lines (labelled too
    // when there are few decades).
    let decades = (hi_exp - lo_exp) as i32;
    for e in lo_exp as i32..=hi_exp as i32 {
        let base = 10f64.powi(e);
        for m in [1.0, 2.0, 5.0] {
            let v = base * m;
            if v.log10() > hi_exp + 1e-9 {
                continue;
            }
            let y = y_of(v);
            let major = m == 1.0;
            s.line(
                L0,
                y,
                L1,
                y,
                if major {
                    r##"stroke="#ccc" stroke-width="1""##
                } else {
                    r##"stroke="#eee" stroke-width="1""##
                },
            );
            s.line(
                L0 - if major { 6.0 } else { 3.0 },
                y,
                L0,
                y,
                r#"stroke="black""#,
            );
            if major || decades <= 3 {
                let size = if major { 12.0 } else { 10.0 };
                s.text(L0 - 9.0, y + 4.0, size, "end", "", &short_us(v));
            }
        }
    }
    let n = rows.len() as f64;
    let group = (L1 - L0) / n;
    let bar = (group * 0.24).min(22.0);
    for (i, r) in rows.iter().enumerate() {
        let cx = L0 + group * (i as f64 + 0.5);
        let ps = [r.stream_p50_us, r.stream_p99_us, r.stream_p999_us];
        for (k, ((name, color), v)) in PERCENTILES.iter().zip(ps).enumerate() {
            if let Some(v) = v {
                let x = cx + (k as f64 - 1.5) * bar;
                let y = y_of(v);
                s.rect(
                    x,
                    y,
                    bar - 1.0,
                    BOTTOM - y,
                    color,
                    &format!("{} {name}: {}", r.row, short_us(v)),
                );
            }
        }
        let mut top = ps.iter().flatten().fold(0.0f64, |a, &v| a.max(v));
        if let Some(m) = r.stream_max_us {
            let y = y_of(m);
            s.line(
                cx - 1.5 * bar,
                y,
                cx + 1.5 * bar,
                y,
                r#"stroke="black" stroke-width="2""#,
            );
            top = top.max(m);
        }
        if let Some(p99) = r.stream_p99_us {
            // Micro-batches that had not finished count with their latency so far.
            let bound = if r.unfinished > 0.0 { "≥ " } else { "" };
            s.text(
                cx,
                y_of(top) - 6.0,
                11.0,
                "middle",
                r##"fill="#A04000""##,
                &format!("{bound}{}", short_us(p99)),
            );
        }
        s.row_label(cx + 4.0, r.row);
    }
    if let Some(a) = alone_p99 {
        let y = y_of(a);
        s.line(
            L0,
            y,
            L1,
            y,
            r##"stroke="#2a7" stroke-width="1.5" stroke-dasharray="6,3""##,
        );
    }
    if let Some(first_peer) = rows.iter().position(|r| is_peer(r.row)) {
        if first_peer > 0 {
            s.separator(L0 + group * first_peer as f64, "neptune runtime", "tokio");
        }
    }
    s.text(
        (L0 + L1) / 2.0,
        HEIGHT - 14.0,
        12.0,
        "middle",
        r##"fill="#333""##,
        if rows.iter().any(|r| r.unfinished > 0.0) {
            "number above each group: its p99 (≥: a lower bound, some micro-batches had not \
             finished when the harness stopped waiting)"
        } else {
            "number above each group: its p99"
        },
    );
}

fn throughput_panel(s: &mut Svg, cfg: &Config, results: &[RowResult]) {
    let rows: Vec<&RowResult> = results.iter().filter(|r| r.row.has_batch()).collect();
    s.text(
        (R0 + R1) / 2.0,
        TOP - 28.0,
        15.0,
        "middle",
        r#"font-weight="bold""#,
        "Batch throughput vs batch-alone (higher is better)",
    );
    s.line(R0, TOP, R0, BOTTOM, r#"stroke="black""#);
    s.line(R0, BOTTOM, R1, BOTTOM, r#"stroke="black""#);
    let _ = writeln!(
        s.0,
        r#"<text x="{x:.1}" y="{:.1}" font-size="13" text-anchor="middle" transform="rotate(-90 {x:.1} {:.1})">useful batch units/s ÷ batch-alone's</text>"#,
        (TOP + BOTTOM) / 2.0,
        (TOP + BOTTOM) / 2.0,
        x = R0 - 52.0
    );
    let ratios: Vec<f64> = rows.iter().filter_map(|r| r.batch_ratio).collect();
    if ratios.is_empty() {
        s.text(
            (R0 + R1) / 2.0,
            (TOP + BOTTOM) / 2.0,
            14.0,
            "middle",
            "",
            "no ratio (needs a batch-alone row)",
        );
        return;
    }
    let top = ratios
        .iter()
        .fold(1.2f64, |a, &v| a.max((v * 10.0).ceil() / 10.0 + 0.1));
    let y_of = |v: f64| BOTTOM - v.max(0.0) / top * (BOTTOM - TOP);
    let mut t = 0.0;
    while t <= top + 1e-9 {
        let y = y_of(t);
        s.line(R0, y, R1, y, r##"stroke="#e5e5e5""##);
        s.line(R0 - 6.0, y, R0, y, r#"stroke="black""#);
        s.text(R0 - 9.0, y + 4.0, 12.0, "end", "", &format!("{t:.1}"));
        t += 0.2;
    }
    // Reference lines (drawn first, so that bars and their labels stay on top):
    // batch-alone, and the share of the CPU the stream job leaves to batch work (it
    // needs stream_ms of every trigger interval on every slot).
    let y1 = y_of(1.0);
    let solid = r#"stroke="black" stroke-width="1.5""#;
    let dashed = r##"stroke="#2a7" stroke-width="1.5" stroke-dasharray="6,3""##;
    s.line(R0, y1, R1, y1, solid);
    let mut lx = R0 + 4.0;
    s.line(lx, TOP - 11.0, lx + 22.0, TOP - 11.0, solid);
    s.text(lx + 26.0, TOP - 7.0, 12.0, "start", "", "batch-alone");
    lx += 120.0;
    let left = 1.0 - cfg.stream_ms / cfg.trigger_ms;
    if left > 0.0 && left < 1.0 {
        s.line(R0, y_of(left), R1, y_of(left), dashed);
        s.line(lx, TOP - 11.0, lx + 22.0, TOP - 11.0, dashed);
        s.text(
            lx + 26.0,
            TOP - 7.0,
            12.0,
            "start",
            "",
            &format!("{left:.2} = CPU share the stream job leaves"),
        );
    }
    let n = rows.len() as f64;
    let group = (R1 - R0) / n;
    let bar = (group * 0.6).min(34.0);
    for (i, r) in rows.iter().enumerate() {
        let cx = R0 + group * (i as f64 + 0.5);
        if let Some(v) = r.batch_ratio {
            let fill = if r.row == Row::BatchAlone {
                REFERENCE
            } else if is_peer(r.row) {
                PEER
            } else {
                BATCH
            };
            let y = y_of(v);
            let tip = match (r.batch_units_per_s, r.wasted_units) {
                (Some(u), Some(w)) if w > 0.0 => {
                    format!("{}: {v:.3} ({u:.0} units/s; {w:.0} units wasted)", r.row)
                }
                (Some(u), _) => format!("{}: {v:.3} ({u:.0} units/s)", r.row),
                _ => format!("{}: {v:.3}", r.row),
            };
            s.rect(cx - bar / 2.0, y, bar, BOTTOM - y, fill, &tip);
            // The value inside the bar's top when it fits (clear of the reference
            // lines), else above it.
            if BOTTOM - y > 24.0 {
                let ink = if fill == PEER { "#1d3d14" } else { "white" };
                let style = format!(r#"fill="{ink}" font-weight="bold""#);
                s.text(cx, y + 15.0, 11.0, "middle", &style, &format!("{v:.2}"));
            } else {
                s.text(cx, y - 5.0, 11.0, "middle", "", &format!("{v:.2}"));
            }
            if let Some(w) = r.wasted_units.filter(|&w| w > 0.0) {
                // What the lost progress amounts to, written upwards above the bar.
                let (x, y) = (cx + 4.0, y - 22.0);
                let _ = writeln!(
                    s.0,
                    r##"<text x="{x:.1}" y="{y:.1}" font-size="11" fill="#B2362E" transform="rotate(-90 {x:.1} {y:.1})">{} units wasted</text>"##,
                    esc(&short_count(w))
                );
            }
        }
        s.row_label(cx + 4.0, r.row);
    }
    if let Some(first_peer) = rows.iter().position(|r| is_peer(r.row)) {
        if first_peer > 0 {
            s.separator(R0 + group * first_peer as f64, "", "tokio");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mw1::report::{summarize, table};
    use crate::mw1::workload::Sample;

    #[test]
    fn renders_partial_and_censored_results() {
        let cfg = Config::new(neptune_support::args::available_cores());
        let rows = [
            Row::StreamAlone,
            Row::BatchAlone,
            Row::Policy(PolicyKind::Fair),
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
                ..Sample::default()
            },
            Sample {
                batch_units_per_s: Some(9e5),
                wasted_units: Some(0),
                ..stream((1000..2_000_000).step_by(5000).collect(), 3)
            },
            stream(Vec::new(), 0),
        ];
        let results = summarize(&rows, &[round]);
        let svg = render(&cfg, &results);
        assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
        assert!(
            svg.contains("≥ "),
            "a censored p99 is marked as a lower bound"
        );
        assert!(svg.contains("0.90"), "fair's batch ratio is shown");
        assert!(table(&cfg, &results).contains("fair"));
        // Nothing at all to plot still gives a well-formed document.
        let empty = render(&cfg, &[]);
        assert!(empty.contains("no stream rows") && empty.trim_end().ends_with("</svg>"));
    }
}
