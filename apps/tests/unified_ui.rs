//! The unified application with `--ui` and `--report`: its live `/metrics`, scraped
//! while it runs under NEPTUNE, has the engine's and the application's families and
//! shows paused tasks; the report it writes, and the one `neptune report` writes from
//! its JSON lines, have every section. MW-1 with `--ui` serves each Neptune row's
//! runtime.

mod common;

use common::live::{get, total, Served};
use common::{text, TempDir};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn metrics_scraped_while_it_runs_show_paused_training_and_the_models_figures() {
    let dir = TempDir::new("unified-ui");
    let report = dir.path().join("run.html");
    let report = report.to_str().unwrap();
    let served = Served::start(&[
        "run",
        "unified",
        "--policy",
        "neptune",
        "--slots",
        "2",
        "--rows",
        "200000",
        "--holdout",
        "2000",
        "--seconds",
        "20",
        "--ui",
        "127.0.0.1:0",
        "--json",
        "--report",
        report,
    ]);
    let addr = served.addr;

    // Until paused training tasks and scored events have been seen (bounded by the
    // run's own length).
    let mut saw_paused = false;
    let (_, last) = served.scrape_until(Duration::from_secs(60), |metrics| {
        saw_paused |= total(metrics, "neptune_tasks", &["state=\"paused\""]) > 0.0
            || total(metrics, "neptune_suspensions_total", &[]) > 0.0;
        saw_paused && total(metrics, "neptune_app_events_scored_total", &[]) > 0.0
    });
    assert!(saw_paused, "no paused task was seen; last scrape:\n{last}");
    for family in [
        "# TYPE neptune_tasks gauge",
        "# TYPE neptune_suspensions_total counter",
        "# TYPE neptune_pause_to_park_seconds histogram",
        "# TYPE neptune_slot_busy_seconds_total counter",
        "# TYPE neptune_stream_latency_seconds histogram",
        "# TYPE neptune_app_model_version gauge",
        "# TYPE neptune_app_model_accuracy gauge",
        "# TYPE neptune_app_model_staleness_seconds histogram",
        "# TYPE neptune_app_events_scored_total counter",
    ] {
        assert!(last.contains(family), "{family} missing:\n{last}");
    }
    assert!(total(&last, "neptune_app_events_scored_total", &[]) > 0.0);
    let pages = ["/", "/jobs", "/executors", "/timeline", "/api/v1/jobs"];
    for page in pages {
        assert!(get(addr, page).is_some(), "{page} did not answer");
    }
    // Enough seen: stop the run early (its report is checked below from a short run).
    drop(served);
}

#[test]
fn a_short_run_writes_its_report_and_neptune_report_rewrites_it_from_json_lines() {
    let dir = TempDir::new("unified-report");
    let report = dir.path().join("run.html");
    let out = Command::new(env!("CARGO_BIN_EXE_neptune"))
        .args(["run", "unified", "--policy", "neptune", "--slots", "2"])
        .args(["--rows", "100000", "--holdout", "1000", "--seconds", "1.5"])
        .args(["--json", "--report"])
        .arg(&report)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&report).unwrap();
    for section in [
        "Results",
        "Stream latency",
        "Stream p99 over time",
        "Training throughput",
    ] {
        assert!(
            page.contains(&format!("<h2>{section}</h2>")),
            "{section} missing"
        );
    }
    assert!(page.contains("neptune: the last 50 ms"), "no timeline");

    let runs = dir.path().join("run.jsonl");
    std::fs::write(&runs, &out.stdout).unwrap();
    let again = dir.path().join("again.html");
    let status = Command::new(env!("CARGO_BIN_EXE_neptune"))
        .args(["report"])
        .arg(&runs)
        .arg("-o")
        .arg(&again)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    // The same runs, read back: the same results table (the plots may differ by the
    // rounding of the figures the JSON lines carry).
    let results = |page: &str| {
        let start = page.find("<table>").unwrap();
        let end = page.find("</table>").unwrap();
        page[start..end].to_owned()
    };
    let again = std::fs::read_to_string(&again).unwrap();
    assert_eq!(results(&again), results(&page));
    assert_eq!(again.matches("<svg").count(), page.matches("<svg").count());

    // Not a unified run's lines: a clear refusal, nothing written.
    std::fs::write(&runs, "{\"figure\":\"dispatch\"}\n").unwrap();
    let refused = dir.path().join("refused.html");
    let out = Command::new(env!("CARGO_BIN_EXE_neptune"))
        .args(["report"])
        .arg(&runs)
        .arg("-o")
        .arg(&refused)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("line 1: not a unified run's report"));
    assert!(!refused.exists());
}

#[test]
fn mw1_serves_each_neptune_rows_runtime_and_its_parked_batch_tasks() {
    let served = Served::start(&[
        "run",
        "mw1",
        "--rows",
        "stream-alone,neptune,tokio-shared",
        "--slots",
        "2",
        "--seconds",
        "4",
        "--batch-ms",
        "20",
        "--ui",
        "127.0.0.1:0",
        "--json",
    ]);
    let addr = served.addr;
    // Until the NEPTUNE row has paused Batch tasks for the stream (bounded by the
    // run's own length).
    let (seen, last) = served.scrape_until(Duration::from_secs(90), |metrics| {
        total(metrics, "neptune_app_mw1_row", &["row=\"neptune\""]) == 1.0
            && total(metrics, "neptune_suspensions_total", &[]) > 0.0
            && total(metrics, "neptune_app_mw1_batch_units_total", &[]) > 0.0
    });
    assert!(
        seen,
        "no NEPTUNE row with suspensions was seen; last scrape:\n{last}"
    );
    assert_eq!(total(&last, "neptune_app_mw1_rows_done_total", &[]), 1.0);
    assert_eq!(
        total(&last, "neptune_slots", &["executor=\"executor-0\""]),
        2.0
    );
    assert!(!last.contains("neptune_dataflow_tasks"), "{last}");
    let overview = get(addr, "/api/v1/overview").unwrap();
    assert!(overview.contains(r#""deploy":"runtime""#), "{overview}");
    assert!(overview.contains(r#""policy":"neptune""#), "{overview}");
    let timeline = get(addr, "/api/v1/timeline").unwrap();
    assert!(timeline.contains(r#""enabled":true"#), "{timeline}");
    for page in ["/", "/jobs", "/executors", "/timeline"] {
        assert!(get(addr, page).is_some(), "{page} did not answer");
    }
}
