//! The JSON API (`/api/v1/...`), shaped like Spark's monitoring REST API.
//!
//! `jobs`, `stages` and `tasks` are the context's status board
//! ([`Context::status`](neptune_dataflow::Context::status)) as it is; each takes an
//! optional `?status=` filter (`running`, `paused`, `succeeded`, … as the entries
//! write it, in any case). `executors` merges what the board counts per executor with
//! each local executor's runtime (slots, policy, per-slot counters) or, in cluster
//! mode, with the driver's view from heartbeats. `overview` is Neptune's own summary
//! for the overview page: policy, task counts by state, latency percentiles, totals.

use super::shown::{shown_now, Current, Local, Shown};
use neptune_dataflow::status::{ExecutorTasks, Status, StatusSummary, TaskState};
use neptune_runtime::metrics::{HistogramSnapshot, RuntimeMetrics};
use neptune_runtime::Class;
use serde::Serialize;
use std::time::{Instant, SystemTime};

/// What a UI serves from: what it shows now, and when the UI started.
pub(crate) struct Source {
    pub(crate) current: Current,
    pub(crate) started: Instant,
    pub(crate) started_wall: SystemTime,
}

impl Source {
    /// What is shown now.
    pub(crate) fn shown(&self) -> Shown {
        shown_now(&self.current)
    }
}

/// Percentiles of a latency histogram, in seconds (`null` when it is empty).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Percentiles {
    count: u64,
    p50: Option<f64>,
    p90: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    max: Option<f64>,
    mean: Option<f64>,
}

impl Percentiles {
    fn of(h: &HistogramSnapshot) -> Percentiles {
        let q = |q: f64| h.quantile(q).map(|d| d.as_secs_f64());
        let count = h.count();
        Percentiles {
            count,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: (count > 0).then(|| h.max().as_secs_f64()),
            mean: (count > 0).then(|| h.sum().as_secs_f64() / count as f64),
        }
    }
}

/// A pair of figures, one per class.
#[derive(Serialize, Default)]
pub(crate) struct PerClass<T> {
    stream: T,
    batch: T,
}

impl<T: Copy> PerClass<T> {
    fn of(v: [T; 2]) -> PerClass<T> {
        PerClass {
            stream: v[Class::Stream.index()],
            batch: v[Class::Batch.index()],
        }
    }
}

/// Tasks by state.
#[derive(Serialize, Default, Clone, Copy)]
pub(crate) struct TaskCounts {
    running: usize,
    paused: usize,
}

/// `/api/v1/overview`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Overview {
    /// When the UI started.
    start_time: String,
    /// Seconds since the UI started.
    uptime: f64,
    /// `local` or `cluster` (a context's), or `runtime` (a bare runtime).
    deploy: &'static str,
    /// The executors' scheduling policy (several joined by `, `; cluster mode: their
    /// own, not known to the driver).
    policy: String,
    /// The mode the policy uses now (its name for a policy without modes).
    mode: String,
    /// Times the executors' policies were replaced or changed mode.
    policy_switches: u64,
    placement: String,
    executors: usize,
    slots: usize,
    /// Dataflow tasks running now, by state, in all and per class.
    tasks: TaskCounts,
    tasks_by_class: PerClass<TaskCounts>,
    /// Runtime tasks alive on the local executors (job drivers included).
    live_runtime_tasks: usize,
    jobs_active: PerClass<usize>,
    jobs_succeeded: PerClass<u64>,
    jobs_failed: PerClass<u64>,
    tasks_succeeded: PerClass<u64>,
    tasks_failed: PerClass<u64>,
    tasks_killed: PerClass<u64>,
    records_read: PerClass<u64>,
    records_written: PerClass<u64>,
    wasted_seconds: PerClass<f64>,
    /// Runtime suspensions (parks) and resumes, every slot together.
    suspensions: u64,
    resumes: u64,
    suspended_tasks: usize,
    suspended_bytes: usize,
    stream_latency: Percentiles,
    pause_to_park: Percentiles,
    resume_to_poll: Percentiles,
}

fn merged(
    metrics: &[Local],
    f: impl Fn(&RuntimeMetrics) -> HistogramSnapshot,
) -> HistogramSnapshot {
    let mut h = HistogramSnapshot::default();
    for l in metrics {
        h.merge(&f(&l.metrics));
    }
    h
}

/// Running and paused dataflow tasks of `class` on the board.
fn task_counts(status: &StatusSummary, classes: &[Class]) -> TaskCounts {
    let mut counts = TaskCounts::default();
    for c in classes {
        counts.running += status.running_tasks[c.index()];
        counts.paused += status.paused_tasks[c.index()];
    }
    counts
}

/// The distinct values `f` gives over `metrics`, joined.
fn joined(metrics: &[Local], f: impl Fn(&RuntimeMetrics) -> String) -> String {
    let mut names: Vec<String> = metrics.iter().map(|l| f(&l.metrics)).collect();
    names.dedup();
    names.join(", ")
}

pub(crate) fn overview(source: &Source, shown: &Shown, status: &StatusSummary) -> Overview {
    let metrics = shown.locals();
    let cluster = shown.cluster();
    let t = &status.totals;
    let active = |c: Class| status.active_jobs[c.index()];
    let (policy, mode) = if metrics.is_empty() {
        let own = "set on each executor".to_owned();
        (own.clone(), own)
    } else {
        (
            joined(&metrics, |m| m.policy.name.clone()),
            joined(&metrics, |m| m.policy.active().to_owned()),
        )
    };
    let sum =
        |f: &dyn Fn(&RuntimeMetrics) -> u64| metrics.iter().map(|l| f(&l.metrics)).sum::<u64>();
    Overview {
        start_time: neptune_dataflow::status::spark_time(source.started_wall),
        uptime: source.started.elapsed().as_secs_f64(),
        deploy: match (shown.has_board(), cluster.is_some()) {
            (false, _) => "runtime",
            (true, true) => "cluster",
            (true, false) => "local",
        },
        policy,
        mode,
        policy_switches: sum(&|m| m.policy.switches_total()),
        placement: shown.placement(),
        executors: cluster.as_ref().map_or(metrics.len(), |c| c.live.len()),
        slots: cluster.as_ref().map_or_else(
            || metrics.iter().map(|l| l.metrics.slots.len()).sum(),
            |c| c.live.iter().map(|m| m.slots).sum(),
        ),
        tasks: task_counts(status, &[Class::Stream, Class::Batch]),
        tasks_by_class: PerClass {
            stream: task_counts(status, &[Class::Stream]),
            batch: task_counts(status, &[Class::Batch]),
        },
        live_runtime_tasks: metrics.iter().map(|l| l.metrics.live_tasks).sum(),
        jobs_active: PerClass {
            stream: active(Class::Stream),
            batch: active(Class::Batch),
        },
        jobs_succeeded: PerClass::of(t.jobs_succeeded),
        jobs_failed: PerClass::of(t.jobs_failed),
        tasks_succeeded: PerClass::of(t.tasks_succeeded),
        tasks_failed: PerClass::of(t.tasks_failed),
        tasks_killed: PerClass::of(t.tasks_killed),
        records_read: PerClass::of(t.input_records),
        records_written: PerClass::of(t.output_records),
        wasted_seconds: PerClass::of(t.wasted_seconds),
        suspensions: sum(&|m| m.total(|s| s.parks)),
        resumes: sum(&|m| m.total(|s| s.resumes)),
        suspended_tasks: metrics
            .iter()
            .map(|l| l.metrics.slots.iter().map(|s| s.suspended).sum::<usize>())
            .sum::<usize>()
            + cluster
                .as_ref()
                .map_or(0, |c| c.live.iter().map(|m| m.suspended).sum()),
        suspended_bytes: metrics.iter().map(|l| l.metrics.suspended_bytes()).sum(),
        stream_latency: Percentiles::of(&merged(&metrics, RuntimeMetrics::stream_latency)),
        pause_to_park: Percentiles::of(&merged(&metrics, RuntimeMetrics::pause_to_park)),
        resume_to_poll: Percentiles::of(&merged(&metrics, RuntimeMetrics::resume_to_poll)),
    }
}

/// One slot of a local executor.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SlotJson {
    slot: usize,
    polls: u64,
    tasks_finished: PerClass<u64>,
    steals: u64,
    suspensions: u64,
    resumes: u64,
    suspended_tasks: usize,
    suspended_bytes: usize,
    /// Seconds spent polling Stream tasks.
    stream_busy: f64,
    /// Seconds asleep with no work.
    idle: f64,
    /// Dataflow tasks on this slot now (as the board last saw them run).
    running_tasks: usize,
    paused_tasks: usize,
}

/// `/api/v1/executors`: one entry per executor.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecutorJson {
    /// `executor-N`.
    id: String,
    /// Where it runs: `local` (this process), or the node name from its certificate.
    host_port: String,
    is_active: bool,
    total_cores: usize,
    max_tasks: usize,
    active_tasks: usize,
    paused_tasks: usize,
    completed_tasks: u64,
    failed_tasks: u64,
    killed_tasks: u64,
    total_tasks: u64,
    /// Milliseconds its finished dataflow tasks took, launch to end.
    total_duration: f64,
    /// Bytes in use (cluster: at the last heartbeat; local: shuffle bytes held).
    memory_used: u64,
    policy: Option<String>,
    mode: Option<String>,
    suspended_tasks: usize,
    /// Local mode: per slot.
    slots: Vec<SlotJson>,
    /// Cluster mode: heartbeats received and seconds since the last one.
    heartbeats: Option<usize>,
    last_heartbeat_age: Option<f64>,
    pid: Option<u32>,
}

impl ExecutorJson {
    /// An active executor `id` of `cores` slots with the board's counts `t`; the
    /// fields only one kind of executor has are left empty.
    fn new(
        id: String,
        t: &ExecutorTasks,
        host_port: String,
        cores: usize,
        memory_used: u64,
        suspended_tasks: usize,
    ) -> ExecutorJson {
        ExecutorJson {
            id,
            host_port,
            is_active: true,
            total_cores: cores,
            max_tasks: cores,
            active_tasks: t.active_tasks,
            paused_tasks: t.paused_tasks,
            completed_tasks: t.completed_tasks,
            failed_tasks: t.failed_tasks,
            killed_tasks: t.killed_tasks,
            // Every task attempt it was given: finished, or running now.
            total_tasks: t.completed_tasks
                + t.failed_tasks
                + t.killed_tasks
                + t.active_tasks as u64,
            total_duration: t.total_duration,
            memory_used,
            policy: None,
            mode: None,
            suspended_tasks,
            slots: Vec::new(),
            heartbeats: None,
            last_heartbeat_age: None,
            pid: None,
        }
    }
}

pub(crate) fn executors(shown: &Shown, status: &Status) -> Vec<ExecutorJson> {
    let tasks_of = |id: &str| -> ExecutorTasks {
        status
            .executors
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for local in shown.locals() {
        let id = format!("executor-{}", local.id);
        let m = local.metrics;
        let t = tasks_of(&id);
        let on_slot = |slot: usize, state: TaskState| {
            status
                .tasks
                .iter()
                .filter(|task| task.executor_id == id && task.slot == Some(slot))
                .filter(|task| task.status == state)
                .count()
        };
        let slots = m
            .slots
            .iter()
            .map(|s| SlotJson {
                slot: s.slot,
                polls: s.polls,
                tasks_finished: PerClass::of(s.tasks_run),
                steals: s.steals,
                suspensions: s.parks,
                resumes: s.resumes,
                suspended_tasks: s.suspended,
                suspended_bytes: s.suspended_bytes,
                stream_busy: s.stream_busy.as_secs_f64(),
                idle: s.idle.as_secs_f64(),
                running_tasks: on_slot(s.slot, TaskState::Running),
                paused_tasks: on_slot(s.slot, TaskState::Paused),
            })
            .collect();
        let suspended = m.slots.iter().map(|s| s.suspended).sum();
        out.push(ExecutorJson {
            policy: Some(m.policy.name.clone()),
            mode: Some(m.policy.active().to_owned()),
            slots,
            ..ExecutorJson::new(
                id,
                &t,
                "local".to_owned(),
                m.slots.len(),
                local.memory,
                suspended,
            )
        });
    }
    if let Some(cluster) = shown.cluster() {
        for m in cluster.live {
            let id = format!("executor-{}", m.id);
            let t = tasks_of(&id);
            out.push(ExecutorJson {
                heartbeats: Some(m.heartbeats),
                last_heartbeat_age: Some(m.since_heard.as_secs_f64()),
                pid: Some(m.pid),
                ..ExecutorJson::new(
                    id,
                    &t,
                    m.name.clone(),
                    m.slots,
                    m.memory_in_use,
                    m.suspended,
                )
            });
        }
    }
    out
}

/// The value of `key` in a query string (`a=1&b=2`), if given.
pub(crate) fn query_param<'q>(query: Option<&'q str>, key: &str) -> Option<&'q str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Whether a serialised status (as `"RUNNING"`) passes a `?status=` filter.
pub(crate) fn status_matches<S: Serialize>(status: &S, filter: Option<&str>) -> bool {
    let Some(filter) = filter else {
        return true;
    };
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(s)) => s.eq_ignore_ascii_case(filter),
        _ => false,
    }
}

/// The window `/api/v1/timeline` shows unless `?window=SECONDS` says otherwise.
pub(crate) const TIMELINE_WINDOW: f64 = 2.0;

/// `/api/v1/timeline`: every local executor slot's recent spans.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TimelineJson {
    /// Whether any executor records a timeline.
    enabled: bool,
    /// Seconds shown: spans are given from the window's start (0) to now (`window`).
    window: f64,
    executors: Vec<ExecutorTimeline>,
}

#[derive(Serialize)]
pub(crate) struct ExecutorTimeline {
    id: String,
    slots: Vec<SlotSpans>,
}

#[derive(Serialize)]
pub(crate) struct SlotSpans {
    slot: usize,
    spans: Vec<SpanJson>,
}

/// One span, its times in seconds from the window's start (cut at it).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SpanJson {
    /// `stream`, `batch` or `paused`.
    kind: &'static str,
    runtime_task_id: u64,
    /// The dataflow task (`job-J/stage-S/part-P`), when the status board knows it.
    name: Option<String>,
    start: f64,
    end: f64,
    /// Still going: a task parked now.
    open: bool,
}

/// The last `window` seconds of every local executor's timeline, spans named after
/// the dataflow tasks of `status`.
pub(crate) fn timeline(shown: &Shown, status: &Status, window: f64) -> TimelineJson {
    let names: std::collections::HashMap<u64, &str> = status
        .tasks
        .iter()
        .filter_map(|t| Some((t.runtime_task_id?, t.task_id.as_str())))
        .collect();
    let window = if window.is_finite() {
        window.clamp(0.001, 600.0)
    } else {
        TIMELINE_WINDOW
    };
    let mut enabled = false;
    let executors = shown
        .timelines()
        .into_iter()
        .map(|(id, t)| {
            enabled |= !t.slots.is_empty();
            let now = t.now.as_secs_f64();
            let from = now - window;
            let slots = t
                .slots
                .iter()
                .map(|s| SlotSpans {
                    slot: s.slot,
                    spans: s
                        .spans
                        .iter()
                        .filter(|span| span.end.as_secs_f64() >= from)
                        .map(|span| SpanJson {
                            kind: span.kind.as_str(),
                            runtime_task_id: span.task.as_u64(),
                            name: names.get(&span.task.as_u64()).map(|n| (*n).to_owned()),
                            start: (span.start.as_secs_f64() - from).max(0.0),
                            end: (span.end.as_secs_f64() - from).max(0.0),
                            open: span.open,
                        })
                        .collect(),
                })
                .collect();
            ExecutorTimeline {
                id: format!("executor-{id}"),
                slots,
            }
        })
        .collect();
    TimelineJson {
        enabled,
        window,
        executors,
    }
}
