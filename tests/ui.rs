//! `neptune::ui` against a running context: a long Batch job that Stream jobs make
//! pause, scraped over plain HTTP, its JSON API parsed, and its pages loaded in
//! headless Chromium.
//!
//! Chromium (`/usr/bin/chromium`, or `NEPTUNE_CHROMIUM`) is optional: without it the
//! browser tests print a note and pass, unless `NEPTUNE_REQUIRE_CHROMIUM=1` (as in CI),
//! which makes them fail.

use neptune::dataflow::{Class, Context, JobHandle};
use neptune::ui::prometheus_client::metrics::gauge::Gauge;
use neptune::ui::{Ui, UiHandle};
use neptune_support::temp::TempDir;
use neptune_support::wait::wait_for;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a read or a browser run in these tests may last: only a hang reaches it.
const BOUND: Duration = neptune_support::wait::DEADLINE;

/// The scene every test looks at: a context of one executor with two slots and the
/// `neptune` policy, whose long Batch job holds both slots; Stream jobs ran through
/// it (the policy paused Batch tasks for them), then both Batch tasks were paused by
/// hand and stay paused. A UI serves it, with one application metric.
struct Scene {
    ctx: Context,
    ui: UiHandle,
    batch: JobHandle<u64>,
    /// Scrapes taken while the Stream jobs ran, and one after.
    scrapes: Vec<String>,
}

fn scene() -> &'static Scene {
    static SCENE: OnceLock<Scene> = OnceLock::new();
    SCENE.get_or_init(|| {
        let ctx = Context::builder()
            .executors(1)
            .slots_per_executor(2)
            .policy("neptune")
            .timeline(4096)
            .build()
            .expect("a context");
        let model_version: Gauge = Gauge::default();
        model_version.set(7);
        let ui = Ui::builder()
            .context(&ctx)
            .bind("127.0.0.1:0")
            .metrics(move |r| r.register("app_model_version", "Model version", model_version))
            .start()
            .expect("the UI starts");

        // Two Batch tasks that run until told to stop: one per slot.
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let batch = ctx
            .generate(2, move |_| {
                let s = s.clone();
                (0u64..).take_while(move |_| !s.load(SeqCst))
            })
            .map(|x| x.wrapping_mul(31))
            .job()
            .count();
        wait_for("both Batch tasks to run", || {
            let tasks = batch.tasks();
            tasks.len() == 2
                && tasks
                    .iter()
                    .all(|t| t.handle.state() == neptune::runtime::TaskState::Running)
        });

        // Stream jobs: each can only run if the policy pauses a Batch task. Scraped
        // all along from another thread.
        let done = Arc::new(AtomicBool::new(false));
        let scraper = {
            let done = done.clone();
            let addr = ui.local_addr();
            std::thread::spawn(move || {
                let mut scrapes = Vec::new();
                while !done.load(SeqCst) {
                    scrapes.push(get(addr, "/metrics").body);
                    // Paced, not to take the cores from the jobs it watches.
                    std::thread::sleep(Duration::from_millis(2));
                }
                scrapes
            })
        };
        for _ in 0..3 {
            let n = ctx
                .range(0..2000, 2)
                .with_class(Class::Stream)
                .map(|x| x * 2)
                .count()
                .expect("the Stream job runs");
            assert_eq!(*n, 2000);
        }
        done.store(true, SeqCst);
        let mut scrapes = scraper.join().expect("the scraper");
        scrapes.push(get(ui.local_addr(), "/metrics").body);

        // Then both Batch tasks are paused by hand, and stay paused: nothing spins
        // while the tests run.
        // Parked means Paused with one more suspension than before the pause (the
        // state alone turns Paused at the request, before the task reaches its slot's
        // suspended queue).
        let before: Vec<u32> = batch
            .tasks()
            .iter()
            .map(|t| t.handle.suspensions())
            .collect();
        for t in batch.tasks() {
            assert!(t.handle.pause());
        }
        wait_for("both Batch tasks to park", || {
            batch.tasks().iter().zip(&before).all(|(t, &before)| {
                t.handle.state() == neptune::runtime::TaskState::Paused
                    && t.handle.suspensions() > before
            })
        });
        Scene {
            ctx,
            ui,
            batch,
            scrapes,
        }
    })
}

/// An HTTP response, as read off the wire.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` (raw bytes) and reads the reply until the server closes.
fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut conn = TcpStream::connect(addr).expect("connect to the UI");
    conn.set_read_timeout(Some(BOUND)).unwrap();
    conn.write_all(request).expect("send the request");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("read the reply");
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a reply head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {status_line}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    let request = format!("GET {path} HTTP/1.1\r\nHost: ui\r\nConnection: close\r\n\r\n");
    exchange(addr, request.as_bytes())
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let reply = get(addr, path);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", reply.body))
}

/// A metric family of the exposition text: its type and samples (name with suffix,
/// labels, value).
#[derive(Debug, Default)]
struct Family {
    kind: String,
    samples: Vec<(String, HashMap<String, String>, f64)>,
}

/// Parses the Prometheus text format (0.0.4) strictly enough to catch a malformed
/// line: every sample belongs to a family declared by a `# TYPE` line before it,
/// names and label names are well formed, label values are quoted and escaped, and
/// values are numbers.
fn parse_exposition(text: &str) -> HashMap<String, Family> {
    fn is_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut families: HashMap<String, Family> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(is_name(name), "HELP of a bad name: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(is_name(name), "TYPE of a bad name: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "unknown type: {line}"
            );
            let old = families.insert(
                name.to_owned(),
                Family {
                    kind: kind.to_owned(),
                    samples: Vec::new(),
                },
            );
            assert!(old.is_none(), "family declared twice: {name}");
            current = Some(name.to_owned());
            continue;
        }
        assert!(
            !line.starts_with('#'),
            "a comment of an unknown kind: {line}"
        );
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("a sample without a value: {line}"),
        };
        assert!(is_name(name), "a sample of a bad name: {line}");
        let mut labels = HashMap::new();
        let rest = if let Some(mut l) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = l.strip_prefix('}') {
                    break after;
                }
                let (key, after) = l.split_once("=\"").expect("label=\"value\"");
                assert!(is_name(key), "a bad label name: {line}");
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((i, '"')) => break i,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, c @ ('\\' | '"'))) => value.push(c),
                            other => panic!("a bad escape {other:?}: {line}"),
                        },
                        Some((_, c)) => value.push(c),
                        None => panic!("an unterminated label value: {line}"),
                    }
                };
                labels.insert(key.to_owned(), value);
                l = &after[end + 1..];
                l = l.strip_prefix(',').unwrap_or(l);
            }
        } else {
            rest
        };
        let value = rest.trim();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("a bad value: {line}")),
        };
        let family = current.as_ref().expect("a sample before any TYPE line");
        let f = families.get_mut(family).unwrap();
        let belongs = name == family
            || (f.kind == "histogram"
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name == format!("{family}{s}")));
        assert!(belongs, "sample {name} under family {family}");
        f.samples.push((name.to_owned(), labels, value));
    }
    families
}

/// The sum of the samples named `name` whose labels include `with` (a histogram's
/// `_count`, `_sum` and `_bucket` samples are found under their family).
fn total(families: &HashMap<String, Family>, name: &str, with: &[(&str, &str)]) -> f64 {
    let family = ["_count", "_sum", "_bucket"]
        .iter()
        .filter_map(|s| name.strip_suffix(s))
        .find(|base| families.get(*base).is_some_and(|f| f.kind == "histogram"))
        .unwrap_or(name);
    let f = families
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    f.samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name
                && with
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[test]
fn metrics_are_well_formed_prometheus_text_and_saw_paused_tasks() {
    let scene = scene();
    let reply = get(scene.ui.local_addr(), "/metrics");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let families = parse_exposition(&reply.body);
    for (name, kind) in [
        ("neptune_tasks", "gauge"),
        ("neptune_dataflow_tasks", "gauge"),
        ("neptune_task_paused_seconds_total", "counter"),
        ("neptune_tasks_ended_total", "counter"),
        ("neptune_suspensions_total", "counter"),
        ("neptune_resumes_total", "counter"),
        ("neptune_pause_to_park_seconds", "histogram"),
        ("neptune_resume_to_poll_seconds", "histogram"),
        ("neptune_stream_latency_seconds", "histogram"),
        ("neptune_slot_busy_seconds_total", "counter"),
        ("neptune_records_read_total", "counter"),
        ("neptune_wasted_task_seconds_total", "counter"),
        ("neptune_policy_switches_total", "counter"),
        ("neptune_policy_mode", "gauge"),
        ("neptune_jobs_ended_total", "counter"),
        ("app_model_version", "gauge"),
    ] {
        let f = families
            .get(name)
            .unwrap_or_else(|| panic!("no family {name} in:\n{}", reply.body));
        assert_eq!(f.kind, kind, "{name}");
    }
    for name in families.keys().filter(|n| n.starts_with("neptune_")) {
        for (_, labels, _) in &families[name].samples {
            for key in labels.keys() {
                assert!(
                    ["executor", "slot", "class", "state", "policy", "mode", "le"]
                        .contains(&key.as_str()),
                    "{name} has a high-cardinality label {key}"
                );
            }
        }
    }

    // Now: both Batch tasks paused by hand, parked in their slots' suspended queues.
    for family in ["neptune_tasks", "neptune_dataflow_tasks"] {
        assert_eq!(
            total(
                &families,
                family,
                &[("class", "batch"), ("state", "paused")]
            ),
            2.0,
            "{family}"
        );
        assert_eq!(
            total(
                &families,
                family,
                &[("class", "batch"), ("state", "running")]
            ),
            0.0,
            "{family}"
        );
    }
    for class in ["stream", "batch"] {
        assert!(
            total(
                &families,
                "neptune_slot_busy_seconds_total",
                &[("class", class)]
            ) > 0.0,
            "{class} busy time"
        );
    }
    assert_eq!(total(&families, "app_model_version", &[]), 7.0);
    assert_eq!(
        total(
            &families,
            "neptune_policy_mode",
            &[("executor", "executor-0"), ("policy", "neptune")]
        ),
        1.0
    );
    // The Stream jobs ran, and their tasks' latency was recorded.
    assert_eq!(
        total(
            &families,
            "neptune_jobs_ended_total",
            &[("class", "stream"), ("state", "succeeded")]
        ),
        3.0
    );
    assert!(total(&families, "neptune_stream_latency_seconds_count", &[]) > 0.0);
    assert_eq!(
        total(
            &families,
            "neptune_records_read_total",
            &[("class", "stream")]
        ),
        6000.0
    );

    // While the Stream jobs ran, the policy paused Batch tasks for them: some scrape
    // saw a suspension (the last one, taken after, always does).
    assert!(!scene.scrapes.is_empty());
    let saw_pause = scene.scrapes.iter().any(|text| {
        let f = parse_exposition(text);
        total(&f, "neptune_suspensions_total", &[]) > 0.0
            || total(&f, "neptune_tasks", &[("state", "paused")]) > 0.0
    });
    assert!(saw_pause, "no scrape saw a paused task or a suspension");
}

#[test]
fn the_json_api_lists_running_and_finished_jobs_with_paused_tasks() {
    let scene = scene();
    let addr = scene.ui.local_addr();
    let jobs = get_json(addr, "/api/v1/jobs");
    let jobs = jobs.as_array().unwrap();
    assert_eq!(
        jobs.len(),
        4,
        "the Batch job and three Stream jobs: {jobs:?}"
    );
    let batch = &jobs[0];
    assert_eq!(batch["jobId"], scene.batch.id().0);
    assert_eq!(batch["name"], "count at map#1");
    assert_eq!(batch["class"], "Batch");
    assert_eq!(batch["status"], "RUNNING");
    assert_eq!(batch["numActiveTasks"], 2);
    assert_eq!(batch["numPausedTasks"], 2);
    assert!(batch["completionTime"].is_null());
    assert!(batch["submissionTime"].as_str().unwrap().ends_with("GMT"));
    for stream in &jobs[1..] {
        assert_eq!(stream["class"], "Stream");
        assert_eq!(stream["status"], "SUCCEEDED");
        assert_eq!(stream["numCompletedTasks"], 2);
        assert_eq!(stream["stageIds"], serde_json::json!([0]));
        assert!(stream["completionTime"].is_string());
    }
    let one = get_json(addr, &format!("/api/v1/jobs/{}", scene.batch.id().0));
    assert_eq!(one["jobId"], batch["jobId"]);

    let running = get_json(addr, "/api/v1/jobs?status=running");
    assert_eq!(running.as_array().unwrap().len(), 1);

    let stages = get_json(addr, "/api/v1/stages");
    let stages = stages.as_array().unwrap();
    assert_eq!(stages.len(), 4);
    assert_eq!(stages[0]["status"], "ACTIVE");
    assert_eq!(stages[0]["numPausedTasks"], 2);
    assert_eq!(stages[0]["kind"], "Result");
    assert!(stages[1..].iter().all(|s| s["status"] == "COMPLETE"));

    let paused = get_json(addr, "/api/v1/tasks?status=paused");
    let paused = paused.as_array().unwrap();
    assert_eq!(paused.len(), 2);
    for t in paused {
        assert_eq!(t["class"], "Batch");
        assert_eq!(t["executorId"], "executor-0");
        assert_eq!(t["attempt"], 0);
        assert!(t["slot"].as_u64().is_some_and(|s| s < 2));
        assert!(t["suspensions"].as_u64().unwrap() >= 1);
        assert!(t["pausedTime"].is_f64(), "{t}");
        assert!(t["runtimeTaskId"].is_u64(), "{t}");
    }
    let tasks = get_json(addr, "/api/v1/tasks");
    let succeeded = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "SUCCESS")
        .count();
    assert_eq!(succeeded, 6);

    let executors = get_json(addr, "/api/v1/executors");
    let e = &executors[0];
    assert_eq!(e["id"], "executor-0");
    assert_eq!(e["totalCores"], 2);
    assert_eq!(e["pausedTasks"], 2);
    assert_eq!(e["completedTasks"], 6);
    assert_eq!(e["policy"], "neptune");
    assert_eq!(e["slots"].as_array().unwrap().len(), 2);
    let parked: u64 = e["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pausedTasks"].as_u64().unwrap())
        .sum();
    assert_eq!(parked, 2);

    let overview = get_json(addr, "/api/v1/overview");
    assert_eq!(overview["policy"], "neptune");
    assert_eq!(overview["tasks"]["paused"], 2);
    assert_eq!(overview["tasksByClass"]["batch"]["paused"], 2);
    assert!(overview["suspensions"].as_u64().unwrap() >= 2);
    assert!(overview["streamLatency"]["count"].as_u64().unwrap() > 0);
    assert_eq!(scene.ctx.status().jobs.len(), 4);

    // Everything the slots' rings hold: Stream runs, Batch runs, and the two Batch
    // tasks parked now as open PAUSED spans, named after their dataflow tasks.
    let timeline = get_json(addr, "/api/v1/timeline?window=600");
    assert_eq!(timeline["enabled"], true);
    assert_eq!(timeline["window"], 600.0);
    let slots = timeline["executors"][0]["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 2);
    let spans: Vec<&Value> = slots
        .iter()
        .flat_map(|s| s["spans"].as_array().unwrap())
        .collect();
    for kind in ["stream", "batch", "paused"] {
        assert!(spans.iter().any(|s| s["kind"] == kind), "no {kind} span");
    }
    let mut open: Vec<&str> = spans
        .iter()
        .filter(|s| s["kind"] == "paused" && s["open"] == true)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    open.sort();
    let job = scene.batch.id().0;
    assert_eq!(
        open,
        [
            format!("job-{job}/stage-0/part-0"),
            format!("job-{job}/stage-0/part-1")
        ]
    );
    for s in &spans {
        let (start, end) = (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap());
        assert!(0.0 <= start && start <= end && end <= 600.0, "{s}");
    }
}

#[test]
fn bad_requests_are_refused_and_the_server_survives_garbage() {
    let addr = scene().ui.local_addr();
    let missing = get(addr, "/nowhere");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body, "not found: /nowhere\n");
    assert_eq!(get(addr, "/api/v1/jobs/not-a-number").status, 404);
    assert_eq!(get(addr, "/api/v1/jobs/999999").status, 404);
    assert_eq!(get(addr, "/api/v2/jobs").status, 404);

    let post = exchange(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: ui\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET"));
    let delete = exchange(
        addr,
        b"DELETE / HTTP/1.1\r\nHost: ui\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(delete.status, 405);

    // Garbage, then a connection closed halfway through a request head: each loses
    // only its own connection.
    let mut garbage = TcpStream::connect(addr).unwrap();
    garbage.set_read_timeout(Some(BOUND)).unwrap();
    garbage
        .write_all(b"\x00\xff\x13 NOT HTTP AT ALL \r\n\x7f\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = garbage.read_to_end(&mut answer);
    if !answer.is_empty() {
        assert!(
            answer.starts_with(b"HTTP/1.1 400"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    let mut cut = TcpStream::connect(addr).unwrap();
    cut.write_all(b"GET /metr").unwrap();
    drop(cut);
    let reply = get(addr, "/api/v1/overview");
    assert_eq!(reply.status, 200);
}

#[test]
fn a_ui_stops_when_shut_down_and_needs_something_to_show() {
    let ctx = &scene().ctx;
    let ui = Ui::builder()
        .context(ctx)
        .bind("127.0.0.1:0")
        .start()
        .unwrap();
    let addr = ui.local_addr();
    assert_eq!(ui.url(), format!("http://{addr}/"));
    assert_eq!(get(addr, "/api/v1/executors").status, 200);
    ui.shutdown();
    // The listener is closed when `shutdown` returns, but a child process that another
    // test is starting holds copies of this process's descriptors until it execs (close
    // on exec acts only then), the listener's among them: a connect right after
    // `shutdown` once succeeded, most likely through that window.
    wait_for("the listener to close", || {
        TcpStream::connect(addr).is_err()
    });

    let err = Ui::builder().bind("127.0.0.1:0").start().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = Ui::builder()
        .context(ctx)
        .bind("not an address")
        .start()
        .unwrap_err();
    assert!(!err.to_string().is_empty());
}

#[test]
fn a_ui_follows_the_context_it_is_given() {
    let first = Context::builder().slots_per_executor(1).build().unwrap();
    let second = Context::builder().slots_per_executor(1).build().unwrap();
    let ui = Ui::builder()
        .context(&first)
        .bind("127.0.0.1:0")
        .start()
        .unwrap();
    let addr = ui.local_addr();
    first.range(0..10, 1).count().unwrap();
    let names = |addr| -> Vec<String> {
        get_json(addr, "/api/v1/jobs")
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(addr), ["count at range#0"]);

    ui.set_context(&second);
    drop(first);
    assert!(
        names(addr).is_empty(),
        "the new context has run nothing yet"
    );
    second.range(0..10, 1).map(|x| x + 1).count().unwrap();
    assert_eq!(names(addr), ["count at map#1"]);
    assert_eq!(get(addr, "/metrics").status, 200);
}

/// A Batch task spinning on a bare runtime, paused by hand and parked, and a Stream
/// task run to its end: the same routes serve the runtime as one executor.
#[test]
fn a_ui_shows_a_bare_runtime_and_its_paused_task() {
    use neptune::runtime::{Builder, SpawnOptions, TaskState};
    let rt = Builder::new()
        .slots(2)
        .thread_name("neptune-ui-bare")
        .timeline(1024)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicBool::new(false));
    let (s, r) = (stop.clone(), ran.clone());
    let spinner = rt.spawn(async move {
        while !s.load(SeqCst) {
            r.store(true, SeqCst);
            neptune::runtime::preemption_point().await;
        }
    });
    let task = spinner.task();
    wait_for("the Batch task to run", || ran.load(SeqCst));
    assert!(task.pause());
    wait_for("the Batch task to park", || {
        task.state() == TaskState::Paused && task.suspensions() == 1
    });
    assert_eq!(
        rt.block_on(rt.spawn_with(SpawnOptions::stream(), async { 7 }))
            .unwrap(),
        7
    );
    let ui = Ui::builder()
        .runtime(rt.handle())
        .bind("127.0.0.1:0")
        .start()
        .unwrap();
    let addr = ui.local_addr();

    let families = parse_exposition(&get(addr, "/metrics").body);
    let e0 = ("executor", "executor-0");
    assert_eq!(total(&families, "neptune_slots", &[e0]), 2.0);
    assert_eq!(
        total(
            &families,
            "neptune_tasks",
            &[e0, ("class", "batch"), ("state", "paused")]
        ),
        1.0
    );
    assert_eq!(total(&families, "neptune_suspensions_total", &[e0]), 1.0);
    assert_eq!(total(&families, "neptune_suspended_tasks", &[e0]), 1.0);
    assert!(total(&families, "neptune_stream_latency_seconds_count", &[e0]) >= 1.0);
    // No board: the dataflow families are left out rather than shown as zeros.
    assert!(!families.contains_key("neptune_dataflow_tasks"));

    let overview = get_json(addr, "/api/v1/overview");
    assert_eq!(overview["deploy"], "runtime");
    assert_eq!(overview["placement"], "none");
    assert_eq!(overview["executors"], 1);
    assert_eq!(overview["slots"], 2);
    assert_eq!(overview["tasks"]["paused"], 1);
    assert_eq!(overview["tasksByClass"]["batch"]["paused"], 1);
    assert_eq!(overview["tasksSucceeded"]["stream"], 1);
    let executors = get_json(addr, "/api/v1/executors");
    let e = &executors[0];
    assert_eq!(e["id"], "executor-0");
    assert_eq!(e["pausedTasks"], 1);
    assert_eq!(e["suspendedTasks"], 1);
    assert_eq!(e["slots"].as_array().unwrap().len(), 2);
    assert_eq!(get_json(addr, "/api/v1/jobs"), serde_json::json!([]));
    assert_eq!(get_json(addr, "/api/v1/tasks"), serde_json::json!([]));
    let timeline = get_json(addr, "/api/v1/timeline?window=600");
    assert_eq!(timeline["enabled"], true);
    let open: Vec<&Value> = timeline["executors"][0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["spans"].as_array().unwrap())
        .filter(|s| s["kind"] == "paused" && s["open"] == true)
        .collect();
    assert_eq!(open.len(), 1, "{timeline}");
    assert_eq!(open[0]["runtimeTaskId"], task.id().as_u64());
    for page in ["/", "/jobs", "/executors", "/timeline"] {
        assert_eq!(get(addr, page).status, 200, "{page}");
    }
    if let Some(browser) = chromium() {
        let overview = dump_dom(&browser, &ui.url());
        assert!(
            overview.contains(r#"<div class="big" id="paused-count">1</div>"#),
            "{overview}"
        );
        assert!(overview.contains("placement none"), "{overview}");
        let timeline = dump_dom(&browser, &format!("{}timeline", ui.url()));
        assert_eq!(
            timeline.matches(r#"class="span paused""#).count(),
            1,
            "{timeline}"
        );
    }

    // The UI follows the next runtime it is given.
    let next = Builder::new().slots(1).build().unwrap();
    ui.set_runtime(next.handle());
    let families = parse_exposition(&get(addr, "/metrics").body);
    assert_eq!(total(&families, "neptune_slots", &[e0]), 1.0);
    assert_eq!(get_json(addr, "/api/v1/overview")["tasks"]["paused"], 0);

    stop.store(true, SeqCst);
    assert!(task.resume());
    rt.block_on(spinner).unwrap();
}

/// Headless Chromium, if this machine has it.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("NEPTUNE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("NEPTUNE_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
        "NEPTUNE_REQUIRE_CHROMIUM=1 but there is no Chromium at {}",
        path.display()
    );
    eprintln!(
        "note: no Chromium at {}: the browser checks are skipped",
        path.display()
    );
    None
}

/// A browser process, killed if it outlives the test's wait (or the test panics).
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Runs Chromium headless on `url` with `extra` arguments; its standard output.
fn run_chromium(browser: &Path, url: &str, extra: &[String]) -> String {
    let profile = TempDir::new("profile");
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Browser(command.spawn().expect("Chromium starts"));
    let mut stdout = child.0.stdout.take().unwrap();
    // Read on another thread: a full pipe must not stall the browser.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "Chromium did not finish within {BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "Chromium failed: {status}");
    reader.join().unwrap()
}

fn dump_dom(browser: &Path, url: &str) -> String {
    run_chromium(browser, url, &["--dump-dom".to_owned()])
}

#[test]
fn pages_render_in_a_browser() {
    let Some(browser) = chromium() else {
        return;
    };
    let scene = scene();
    let base = scene.ui.url();

    let overview = dump_dom(&browser, &base);
    assert!(
        overview.contains("<title>Neptune · Overview</title>"),
        "{overview}"
    );
    assert!(
        overview.contains(r#"<div class="big" id="policy">neptune</div>"#),
        "{overview}"
    );
    assert!(overview.contains("PAUSED tasks"), "{overview}");
    assert!(
        overview.contains(r#"<div class="big" id="paused-count">2</div>"#),
        "{overview}"
    );
    assert!(overview.contains("Stream latency"), "{overview}");
    // The page's refresh fetched the API again at least once.
    assert!(
        overview.contains(r#"<span id="live" class="live">live · "#),
        "{overview}"
    );

    let jobs = dump_dom(&browser, &format!("{base}jobs"));
    assert!(jobs.contains("count at map#1"), "{jobs}");
    assert!(jobs.contains("count at map#3"), "{jobs}");
    assert!(
        jobs.contains(r#"<span class="badge st-paused">PAUSED</span>"#),
        "{jobs}"
    );
    assert!(jobs.contains("Tasks running now (2, 2 PAUSED)"), "{jobs}");
    assert!(
        jobs.contains(r#"<span class="badge cl-stream">Stream</span>"#),
        "{jobs}"
    );

    let executors = dump_dom(&browser, &format!("{base}executors"));
    assert!(executors.contains("executor-0: slots"), "{executors}");
    assert!(executors.contains("Executors (1)"), "{executors}");

    // The two parked Batch tasks are drawn as PAUSED intervals on their slots.
    let timeline = dump_dom(&browser, &format!("{base}timeline"));
    assert!(timeline.contains(r#"<svg id="timeline""#), "{timeline}");
    assert!(
        timeline.contains("slot 0") && timeline.contains("slot 1"),
        "{timeline}"
    );
    assert_eq!(
        timeline.matches(r#"class="span paused""#).count(),
        2,
        "{timeline}"
    );
    assert!(timeline.contains("PAUSED job-"), "{timeline}");
    // Over the whole scene: the Stream jobs' runs and the Batch runs before the pause.
    let whole = dump_dom(&browser, &format!("{base}timeline?window=600"));
    assert!(whole.contains("the last 10.0 min of every slot"), "{whole}");
    assert!(whole.contains(r#"class="span stream""#), "{whole}");
    assert!(whole.contains(r#"class="span batch""#), "{whole}");
    assert!(
        !whole.contains("window=600<"),
        "the query is not echoed raw"
    );
}

#[test]
fn screenshots_of_the_pages_are_pngs() {
    let Some(browser) = chromium() else {
        return;
    };
    let scene = scene();
    // Under the target directory (target/ui/), for a person to look at.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("ui");
    std::fs::create_dir_all(&dir).unwrap();
    // The timeline over the whole scene (it began seconds ago), Stream and Batch runs
    // included.
    let pages = [
        ("", "overview"),
        ("jobs", "jobs"),
        ("timeline?window=8", "timeline"),
    ];
    for (page, file) in pages {
        let png = dir.join(format!("{file}.png"));
        let _ = std::fs::remove_file(&png);
        run_chromium(
            &browser,
            &format!("{}{page}", scene.ui.url()),
            &[
                format!("--screenshot={}", png.display()),
                "--window-size=1280,900".to_owned(),
                "--hide-scrollbars".to_owned(),
            ],
        );
        let bytes = std::fs::read(&png).expect("the screenshot was written");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{file}: not a PNG");
        assert!(bytes.len() > 1000, "{file}: an empty image");
        println!("screenshot: {}", png.display());
    }
}
