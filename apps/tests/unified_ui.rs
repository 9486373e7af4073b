//! The unified application with `--ui` and `--report`: its live `/metrics`, scraped
//! while it runs under NEPTUNE, has the engine's and the application's families and
//! shows paused tasks; the report it writes, and the one `neptune report` writes from
//! its JSON lines, have every section.

mod common;

use common::{text, TempDir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills a child process when dropped, also when the test fails.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET's body, or `None` if the server did not answer 200.
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut conn = TcpStream::connect(addr).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    conn.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// The sum of a family's samples whose line has every one of `with`.
fn total(metrics: &str, family: &str, with: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .filter(|l| with.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn metrics_scraped_while_it_runs_show_paused_training_and_the_models_figures() {
    let dir = TempDir::new("unified-ui");
    let report = dir.path().join("run.html");
    let child = Command::new(env!("CARGO_BIN_EXE_neptune"))
        .args(["run", "unified", "--policy", "neptune", "--slots", "2"])
        .args(["--rows", "200000", "--holdout", "2000", "--seconds", "20"])
        .args(["--ui", "127.0.0.1:0", "--json", "--report"])
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    // The address comes first on standard error; the rest of it (progress) is drained
    // so the child never blocks on a full pipe.
    let (tx, rx) = mpsc::channel();
    let stderr = child.0.stderr.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("UI: http://") {
                let _ = tx.send(url.trim_end_matches('/').to_owned());
            }
            lines.push(line);
        }
        lines
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the UI's address on standard error")
        .parse()
        .unwrap();

    // Scrape about every 100 ms until paused training tasks and scored events have
    // been seen (bounded by the run's own length).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_paused = false;
    let mut last = String::new();
    while Instant::now() < deadline {
        let Some(metrics) = get(addr, "/metrics") else {
            break; // the run ended and the UI with it
        };
        saw_paused |= total(&metrics, "neptune_tasks", &["state=\"paused\""]) > 0.0
            || total(&metrics, "neptune_suspensions_total", &[]) > 0.0;
        let scored = total(&metrics, "neptune_app_events_scored_total", &[]);
        last = metrics;
        if saw_paused && scored > 0.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
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
    drop(child);
    let _ = drain.join();
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
