//! Helpers shared by the integration tests: waits for task states (built on
//! neptune-support's condition waits, re-exported here), drop counters, and CPU-bound
//! work with yield points.

// Each test binary uses only some of these.
#![allow(dead_code, unused_imports)]

use neptune_runtime::{Builder, JoinError, JoinHandle, Runtime, TaskHandle, TaskState};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

pub use neptune_support::wait::{holds_for, wait_for, wait_until, DEADLINE};

/// How long a test watches something that must *not* happen.
pub const QUIET: Duration = Duration::from_millis(300);

/// A runtime with `n` slots and the default policy.
pub fn runtime(n: usize) -> Runtime {
    Builder::new()
        .slots(n)
        .thread_name("neptune-test")
        .build()
        .expect("runtime starts")
}

/// Waits for `task` to reach `state` (up to [`DEADLINE`]).
#[track_caller]
pub fn wait_state(task: &TaskHandle, state: TaskState) {
    let ok = wait_until(DEADLINE, || task.state() == state);
    assert!(
        ok,
        "task {} never reached {state:?}; it is {:?}",
        task.id(),
        task.state()
    );
}

/// Waits (up to [`DEADLINE`]) for the task to finish, then takes its result without
/// blocking on the runtime.
#[track_caller]
pub fn join<T>(h: JoinHandle<T>) -> Result<T, JoinError> {
    let ok = wait_until(DEADLINE, || h.is_finished());
    assert!(
        ok,
        "task {} did not finish; it is {:?}",
        h.id(),
        h.task().state()
    );
    futures::executor::block_on(h)
}

/// Counts its own drop in a shared counter.
pub struct DropCount(pub Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Wraps `fut` so that dropping it (completed or not) bumps `drops`.
pub fn counted<F: Future>(drops: &Arc<AtomicUsize>, fut: F) -> impl Future<Output = F::Output> {
    let guard = DropCount(drops.clone());
    async move {
        let _guard = guard;
        fut.await
    }
}

/// A flag one side sets and the other side waits for.
#[derive(Clone, Default)]
pub struct Flag(Arc<AtomicBool>);

impl Flag {
    pub fn new() -> Flag {
        Flag::default()
    }
    pub fn set(&self) {
        self.0.store(true, SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(SeqCst)
    }
    /// A guard that sets the flag when dropped: declared after the runtime, it lets
    /// CPU-bound tasks end (so the runtime can shut down) even when an assertion fails.
    pub fn set_on_drop(&self) -> SetOnDrop {
        SetOnDrop(self.clone())
    }
}

/// Sets a [`Flag`] when dropped.
pub struct SetOnDrop(Flag);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// The value unit `i` of [`Units`] contributes.
pub fn unit_value(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ i
}

/// The result of running every unit of `0..n` once.
pub fn uninterrupted(n: u64) -> u64 {
    (0..n).fold(0u64, |acc, i| acc.wrapping_add(unit_value(i)))
}

/// Bookkeeping for a CPU-bound task made of `n` numbered units with a yield point after
/// each: how often each unit ran, and how many loop iterations ran in total (including
/// spins at the hold point).
pub struct Units {
    pub n: u64,
    pub runs: Vec<AtomicU32>,
    pub done: AtomicU64,
    pub activity: AtomicU64,
    /// The task waits (spinning on yield points) before unit `hold_at` until `release`.
    pub hold_at: u64,
    pub release: Flag,
}

impl Units {
    pub fn new(n: u64, hold_at: u64) -> Arc<Units> {
        Arc::new(Units {
            n,
            runs: (0..n).map(|_| AtomicU32::new(0)).collect(),
            done: AtomicU64::new(0),
            activity: AtomicU64::new(0),
            hold_at,
            release: Flag::new(),
        })
    }

    pub fn done(&self) -> u64 {
        self.done.load(SeqCst)
    }

    pub fn activity(&self) -> u64 {
        self.activity.load(SeqCst)
    }

    /// The task body: runs every unit once, awaiting `preemption_point` after each.
    pub async fn run(self: Arc<Self>) -> u64 {
        let mut acc = 0u64;
        for i in 0..self.n {
            if i == self.hold_at {
                while !self.release.is_set() {
                    self.activity.fetch_add(1, SeqCst);
                    neptune_runtime::preemption_point().await;
                }
            }
            self.runs[i as usize].fetch_add(1, SeqCst);
            acc = acc.wrapping_add(unit_value(i));
            self.done.fetch_add(1, SeqCst);
            self.activity.fetch_add(1, SeqCst);
            neptune_runtime::preemption_point().await;
        }
        acc
    }

    /// Panics unless every unit ran exactly once.
    #[track_caller]
    pub fn assert_each_once(&self) {
        for (i, r) in self.runs.iter().enumerate() {
            let r = r.load(SeqCst);
            assert_eq!(r, 1, "unit {i} ran {r} times");
        }
    }
}

/// A CPU-bound task that counts yield points until `stop` is set; returns its count.
pub async fn spin_until(stop: Flag, progress: Arc<AtomicU64>) -> u64 {
    let mut n = 0u64;
    while !stop.is_set() {
        n += 1;
        progress.fetch_add(1, SeqCst);
        neptune_runtime::preemption_point().await;
    }
    n
}

/// Runs `f` on a helper thread and waits up to `timeout` for it to return.
/// Returns `None` if it did not (the thread is left behind).
pub fn within<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(timeout).ok()
}
