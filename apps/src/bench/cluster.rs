//! Cluster mode's figures: a driver and executor processes of this very binary on
//! loopback (a local cluster), against local mode where there is one to compare with.
//!
//! ```text
//! neptune bench cluster [--json] [--only NAME,…]
//!     [--executors N] [--slots K] [--tasks N] [--pauses N] [--shuffle-mib M]
//!     [--rounds R] [--seconds S] [--no-realtime]
//! ```
//!
//! (`cargo run --release --example cluster_bench -- …` runs the same.)
//!
//! - `dispatch`: µs from the driver deciding to launch a task (after placement) to the
//!   task's first poll on its executor, over `--tasks` tiny tasks (jobs of one task
//!   per slot, so that no task waits for a slot);
//! - `remote_pause`: µs from the driver sending a pause of a running Batch task to the
//!   executor parking it, over `--pauses` pause/resume cycles;
//! - `shuffle`: MiB/s of a `--shuffle-mib` MiB shuffle (`repartition` of 4 KiB byte
//!   buffers)
//!   between the executors, against the same job in local mode (as many executors and
//!   slots in one process), `--rounds` rounds alternating local, cluster, …;
//! - `mw1_cluster`: workload MW-1 as dataflow jobs (a Batch job of 4×W tasks of 200 ms
//!   in 1 µs records, resubmitted as it ends; a Stream job of W tasks of 0.5 ms every
//!   10 ms, latency = its end − its release) for `--seconds` per row, with NEPTUNE and
//!   FIFO, in local mode (one executor of W slots) and in cluster mode (W executor
//!   processes of one slot), rows alternating.
//!
//! Both ends of a latency are wall-clock readings in two processes of one host (the
//! same clock). With `--json`, one line per figure, named by its `figure` field; the
//! first, `setup`, says how the urgent threads (network, timers, triggers, job
//! drivers, the bench's release thread) ran in every process, local mode included:
//! under the real-time policy where permitted unless `--no-realtime` (see
//! `neptune::runtime::time_slice::make_urgent`), else with short time slices.

use crate::progress::Progress;
use clap::builder::PossibleValuesParser;
use clap::Parser;
use neptune::dataflow::cluster::protocol::now_ns;
use neptune::dataflow::cluster::{Builders, RemoteTimes};
use neptune::dataflow::{Class, Context, Dataset, JobHandle};
use neptune::runtime::time_slice::{allow_realtime, make_urgent, Urgency};
use neptune::runtime::TaskState;
use neptune_support::args::{at_least_one, positive_f64};
use neptune_support::spin as workload;
use neptune_support::stats::{median, quantile, round};
use serde::Serialize;
use serde_bytes::ByteBuf;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// `parts` partitions of one record each.
fn tiny(ctx: &Context, parts: u32) -> Dataset<u64> {
    ctx.range(0..u64::from(parts), parts as usize)
}

/// Two partitions that wait at their middle record (runnable, pausable) until the
/// file `gate` exists.
fn gated(ctx: &Context, (parts, gate): (u32, String)) -> Dataset<u64> {
    let n = u64::from(parts) * 1000;
    ctx.range(0..n, parts as usize).map_async(move |x| {
        let gate = gate.clone();
        async move {
            if x % 1000 == 500 {
                while !Path::new(&gate).exists() {
                    neptune::runtime::preemption_point().await;
                }
            }
            x
        }
    })
}

/// `mib` MiB of 4 KiB records in `parts` partitions, dealt round robin into `parts`.
/// The records are byte buffers that serde encodes as a length and a copy (a plain
/// `Vec<u8>` goes through serde one byte at a time, which then dominates).
fn shuffled(ctx: &Context, (mib, parts): (u64, u32)) -> Dataset<ByteBuf> {
    let records = mib * 256;
    let parts = parts as usize;
    ctx.generate(parts, move |p| {
        let (from, to) = (
            records * p as u64 / parts as u64,
            records * (p as u64 + 1) / parts as u64,
        );
        (from..to).map(|i| ByteBuf::from(vec![i as u8; 4096]))
    })
    .repartition(parts)
}

/// MW-1 work: `tasks` tasks of `units` records of about `micros` µs each.
fn mw1(ctx: &Context, (tasks, units, micros): (u32, u64, f64)) -> Dataset<u64> {
    ctx.generate(tasks as usize, move |_| 0..units)
        .map(move |_| workload::unit(micros))
}

/// Adds the benchmark's plan builders to `builders`: every process of its local
/// clusters registers them.
pub fn register(builders: Builders) -> Builders {
    builders
        .register("tiny", tiny)
        .register("gated", gated)
        .register("shuffled", shuffled)
        .register("mw1", mw1)
}

struct Bench {
    args: Args,
    json: bool,
    executors: usize,
    slots: usize,
}

impl Bench {
    fn cluster(&self, executors: usize, slots: usize, policy: &str) -> Context {
        Context::builder()
            .builders(crate::builders())
            .slots_per_executor(slots)
            .policy(policy)
            .local_cluster(executors)
            .build()
            .expect("a local cluster")
    }

    fn local(&self, executors: usize, slots: usize, policy: &str) -> Context {
        Context::builder()
            .builders(crate::builders())
            .executors(executors)
            .slots_per_executor(slots)
            .policy(policy)
            .build()
            .expect("a local context")
    }

    /// Prints one figure: its JSON line, or its row of the table.
    fn report(&self, figure: &impl Figure) {
        if self.json {
            match serde_json::to_string(figure) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("cluster_bench: {e}"),
            }
        } else {
            println!("{}", figure.text());
        }
    }

    fn dispatch(&self) {
        let ctx = self.cluster(self.executors, self.slots, "neptune");
        let per_job = (self.executors * self.slots) as u32;
        let tasks = self.args.tasks;
        let warm = 200usize;
        let mut us = Vec::with_capacity(tasks);
        let mut wire = Vec::with_capacity(tasks);
        let mut done = 0;
        let progress = Progress::new((tasks + warm) as u64, "dispatch");
        while done < tasks + warm {
            let ds: Dataset<u64> = ctx.build("tiny", per_job).unwrap();
            let mut job = ds.job().count();
            // The tasks once the job is done: all of them launched by then.
            let counted = futures::executor::block_on(&mut job).unwrap();
            assert_eq!(*counted, u64::from(per_job));
            for t in job.tasks() {
                let times = t.handle.remote().expect("a remote task").times();
                if done >= warm {
                    us.push(times.started.saturating_sub(times.launched) / 1000);
                    wire.push(times.received.saturating_sub(times.launched) / 1000);
                }
                done += 1;
            }
            progress.set(done as u64, format!("{done} tasks"));
        }
        progress.finish(format!("{} tasks measured", us.len()));
        self.report(&Dispatch {
            figure: "dispatch",
            tasks: us.len(),
            p50_us: quantile(&mut us, 0.5),
            p99_us: quantile(&mut us, 0.99),
            max_us: quantile(&mut us, 1.0),
            to_executor_p50_us: quantile(&mut wire, 0.5),
            to_executor_p99_us: quantile(&mut wire, 0.99),
            executors: self.executors,
            slots: self.slots,
        });
    }

    fn remote_pause(&self) {
        let ctx = self.cluster(self.executors, self.slots, "neptune");
        let parts = (self.executors * self.slots) as u32;
        let dir =
            std::env::temp_dir().join(format!("neptune-cluster-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let gate = dir.join("open");
        let ds: Dataset<u64> = ctx
            .build("gated", (parts, gate.to_string_lossy().into_owned()))
            .unwrap();
        let job = ds.job().collect();
        let running = |job: &JobHandle<Vec<u64>>| {
            let tasks = job.tasks();
            tasks.len() == parts as usize
                && tasks.iter().all(|t| t.handle.state() == TaskState::Running)
        };
        wait("the gated tasks to run", || running(&job));
        let pauses = self.args.pauses;
        let mut us = Vec::with_capacity(pauses);
        let mut wire = Vec::with_capacity(pauses);
        let progress = Progress::new(pauses as u64, "remote_pause");
        for i in 0..pauses {
            let task = job.tasks()[i % parts as usize].handle.clone();
            task.pause();
            wait("a park", || task.state() == TaskState::Paused);
            let t = task.remote().unwrap().times();
            us.push(t.paused.saturating_sub(t.pause_sent) / 1000);
            wire.push(t.pause_received.saturating_sub(t.pause_sent) / 1000);
            task.resume();
            wait("a resume", || task.state() == TaskState::Running);
            progress.set(i as u64 + 1, format!("{} pauses", i + 1));
        }
        progress.finish(format!("{pauses} pauses"));
        std::fs::write(&gate, b"").unwrap();
        job.wait().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        self.report(&RemotePause {
            figure: "remote_pause",
            pauses: us.len(),
            p50_us: quantile(&mut us, 0.5),
            p99_us: quantile(&mut us, 0.99),
            max_us: quantile(&mut us, 1.0),
            to_executor_p50_us: quantile(&mut wire, 0.5),
            to_executor_p99_us: quantile(&mut wire, 0.99),
        });
    }

    fn shuffle(&self) {
        let mib = self.args.shuffle_mib;
        let rounds = self.args.rounds;
        let parts = (self.executors * self.slots * 2) as u32;
        let cluster = self.cluster(self.executors, self.slots, "neptune");
        let local = self.local(self.executors, self.slots, "neptune");
        let run = |ctx: &Context| {
            let ds: Dataset<ByteBuf> = ctx.build("shuffled", (mib, parts)).unwrap();
            let t = Instant::now();
            assert_eq!(*ds.count().unwrap(), mib * 256);
            mib as f64 / t.elapsed().as_secs_f64()
        };
        let progress = Progress::new(rounds as u64 + 1, "shuffle");
        run(&local);
        run(&cluster);
        progress.set(1, "warm-up");
        let (mut l, mut c) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            l.push(run(&local));
            c.push(run(&cluster));
            progress.set(r as u64 + 2, format!("round {}", r + 1));
        }
        let (l, c) = (median(l), median(c));
        progress.finish(format!("{c:.0} MiB/s in cluster mode"));
        self.report(&Shuffle {
            figure: "shuffle",
            mib,
            cluster_mib_per_s: c.round() as u64,
            local_mib_per_s: l.round() as u64,
            cluster_over_local: round(c / l, 3),
            rounds,
        });
    }

    fn mw1(&self) {
        let seconds = self.args.seconds;
        let w = self.executors * self.slots;
        let mut rows = Vec::new();
        let progress = Progress::new(4, "mw1_cluster");
        for policy in ["neptune", "fifo"] {
            let local = self.local(1, w, policy);
            let l = mw1_row(&local, w, seconds);
            drop(local);
            progress.set(2 * rows.len() as u64 + 1, format!("{policy}, local"));
            let cluster = self.cluster(w, 1, policy);
            let c = mw1_row(&cluster, w, seconds);
            drop(cluster);
            progress.set(2 * rows.len() as u64 + 2, format!("{policy}, cluster"));
            rows.push(Mw1Cluster::new(policy, &l, &c));
        }
        progress.finish("4 rows");
        for row in &rows {
            self.report(row);
        }
        let p99 = |p: &str| {
            rows.iter()
                .find(|r| r.policy == p)
                .map(|r| r.cluster_stream_p99_us)
        };
        if let (Some(n), Some(f)) = (p99("neptune"), p99("fifo")) {
            self.report(&Mw1NeptuneOverFifo {
                figure: "mw1_cluster_neptune_over_fifo",
                p99_ratio: round(n as f64 / f.max(1) as f64, 3),
            });
        }
    }
}

/// One figure's `--json` line (with a `figure` field naming it), and its row of the
/// table: the name, then each field's name and value.
trait Figure: Serialize {
    /// The row of the table.
    fn text(&self) -> String;
}

/// The table's row for `figure` with `fields`, named as in its JSON line.
fn row(figure: &str, fields: &[(&str, &dyn std::fmt::Display)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("{figure:<14} {}", body.join("  "))
}

/// `setup`: how the figures that follow were measured.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Setup {
    /// Always `setup`.
    figure: &'static str,
    /// What [`make_urgent`] gave the urgent threads: `realtime`, `short_slice` or
    /// `unchanged`.
    urgent_threads: &'static str,
    /// Cores this process may use.
    cores: usize,
    executors: usize,
    slots: usize,
}

impl Figure for Setup {
    fn text(&self) -> String {
        row(
            self.figure,
            &[
                ("urgent_threads", &self.urgent_threads),
                ("cores", &self.cores),
                ("executors", &self.executors),
                ("slots", &self.slots),
            ],
        )
    }
}

/// `dispatch`: µs from launch decision to first poll on the executor.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Dispatch {
    /// Always `dispatch`.
    figure: &'static str,
    /// Tasks measured.
    tasks: usize,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    /// From the launch decision to the executor receiving the task.
    to_executor_p50_us: u64,
    to_executor_p99_us: u64,
    executors: usize,
    slots: usize,
}

impl Figure for Dispatch {
    fn text(&self) -> String {
        row(
            self.figure,
            &[
                ("tasks", &self.tasks),
                ("p50_us", &self.p50_us),
                ("p99_us", &self.p99_us),
                ("max_us", &self.max_us),
                ("to_executor_p50_us", &self.to_executor_p50_us),
                ("to_executor_p99_us", &self.to_executor_p99_us),
                ("executors", &self.executors),
                ("slots", &self.slots),
            ],
        )
    }
}

/// `remote_pause`: µs from the driver sending a pause to the executor parking the task.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct RemotePause {
    /// Always `remote_pause`.
    figure: &'static str,
    /// Pause/resume cycles measured.
    pauses: usize,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    /// From the driver sending the pause to the executor receiving it.
    to_executor_p50_us: u64,
    to_executor_p99_us: u64,
}

impl Figure for RemotePause {
    fn text(&self) -> String {
        row(
            self.figure,
            &[
                ("pauses", &self.pauses),
                ("p50_us", &self.p50_us),
                ("p99_us", &self.p99_us),
                ("max_us", &self.max_us),
                ("to_executor_p50_us", &self.to_executor_p50_us),
                ("to_executor_p99_us", &self.to_executor_p99_us),
            ],
        )
    }
}

/// `shuffle`: MiB/s of one shuffle in cluster and in local mode, medians of the rounds.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Shuffle {
    /// Always `shuffle`.
    figure: &'static str,
    /// MiB shuffled per run.
    mib: u64,
    cluster_mib_per_s: u64,
    local_mib_per_s: u64,
    /// To 0.001.
    cluster_over_local: f64,
    rounds: usize,
}

impl Figure for Shuffle {
    fn text(&self) -> String {
        row(
            self.figure,
            &[
                ("mib", &self.mib),
                ("cluster_mib_per_s", &self.cluster_mib_per_s),
                ("local_mib_per_s", &self.local_mib_per_s),
                (
                    "cluster_over_local",
                    &format!("{:.3}", self.cluster_over_local),
                ),
                ("rounds", &self.rounds),
            ],
        )
    }
}

/// `mw1_cluster`: one policy's MW-1 rows, local mode against cluster mode.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Mw1Cluster {
    /// Always `mw1_cluster`.
    figure: &'static str,
    /// `neptune` or `fifo`.
    policy: &'static str,
    local_stream_p50_us: u64,
    local_stream_p99_us: u64,
    cluster_stream_p50_us: u64,
    cluster_stream_p99_us: u64,
    /// To 0.01.
    cluster_over_local_p99: f64,
    local_batch_units_per_s: u64,
    cluster_batch_units_per_s: u64,
    /// Cluster over local Batch throughput, to 0.001.
    batch_ratio: f64,
    /// Stream micro-batches of the cluster row.
    micro_batches: usize,
    /// Where a cluster micro-batch's time went, median over all of them (of each
    /// micro-batch's last task to report).
    cluster_legs_p50_us: Legs,
    /// The same, averaged over the slowest 1% of micro-batches (those at or above the
    /// p99): which leg makes the tail.
    cluster_legs_tail_us: Legs,
}

/// A cluster micro-batch's latency in legs (µs), following its last task to report.
#[derive(Serialize, Debug, Default, Clone, Copy, PartialEq)]
struct Legs {
    /// Release → the driver decides to launch the task (build, schedule, place).
    submit: u64,
    /// → the launch is read by the executor.
    to_executor: u64,
    /// → the executor's slot first polls it (the Batch task paused).
    start: u64,
    /// → its slot finishes it.
    run: u64,
    /// → the driver reads the executor's report.
    to_driver: u64,
    /// → the job's answer reaches the program.
    complete: u64,
}

impl Legs {
    /// The legs of a micro-batch released at `release_ns` (wall clock) that took
    /// `latency_us`, from its tasks' timelines: those of the last task to report.
    fn of(release_ns: u64, latency_us: u64, tasks: &[RemoteTimes]) -> Option<Legs> {
        let t = tasks.iter().max_by_key(|t| t.reported)?;
        let us = |from: u64, to: u64| to.saturating_sub(from) / 1000;
        let end = release_ns + latency_us * 1000;
        Some(Legs {
            submit: us(release_ns, t.launched),
            to_executor: us(t.launched, t.received),
            start: us(t.received, t.started),
            run: us(t.started, t.finished),
            to_driver: us(t.finished, t.reported),
            complete: us(t.reported, end),
        })
    }

    /// Each leg's median over `legs`.
    fn median(legs: &[Legs]) -> Legs {
        Legs::each(legs, |v| quantile(v, 0.5))
    }

    /// Each leg's mean over `legs`.
    fn mean(legs: &[Legs]) -> Legs {
        Legs::each(legs, |v| v.iter().sum::<u64>() / v.len().max(1) as u64)
    }

    /// `f` of each leg over `legs`; zeros when there are none (local mode).
    fn each(legs: &[Legs], f: impl Fn(&mut Vec<u64>) -> u64) -> Legs {
        if legs.is_empty() {
            return Legs::default();
        }
        let leg = |g: fn(&Legs) -> u64| f(&mut legs.iter().map(g).collect());
        Legs {
            submit: leg(|l| l.submit),
            to_executor: leg(|l| l.to_executor),
            start: leg(|l| l.start),
            run: leg(|l| l.run),
            to_driver: leg(|l| l.to_driver),
            complete: leg(|l| l.complete),
        }
    }
}

impl std::fmt::Display for Legs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "submit {} / to_executor {} / start {} / run {} / to_driver {} / complete {}",
            self.submit, self.to_executor, self.start, self.run, self.to_driver, self.complete
        )
    }
}

impl Mw1Cluster {
    fn new(policy: &'static str, l: &Mw1Row, c: &Mw1Row) -> Mw1Cluster {
        Mw1Cluster {
            figure: "mw1_cluster",
            policy,
            local_stream_p50_us: l.p50,
            local_stream_p99_us: l.p99,
            cluster_stream_p50_us: c.p50,
            cluster_stream_p99_us: c.p99,
            cluster_over_local_p99: round(c.p99 as f64 / l.p99.max(1) as f64, 2),
            local_batch_units_per_s: l.units_per_s.round() as u64,
            cluster_batch_units_per_s: c.units_per_s.round() as u64,
            batch_ratio: round(c.units_per_s / l.units_per_s, 3),
            micro_batches: c.batches,
            cluster_legs_p50_us: c.legs_p50,
            cluster_legs_tail_us: c.legs_tail,
        }
    }
}

impl Figure for Mw1Cluster {
    fn text(&self) -> String {
        row(
            self.figure,
            &[
                ("policy", &self.policy),
                ("local_stream_p50_us", &self.local_stream_p50_us),
                ("local_stream_p99_us", &self.local_stream_p99_us),
                ("cluster_stream_p50_us", &self.cluster_stream_p50_us),
                ("cluster_stream_p99_us", &self.cluster_stream_p99_us),
                (
                    "cluster_over_local_p99",
                    &format!("{:.2}", self.cluster_over_local_p99),
                ),
                ("local_batch_units_per_s", &self.local_batch_units_per_s),
                ("cluster_batch_units_per_s", &self.cluster_batch_units_per_s),
                ("batch_ratio", &format!("{:.3}", self.batch_ratio)),
                ("micro_batches", &self.micro_batches),
                ("cluster_legs_p50_us", &self.cluster_legs_p50_us),
                ("cluster_legs_tail_us", &self.cluster_legs_tail_us),
            ],
        )
    }
}

/// `mw1_cluster_neptune_over_fifo`: cluster-mode Stream p99 with NEPTUNE over FIFO.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Mw1NeptuneOverFifo {
    /// Always `mw1_cluster_neptune_over_fifo`.
    figure: &'static str,
    /// To 0.001.
    p99_ratio: f64,
}

impl Figure for Mw1NeptuneOverFifo {
    fn text(&self) -> String {
        row(
            self.figure,
            &[("p99_ratio", &format!("{:.3}", self.p99_ratio))],
        )
    }
}

struct Mw1Row {
    p50: u64,
    p99: u64,
    units_per_s: f64,
    batches: usize,
    /// Cluster mode: the micro-batches' legs, median and slowest 1%.
    legs_p50: Legs,
    legs_tail: Legs,
}

/// One MW-1 row on `ctx` with `w` slots in all.
fn mw1_row(ctx: &Context, w: usize, seconds: f64) -> Mw1Row {
    const BATCH_UNITS: u64 = 200_000;
    const STREAM_UNITS: u64 = 500;
    let stop = Arc::new(AtomicBool::new(false));
    let units = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let last_end = Arc::new(AtomicU64::new(0));
    let batch = {
        let (ctx, stop, units, last_end) =
            (ctx.clone(), stop.clone(), units.clone(), last_end.clone());
        std::thread::spawn(move || {
            let tasks = 4 * w as u32;
            while !stop.load(Relaxed) {
                let ds: Dataset<u64> = ctx.build("mw1", (tasks, BATCH_UNITS, 1.0)).unwrap();
                let n = *ds.with_class(Class::Batch).count().unwrap();
                if !stop.load(Relaxed) {
                    units.fetch_add(n, Relaxed);
                    last_end.store(started.elapsed().as_micros() as u64, Relaxed);
                }
            }
        })
    };
    // Let the batch job fill every slot first.
    std::thread::sleep(Duration::from_millis(300));
    // Each job with how late it was submitted and its release on the wall clock.
    let (tx, rx) = mpsc::channel::<(Duration, u64, JobHandle<u64>)>();
    let waiter = std::thread::spawn(move || {
        let mut lat = Vec::new();
        let mut legs = Vec::new();
        for (delay, released, mut job) in rx {
            let r = futures::executor::block_on(&mut job).unwrap();
            let us = (delay + r.stats.elapsed).as_micros() as u64;
            lat.push(us);
            let times: Vec<RemoteTimes> = job
                .tasks()
                .iter()
                .filter_map(|t| t.handle.remote().map(|r| r.times()))
                .collect();
            legs.extend(Legs::of(released, us, &times).map(|l| (us, l)));
        }
        (lat, legs)
    });
    // The release thread sleeps until each release: it is urgent like a stream's
    // trigger thread (and on a thread of its own, as threads it would start later
    // must not inherit that).
    std::thread::scope(|s| {
        s.spawn(move || {
            let _ = make_urgent();
            let period = Duration::from_millis(10);
            let release0 = Instant::now() + period;
            let end = Instant::now() + Duration::from_secs_f64(seconds);
            let mut i = 0u32;
            loop {
                let release = release0 + period * i;
                if release >= end {
                    break;
                }
                if let Some(d) = release.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
                let ds: Dataset<u64> = ctx.build("mw1", (w as u32, STREAM_UNITS, 1.0)).unwrap();
                let job = ds.with_class(Class::Stream).job().count();
                let late = release.elapsed();
                // Read here, not when the waiter wakes: its wake-up is not a leg.
                let released = now_ns().saturating_sub(late.as_nanos() as u64);
                let _ = tx.send((late, released, job));
                i += 1;
            }
        });
    });
    let (mut lat, legs) = waiter.join().unwrap();
    stop.store(true, Relaxed);
    batch.join().unwrap();
    let batches = lat.len();
    let secs = last_end.load(Relaxed) as f64 / 1e6;
    let p99 = quantile(&mut lat, 0.99);
    let all: Vec<Legs> = legs.iter().map(|(_, l)| *l).collect();
    let tail: Vec<Legs> = legs
        .iter()
        .filter(|(us, _)| *us >= p99)
        .map(|(_, l)| *l)
        .collect();
    Mw1Row {
        p50: quantile(&mut lat, 0.5),
        p99,
        units_per_s: units.load(Relaxed) as f64 / secs.max(1e-9),
        batches,
        legs_p50: Legs::median(&all),
        legs_tail: Legs::mean(&tail),
    }
}

/// Waits for `done`, up to a minute, checking every [`WAIT_POLL`] (sleeping, so that
/// the waiting thread takes no core from the processes being measured).
fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(WAIT_POLL);
    }
}

/// How often [`wait`] looks. Not shorter: a core on which this thread wakes every
/// 200 µs never idles long enough for the kernel to pull work over from a busy core
/// (it skips idle balancing while a core's average idle time is under its migration
/// cost, 0.5 ms), and an executor's slot then waited behind the other executor's slot
/// on one core for 3-4 ms with the other core idle (perf sched timehist). Remote
/// pause p99 over 1000 pauses, two runs each: 1694, 2455 µs looking every 200 µs;
/// 1123, 330 µs every 1 ms; 293, 234 µs every 2 ms.
const WAIT_POLL: Duration = Duration::from_millis(2);

/// Cluster mode's figures: a driver and executor processes of this binary on loopback,
/// against local mode where there is one to compare with.
#[derive(Parser, Debug)]
#[command(name = "cluster_bench")]
pub struct Args {
    /// Print one JSON object per figure instead of a table.
    #[arg(long)]
    json: bool,
    /// The figures to measure, comma-separated, in this order.
    #[arg(
        long,
        value_name = "NAME,…",
        value_delimiter = ',',
        default_value = "dispatch,remote_pause,mw1,shuffle",
        value_parser = PossibleValuesParser::new(["dispatch", "remote_pause", "shuffle", "mw1", "mw1_cluster"])
    )]
    only: Vec<String>,
    /// Executor processes of the local cluster (and executors of the local-mode runs).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = at_least_one::<usize>)]
    executors: usize,
    /// Slots per executor.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = at_least_one::<usize>)]
    slots: usize,
    /// `dispatch`: tiny tasks measured (after 200 of warm-up).
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = at_least_one::<usize>)]
    tasks: usize,
    /// `remote_pause`: pause/resume cycles measured.
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = at_least_one::<usize>)]
    pauses: usize,
    /// `shuffle`: MiB shuffled between the executors per run.
    #[arg(long, value_name = "M", default_value_t = 1024, value_parser = at_least_one::<u64>)]
    shuffle_mib: u64,
    /// `shuffle`: measured rounds, alternating local and cluster mode.
    #[arg(long, value_name = "R", default_value_t = 3, value_parser = at_least_one::<usize>)]
    rounds: usize,
    /// `mw1`: seconds per row.
    #[arg(long, value_name = "S", default_value_t = 5.0, value_parser = positive_f64)]
    seconds: f64,
    /// Urgent threads ask for short time slices only, never the real-time policy.
    #[arg(long)]
    no_realtime: bool,
}

/// Measures the figures `args` name and prints them. The program must have called
/// [`main_or_executor`](neptune::dataflow::cluster::main_or_executor) with
/// [`crate::builders`] first: the local clusters' executors are processes of it.
pub fn main(args: Args) -> ExitCode {
    let bench = Bench {
        json: args.json,
        executors: args.executors,
        slots: args.slots,
        args,
    };
    // Before any runtime starts; the local clusters' executors inherit it.
    allow_realtime(!bench.args.no_realtime);
    let urgent = std::thread::spawn(make_urgent)
        .join()
        .unwrap_or(Urgency::Unchanged);
    bench.report(&Setup {
        figure: "setup",
        urgent_threads: urgent.name(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        executors: bench.executors,
        slots: bench.slots,
    });
    for figure in &bench.args.only {
        match figure.as_str() {
            "dispatch" => bench.dispatch(),
            "remote_pause" => bench.remote_pause(),
            "shuffle" => bench.shuffle(),
            "mw1" | "mw1_cluster" => bench.mw1(),
            other => unreachable!("--only {other} passed clap's check"),
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use neptune_support::args::assert_refused;

    #[test]
    fn cli() {
        Args::command().debug_assert();
        let c = Args::try_parse_from(["cluster_bench"]).unwrap();
        assert!(!c.json);
        assert_eq!(c.only, ["dispatch", "remote_pause", "mw1", "shuffle"]);
        assert_eq!(
            (c.executors, c.slots, c.tasks, c.pauses),
            (2, 1, 10_000, 300)
        );
        assert_eq!((c.shuffle_mib, c.rounds, c.seconds), (1024, 3, 5.0));
        assert!(!c.no_realtime);
        let c = Args::try_parse_from([
            "cluster_bench",
            "--no-realtime",
            "--json",
            "--only=shuffle,mw1_cluster",
            "--slots",
            "2",
            "--seconds",
            "0.5",
        ])
        .unwrap();
        assert!(c.json && c.no_realtime);
        assert_eq!(c.only, ["shuffle", "mw1_cluster"]);
        assert_eq!((c.slots, c.seconds), (2, 0.5));
        assert_refused::<Args>(&[
            &["--jsno"][..],
            &["--only", "dispatch,nope"],
            &["--executors", "0"],
            &["--tasks", "1e4"],
            &["--seconds", "0"],
            &["--seconds", "-1"],
            &["--shuffle-mib", "0"],
        ]);
    }

    /// The keys of `figure`'s JSON line, sorted, after checking that it names itself.
    fn keys(figure: &impl Figure, name: &str) -> Vec<String> {
        let line = serde_json::to_string(figure).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["figure"], name, "{line}");
        assert!(figure.text().starts_with(name));
        neptune_support::json::sorted_keys(&line)
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn each_figure_line_has_the_keys_it_always_had() {
        let setup = Setup {
            figure: "setup",
            ..Setup::default()
        };
        assert_eq!(
            keys(&setup, "setup"),
            sorted(&["figure", "urgent_threads", "cores", "executors", "slots"])
        );
        let dispatch = Dispatch {
            figure: "dispatch",
            ..Dispatch::default()
        };
        assert_eq!(
            keys(&dispatch, "dispatch"),
            sorted(&[
                "figure",
                "tasks",
                "p50_us",
                "p99_us",
                "max_us",
                "to_executor_p50_us",
                "to_executor_p99_us",
                "executors",
                "slots",
            ])
        );
        let pause = RemotePause {
            figure: "remote_pause",
            ..RemotePause::default()
        };
        assert_eq!(
            keys(&pause, "remote_pause"),
            sorted(&[
                "figure",
                "pauses",
                "p50_us",
                "p99_us",
                "max_us",
                "to_executor_p50_us",
                "to_executor_p99_us",
            ])
        );
        let shuffle = Shuffle {
            figure: "shuffle",
            ..Shuffle::default()
        };
        assert_eq!(
            keys(&shuffle, "shuffle"),
            sorted(&[
                "figure",
                "mib",
                "cluster_mib_per_s",
                "local_mib_per_s",
                "cluster_over_local",
                "rounds",
            ])
        );
        let row = |p50, p99, units_per_s| Mw1Row {
            p50,
            p99,
            units_per_s,
            batches: 490,
            legs_p50: Legs::default(),
            legs_tail: Legs::default(),
        };
        let mw1 = Mw1Cluster::new("fifo", &row(700, 900, 1.5e6), &row(800, 1_234, 1.2e6));
        assert_eq!(
            keys(&mw1, "mw1_cluster"),
            sorted(&[
                "figure",
                "policy",
                "local_stream_p50_us",
                "local_stream_p99_us",
                "cluster_stream_p50_us",
                "cluster_stream_p99_us",
                "cluster_over_local_p99",
                "local_batch_units_per_s",
                "cluster_batch_units_per_s",
                "batch_ratio",
                "micro_batches",
                "cluster_legs_p50_us",
                "cluster_legs_tail_us",
            ])
        );
        let line = serde_json::to_string(&mw1).unwrap();
        assert!(
            line.starts_with(r#"{"figure":"mw1_cluster","policy":"fifo","#),
            "{line}"
        );
        assert!(line.contains(r#""cluster_over_local_p99":1.37,"#), "{line}");
        assert!(line.contains(r#""batch_ratio":0.8,"#), "{line}");
        let ratio = Mw1NeptuneOverFifo {
            figure: "mw1_cluster_neptune_over_fifo",
            p99_ratio: 0.5,
        };
        assert_eq!(
            keys(&ratio, "mw1_cluster_neptune_over_fifo"),
            sorted(&["figure", "p99_ratio"])
        );
        assert_eq!(
            ratio.text(),
            "mw1_cluster_neptune_over_fifo p99_ratio 0.500"
        );
    }
}
