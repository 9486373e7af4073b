//! A demo of the runtime's mechanism (it was the `neptune` binary before that became
//! the unified stream/batch application).
//!
//! Batch work fills every slot; Stream micro-batches arrive every 10 ms. The policy
//! pauses a Batch task to run each micro-batch and resumes it afterwards. The demo
//! prints what happened: stream latency next to the same stream running alone, the
//! pauses and resumes, how fast they took effect, and a check that every Batch task did
//! exactly its work (nothing lost, nothing recomputed).
//!
//! ```text
//! neptune demo [--slots N] [--seconds S] [--json]
//! ```
//!
//! (`cargo run --release --example demo -- …` runs the same.)

use clap::Parser;
use neptune::runtime::policy::{DefaultPolicy, Policy, Preempt, SlotView};
use neptune::runtime::{preemption_point, Builder, Handle, SpawnOptions, TaskHandle};
use neptune_support::args::{at_least_one, available_cores, positive_f64};
use neptune_support::spin as workload;
use neptune_support::stats::{quantile_sorted, round};
use serde::Serialize;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Units of ~1 µs in one Batch task (about 400 ms of CPU).
const BATCH_UNITS: u64 = 400_000;
/// Units of ~1 µs in one Stream task (about 0.5 ms).
const STREAM_UNITS: u64 = 500;
const TRIGGER: Duration = Duration::from_millis(10);

/// The runtime's pause/resume demo: Stream micro-batches next to Batch work that fills
/// every slot.
#[derive(Parser, Debug)]
#[command(name = "demo")]
pub struct Args {
    /// Slots, one per core by default.
    #[arg(long, value_name = "N", default_value_t = available_cores(), value_parser = at_least_one::<usize>)]
    slots: usize,
    /// Seconds of the mixed run (the stream alone runs half as long first).
    #[arg(long, value_name = "S", default_value_t = 2.0, value_parser = positive_f64)]
    seconds: f64,
    /// One JSON object instead of the narrative.
    #[arg(long)]
    json: bool,
}

/// What the policy did, with when.
#[derive(Clone, Debug)]
enum Event {
    Paused {
        at: Duration,
        task: u64,
        slot: usize,
    },
    Resumed {
        at: Duration,
        task: u64,
        slot: usize,
    },
}

/// The default policy, recording its decisions: how a user wraps a policy.
struct Recording {
    inner: DefaultPolicy,
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl Policy for Recording {
    fn name(&self) -> &str {
        "default (recorded)"
    }

    fn on_stream_waiting(&self, waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        let out = self.inner.on_stream_waiting(waiting, slots);
        let mut ev = self.events.lock().unwrap();
        for p in &out {
            if let Preempt::Pause(t) = p {
                let slot = slots
                    .iter()
                    .find(|s| &s.running.task == t)
                    .map_or(0, |s| s.slot);
                ev.push(Event::Paused {
                    at: self.start.elapsed(),
                    task: t.id().as_u64(),
                    slot,
                });
            }
        }
        out
    }

    fn on_stream_drained(&self, slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        let out = self.inner.on_stream_drained(slot, suspended);
        let mut ev = self.events.lock().unwrap();
        for t in &out {
            ev.push(Event::Resumed {
                at: self.start.elapsed(),
                task: t.id().as_u64(),
                slot,
            });
        }
        out
    }
}

/// Releases a micro-batch of `width` Stream tasks every `TRIGGER` for `dur`; returns
/// each micro-batch's latency (last task end − release) in µs.
fn run_stream(handle: &Handle, width: usize, dur: Duration) -> Vec<u64> {
    let start = Instant::now();
    let mut latencies = Vec::new();
    let mut next = start;
    while start.elapsed() < dur {
        next += TRIGGER;
        let release = Instant::now();
        let tasks: Vec<_> = (0..width)
            .map(|_| {
                handle.spawn_with(SpawnOptions::stream(), async move {
                    for _ in 0..STREAM_UNITS {
                        workload::unit(1.0);
                    }
                    Instant::now()
                })
            })
            .collect();
        let ends = handle.block_on(futures::future::join_all(tasks));
        let last = ends
            .into_iter()
            .filter_map(Result::ok)
            .max()
            .unwrap_or(release);
        latencies.push(last.duration_since(release).as_micros() as u64);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    latencies
}

/// What the demo measured: the `--json` line, and the figures of the narrative.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Report {
    slots: usize,
    /// Micro-batch latencies (last task end − release), µs: the stream alone…
    stream_alone_p50_us: u64,
    stream_alone_p99_us: u64,
    /// …and over Batch work that fills every slot.
    stream_p50_us: u64,
    stream_p99_us: u64,
    stream_max_us: u64,
    /// Micro-batches of the mixed run.
    micro_batches: usize,
    batch_tasks: usize,
    /// Whether every Batch task did exactly its units of work.
    batch_units_exact: bool,
    /// The Batch work's wall time, to 0.001 s.
    batch_seconds: f64,
    /// Times Batch tasks were suspended.
    suspensions: u32,
    policy_pauses: usize,
    policy_resumes: usize,
    pause_to_park_p50_ns: u64,
    pause_to_park_p99_ns: u64,
    resume_to_poll_p50_ns: u64,
    resume_to_poll_p99_ns: u64,
}

impl Report {
    /// The narrative: the figures, then the policy's first decisions.
    fn print_text(&self, events: &[Event]) {
        let w = self.slots;
        println!("Neptune demo: {w} slots, Stream micro-batches of {w} x 0.5 ms every 10 ms");
        println!(
            "  stream alone      p50 {:>6} us   p99 {:>6} us",
            self.stream_alone_p50_us, self.stream_alone_p99_us
        );
        println!(
            "  stream over batch p50 {:>6} us   p99 {:>6} us   max {} us  ({} micro-batches)",
            self.stream_p50_us, self.stream_p99_us, self.stream_max_us, self.micro_batches
        );
        println!(
            "  batch: {} tasks x {BATCH_UNITS} units in {:.2} s; every task did exactly its units: {}",
            self.batch_tasks,
            self.batch_seconds,
            if self.batch_units_exact { "yes" } else { "NO" }
        );
        println!(
            "  the policy paused {} times and resumed {} times; tasks were suspended {} times",
            self.policy_pauses, self.policy_resumes, self.suspensions
        );
        println!(
            "  pause -> parked  p50 {:.1} us  p99 {:.1} us;  resume -> polled  p50 {:.1} us  p99 {:.1} us",
            self.pause_to_park_p50_ns as f64 / 1e3,
            self.pause_to_park_p99_ns as f64 / 1e3,
            self.resume_to_poll_p50_ns as f64 / 1e3,
            self.resume_to_poll_p99_ns as f64 / 1e3
        );
        println!("  first events:");
        for e in events.iter().take(6) {
            match e {
                Event::Paused { at, task, slot } => println!(
                    "    {:>9.3} ms  paused  batch task {task} on slot {slot} for stream work",
                    at.as_secs_f64() * 1e3
                ),
                Event::Resumed { at, task, slot } => println!(
                    "    {:>9.3} ms  resumed batch task {task} on slot {slot}",
                    at.as_secs_f64() * 1e3
                ),
            }
        }
    }
}

/// The `q`-quantile of `sorted`, 0 when it is empty (a run too short for a
/// micro-batch).
fn percentile(sorted: &[u64], q: f64) -> u64 {
    quantile_sorted(sorted, q).unwrap_or(0)
}

/// Runs the demo as `args` say and prints what happened; fails if a Batch task lost or
/// repeated work.
pub fn main(args: Args) -> ExitCode {
    workload::iters_per_micro(); // calibrate before anything runs
    let policy = Arc::new(Recording {
        inner: DefaultPolicy,
        start: Instant::now(),
        events: Mutex::new(Vec::new()),
    });
    let rt = match Builder::new()
        .slots(args.slots)
        .policy(policy.clone())
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("demo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dur = Duration::from_secs_f64(args.seconds);
    let w = args.slots;

    // 1. Stream alone: the ideal latency.
    let mut alone = run_stream(rt.handle(), w, dur / 2);
    alone.sort_unstable();

    // 2. Stream while Batch work fills every slot.
    let progress: Vec<Arc<AtomicU64>> = (0..2 * w).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let batch_start = Instant::now();
    let batch: Vec<_> = progress
        .iter()
        .map(|p| {
            let p = p.clone();
            rt.spawn(async move {
                for _ in 0..BATCH_UNITS {
                    workload::unit(1.0);
                    p.fetch_add(1, Relaxed);
                    preemption_point().await;
                }
                p.load(Relaxed)
            })
        })
        .collect();
    let handles: Vec<TaskHandle> = batch.iter().map(|b| b.task()).collect();
    std::thread::sleep(Duration::from_millis(20));
    let mut mixed = run_stream(rt.handle(), w, dur);
    mixed.sort_unstable();
    let results: Vec<u64> = rt
        .block_on(futures::future::join_all(batch))
        .into_iter()
        .map(|r| r.unwrap_or(0))
        .collect();
    let batch_secs = batch_start.elapsed().as_secs_f64();
    let exact = results.iter().all(|&u| u == BATCH_UNITS);
    let suspensions: u32 = handles.iter().map(TaskHandle::suspensions).sum();
    let m = rt.metrics();
    let p2p = m.pause_to_park();
    let r2p = m.resume_to_poll();
    let q = |h: &neptune::runtime::metrics::HistogramSnapshot, x| {
        h.quantile(x).map_or(0, |d| d.as_nanos() as u64)
    };
    let events = policy.events.lock().unwrap().clone();
    drop(rt);

    let (pauses, resumes) = events.iter().fold((0, 0), |(p, r), e| match e {
        Event::Paused { .. } => (p + 1, r),
        Event::Resumed { .. } => (p, r + 1),
    });
    let report = Report {
        slots: w,
        stream_alone_p50_us: percentile(&alone, 0.5),
        stream_alone_p99_us: percentile(&alone, 0.99),
        stream_p50_us: percentile(&mixed, 0.5),
        stream_p99_us: percentile(&mixed, 0.99),
        stream_max_us: mixed.last().copied().unwrap_or(0),
        micro_batches: mixed.len(),
        batch_tasks: results.len(),
        batch_units_exact: exact,
        batch_seconds: round(batch_secs, 3),
        suspensions,
        policy_pauses: pauses,
        policy_resumes: resumes,
        pause_to_park_p50_ns: q(&p2p, 0.5),
        pause_to_park_p99_ns: q(&p2p, 0.99),
        resume_to_poll_p50_ns: q(&r2p, 0.5),
        resume_to_poll_p99_ns: q(&r2p, 0.99),
    };
    if args.json {
        match serde_json::to_string(&report) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("demo: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        report.print_text(&events);
    }
    if exact {
        ExitCode::SUCCESS
    } else {
        eprintln!("demo: a batch task lost or repeated work: {results:?}");
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use neptune_support::args::assert_refused;

    #[test]
    fn cli() {
        Args::command().debug_assert();
        let a = Args::try_parse_from(["demo"]).unwrap();
        assert_eq!(
            (a.slots, a.seconds, a.json),
            (available_cores(), 2.0, false)
        );
        let a = Args::try_parse_from(["demo", "--slots", "3", "--seconds=0.5", "--json"]).unwrap();
        assert_eq!((a.slots, a.seconds, a.json), (3, 0.5, true));
        assert_refused::<Args>(&[&["--slots", "0"][..], &["--seconds", "-1"], &["--jsno"]]);
    }

    #[test]
    fn the_line_has_the_keys_it_always_had() {
        let line = serde_json::to_string(&Report {
            batch_seconds: 1.234,
            ..Report::default()
        })
        .unwrap();
        let keys = neptune_support::json::sorted_keys(&line);
        let mut old = [
            "slots",
            "stream_alone_p50_us",
            "stream_alone_p99_us",
            "stream_p50_us",
            "stream_p99_us",
            "stream_max_us",
            "micro_batches",
            "batch_tasks",
            "batch_units_exact",
            "batch_seconds",
            "suspensions",
            "policy_pauses",
            "policy_resumes",
            "pause_to_park_p50_ns",
            "pause_to_park_p99_ns",
            "resume_to_poll_p50_ns",
            "resume_to_poll_p99_ns",
        ];
        old.sort_unstable();
        assert_eq!(keys, old);
        assert!(line.starts_with(r#"{"slots":0,"#) && line.contains(r#""batch_seconds":1.234,"#));
    }
}
