//! The HTML report of a command line's runs (`--report FILE`, or `neptune report
//! RUN.jsonl` from saved JSON lines): one self-contained file with the results table,
//! the stream latency CDFs against the stream-alone ideal, stream p99 over time with
//! model versions and suspensions, training throughput against batch-alone, and each
//! slot's timeline over the last moments of every run that recorded one.

use super::config::{BATCH_ALONE, STREAM_ALONE};
use super::report::{RunReport, Window, TABLE_HEADERS, WINDOW_SECONDS};
use crate::html::{self, Section};
use crate::plot::{self, Activity, BarChart, Bars, Distribution, Lane, Line, Mark, Reference};

/// Model versions marked on a run's p99-over-time plot at most: a pass publishes a
/// version every few tens of milliseconds, too many to label each.
const VERSION_MARKS: u64 = 8;

/// The report of `reports` as one HTML document.
pub fn html(reports: &[RunReport]) -> Result<String, String> {
    let first = reports.first().ok_or("no runs to report")?;
    // Batch-alone baselines of `--all-policies` are shorter: the settings line is a
    // policy run's.
    let settings = &reports
        .iter()
        .rev()
        .find(|r| r.policy != BATCH_ALONE)
        .unwrap_or(first)
        .settings;
    let sections = vec![
        Section {
            heading: "Results".into(),
            html: results_table(reports),
        },
        Section {
            heading: "Stream latency".into(),
            html: html::figure(
                &latency_cdf(reports)?,
                "Share of micro-batches at or under each latency (trigger to scored results \
                 emitted), per policy; stream-alone, dashed, is the stream with no training: \
                 the ideal.",
            ),
        },
        Section {
            heading: "Stream p99 over time".into(),
            html: over_time(reports)?,
        },
        Section {
            heading: "Training throughput".into(),
            html: html::figure(
                &throughput(reports)?,
                "Rows per second of completed training passes, against the training running \
                 alone (batch-alone). The note over each bar is its ratio; KILL's also says \
                 how much task time it threw away.",
            ),
        },
        Section {
            heading: "Slots at the end of each run".into(),
            html: timelines(reports)?,
        },
    ];
    Ok(html::page(
        "Neptune: the unified stream/batch application",
        &settings.line(),
        &sections,
    ))
}

fn results_table(reports: &[RunReport]) -> String {
    let mut headers: Vec<&str> = TABLE_HEADERS.iter().map(|(h, _)| *h).collect();
    headers.extend(["model versions used", "suspensions", "wasted task s"]);
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let mut cells = r.cells().to_vec();
            cells.push(r.versions_used.to_string());
            cells.push(r.suspensions.map_or("-".into(), |s| s.to_string()));
            cells.push(format!("{:.3}", r.wasted_task_seconds));
            cells
        })
        .collect();
    html::table(&headers, &rows)
}

fn err(e: plot::PlotError) -> String {
    e.to_string()
}

fn latency_cdf(reports: &[RunReport]) -> Result<String, String> {
    let curves: Vec<Distribution> = reports
        .iter()
        .filter(|r| !r.stream_latencies_us.is_empty())
        .map(|r| Distribution {
            name: r.policy.clone(),
            samples_us: r.stream_latencies_us.iter().map(|&v| v as f64).collect(),
            ideal: r.policy == STREAM_ALONE,
        })
        .collect();
    plot::cdf("Stream micro-batch latency, CDF", &curves).map_err(err)
}

fn over_time(reports: &[RunReport]) -> Result<String, String> {
    let mut out = String::new();
    let streams: Vec<&RunReport> = reports
        .iter()
        .filter(|r| r.over_time.iter().any(|w| w.stream_p99_us.is_some()))
        .collect();
    let lines: Vec<Line> = streams
        .iter()
        .map(|r| per_window(r, |w| w.stream_p99_us))
        .collect();
    // The versions of the last run that trained while the stream ran (the policy the
    // comparison is about comes last).
    let marked = streams.iter().rev().find(|r| r.passes > 0);
    let marks = marked.map_or_else(Vec::new, |r| version_marks(r));
    let svg = plot::over_time(
        &format!("Stream p99 per {:.0} ms window", WINDOW_SECONDS * 1e3),
        "p99 latency (log scale)",
        &lines,
        &marks,
        plot::Scale::Log,
        plot::short_us,
    )
    .map_err(err)?;
    let caption = match marked {
        Some(r) => format!(
            "The p99 of the micro-batches that ended in each window, per policy. Grey lines \
             mark the model versions {} published as it trained.",
            r.policy
        ),
        None => "The p99 of the micro-batches that ended in each window, per policy.".into(),
    };
    out.push_str(&html::figure(&svg, &caption));
    let suspensions: Vec<Line> = reports
        .iter()
        .filter(|r| r.over_time.iter().any(|w| w.suspensions.unwrap_or(0) > 0))
        .map(|r| per_window(r, |w| w.suspensions))
        .collect();
    let svg = plot::over_time(
        &format!("Suspensions per {:.0} ms window", WINDOW_SECONDS * 1e3),
        "tasks paused",
        &suspensions,
        &[],
        plot::Scale::Linear,
        plot::short_count,
    )
    .map_err(err)?;
    out.push_str(&html::figure(
        &svg,
        "Tasks the policy paused (parked) per window, on every slot.",
    ));
    Ok(out)
}

/// Run `r`'s line of `figure` over its windows (the windows without it left out).
fn per_window(r: &RunReport, figure: impl Fn(&Window) -> Option<u64>) -> Line {
    Line {
        name: r.policy.clone(),
        points: r
            .over_time
            .iter()
            .filter_map(|w| figure(w).map(|v| (w.t, v as f64)))
            .collect(),
    }
}

/// At most [`VERSION_MARKS`] marks on `r`'s windows where its model reached a new
/// multiple of an even step.
fn version_marks(r: &RunReport) -> Vec<Mark> {
    let last = r.over_time.last().map_or(0, |w| w.model_version);
    let step = last.div_ceil(VERSION_MARKS).max(1);
    let mut marks = Vec::new();
    let mut next = step;
    for w in &r.over_time {
        if w.model_version >= next {
            marks.push(Mark {
                at: w.t,
                label: format!("v{}", w.model_version),
            });
            next = (w.model_version / step + 1) * step;
        }
    }
    marks
}

fn throughput(reports: &[RunReport]) -> Result<String, String> {
    let runs: Vec<&RunReport> = reports
        .iter()
        .filter(|r| r.policy != STREAM_ALONE)
        .collect();
    let mut chart = BarChart::new(
        "Training throughput",
        "rows/s",
        runs.iter().map(|r| r.policy.clone()).collect(),
        vec![Bars {
            name: "training rows/s".into(),
            values: runs.iter().map(|r| Some(r.batch_rows_per_s)).collect(),
        }],
    );
    chart.label = plot::short_count;
    if let Some(alone) = runs.iter().find(|r| r.policy == BATCH_ALONE) {
        chart.references = vec![Reference {
            value: alone.batch_rows_per_s,
            name: "batch-alone".into(),
        }];
    }
    chart.notes = runs
        .iter()
        .map(|r| {
            let ratio = r.batch_ratio.map(|x| format!("{x:.2}")).unwrap_or_default();
            if r.wasted_task_seconds > 0.0 {
                format!("{ratio}, {:.2} s wasted", r.wasted_task_seconds)
            } else {
                ratio
            }
        })
        .collect();
    chart.svg(900, 400).map_err(err)
}

fn timelines(reports: &[RunReport]) -> Result<String, String> {
    let mut out = String::new();
    for r in reports {
        let Some(t) = &r.timeline else { continue };
        let lanes: Vec<Lane> = t
            .slots
            .iter()
            .map(|s| Lane {
                name: format!("slot {}", s.slot),
                spans: s
                    .spans
                    .iter()
                    .filter_map(|(kind, start, end)| {
                        let activity = match kind.as_str() {
                            "stream" => Activity::Stream,
                            "batch" => Activity::Batch,
                            "paused" => Activity::Paused,
                            _ => return None,
                        };
                        Some(plot::Span {
                            activity,
                            start: *start,
                            end: *end,
                        })
                    })
                    .collect(),
            })
            .collect();
        let svg = plot::timeline(
            &format!("{}: the last {:.0} ms", r.policy, t.seconds * 1e3),
            &lanes,
            0.0..t.seconds,
        )
        .map_err(err)?;
        out.push_str(&html::figure(
            &svg,
            "Each slot: Stream runs (top), Batch runs (middle), and the time tasks lay PAUSED \
             on it (bottom band).",
        ));
    }
    if out.is_empty() {
        out.push_str(
            "<p>No run recorded a timeline: the slots record one with <code>--report</code> \
             or <code>--ui</code>.</p>\n",
        );
    }
    Ok(out)
}

/// Reads the runs of a saved `--json` output: one report per non-empty line.
pub fn read_runs(text: &str) -> Result<Vec<RunReport>, String> {
    let mut runs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let run = RunReport::from_json(line).map_err(|e| {
            format!(
                "line {}: not a unified run's report ({e}); `neptune report` reads the lines \
                 of `neptune run unified --json`, and the other applications write their \
                 report as they run, with `--report FILE`",
                n + 1
            )
        })?;
        runs.push(run);
    }
    if runs.is_empty() {
        return Err("no runs: expected the JSON lines of `neptune run unified --json`".into());
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unified::report::tests::sample;

    #[test]
    fn a_report_has_every_section_with_its_plots() {
        let mut alone = sample("stream-alone");
        alone.batch_rows_per_s = 0.0;
        let mut kill = sample("kill");
        kill.wasted_task_seconds = 1.25;
        let page = html(&[sample("batch-alone"), alone, kill, sample("neptune")]).unwrap();
        for text in [
            "<h2>Results</h2>",
            "<h2>Stream latency</h2>",
            "<h2>Stream p99 over time</h2>",
            "<h2>Training throughput</h2>",
            "<h2>Slots at the end of each run</h2>",
            "1.25 s wasted",
            "neptune: the last 50 ms",
            "Stream p99 per 250 ms window",
            "PAUSED",
        ] {
            assert!(page.contains(text), "{text} missing");
        }
        // CDF, two p99 plots... every figure inline, none linked.
        assert!(page.matches("<svg").count() >= 6);
        assert!(!page.contains("src=\"http"));
    }

    #[test]
    fn saved_lines_read_back_and_bad_lines_are_named() {
        let text = format!(
            "{}\n\n{}\n",
            sample("fifo").to_json(),
            sample("neptune").to_json()
        );
        let runs = read_runs(&text).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].policy, "neptune");
        let e = read_runs(&format!(
            "{}\n{{\"figure\":\"dispatch\"}}\n",
            sample("x").to_json()
        ))
        .unwrap_err();
        assert!(e.starts_with("line 2: not a unified run's report"), "{e}");
        assert!(e.contains("with `--report FILE`"), "{e}");
        assert!(read_runs("\n").is_err());
        assert!(html(&[]).is_err());
    }
}
