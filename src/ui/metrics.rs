//! `/metrics`: the engine's figures in the Prometheus text format, read at scrape time.
//!
//! [`EngineCollector`] is a prometheus-client [`Collector`]: nothing is copied into
//! metric objects between scrapes. Each scrape takes one
//! [`RuntimeMetrics`](neptune_runtime::metrics::RuntimeMetrics) snapshot per local
//! runtime, the status board's counts ([`StatusSummary`], a context's only), and in
//! cluster mode the driver's list of executors, and writes every family from them.
//!
//! Label values are few by construction: `executor` (one per executor), `slot` (one
//! per slot), `class` (`stream`, `batch`), `state` (a handful), `policy` and `mode`.
//! Task, job and stage ids never appear in a label.
//!
//! The runtime's histograms have log-linear buckets about 12% wide; they are exported
//! with fixed `le` bounds from 1 µs to 10 s (1, 2.5, 5 per decade), so every scrape
//! has the same series and `histogram_quantile` works across executors. A runtime
//! bucket is counted under the first bound at or above its upper edge, so a value
//! may be counted one bound higher than its own (never lower).

use super::shown::{shown_now, ClusterView, Current, Local};
use neptune_dataflow::status::{StatusSummary, TaskState};
use neptune_runtime::metrics::HistogramSnapshot;
use neptune_runtime::Class;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::fmt;
use std::time::Duration;

/// The upper bounds of the exported latency buckets, in seconds.
pub(crate) const BUCKETS: [f64; 22] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Labels of one sample.
type Labels = Vec<(&'static str, String)>;

/// The classes with their label values, Stream first (as [`Class::index`]).
const CLASSES: [(Class, &str); 2] = [(Class::Stream, "stream"), (Class::Batch, "batch")];

/// Writes the engine's metric families at each scrape (see the [module docs](self)).
pub(crate) struct EngineCollector {
    current: Current,
}

impl EngineCollector {
    pub(crate) fn new(current: Current) -> EngineCollector {
        EngineCollector { current }
    }
}

impl fmt::Debug for EngineCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineCollector").finish_non_exhaustive()
    }
}

/// One family: its samples, written under one `# HELP` and `# TYPE`.
struct Family<'a> {
    name: &'a str,
    help: &'a str,
    kind: MetricType,
    samples: Vec<(Labels, Sample)>,
}

enum Sample {
    Gauge(f64),
    Counter(f64),
    Histogram(HistogramSnapshot),
}

impl<'a> Family<'a> {
    fn new(name: &'a str, help: &'a str, kind: MetricType) -> Family<'a> {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    fn gauge(name: &'a str, help: &'a str) -> Family<'a> {
        Family::new(name, help, MetricType::Gauge)
    }

    /// A counter; `name` without `_total`, which the encoder adds.
    fn counter(name: &'a str, help: &'a str) -> Family<'a> {
        Family::new(name, help, MetricType::Counter)
    }

    fn histogram(name: &'a str, help: &'a str) -> Family<'a> {
        Family::new(name, help, MetricType::Histogram)
    }

    fn add(&mut self, labels: Labels, value: f64) {
        let sample = match self.kind {
            MetricType::Counter => Sample::Counter(value),
            _ => Sample::Gauge(value),
        };
        self.samples.push((labels, sample));
    }

    fn add_histogram(&mut self, labels: Labels, h: HistogramSnapshot) {
        self.samples.push((labels, Sample::Histogram(h)));
    }

    fn encode(self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        if self.samples.is_empty() {
            return Ok(());
        }
        let mut metric = encoder.encode_descriptor(self.name, self.help, None, self.kind)?;
        for (labels, sample) in &self.samples {
            let mut m = metric.encode_family(labels)?;
            encode_sample(&mut m, sample)?;
        }
        Ok(())
    }
}

fn encode_sample(m: &mut MetricEncoder, sample: &Sample) -> fmt::Result {
    match sample {
        Sample::Gauge(v) => m.encode_gauge(v),
        Sample::Counter(v) => m.encode_counter::<NoLabelSet, f64, f64>(v, None),
        Sample::Histogram(h) => {
            let buckets = fixed_buckets(h);
            m.encode_histogram::<NoLabelSet>(h.sum().as_secs_f64(), h.count(), &buckets, None)
        }
    }
}

/// `h`'s counts under the fixed bounds [`BUCKETS`] (not cumulative: the encoder sums
/// them), the values above the last bound left to `+Inf`.
pub(crate) fn fixed_buckets(h: &HistogramSnapshot) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = BUCKETS.iter().map(|&b| (b, 0)).collect();
    for (edge, count) in h.buckets() {
        let edge = edge.as_secs_f64();
        // A relative tolerance: an edge of 999.99..9 ns belongs under 1 µs.
        if let Some(slot) = out.iter_mut().find(|(b, _)| edge <= b * (1.0 + 1e-9)) {
            slot.1 += count;
        }
    }
    out
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn executor_label(id: impl fmt::Display) -> String {
    format!("executor-{id}")
}

impl Collector for EngineCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let shown = shown_now(&self.current);
        for family in runtime_families(&shown.locals()) {
            family.encode(&mut encoder)?;
        }
        if shown.has_board() {
            for family in status_families(&shown.status_summary()) {
                family.encode(&mut encoder)?;
            }
        }
        if let Some(cluster) = shown.cluster() {
            for family in cluster_families(&cluster) {
                family.encode(&mut encoder)?;
            }
        }
        Ok(())
    }
}

/// The families read from each local executor's runtime.
fn runtime_families(locals: &[Local]) -> Vec<Family<'static>> {
    let mut slots = Family::gauge("neptune_slots", "Slots (worker threads) of an executor.");
    let mut tasks = Family::gauge(
        "neptune_tasks",
        "Live runtime tasks of an executor by class and state (running, runnable, paused, waiting).",
    );
    let mut live = Family::gauge(
        "neptune_runtime_live_tasks",
        "Runtime tasks spawned and not finished on an executor (dataflow tasks, job drivers and others).",
    );
    let mut mode = Family::gauge(
        "neptune_policy_mode",
        "The scheduling policy of an executor and the mode it uses now (1 for the active one).",
    );
    let mut switches = Family::counter(
        "neptune_policy_switches",
        "Times an executor's policy was replaced or changed mode.",
    );
    let mut polls = Family::counter("neptune_slot_polls", "Task polls made by a slot.");
    let mut finished = Family::counter(
        "neptune_slot_tasks_finished",
        "Runtime tasks that finished (completed or cancelled) on a slot, by class.",
    );
    let mut steals = Family::counter(
        "neptune_slot_steals",
        "Tasks a slot stole from other slots' queues.",
    );
    let mut suspensions = Family::counter(
        "neptune_suspensions",
        "Tasks parked in a slot's suspended queue (suspensions).",
    );
    let mut resumes = Family::counter(
        "neptune_resumes",
        "Parked tasks a slot took back to run (resumes).",
    );
    let mut suspended = Family::gauge(
        "neptune_suspended_tasks",
        "Tasks in a slot's suspended queue now.",
    );
    let mut suspended_bytes = Family::gauge(
        "neptune_suspended_bytes",
        "Bytes of the task allocations in a slot's suspended queue now.",
    );
    let mut busy = Family::counter(
        "neptune_slot_busy_seconds",
        "Time a slot spent busy, by class (Batch: everything but Stream polls and sleep).",
    );
    let mut idle = Family::counter(
        "neptune_slot_idle_seconds",
        "Time a slot spent asleep with no work.",
    );
    let mut pause = Family::histogram(
        "neptune_pause_to_park_seconds",
        "From a pause request to the task parked, for tasks that were running.",
    );
    let mut resume = Family::histogram(
        "neptune_resume_to_poll_seconds",
        "From a resume to the task's next poll.",
    );
    let mut latency = Family::histogram(
        "neptune_stream_latency_seconds",
        "From a Stream task becoming runnable to the end of the poll that ran it.",
    );
    for local in locals {
        let (executor, m) = (executor_label(local.id), &local.metrics);
        let e = || vec![("executor", executor.clone())];
        slots.add(e(), m.slots.len() as f64);
        for (class, state, n) in m.tasks.gauges() {
            let mut l = e();
            l.push(("class", class.as_str().to_owned()));
            l.push(("state", state.as_str().to_owned()));
            tasks.add(l, n as f64);
        }
        live.add(e(), m.live_tasks as f64);
        let mut l = e();
        l.push(("policy", m.policy.name.clone()));
        l.push(("mode", m.policy.active().to_owned()));
        mode.add(l, 1.0);
        switches.add(e(), m.policy.switches_total() as f64);
        for s in &m.slots {
            let es = || vec![("executor", executor.clone()), ("slot", s.slot.to_string())];
            let esc = |class: &str| {
                let mut l = es();
                l.push(("class", class.to_owned()));
                l
            };
            polls.add(es(), s.polls as f64);
            for (class, name) in CLASSES {
                finished.add(esc(name), s.tasks_of(class) as f64);
            }
            steals.add(es(), s.steals as f64);
            suspensions.add(es(), s.parks as f64);
            resumes.add(es(), s.resumes as f64);
            suspended.add(es(), s.suspended as f64);
            suspended_bytes.add(es(), s.suspended_bytes as f64);
            for (class, name) in CLASSES {
                busy.add(esc(name), secs(s.busy(class)));
            }
            idle.add(es(), secs(s.idle));
        }
        pause.add_histogram(e(), m.pause_to_park());
        resume.add_histogram(e(), m.resume_to_poll());
        latency.add_histogram(e(), m.stream_latency());
    }
    vec![
        slots,
        tasks,
        live,
        mode,
        switches,
        polls,
        finished,
        steals,
        suspensions,
        resumes,
        suspended,
        suspended_bytes,
        busy,
        idle,
        pause,
        resume,
        latency,
    ]
}

/// The families read from the status board: tasks by class and state, jobs, records
/// and wasted work.
fn status_families(status: &StatusSummary) -> Vec<Family<'static>> {
    let mut tasks = Family::gauge(
        "neptune_dataflow_tasks",
        "Dataflow tasks launched and not finished, by class and state (running, paused); in cluster mode as executors last reported.",
    );
    let mut ended = Family::counter(
        "neptune_tasks_ended",
        "Dataflow task attempts that ended, by class and how (success, failed, killed).",
    );
    let mut jobs = Family::gauge(
        "neptune_jobs_active",
        "Dataflow jobs running now, by class.",
    );
    let mut jobs_ended = Family::counter(
        "neptune_jobs_ended",
        "Dataflow jobs that ended, by class and how (succeeded, failed).",
    );
    let mut records_in = Family::counter(
        "neptune_records_read",
        "Records read from sources by dataflow tasks that succeeded, by class (events for a stream).",
    );
    let mut records_out = Family::counter(
        "neptune_records_written",
        "Records dataflow tasks that succeeded handed to an action or a shuffle, by class.",
    );
    let mut wasted = Family::counter(
        "neptune_wasted_task_seconds",
        "Wasted work: launch-to-end time of dataflow task attempts that failed or were killed, by class.",
    );
    let mut task_suspensions = Family::counter(
        "neptune_task_suspensions",
        "Suspensions of dataflow tasks that finished, by class.",
    );
    let mut task_paused = Family::counter(
        "neptune_task_paused_seconds",
        "Time finished local dataflow tasks spent paused, by class.",
    );
    let t = &status.totals;
    for (class, name) in CLASSES {
        let c = || vec![("class", name.to_owned())];
        let cs = |state: &str| {
            let mut l = c();
            l.push(("state", state.to_owned()));
            l
        };
        let i = class.index();
        tasks.add(
            cs(TaskState::Running.label()),
            status.running_tasks[i] as f64,
        );
        tasks.add(cs(TaskState::Paused.label()), status.paused_tasks[i] as f64);
        ended.add(cs("success"), t.tasks_succeeded[i] as f64);
        ended.add(cs("failed"), t.tasks_failed[i] as f64);
        ended.add(cs("killed"), t.tasks_killed[i] as f64);
        jobs.add(c(), status.active_jobs[i] as f64);
        jobs_ended.add(cs("succeeded"), t.jobs_succeeded[i] as f64);
        jobs_ended.add(cs("failed"), t.jobs_failed[i] as f64);
        records_in.add(c(), t.input_records[i] as f64);
        records_out.add(c(), t.output_records[i] as f64);
        wasted.add(c(), t.wasted_seconds[i]);
        task_suspensions.add(c(), t.suspensions[i] as f64);
        task_paused.add(c(), t.paused_seconds[i]);
    }
    vec![
        tasks,
        ended,
        jobs,
        jobs_ended,
        records_in,
        records_out,
        wasted,
        task_suspensions,
        task_paused,
    ]
}

/// Cluster mode: the families read from the driver's view of its executors.
fn cluster_families(view: &ClusterView) -> Vec<Family<'static>> {
    let mut executors = Family::gauge(
        "neptune_cluster_executors",
        "Executor processes, by state (live, lost).",
    );
    executors.add(vec![("state", "live".to_owned())], view.live.len() as f64);
    executors.add(vec![("state", "lost".to_owned())], view.lost as f64);
    let mut heartbeats = Family::counter(
        "neptune_executor_heartbeats",
        "Heartbeats the driver received from an executor.",
    );
    let mut age = Family::gauge(
        "neptune_executor_heartbeat_age_seconds",
        "Time since the driver last heard from an executor.",
    );
    let mut slots = Family::gauge("neptune_executor_slots", "Slots of an executor process.");
    let mut running = Family::gauge(
        "neptune_executor_running_tasks",
        "Tasks the driver launched on an executor that have not finished, by class.",
    );
    let mut suspended = Family::gauge(
        "neptune_executor_suspended_tasks",
        "Tasks in an executor's suspended queues, at its last heartbeat.",
    );
    let mut memory = Family::gauge(
        "neptune_executor_memory_bytes",
        "Bytes in use on an executor, at its last heartbeat.",
    );
    let mut spilled = Family::gauge(
        "neptune_executor_spilled_bytes",
        "Bytes an executor spilled so far, at its last heartbeat.",
    );
    let mut churn = Family::gauge(
        "neptune_executor_allocation_bytes_per_second",
        "Bytes an executor allocated per second, at its last heartbeat.",
    );
    for m in &view.live {
        let e = || vec![("executor", executor_label(m.id))];
        heartbeats.add(e(), m.heartbeats as f64);
        age.add(e(), secs(m.since_heard));
        slots.add(e(), m.slots as f64);
        for (class, name) in CLASSES {
            let mut l = e();
            l.push(("class", name.to_owned()));
            running.add(l, m.running[class.index()] as f64);
        }
        suspended.add(e(), m.suspended as f64);
        memory.add(e(), m.memory_in_use as f64);
        spilled.add(e(), m.bytes_spilled as f64);
        churn.add(e(), m.alloc_churn as f64);
    }
    vec![
        executors, heartbeats, age, slots, running, suspended, memory, spilled, churn,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use neptune_runtime::metrics::Histogram;

    #[test]
    fn runtime_buckets_fall_under_the_first_bound_at_or_above_them() {
        let h = Histogram::new();
        h.record(900); // 0.9 µs
        h.record(3_000); // 3 µs
        h.record(40_000_000); // 40 ms
        h.record(20_000_000_000); // 20 s: above every bound
        let buckets = fixed_buckets(&h.snapshot());
        let at = |bound: f64| buckets.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!(at(1e-6), 1);
        assert_eq!(at(5e-6), 1);
        assert_eq!(at(0.05), 1);
        assert_eq!(buckets.iter().map(|(_, c)| c).sum::<u64>(), 3);
    }
}
