//! How fast a pause takes effect and how fast a resumed task runs again.
//!
//! ```text
//! neptune bench pause-latency [--json] [--samples N] [--slots W]
//! ```
//!
//! (`cargo run --release --example pause_latency -- …` runs the same.)
//!
//! A Batch task runs a CPU loop that awaits `preemption_point()` after about a
//! microsecond of work, while W-1 other Batch tasks spin the same way on the other
//! slots. The main thread then repeats: `pause()`, wait until the task is `Paused`,
//! `resume()`, wait until the task has made progress again.
//!
//! - suspend: from `pause()` to the task parked;
//! - resume: from `resume()` to the task's next poll.
//!
//! Both come from the runtime's own histograms (`pause_to_park`, `resume_to_poll`,
//! about 12% bucket resolution). The `ext_*` figures are the same intervals seen from
//! the main thread: from just before `pause()` until `state()` reads `Paused`, and from
//! just before `resume()` until the task's progress counter moves (which it bumps right
//! after its preemption point returns).
//!
//! W defaults to the number of cores, so the main thread shares the cores with the W
//! busy slots: it spins only briefly, then yields and sleeps while it waits, but on a
//! small or loaded machine the p99 still includes the OS scheduler's time slices. Give
//! `--slots` one less than the cores to measure the runtime alone.

use clap::Parser;
use neptune::runtime::{preemption_point, Builder, SpawnOptions, TaskHandle, TaskState};
use neptune_support::args::{at_least_one, available_cores};
use neptune_support::stats::{human_ns, quantile};
use serde::Serialize;
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Work between two preemption points.
const WORK_UNIT: Duration = Duration::from_micros(1);
/// A wait longer than this means the runtime lost a pause or a resume.
const STUCK_AFTER: Duration = Duration::from_secs(5);
/// How long the main thread spins on a state before it yields its core between checks,
/// and then sleeps between checks.
const SPIN_FOR: Duration = Duration::from_micros(5);
const SLEEP_AFTER: Duration = Duration::from_micros(50);

/// `n` steps of arithmetic the compiler cannot fold away.
#[inline(never)]
fn work(n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..n {
        acc = acc
            .wrapping_mul(6364136223846793005)
            .wrapping_add(black_box(i));
    }
    acc
}

/// Steps of `work` that take about `WORK_UNIT` (the fastest of a few trials, so that
/// a trial the OS interrupted does not count).
fn calibrate() -> u64 {
    let n = 200_000;
    black_box(work(n)); // warm up
    let best = (0..10)
        .map(|_| {
            let start = Instant::now();
            black_box(work(n));
            start.elapsed()
        })
        .min()
        .expect("trials");
    let per_step = best.as_nanos() as f64 / n as f64;
    ((WORK_UNIT.as_nanos() as f64 / per_step) as u64).max(1)
}

/// Waits until `done()` is true: spins for `SPIN_FOR`, then yields, then sleeps between
/// checks, so that on a machine with no core to spare the slots get the CPU (from then
/// on the outside figures are as coarse as a yield or a short sleep). Exits with a
/// diagnostic after `STUCK_AFTER`.
fn wait_until(what: &str, task: &TaskHandle, sample: usize, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut spins = 0u32;
    while !done() {
        spins = spins.wrapping_add(1);
        if spins & 63 != 0 {
            std::hint::spin_loop();
            continue;
        }
        let waited = start.elapsed();
        if waited > STUCK_AFTER {
            eprintln!(
                "pause_latency: sample {sample}: waited {waited:?} for {what}; task state {:?}, suspensions {}",
                task.state(),
                task.suspensions()
            );
            std::process::exit(3);
        }
        if waited > SLEEP_AFTER {
            std::thread::sleep(Duration::from_micros(10));
        } else if waited > SPIN_FOR {
            std::thread::yield_now();
        }
    }
}

fn ns(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| d.as_nanos() as u64)
}

/// The figures: the `--json` line, and what the table shows. Nanoseconds throughout.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct Report {
    /// From the runtime's histograms: `pause()` to parked.
    suspend_p50_ns: u64,
    suspend_p99_ns: u64,
    /// `resume()` to the next poll.
    resume_p50_ns: u64,
    resume_p99_ns: u64,
    samples: u64,
    slots: u64,
    /// The same intervals seen from the main thread.
    ext_suspend_p50_ns: u64,
    ext_suspend_p99_ns: u64,
    ext_resume_p50_ns: u64,
    ext_resume_p99_ns: u64,
    /// Work between two preemption points.
    work_unit_ns: u64,
}

impl Report {
    /// The table; `suspend_max` and `resume_max` come from the histograms too.
    fn print_text(&self, suspend_max: Duration, resume_max: Duration) {
        let h = |ns: u64| human_ns(ns as f64);
        println!(
            "pause latency: {} samples, {} slots ({} spinning Batch tasks besides the target), preemption point every ~{}\n",
            self.samples,
            self.slots,
            self.slots.saturating_sub(1),
            h(self.work_unit_ns)
        );
        println!("{:<28} {:>10} {:>10}", "", "p50", "p99");
        for (what, p50, p99) in [
            (
                "suspend (pause -> parked)",
                self.suspend_p50_ns,
                self.suspend_p99_ns,
            ),
            (
                "resume (resume -> polled)",
                self.resume_p50_ns,
                self.resume_p99_ns,
            ),
            (
                "suspend, seen from outside",
                self.ext_suspend_p50_ns,
                self.ext_suspend_p99_ns,
            ),
            (
                "resume, seen from outside",
                self.ext_resume_p50_ns,
                self.ext_resume_p99_ns,
            ),
        ] {
            println!("{what:<28} {:>10} {:>10}", h(p50), h(p99));
        }
        println!(
            "\nmax: suspend {}, resume {}",
            human_ns(suspend_max.as_nanos() as f64),
            human_ns(resume_max.as_nanos() as f64)
        );
    }
}

/// How fast a pause takes effect (pause() to parked) and how fast a resumed task runs
/// again (resume() to its next poll).
#[derive(Parser, Debug)]
#[command(name = "pause_latency")]
pub struct Args {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Pause/resume cycles measured.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = at_least_one::<usize>)]
    samples: usize,
    /// Runtime slots: the target task and W-1 spinners; one per core by default, one
    /// less than the cores measures the runtime alone.
    #[arg(long, value_name = "W", default_value_t = available_cores(), value_parser = at_least_one::<usize>)]
    slots: usize,
}

/// Measures as `args` say and prints the figures.
pub fn main(args: Args) -> ExitCode {
    let Args {
        json,
        samples,
        slots,
    } = args;

    let unit = calibrate();
    let rt = Builder::new().slots(slots).build().expect("runtime");
    let stop = Arc::new(AtomicBool::new(false));

    // W-1 spinners and the target, each with its own progress counter.
    let progress: Vec<Arc<AtomicU64>> = (0..slots).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let joins: Vec<_> = progress
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (p, stop) = (p.clone(), stop.clone());
            let name = if i == 0 { "target" } else { "spinner" };
            rt.spawn_with(SpawnOptions::batch().name(name), async move {
                let mut n = 0u64;
                while !stop.load(Relaxed) {
                    n += 1;
                    p.store(n, Release);
                    black_box(work(unit));
                    preemption_point().await;
                }
            })
        })
        .collect();
    let task = joins[0].task();
    let target = progress[0].clone();

    // Every task must be running on its own slot before measuring.
    let start = Instant::now();
    while progress.iter().any(|p| p.load(Acquire) == 0) {
        if start.elapsed() > STUCK_AFTER {
            eprintln!("pause_latency: the {slots} busy tasks did not all start");
            std::process::exit(3);
        }
        std::thread::yield_now();
    }

    let mut ext_suspend = Vec::with_capacity(samples);
    let mut ext_resume = Vec::with_capacity(samples);
    for sample in 0..samples {
        let t0 = Instant::now();
        assert!(task.pause(), "the target finished");
        wait_until("the task to park", &task, sample, || {
            task.state() == TaskState::Paused
        });
        ext_suspend.push(t0.elapsed().as_nanos() as u64);

        let before = target.load(Acquire);
        let t1 = Instant::now();
        assert!(task.resume(), "the target was not paused");
        wait_until("the task to run again", &task, sample, || {
            target.load(Acquire) != before
        });
        ext_resume.push(t1.elapsed().as_nanos() as u64);
    }

    stop.store(true, Relaxed);
    rt.block_on(async {
        for j in joins {
            j.await.expect("busy task");
        }
    });
    let m = rt.metrics();
    let (suspend, resume) = (m.pause_to_park(), m.resume_to_poll());
    if suspend.count() != samples as u64 || resume.count() != samples as u64 {
        eprintln!(
            "pause_latency: the runtime recorded {} suspensions and {} resumes for {samples} samples",
            suspend.count(),
            resume.count()
        );
    }
    let report = Report {
        suspend_p50_ns: ns(suspend.quantile(0.5)),
        suspend_p99_ns: ns(suspend.quantile(0.99)),
        resume_p50_ns: ns(resume.quantile(0.5)),
        resume_p99_ns: ns(resume.quantile(0.99)),
        samples: samples as u64,
        slots: slots as u64,
        ext_suspend_p50_ns: quantile(&mut ext_suspend, 0.5),
        ext_suspend_p99_ns: quantile(&mut ext_suspend, 0.99),
        ext_resume_p50_ns: quantile(&mut ext_resume, 0.5),
        ext_resume_p99_ns: quantile(&mut ext_resume, 0.99),
        work_unit_ns: WORK_UNIT.as_nanos() as u64,
    };
    if json {
        match serde_json::to_string(&report) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("pause_latency: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        report.print_text(suspend.max(), resume.max());
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
        let c = Args::try_parse_from(["pause_latency"]).unwrap();
        assert!(!c.json);
        assert_eq!((c.samples, c.slots), (10_000, available_cores()));
        let c = Args::try_parse_from(["pause_latency", "--json", "--samples=5", "--slots", "3"])
            .unwrap();
        assert!(c.json);
        assert_eq!((c.samples, c.slots), (5, 3));
        assert_refused::<Args>(&[
            &["--jsno"][..],
            &["--slots", "0"],
            &["--samples", "x"],
            &["extra"],
        ]);
    }

    #[test]
    fn the_line_has_the_keys_it_always_had() {
        let line = serde_json::to_string(&Report::default()).unwrap();
        let keys = neptune_support::json::sorted_keys(&line);
        let mut old = [
            "suspend_p50_ns",
            "suspend_p99_ns",
            "resume_p50_ns",
            "resume_p99_ns",
            "samples",
            "slots",
            "ext_suspend_p50_ns",
            "ext_suspend_p99_ns",
            "ext_resume_p50_ns",
            "ext_resume_p99_ns",
            "work_unit_ns",
        ];
        old.sort_unstable();
        assert_eq!(keys, old);
    }
}
