//! Random pause / resume / cancel / wake operations from several OS threads at once,
//! checked task by task: every task ends exactly once with the right output (or is
//! cancelled, only if it was asked to be), and a paused task is never polled.

mod common;

use common::*;
use futures::channel::mpsc;
use futures::StreamExt;
use neptune_runtime::{JoinHandle, SpawnOptions, TaskHandle, TaskState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// xorshift64*: a small deterministic generator, one per controller thread.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Locks `m`, ignoring poisoning (a panicking thread is reported on its own).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Joins a controller thread, re-raising its panic with the panic's message.
fn join_controller(t: std::thread::JoinHandle<[u64; 5]>) -> [u64; 5] {
    t.join().unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("a controller thread panicked: {msg}")
    })
}

/// What the test knows about one task.
struct Ctl {
    task: TaskHandle,
    tx: mpsc::UnboundedSender<u64>,
    /// Bumped by the task at every step; frozen while the task is paused.
    progress: Arc<AtomicU64>,
    sent_count: AtomicU64,
    sent_sum: AtomicU64,
    /// Every user `resume` of this task is made while holding this lock, so a thread
    /// holding it knows that the task's user pause stays in place.
    resume_lock: Mutex<()>,
    cancel_requested: AtomicBool,
    completions: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

/// A worker's join handle: its output is (messages received, their sum).
type Worker = JoinHandle<(u64, u64)>;

/// The task body: alternates CPU-bound steps (with preemption points and yields) and
/// waits for channel messages, until the channel closes; returns (messages, sum).
async fn worker(
    i: usize,
    mut rx: mpsc::UnboundedReceiver<u64>,
    progress: Arc<AtomicU64>,
    completions: Arc<AtomicUsize>,
) -> (u64, u64) {
    let (mut count, mut sum) = (0u64, 0u64);
    let units = 1 + (i % 7) as u64 * 100;
    loop {
        for _ in 0..units {
            progress.fetch_add(1, SeqCst);
            neptune_runtime::preemption_point().await;
        }
        if i.is_multiple_of(3) {
            neptune_runtime::yield_now().await;
            progress.fetch_add(1, SeqCst);
        }
        match rx.next().await {
            Some(v) => {
                progress.fetch_add(1, SeqCst);
                count += 1;
                sum += v;
            }
            None => break,
        }
    }
    completions.fetch_add(1, SeqCst);
    (count, sum)
}

fn spawn_all(rt: &neptune_runtime::Runtime, n: usize) -> (Vec<Arc<Ctl>>, Vec<Worker>) {
    let mut ctls = Vec::with_capacity(n);
    let mut joins = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = mpsc::unbounded();
        let progress = Arc::new(AtomicU64::new(0));
        let completions = Arc::new(AtomicUsize::new(0));
        let drops = Arc::new(AtomicUsize::new(0));
        let opts = if i.is_multiple_of(4) {
            SpawnOptions::stream()
        } else {
            SpawnOptions::batch()
        };
        let fut = counted(&drops, worker(i, rx, progress.clone(), completions.clone()));
        let h = rt.spawn_with(opts.name(format!("worker-{i}")), fut);
        ctls.push(Arc::new(Ctl {
            task: h.task(),
            tx,
            progress,
            sent_count: AtomicU64::new(0),
            sent_sum: AtomicU64::new(0),
            resume_lock: Mutex::new(()),
            cancel_requested: AtomicBool::new(false),
            completions,
            drops,
        }));
        joins.push(h);
    }
    (ctls, joins)
}

/// Pauses the task, waits until it is paused, and checks that it makes no progress
/// while paused. Holds the resume lock throughout. Returns a violation, if any.
fn freeze_check(c: &Ctl, rng: &mut Rng) -> Option<String> {
    let _g = lock(&c.resume_lock);
    if !c.task.pause() {
        return None; // finished
    }
    let start = Instant::now();
    let mut spins = 0u32;
    let stopped = loop {
        if matches!(
            c.task.state(),
            TaskState::Paused | TaskState::Cancelled | TaskState::Completed
        ) {
            break true;
        }
        if start.elapsed() > DEADLINE {
            break false;
        }
        spins += 1;
        if spins < 20 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    if !stopped {
        return Some(format!(
            "{:?} did not stop within {DEADLINE:?} of a pause",
            c.task
        ));
    }
    if c.task.state() != TaskState::Paused {
        return None;
    }
    let before = c.progress.load(SeqCst);
    if rng.below(2) == 0 {
        std::thread::sleep(Duration::from_micros(rng.below(500)));
    } else {
        for _ in 0..rng.below(5) {
            std::thread::yield_now();
        }
    }
    let after = c.progress.load(SeqCst);
    let violation = (after != before).then(|| {
        format!(
            "{:?} made progress while paused: {before} -> {after}",
            c.task
        )
    });
    if rng.below(2) == 0 {
        c.task.resume();
    }
    violation
}

/// Operations numbered 8,000 to this (out of 10,000) cancel a task.
const LAST_CANCEL_OP: u64 = 8_003;

fn controller(
    seed: u64,
    ops: usize,
    ctls: Arc<Vec<Arc<Ctl>>>,
    violations: Arc<Mutex<Vec<String>>>,
) -> [u64; 5] {
    let mut rng = Rng::new(seed);
    let mut counts = [0u64; 5];
    for _ in 0..ops {
        let c = &ctls[rng.below(ctls.len() as u64) as usize];
        let op = rng.below(10_000);
        match op {
            0..=2_999 => {
                let v = rng.below(1000);
                if c.tx.unbounded_send(v).is_ok() {
                    c.sent_count.fetch_add(1, SeqCst);
                    c.sent_sum.fetch_add(v, SeqCst);
                }
                counts[0] += 1;
            }
            3_000..=5_499 => {
                c.task.pause();
                counts[1] += 1;
            }
            5_500..=7_999 => {
                let _g = lock(&c.resume_lock);
                c.task.resume();
                counts[2] += 1;
            }
            8_000..=LAST_CANCEL_OP => {
                c.cancel_requested.store(true, SeqCst);
                c.task.cancel();
                counts[3] += 1;
            }
            8_100..=8_159 => {
                if let Some(v) = freeze_check(c, &mut rng) {
                    lock(&violations).push(v);
                }
                counts[4] += 1;
            }
            _ => {
                for _ in 0..rng.below(200) {
                    std::hint::spin_loop();
                }
            }
        }
    }
    counts
}

fn describe(c: &Ctl) -> String {
    format!(
        "{:?} suspensions={} pause_requested={} progress={} sent={} cancel_requested={}",
        c.task,
        c.task.suspensions(),
        c.task.is_pause_requested(),
        c.progress.load(SeqCst),
        c.sent_count.load(SeqCst),
        c.cancel_requested.load(SeqCst)
    )
}

fn stress_round(seed: u64, slots: usize) {
    const TASKS: usize = 200;
    const THREADS: u64 = 4;
    const OPS: usize = 20_000;
    let rt = runtime(slots);
    let (ctls, joins) = spawn_all(&rt, TASKS);
    let ctls = Arc::new(ctls);
    let violations: Arc<Mutex<Vec<String>>> = Arc::default();

    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (ctls, violations) = (ctls.clone(), violations.clone());
            std::thread::spawn(move || controller(seed * 100 + t, OPS, ctls, violations))
        })
        .collect();
    let mut totals = [0u64; 5];
    for t in threads {
        let counts = join_controller(t);
        for (a, b) in totals.iter_mut().zip(counts) {
            *a += b;
        }
    }
    assert!(
        totals.iter().all(|&n| n > 0),
        "every kind of operation ran: {totals:?}"
    );

    // Resume everything and close every channel: each task must now finish.
    for c in ctls.iter() {
        let _g = lock(&c.resume_lock);
        c.task.resume();
        c.tx.close_channel();
    }
    let start = Instant::now();
    let all_done = wait_until(Duration::from_secs(20), || {
        joins.iter().all(|h| h.is_finished())
    });
    if !all_done {
        let stuck: Vec<String> = joins
            .iter()
            .zip(ctls.iter())
            .filter(|(h, _)| !h.is_finished())
            .map(|(_, c)| describe(c))
            .collect();
        panic!(
            "{slots} slots, seed {seed}: {} of {TASKS} tasks did not finish {:?} after the \
             final resumes:\n{}",
            stuck.len(),
            start.elapsed(),
            stuck.join("\n")
        );
    }

    let mut completed = 0;
    let mut cancelled = 0;
    for (h, c) in joins.into_iter().zip(ctls.iter()) {
        match futures::executor::block_on(h) {
            Ok((count, sum)) => {
                completed += 1;
                assert_eq!(c.completions.load(SeqCst), 1, "{}", describe(c));
                assert_eq!(count, c.sent_count.load(SeqCst), "{}", describe(c));
                assert_eq!(sum, c.sent_sum.load(SeqCst), "{}", describe(c));
                assert_eq!(c.task.state(), TaskState::Completed);
            }
            Err(e) => {
                cancelled += 1;
                assert!(e.is_cancelled(), "{e:?}: {}", describe(c));
                assert!(
                    c.cancel_requested.load(SeqCst),
                    "cancelled without being asked: {}",
                    describe(c)
                );
                assert_eq!(c.completions.load(SeqCst), 0, "{}", describe(c));
                assert_eq!(c.task.state(), TaskState::Cancelled);
            }
        }
        assert_eq!(
            c.drops.load(SeqCst),
            1,
            "future dropped once: {}",
            describe(c)
        );
    }
    assert_eq!(completed + cancelled, TASKS);
    assert!(completed > 0);

    let v = lock(&violations);
    assert!(
        v.is_empty(),
        "{} violations, first ones:\n{}",
        v.len(),
        v.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
    wait_for("no live tasks", || rt.metrics().live_tasks == 0);
    // Counters are published after each poll: a park may show a moment after its task.
    let exercised = common::wait_until(common::DEADLINE, || {
        let m = rt.metrics();
        m.total(|s| s.parks) > 0 && m.total(|s| s.resumes) > 0
    });
    let m = rt.metrics();
    let (parks, resumes) = (m.total(|s| s.parks), m.total(|s| s.resumes));
    eprintln!(
        "{slots} slots: ops (send, pause, resume, cancel, check) {totals:?}; \
         {completed} completed, {cancelled} cancelled; {parks} parks, {resumes} resumes"
    );
    assert!(exercised, "no park or no resume: {m:?}");
}

#[test]
fn random_pause_resume_cancel_wake_from_many_threads() {
    for (seed, slots) in [(1, 1), (2, 2), (3, 3), (4, 4), (5, 2), (6, 3)] {
        stress_round(seed, slots);
    }
}

#[test]
fn operations_racing_with_shutdown() {
    // Controllers keep pausing, resuming, cancelling and waking tasks while the runtime
    // is dropped: the drop must return, every future must be dropped exactly once, and
    // every JoinHandle must resolve.
    const TASKS: usize = 100;
    for round in 0..3u64 {
        let rt = runtime(2);
        let (ctls, joins) = spawn_all(&rt, TASKS);
        let ctls = Arc::new(ctls);
        let violations: Arc<Mutex<Vec<String>>> = Arc::default();
        let threads: Vec<_> = (0..3u64)
            .map(|t| {
                let (ctls, violations) = (ctls.clone(), violations.clone());
                std::thread::spawn(move || controller(round * 10 + t, 5_000, ctls, violations))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(5 + 10 * round));
        let dropped = within(Duration::from_secs(20), move || drop(rt));
        assert!(
            dropped.is_some(),
            "round {round}: dropping the runtime hung"
        );
        for t in threads {
            join_controller(t);
        }
        for (h, c) in joins.into_iter().zip(ctls.iter()) {
            assert!(h.is_finished(), "{}", describe(c));
            match futures::executor::block_on(h) {
                Ok((count, sum)) => panic!(
                    "round {round}: a task whose channel never closed completed with \
                     ({count}, {sum}): {}",
                    describe(c)
                ),
                Err(e) => assert!(e.is_cancelled(), "{e:?}"),
            }
            assert_eq!(c.drops.load(SeqCst), 1, "{}", describe(c));
            assert_eq!(c.completions.load(SeqCst), 0);
            // Operations on finished tasks are harmless no-ops.
            assert!(!c.task.pause());
            c.task.cancel();
            assert_eq!(c.task.state(), TaskState::Cancelled);
        }
        let v = lock(&violations);
        assert!(v.is_empty(), "{}", v.join("\n"));
    }
}
