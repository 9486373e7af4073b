//! Switching policies at run time, and ADAPTIVE's bound on Batch starvation, on real
//! runtimes under Stream load that keeps every slot busy.
//!
//! The Stream load is a feeder thread that keeps many short Stream tasks queued in the
//! global queue (each one's spawn asks the policy for room), so under a pausing policy
//! every slot has Stream work all the time and parked Batch tasks never get their slot
//! back by themselves. Nothing here asserts on timing: tests wait for conditions with a
//! generous deadline.

use neptune_runtime::{
    preemption_point, Builder, Handle, JoinHandle, Runtime, SpawnOptions, TaskState,
};
use neptune_scheduler::local::{Adaptive, Fair, Fifo, Mode, Neptune, Static};
use neptune_support::wait::wait_for;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Spins for about `d` (CPU work, no yield).
fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Keeps `depth` Stream tasks of `work` each queued or running until dropped.
struct Feeder {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Feeder {
    fn start(handle: Handle, depth: usize, work: Duration) -> Feeder {
        let stop = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(SeqCst) {
                    while in_flight.load(SeqCst) < depth {
                        in_flight.fetch_add(1, SeqCst);
                        let n = in_flight.clone();
                        drop(handle.spawn_with(SpawnOptions::stream(), async move {
                            spin(work);
                            n.fetch_sub(1, SeqCst);
                        }));
                    }
                    thread::sleep(Duration::from_millis(1));
                }
            })
        };
        Feeder {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A Batch task of `units` units of ~`unit` CPU work each, a yield point after each.
fn batch(rt: &Runtime, units: u64, unit: Duration) -> JoinHandle<u64> {
    rt.spawn_with(SpawnOptions::batch(), async move {
        for _ in 0..units {
            spin(unit);
            preemption_point().await;
        }
        units
    })
}

fn finished(t: &neptune_runtime::TaskHandle) -> bool {
    matches!(t.state(), TaskState::Completed | TaskState::Cancelled)
}

/// Waits for every task to finish (panics after the deadline: a task was stranded).
fn finish_all(rt: &Runtime, tasks: Vec<JoinHandle<u64>>) -> u64 {
    let mut sum = 0;
    for t in tasks {
        let h = t.task();
        wait_for("a batch task to finish (stranded?)", || finished(&h));
        sum += rt.block_on(t).unwrap();
    }
    sum
}

/// Waits until every task is being polled (a Batch task polls until it is paused).
fn wait_running(tasks: &[JoinHandle<u64>]) {
    let handles: Vec<_> = tasks.iter().map(|t| t.task()).collect();
    wait_for("the batch tasks to run", || {
        handles.iter().all(|t| t.state() == TaskState::Running)
    });
}

#[test]
fn switching_to_dedicated_slots_moves_tasks_parked_on_a_stream_slot() {
    // NEPTUNE without anti-starvation parks both Batch tasks at the first Stream
    // arrivals, and they stay parked (the Stream queue never empties); STATIC then
    // makes slot 0 Stream-only. Its parked task must move to the Batch slot, and the
    // Batch slot must resume its own although the Stream queue is not empty.
    let policy = Neptune::new().without_anti_starvation();
    let rt = Builder::new().slots(2).policy(policy).build().unwrap();
    let tasks: Vec<_> = (0..2)
        .map(|_| batch(&rt, 20_000, Duration::from_micros(5)))
        .collect();
    wait_running(&tasks);
    let feeder = Feeder::start(rt.handle().clone(), 256, Duration::from_micros(300));
    wait_for("both batch tasks parked", || {
        rt.metrics()
            .slots
            .iter()
            .map(|s| s.suspended)
            .sum::<usize>()
            == 2
    });
    rt.set_policy(Static::new(1));
    assert_eq!(finish_all(&rt, tasks), 40_000);
    drop(feeder);
    let m = rt.metrics();
    assert_eq!(m.policy.name, "static");
    assert_eq!(m.policy.replacements, 1);
    assert_eq!(m.policy.switches_total(), 1);
}

#[test]
fn policies_switched_under_load_strand_no_task() {
    let rt = Builder::new()
        .slots(2)
        .policy(Neptune::new())
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|_| batch(&rt, 3_000, Duration::from_micros(3)))
        .collect();
    let feeder = Feeder::start(rt.handle().clone(), 8, Duration::from_micros(200));
    let switcher = {
        let h = rt.handle().clone();
        let probes: Vec<_> = tasks.iter().map(|t| t.task()).collect();
        thread::spawn(move || {
            let mut switches = 0u64;
            // Round after round of every policy, while some batch task still runs.
            while probes.iter().any(|t| !finished(t)) && switches < 10_000 {
                match switches % 6 {
                    0 => h.set_policy(Fifo),
                    1 => h.set_policy(Neptune::new()),
                    2 => h.set_policy(Static::new(1)),
                    3 => h.set_policy(Adaptive::new()),
                    4 => h.set_policy(Fair::new().min_shares(1, 0)),
                    _ => h.set_policy(Neptune::new().max_suspensions(0)),
                }
                switches += 1;
                thread::sleep(Duration::from_millis(2));
            }
            switches
        })
    };
    // The feeder stops once the batch tasks are done: a switch to a policy that never
    // resumes could only be found out while Stream work keeps coming.
    let sum = finish_all(&rt, tasks);
    drop(feeder);
    let switches = switcher.join().unwrap();
    assert_eq!(sum, 6 * 3_000);
    assert_eq!(rt.metrics().policy.replacements, switches);
    // Stream work still runs after all that.
    let answer = rt.block_on(rt.spawn_with(SpawnOptions::stream(), async { 7 }));
    assert_eq!(answer.unwrap(), 7);
}

#[test]
fn adaptive_gives_starving_batch_work_dedicated_slots() {
    // The bound: Stream work that would take every slot all the time never lets a slot
    // resume what it parked; within `confirm` windows ADAPTIVE dedicates a slot to
    // Batch work (and the runtime moves the tasks parked on the Stream slot there), so
    // the Batch tasks finish while the Stream load goes on.
    let policy = Adaptive::new().window(Duration::from_millis(10));
    let stats = policy.stats();
    let rt = Builder::new().slots(2).policy(policy).build().unwrap();
    // Running before the Stream load starts, so that both are paused (not left queued)
    // and, parked behind Stream work that never drains, cannot finish without help.
    let tasks: Vec<_> = (0..2)
        .map(|_| batch(&rt, 20_000, Duration::from_micros(5)))
        .collect();
    wait_running(&tasks);
    let feeder = Feeder::start(rt.handle().clone(), 256, Duration::from_micros(500));
    assert_eq!(finish_all(&rt, tasks), 40_000);
    drop(feeder);
    let decisions = stats.decisions();
    assert!(
        decisions
            .iter()
            .any(|d| d.to == Mode::Dedicated && d.reason == "parked batch work is not resumed"),
        "{decisions:#?}"
    );
    let m = rt.metrics();
    assert_eq!(m.policy.name, "adaptive");
    assert!(m.policy.mode_switches >= 1);
    assert_eq!(m.policy.mode_switches, stats.switches());
    assert_eq!(m.policy.replacements, 0);
}

#[test]
fn adaptive_stops_preempting_without_stream_work_and_resumes_at_the_first_arrival() {
    let policy = Adaptive::new().window(Duration::from_millis(5));
    let stats = policy.stats();
    let rt = Builder::new().slots(1).policy(policy).build().unwrap();
    wait_for("no-preemption mode", || stats.mode() == Mode::NoPreemption);
    assert_eq!(rt.metrics().policy.active(), "no-preemption");
    // A Batch task holds the only slot; a Stream arrival must still get it at once.
    let stop = Arc::new(AtomicBool::new(false));
    let hog = {
        let stop = stop.clone();
        rt.spawn(async move {
            while !stop.load(SeqCst) {
                spin(Duration::from_micros(10));
                preemption_point().await;
            }
            0u64
        })
    };
    let hog_task = hog.task();
    wait_for("the hog to run", || hog_task.state() == TaskState::Running);
    let answer = rt.block_on(rt.spawn_with(SpawnOptions::stream(), async { 42 }));
    assert_eq!(answer.unwrap(), 42);
    assert!(
        stats
            .decisions()
            .iter()
            .any(|d| d.from == Mode::NoPreemption && d.to == Mode::Pause),
        "{:#?}",
        stats.decisions()
    );
    stop.store(true, SeqCst);
    rt.block_on(hog).unwrap();
}
