//! Workload MW-1, one row at a time: a batch job that keeps every slot busy and a
//! stream job released on a fixed schedule, on a Neptune runtime with one of the
//! scheduler's policies or on tokio.
//!
//! Threads of one row:
//! - the runtime's workers (W slots, or tokio's worker threads);
//! - a *batch driver* that submits the batch job (4×W tasks), waits for all of it, and
//!   submits it again until the row ends; under KILL it submits through the
//!   scheduler's `Restarter`, whose futures restart killed attempts from scratch;
//! - a *release thread* that sleeps until each release time, then spawns the
//!   micro-batch's W stream tasks through the runtime handle; each task records its
//!   end time, so the release thread never waits for them. It asks the kernel for a
//!   short time slice (unless `--release-slice default`): with every core busy, a woken
//!   thread otherwise waits for a worker's slice to end (about 1.4 ms on 2 cores) and
//!   the figures would measure the kernel, not the policy. It does not spin before a
//!   release: spinning would take CPU from the batch job, and a thread with a short
//!   slice that spins has used it up just when the release is due (NEPTUNE's p99
//!   release → last start was 1.3–1.4 ms with a 100 µs spin, 0.18 ms without);
//! - the calling thread, which samples the counters at the end of the warm-up and at
//!   the end of the row, then lets the released micro-batches finish and stops the
//!   batch job.

use super::args::{Config, Row};
use super::live::Live;
use futures::future::{join_all, BoxFuture};
use neptune::runtime::time_slice::{make_urgent, Urgency};
use neptune::runtime::{pause_requested, preemption_point, Builder, SpawnOptions};
use neptune::scheduler::local::{KillLog, Neptune, NeptuneStats, Static};
use neptune::scheduler::restart::{Progress, Restarter};
use neptune::scheduler::PolicyKind;
use neptune_support::spin as workload;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A batch task publishes its unit count every this many units (and whenever a pause
/// is requested, so that a killed attempt's count is exact): one shared atomic add per
/// ~64 µs instead of one per unit.
const FLUSH_EVERY: u64 = 64;

/// Keeps a hot counter on its own cache lines.
#[repr(align(128))]
pub struct Padded<T>(pub T);

/// What the batch tasks of one row share.
pub struct BatchShared {
    /// Units done by every attempt so far (including attempts later killed).
    pub units: Padded<AtomicU64>,
    /// Set when the row is over: tasks return at their next unit.
    pub stop: Padded<AtomicBool>,
}

impl BatchShared {
    /// Nothing done yet, not stopped.
    pub fn new() -> Arc<BatchShared> {
        Arc::new(BatchShared {
            units: Padded(AtomicU64::new(0)),
            stop: Padded(AtomicBool::new(false)),
        })
    }
}

/// Stops the batch job when dropped: on every way out of a row, errors included.
pub struct StopOnDrop(pub Arc<BatchShared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.0.store(true, Relaxed);
    }
}

/// The yield point a batch task awaits after each unit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Yield {
    /// `neptune::runtime::preemption_point()`: returns `Pending` only when paused.
    Neptune,
    /// `tokio::task::yield_now()`: always gives the worker back.
    Tokio,
    /// None at all: the task runs to completion in one poll.
    None,
}

fn flush(pending: &mut u64, shared: &BatchShared, progress: Option<&Progress>) {
    if *pending > 0 {
        shared.units.0.fetch_add(*pending, Relaxed);
        if let Some(p) = progress {
            p.add(*pending);
        }
        *pending = 0;
    }
}

/// One batch task: `units` units of CPU work with a yield point after each.
async fn batch_task(
    units: u64,
    unit_us: f64,
    shared: Arc<BatchShared>,
    progress: Option<Progress>,
    mode: Yield,
) {
    let mut pending = 0u64;
    for _ in 0..units {
        if shared.stop.0.load(Relaxed) {
            break;
        }
        workload::unit(unit_us);
        pending += 1;
        // A pause (or a kill, which pauses first) stops the task at the yield point
        // below: publish its count before it parks or is dropped.
        if pending == FLUSH_EVERY || (mode == Yield::Neptune && pause_requested()) {
            flush(&mut pending, &shared, progress.as_ref());
        }
        match mode {
            Yield::Neptune => preemption_point().await,
            Yield::Tokio => tokio::task::yield_now().await,
            Yield::None => {}
        }
    }
    flush(&mut pending, &shared, progress.as_ref());
}

/// One micro-batch as its tasks report it.
pub struct MicroBatch {
    /// Scheduled release, in ns since the row's start.
    pub release_ns: u64,
    /// How late the release thread actually spawned it.
    lag_ns: u64,
    /// Its tasks that have not ended yet.
    pub remaining: AtomicUsize,
    /// The latest end of its tasks, in ns since the row's start.
    pub last_end_ns: AtomicU64,
    /// The latest first poll of its tasks, in ns since the row's start.
    last_start_ns: AtomicU64,
    /// The longest first-poll-to-end time of its tasks, in ns.
    max_run_ns: AtomicU64,
    /// How long the release thread took to spawn its tasks, in ns.
    spawn_ns: AtomicU64,
}

async fn stream_task(units: u64, unit_us: f64, start: Instant, mb: Arc<MicroBatch>) {
    let began = start.elapsed().as_nanos() as u64;
    for _ in 0..units {
        workload::unit(unit_us);
    }
    let end = start.elapsed().as_nanos() as u64;
    mb.last_start_ns.fetch_max(began, AcqRel);
    mb.max_run_ns.fetch_max(end - began, AcqRel);
    mb.last_end_ns.fetch_max(end, AcqRel);
    mb.remaining.fetch_sub(1, AcqRel);
}

/// Spawns one stream task on the row's runtime.
pub type SpawnStream = Box<dyn Fn(BoxFuture<'static, ()>) + Send>;

/// Sleeps until `at` (`thread::sleep` may return early on some systems: look again).
pub fn sleep_until(at: Instant) {
    loop {
        let now = Instant::now();
        if now >= at {
            return;
        }
        std::thread::sleep(at - now);
    }
}

/// Releases a micro-batch every trigger interval from `start` until `end`.
fn release_loop(
    cfg: &Config,
    start: Instant,
    end: Instant,
    spawn: SpawnStream,
) -> Vec<Arc<MicroBatch>> {
    release_thread_slice(cfg);
    let trigger_ns = (cfg.trigger_ms * 1e6).round() as u64;
    let (width, units, unit_us) = (cfg.slots, cfg.stream_units(), cfg.unit_us);
    let mut out = Vec::new();
    for k in 0u64.. {
        let release_ns = k * trigger_ns;
        let at = start + Duration::from_nanos(release_ns);
        if at >= end {
            break;
        }
        sleep_until(at);
        let mb = release_micro_batch(release_ns, at, width, units, unit_us, start, &spawn);
        out.push(mb);
    }
    out
}

/// Makes the calling release thread urgent (a short time slice, see [`make_urgent`])
/// unless `--release-slice default` (see the module's docs).
pub fn release_thread_slice(cfg: &Config) {
    if cfg.short_release_slice && make_urgent() == Urgency::Unchanged {
        eprintln!("the release thread keeps the kernel's time slice");
    }
}

/// Spawns one micro-batch of `width` stream tasks of `units` units each, due at `at`
/// (`release_ns` after `start`), and returns it for its tasks to report into.
pub fn release_micro_batch(
    release_ns: u64,
    at: Instant,
    width: usize,
    units: u64,
    unit_us: f64,
    start: Instant,
    spawn: &SpawnStream,
) -> Arc<MicroBatch> {
    let mb = Arc::new(MicroBatch {
        release_ns,
        lag_ns: at.elapsed().as_nanos() as u64,
        remaining: AtomicUsize::new(width),
        last_end_ns: AtomicU64::new(0),
        last_start_ns: AtomicU64::new(0),
        max_run_ns: AtomicU64::new(0),
        spawn_ns: AtomicU64::new(0),
    });
    let spawning = Instant::now();
    for _ in 0..width {
        spawn(Box::pin(stream_task(units, unit_us, start, mb.clone())));
    }
    mb.spawn_ns
        .store(spawning.elapsed().as_nanos() as u64, Relaxed);
    mb
}

/// Runs one batch job after another until the row stops; returns how many tasks of
/// them ended in an error.
fn until_stopped(shared: &BatchShared, mut job: impl FnMut() -> usize) -> usize {
    let mut errors = 0;
    while !shared.stop.0.load(Relaxed) {
        errors += job();
    }
    errors
}

/// How many of a job's task results are errors.
fn failed<T, E>(results: Vec<Result<T, E>>) -> usize {
    results.iter().filter(|r| r.is_err()).count()
}

/// The runtime(s) of one row.
pub enum Setup {
    /// A Neptune runtime with one of the scheduler's policies.
    Neptune {
        /// The runtime.
        rt: neptune::runtime::Runtime,
        /// Parks are reported as suspensions (the policy pauses batch work).
        pausing: bool,
        /// Batch tasks go through it (KILL).
        restarter: Option<Restarter>,
        /// NEPTUNE's decision counters.
        stats: Option<NeptuneStats>,
    },
    /// tokio peers.
    Tokio {
        /// The runtime for the stream job (and the batch job unless split).
        stream: tokio::runtime::Runtime,
        /// A second runtime for the batch job (tokio-split).
        batch: Option<tokio::runtime::Runtime>,
        /// Whether batch units yield to tokio's scheduler.
        mode: Yield,
    },
}

fn tokio_rt(workers: usize, name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))
}

impl Setup {
    /// The runtime(s) row `row` runs on.
    pub fn new(cfg: &Config, row: Row) -> Result<Setup, String> {
        let w = cfg.slots;
        let neptune = |policy: Box<dyn neptune::runtime::policy::Policy>| {
            Builder::new()
                .slots(w)
                .thread_name("mw1-slot")
                .timeline(if cfg.ui.is_some() {
                    crate::live::TIMELINE_SPANS
                } else {
                    0
                })
                .policy(policy)
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))
        };
        Ok(match row {
            Row::StreamAlone | Row::BatchAlone => Setup::Neptune {
                rt: neptune(PolicyKind::Neptune.build(w))?,
                pausing: true,
                restarter: None,
                stats: None,
            },
            Row::Policy(PolicyKind::Neptune) | Row::NeptuneNoStarve => {
                // As `PolicyKind::Neptune.build`, keeping a handle on its counters.
                let policy = match row {
                    Row::NeptuneNoStarve => Neptune::new().without_anti_starvation(),
                    _ => Neptune::new(),
                };
                let stats = policy.stats();
                Setup::Neptune {
                    rt: neptune(Box::new(policy))?,
                    pausing: true,
                    restarter: None,
                    stats: Some(stats),
                }
            }
            Row::Policy(kind) => {
                let log = KillLog::new();
                let policy = match kind {
                    PolicyKind::Static => Box::new(Static::new(cfg.static_stream_slots())),
                    _ => kind.build_with_log(w, &log),
                };
                let rt = neptune(policy)?;
                let restarter =
                    (kind == PolicyKind::Kill).then(|| Restarter::new(rt.handle(), &log));
                Setup::Neptune {
                    rt,
                    pausing: kind.pauses_batch(),
                    restarter,
                    stats: None,
                }
            }
            Row::TokioShared | Row::TokioYield => Setup::Tokio {
                stream: tokio_rt(w, "mw1-tokio")?,
                batch: None,
                mode: if row == Row::TokioYield {
                    Yield::Tokio
                } else {
                    Yield::None
                },
            },
            Row::TokioSplit => {
                // Half the cores each (the batch side takes the odd one out).
                let stream_workers = (w / 2).max(1);
                let batch_workers = (w - w / 2).max(1);
                Setup::Tokio {
                    stream: tokio_rt(stream_workers, "mw1-tokio-stream")?,
                    batch: Some(tokio_rt(batch_workers, "mw1-tokio-batch")?),
                    mode: Yield::None,
                }
            }
        })
    }

    /// A spawner of stream tasks on the stream job's runtime.
    pub fn stream_spawner(&self) -> SpawnStream {
        match self {
            Setup::Neptune { rt, .. } => {
                let h = rt.handle().clone();
                Box::new(move |f| drop(h.spawn_with(SpawnOptions::stream(), f)))
            }
            Setup::Tokio { stream, .. } => {
                let h = stream.handle().clone();
                Box::new(move |f| drop(h.spawn(f)))
            }
        }
    }

    /// The batch driver's body: submit the job, wait for it, again, until `stop`.
    /// Returns how many tasks ended in an error (a panic, or a cancel not by KILL).
    pub fn batch_driver(
        &self,
        cfg: &Config,
        shared: Arc<BatchShared>,
    ) -> Box<dyn FnOnce() -> usize + Send> {
        let (n, units, unit_us) = (cfg.batch_tasks(), cfg.batch_units(), cfg.unit_us);
        match self {
            Setup::Neptune {
                rt,
                restarter: Some(r),
                ..
            } => {
                let (h, r) = (rt.handle().clone(), r.clone());
                Box::new(move || {
                    until_stopped(&shared, || {
                        let job: Vec<_> = (0..n)
                            .map(|_| {
                                let s = shared.clone();
                                r.spawn_batch(move |p| {
                                    batch_task(units, unit_us, s.clone(), Some(p), Yield::Neptune)
                                })
                            })
                            .collect();
                        failed(h.block_on(join_all(job)))
                    })
                })
            }
            Setup::Neptune { rt, .. } => {
                let h = rt.handle().clone();
                Box::new(move || {
                    until_stopped(&shared, || {
                        let job: Vec<_> = (0..n)
                            .map(|_| {
                                let f = batch_task(
                                    units,
                                    unit_us,
                                    shared.clone(),
                                    None,
                                    Yield::Neptune,
                                );
                                h.spawn_with(SpawnOptions::batch(), f)
                            })
                            .collect();
                        failed(h.block_on(join_all(job)))
                    })
                })
            }
            Setup::Tokio {
                stream,
                batch,
                mode,
            } => {
                let h = batch.as_ref().unwrap_or(stream).handle().clone();
                let mode = *mode;
                Box::new(move || {
                    until_stopped(&shared, || {
                        let job: Vec<_> = (0..n)
                            .map(|_| {
                                h.spawn(batch_task(units, unit_us, shared.clone(), None, mode))
                            })
                            .collect();
                        failed(h.block_on(join_all(job)))
                    })
                })
            }
        }
    }

    /// The counters of the row now.
    pub fn snapshot(&self, shared: &BatchShared) -> Snapshot {
        let cpu_s = process_cpu_seconds();
        let at = Instant::now();
        let units = shared.units.0.load(Relaxed);
        match self {
            Setup::Neptune {
                rt,
                pausing,
                restarter,
                stats,
            } => {
                let r = restarter.as_ref().map(Restarter::stats).unwrap_or_default();
                let parks = rt.metrics().total(|s| s.parks);
                Snapshot {
                    at,
                    cpu_s,
                    quanta: stats
                        .as_ref()
                        .map(|s| (s.quanta_granted(), s.exempt_skips())),
                    units,
                    wasted: r.wasted_units,
                    kills: r.kills,
                    suspensions: if *pausing { parks } else { 0 },
                    parks,
                }
            }
            Setup::Tokio { .. } => Snapshot {
                at,
                cpu_s,
                quanta: None,
                units,
                wasted: 0,
                kills: 0,
                suspensions: 0,
                parks: 0,
            },
        }
    }
}

/// Counters at one instant.
pub struct Snapshot {
    /// When it was taken.
    pub at: Instant,
    cpu_s: Option<f64>,
    /// NEPTUNE's anti-starvation quanta granted and exempt skips so far.
    quanta: Option<(u64, u64)>,
    /// Batch units done by every attempt so far.
    pub units: u64,
    /// Units of attempts that were killed.
    pub wasted: u64,
    kills: u64,
    /// Suspensions (parks of a pausing policy).
    pub suspensions: u64,
    /// Parks whatever the policy (suspensions only count them for pausing policies).
    parks: u64,
}

/// What one run of one row measured (the figures exclude the warm-up).
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Latency of every micro-batch released after the warm-up, in µs, in release
    /// order. A micro-batch that had not finished when the harness stopped waiting
    /// counts with its latency so far (a lower bound) and in `unfinished`.
    pub latencies_us: Vec<u64>,
    /// Micro-batches still running when the harness stopped waiting.
    pub unfinished: usize,
    /// How late the release thread spawned each of those micro-batches, in µs.
    pub release_lag_us: Vec<u64>,
    /// From release to the first poll of the micro-batch's last task to start, in µs
    /// (queueing, and waiting for a pause to take effect), for finished micro-batches.
    pub start_us: Vec<u64>,
    /// The longest run of one of its tasks, first poll to end, in µs (0.5 ms of work
    /// ideally; more when the OS takes the core away meanwhile).
    pub run_us: Vec<u64>,
    /// CPU time the whole process used over the measured stretch, in cores.
    pub cpu_cores: Option<f64>,
    /// The runtime's own pause histograms over the whole row (Neptune runtimes that
    /// parked at least one task): pause request → parked, p99 in µs.
    pub pause_to_park_p99_us: Option<f64>,
    /// The same, p50.
    pub pause_to_park_p50_us: Option<f64>,
    /// Resume → next poll, p99 in µs.
    pub resume_to_poll_p99_us: Option<f64>,
    /// NEPTUNE only, over the measured stretch: anti-starvation quanta granted, and
    /// times a stream arrival passed over a running batch task because of one.
    pub quanta: Option<(u64, u64)>,
    /// The longest time the release thread spent spawning one micro-batch, in µs.
    pub spawn_max_us: u64,
    /// Useful batch units per second: every unit, less those of killed attempts.
    pub batch_units_per_s: Option<f64>,
    /// Units done by attempts killed during the measured stretch.
    pub wasted_units: Option<u64>,
    /// Attempts killed during the measured stretch.
    pub kills: u64,
    /// Suspensions during the measured stretch.
    pub suspensions: u64,
    /// Parks of any policy (suspensions count them only for pausing policies).
    pub parks: u64,
}

/// Runs one row of MW-1 and measures it.
pub fn run_row(cfg: &Config, row: Row, live: &Live) -> Result<Sample, String> {
    let setup = Setup::new(cfg, row)?;
    let shared = BatchShared::new();
    let runtime = match &setup {
        Setup::Neptune { rt, .. } => Some(rt.handle()),
        Setup::Tokio { .. } => None,
    };
    live.row_started(row.name(), runtime, &shared)?;
    let stopper = StopOnDrop(shared.clone());
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(cfg.seconds);
    let warm = start + Duration::from_secs_f64(cfg.warmup_ms / 1e3);

    let batch: Option<JoinHandle<usize>> = if row.has_batch() {
        let body = setup.batch_driver(cfg, shared.clone());
        Some(spawn_thread("mw1-batch-driver", body)?)
    } else {
        None
    };
    let release: Option<JoinHandle<Vec<Arc<MicroBatch>>>> = if row.has_stream() {
        let spawn = setup.stream_spawner();
        let c = cfg.clone();
        Some(spawn_thread("mw1-release", move || {
            release_loop(&c, start, end, spawn)
        })?)
    } else {
        None
    };

    sleep_until(warm);
    let s0 = setup.snapshot(&shared);
    sleep_until(end);
    let s1 = setup.snapshot(&shared);

    // Let every released micro-batch finish (the batch job keeps running meanwhile,
    // so queued micro-batches still wait behind it as they would have).
    let batches = match release {
        Some(t) => t
            .join()
            .map_err(|_| "the release thread panicked".to_owned())?,
        None => Vec::new(),
    };
    let job = Duration::from_secs_f64(cfg.batch_tasks_per_slot as f64 * cfg.batch_ms / 1e3);
    let give_up = Instant::now() + (3 * job).max(Duration::from_secs(2));
    while batches.iter().any(|b| b.remaining.load(Acquire) > 0) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(1));
    }
    let waited_ns = start.elapsed().as_nanos() as u64;
    drop(stopper);
    let errors = match batch {
        Some(t) => t
            .join()
            .map_err(|_| "the batch driver panicked".to_owned())?,
        None => 0,
    };
    let pause_hist = match &setup {
        Setup::Neptune { rt, .. } => {
            let m = rt.metrics();
            let q = |h: &neptune::runtime::metrics::HistogramSnapshot, q: f64| {
                h.quantile(q).map(|d| d.as_nanos() as f64 / 1e3)
            };
            let (park, poll) = (m.pause_to_park(), m.resume_to_poll());
            (q(&park, 0.99), q(&poll, 0.99), q(&park, 0.5))
        }
        Setup::Tokio { .. } => (None, None, None),
    };
    drop(setup);
    live.row_ended();
    if errors > 0 {
        return Err(format!("{errors} batch task(s) of row {row} failed"));
    }

    let warm_ns = (cfg.warmup_ms * 1e6) as u64;
    let mut sample = Sample {
        pause_to_park_p99_us: pause_hist.0,
        pause_to_park_p50_us: pause_hist.2,
        resume_to_poll_p99_us: pause_hist.1,
        ..Sample::default()
    };
    for b in batches.iter().filter(|b| b.release_ns >= warm_ns) {
        let done = b.remaining.load(Acquire) == 0;
        let last = if done {
            b.last_end_ns.load(Acquire)
        } else {
            sample.unfinished += 1;
            waited_ns
        };
        sample
            .latencies_us
            .push(last.saturating_sub(b.release_ns) / 1000);
        sample.release_lag_us.push(b.lag_ns / 1000);
        if done {
            let started = b.last_start_ns.load(Acquire);
            sample
                .start_us
                .push(started.saturating_sub(b.release_ns) / 1000);
            sample.run_us.push(b.max_run_ns.load(Acquire) / 1000);
        }
    }
    if let (Some((q0, e0)), Some((q1, e1))) = (s0.quanta, s1.quanta) {
        sample.quanta = Some((q1 - q0, e1 - e0));
    }
    sample.spawn_max_us = batches
        .iter()
        .map(|b| b.spawn_ns.load(Relaxed))
        .max()
        .unwrap_or(0)
        / 1000;
    if let (Some(c0), Some(c1)) = (s0.cpu_s, s1.cpu_s) {
        sample.cpu_cores = Some((c1 - c0) / (s1.at - s0.at).as_secs_f64());
    }
    if row.has_batch() {
        let secs = (s1.at - s0.at).as_secs_f64();
        let useful = |s: &Snapshot| s.units.saturating_sub(s.wasted) as f64;
        sample.batch_units_per_s = Some(((useful(&s1) - useful(&s0)) / secs).max(0.0));
        sample.wasted_units = Some(s1.wasted - s0.wasted);
        sample.kills = s1.kills - s0.kills;
    }
    sample.suspensions = s1.suspensions - s0.suspensions;
    sample.parks = s1.parks - s0.parks;
    Ok(sample)
}

/// Starts a named thread running `f`.
pub fn spawn_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, String> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map_err(|e| format!("cannot start thread {name}: {e}"))
}

/// CPU time (user + system) this process used so far, from `/proc/self/stat` (Linux;
/// `None` elsewhere). Clock ticks are 1/100 s (`USER_HZ` on Linux).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: fields are counted after its closing ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}
