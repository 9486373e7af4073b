//! The policy's re-check hook (`Policy::on_check`): called when the policy starts and
//! at each instant it names, it can resume parked tasks and change slot classes.

mod common;

use common::{join, wait_for};
use neptune_runtime::policy::Preempt;
use neptune_runtime::policy::{Check, CheckView, DefaultPolicy, Policy, SlotClasses, SlotView};
use neptune_runtime::{preemption_point, Builder, SpawnOptions, TaskHandle, TaskState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Pauses as the default policy does, but never resumes when a slot drains: only its
/// re-check (every millisecond, once `release` is set) resumes what it parked.
#[derive(Default)]
struct ResumeOnCheck {
    release: AtomicBool,
    checks: AtomicU64,
    resumed: AtomicU64,
}

impl Policy for ResumeOnCheck {
    fn name(&self) -> &str {
        "resume-on-check"
    }

    fn on_stream_waiting(&self, waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        DefaultPolicy.on_stream_waiting(waiting, slots)
    }

    fn on_stream_drained(&self, _slot: usize, _suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        Vec::new()
    }

    fn on_check(&self, view: &CheckView<'_>) -> Check {
        self.checks.fetch_add(1, SeqCst);
        let resume: Vec<TaskHandle> = if self.release.load(SeqCst) {
            view.parked().into_iter().flat_map(|(_, t)| t).collect()
        } else {
            Vec::new()
        };
        self.resumed.fetch_add(resume.len() as u64, SeqCst);
        Check {
            resume,
            reconfigure: false,
            next: Some(view.now() + Duration::from_millis(1)),
        }
    }
}

#[test]
fn the_re_check_hook_resumes_what_draining_slots_leave_parked() {
    let policy = Arc::new(ResumeOnCheck::default());
    let rt = Builder::new()
        .slots(1)
        .policy(policy.clone())
        .build()
        .unwrap();
    assert!(
        policy.checks.load(SeqCst) >= 1,
        "called when the runtime starts"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let batch = {
        let stop = stop.clone();
        rt.spawn(async move {
            while !stop.load(SeqCst) {
                preemption_point().await;
            }
        })
    };
    let task = batch.task();
    wait_for("the batch task to run", || {
        task.state() == TaskState::Running
    });
    let stream = rt.spawn_with(SpawnOptions::stream(), async { 5 });
    assert_eq!(join(stream).unwrap(), 5);
    wait_for("the batch task to be parked", || {
        task.state() == TaskState::Paused && rt.metrics().slots[0].suspended == 1
    });
    // What a policy observes through the metrics: the parked task is the policy's and
    // holds its allocation; the Stream task's latency was recorded.
    let m = rt.metrics();
    assert_eq!(m.slots[0].policy_parked, 1);
    assert!(m.suspended_bytes() >= std::mem::size_of::<usize>());
    assert!(m.stream_latency().count() >= 1);
    assert_eq!(m.policy.name, "resume-on-check");
    assert_eq!((m.policy.mode, m.policy.switches_total()), (None, 0));
    // The slot has drained its Stream work and the policy left the task parked; the
    // re-check keeps running meanwhile.
    let before = policy.checks.load(SeqCst);
    wait_for("more re-checks", || policy.checks.load(SeqCst) > before + 2);
    assert_eq!(task.state(), TaskState::Paused);
    policy.release.store(true, SeqCst);
    stop.store(true, SeqCst);
    join(batch).unwrap();
    assert_eq!(policy.resumed.load(SeqCst), 1);
}

/// Dedicates slot 0 to Stream work once `dedicate` is set, telling the runtime at its
/// next re-check.
#[derive(Default)]
struct DedicateOnCheck {
    dedicate: AtomicBool,
    /// Re-checks that found `dedicate` set.
    applied: AtomicU64,
}

impl Policy for DedicateOnCheck {
    fn name(&self) -> &str {
        "dedicate-on-check"
    }

    fn slot_classes(&self, slot: usize, _slots: usize) -> SlotClasses {
        match (self.dedicate.load(SeqCst), slot) {
            (false, _) => SlotClasses::Both,
            (true, 0) => SlotClasses::StreamOnly,
            (true, _) => SlotClasses::BatchOnly,
        }
    }

    fn on_check(&self, view: &CheckView<'_>) -> Check {
        let dedicate = self.dedicate.load(SeqCst);
        if dedicate {
            self.applied.fetch_add(1, SeqCst);
        }
        Check {
            reconfigure: dedicate,
            next: Some(view.now() + Duration::from_millis(1)),
            ..Check::default()
        }
    }
}

#[test]
fn a_re_check_can_change_slot_classes() {
    let policy = Arc::new(DedicateOnCheck::default());
    let rt = Builder::new()
        .slots(2)
        .policy(policy.clone())
        .build()
        .unwrap();
    policy.dedicate.store(true, SeqCst);
    // A second re-check that saw the flag begins after the first one applied the
    // change; from then on every slot picks by the new classes.
    wait_for("the change applied", || policy.applied.load(SeqCst) >= 2);
    let placed = |class: SpawnOptions| {
        let h = rt.spawn_with(class, async { neptune_runtime::Handle::current() });
        let t = h.task();
        join(h).unwrap();
        t.slot()
    };
    for _ in 0..20 {
        assert_eq!(placed(SpawnOptions::batch()), Some(1));
        assert_eq!(placed(SpawnOptions::stream()), Some(0));
    }
}
