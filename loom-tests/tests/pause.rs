//! Pausing and parking: a pause racing a wake, a completion, a resume, and a steal.
#![cfg(loom)]

use loom::thread;
use neptune_loom_tests::*;
use neptune_runtime::{preemption_point, TaskHandle, TaskState};
use std::sync::{Arc, Mutex};
use std::task::Poll;

/// A future that stops at one preemption point, then completes with `value`.
fn one_yield_point(stats: &Stats, value: u32) -> Probe<impl std::future::Future<Output = Output>> {
    let st = stats.clone();
    Probe::new(stats, async move {
        preemption_point().await;
        Output::new(&st, value)
    })
}

/// The task is idle after its first poll. Thread A pauses it while thread B wakes it.
/// The wake is remembered (the task is parked in its slot's suspended queue, or a slot
/// parks it when it pops it) but never acted on: no poll until `resume`, then exactly one
/// poll, which completes it.
#[test]
fn pause_racing_wake() {
    static PARKED_BY_WAKE: Coverage = Coverage::new();
    static PARKED_BY_SLOT: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(1);
        let stats = Stats::new();
        let slot = WakerSlot::new();
        let jh = sched.spawn(Probe::new(&stats, wait_for_wake(&stats, slot.clone(), 7)));
        let task = jh.task();
        assert_eq!(sched.run_next(0), Some(Ran::Idle));
        let waker = slot.take().expect("the first poll left its waker");

        let pauser = {
            let task = task.clone();
            thread::spawn(move || assert!(task.pause()))
        };
        let waker = thread::spawn(move || waker.wake());
        pauser.join().unwrap();
        waker.join().unwrap();

        let s = state_of(&task);
        assert!(
            s.is_notified() && s.is_pause_requested() && !s.is_running(),
            "{s:?}"
        );
        if s.is_parked() {
            PARKED_BY_WAKE.hit();
        } else {
            assert_eq!(sched.queued(), 1, "woken before the pause: queued once");
            PARKED_BY_SLOT.hit();
        }
        // Whatever the order, a slot does not poll it now.
        assert_eq!(sched.run_until_idle(0), usize::from(!s.is_parked()));
        assert_eq!(stats.polls.get(), 1);
        assert!(state_of(&task).is_parked());
        assert!(sched.is_suspended_on(0, &task));
        assert_eq!(task.state(), TaskState::Paused);
        // Counted references: JoinHandle, TaskHandle, registry, the parked Notified.
        assert_eq!(state_of(&task).ref_count(), 4);

        assert!(task.resume());
        assert!(sched.is_resumed_on(0, &task));
        assert_eq!(sched.run_next(0), Some(Ran::Completed));
        assert_eq!(sched.run_next(0), None);
        assert_eq!(stats.polls.get(), 2, "polled exactly once after resume");
        finish(sched, stats, jh, task, 7);
    });
    assert!(PARKED_BY_WAKE.get() > 0 && PARKED_BY_SLOT.get() > 0);
}

/// As `pause_racing_wake`, with the slot running (on the main thread) while A pauses and
/// B wakes: the task is polled a second time only if the wake reached the slot before
/// the pause, never while paused; if it did not complete, `resume` gets it polled once.
#[test]
fn pause_racing_wake_and_slot() {
    static RAN_BEFORE_PAUSE: Coverage = Coverage::new();
    static HELD_BY_PAUSE: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(1);
        let stats = Stats::new();
        let slot = WakerSlot::new();
        let jh = sched.spawn(Probe::new(&stats, wait_for_wake(&stats, slot.clone(), 8)));
        let task = jh.task();
        assert_eq!(sched.run_next(0), Some(Ran::Idle));
        let waker = slot.take().expect("the first poll left its waker");

        let pauser = {
            let task = task.clone();
            thread::spawn(move || task.pause())
        };
        let waker = thread::spawn(move || waker.wake());
        sched.run_until_idle(0);
        let paused = pauser.join().unwrap();
        waker.join().unwrap();

        sched.run_until_idle(0);
        let s = state_of(&task);
        if s.is_complete() {
            assert_eq!(stats.polls.get(), 2);
            RAN_BEFORE_PAUSE.hit();
        } else {
            assert!(paused);
            assert!(s.is_parked() && sched.is_suspended_on(0, &task), "{s:?}");
            assert_eq!(stats.polls.get(), 1);
            HELD_BY_PAUSE.hit();
        }
        let polls = stats.polls.get();
        // Resuming a finished task does nothing (completion clears its pause).
        assert_eq!(task.resume(), !s.is_complete());
        sched.run_until_idle(0);
        assert_eq!(stats.polls.get(), 2);
        assert_eq!(polls + usize::from(!s.is_complete()), 2);
        finish(sched, stats, jh, task, 8);
    });
    assert!(RAN_BEFORE_PAUSE.get() > 0 && HELD_BY_PAUSE.get() > 0);
}

/// The slot polls the task to completion while another thread pauses it and a third
/// polls its join handle. If the pause came first the task parks (before its poll, or at
/// its preemption point) and completes after `resume`; otherwise it completes right
/// away. Either way the join handle gets the output exactly once (a `Pending` poll is
/// followed by exactly one wake of its waker), and everything is dropped once.
#[test]
fn pause_racing_completion() {
    static COMPLETED_FIRST: Coverage = Coverage::new();
    static PARKED_FIRST: Coverage = Coverage::new();
    static JOINED_EARLY: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(1);
        let stats = Stats::new();
        let jh = sched.spawn(one_yield_point(&stats, 3));
        let task = jh.task();
        let pauser = {
            let task = task.clone();
            thread::spawn(move || task.pause())
        };
        let (counting, waker) = CountingWaker::new();
        let joiner = thread::spawn(move || {
            let mut jh = jh;
            let early = match poll_join(&mut jh, &waker) {
                Poll::Ready(out) => Some(out.expect("completed").value),
                Poll::Pending => None,
            };
            (jh, early)
        });
        sched.run_until_idle(0);
        let paused = pauser.join().unwrap();
        let (mut jh, early) = joiner.join().unwrap();

        let s = state_of(&task);
        if s.is_complete() {
            assert!(!s.is_parked());
            COMPLETED_FIRST.hit();
            // Completion clears a pause that came during the last poll: nothing to
            // withdraw.
            assert!(!s.is_pause_requested(), "{s:?}");
            assert!(!task.resume());
        } else {
            assert!(paused);
            assert!(s.is_parked() && sched.is_suspended_on(0, &task), "{s:?}");
            assert_eq!(sched.queued(), 0);
            assert_eq!(
                counting.wakes(),
                0,
                "not complete: the join waker is not woken"
            );
            PARKED_FIRST.hit();
            assert!(task.resume());
            assert_eq!(sched.run_next(0), Some(Ran::Completed));
        }
        match early {
            Some(value) => {
                assert_eq!(value, 3);
                JOINED_EARLY.hit();
                assert_eq!(counting.wakes(), 0);
                assert_eq!(stats.outputs_dropped.get(), 1);
            }
            None => {
                assert_eq!(counting.wakes(), 1, "a pending join handle is woken once");
                assert_eq!(join_now(&mut jh).expect("completed").value, 3);
            }
        }
        assert_eq!(stats.outputs_made.get(), 1);
        assert_eq!(stats.outputs_dropped.get(), 1);
        drop(jh);
        drop(task);
        assert_eq!(Arc::strong_count(&counting), 1, "join waker dropped");
        sched.shutdown();
        stats.assert_clean();
        assert_eq!(sched.live_tasks(), 0);
    });
    assert!(COMPLETED_FIRST.get() > 0 && PARKED_FIRST.get() > 0 && JOINED_EARLY.get() > 0);
}

/// Another thread pauses then resumes the task while the slot runs it: whether the
/// resume lands before the park (the slot must then run or reschedule the task itself)
/// or after it (it must move the task to the resumed queue), the task ends up runnable
/// exactly once or completed: never left parked, never queued twice.
#[test]
fn resume_racing_park() {
    static PARKED: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(1);
        let stats = Stats::new();
        let jh = sched.spawn(one_yield_point(&stats, 4));
        let task = jh.task();
        let resumer = {
            let task = task.clone();
            thread::spawn(move || {
                // A resume finds nothing to withdraw only if the task finished between.
                if task.pause() && !task.resume() {
                    assert_eq!(task.state(), TaskState::Completed);
                }
            })
        };
        sched.run_until_idle(0);
        resumer.join().unwrap();
        if sched.unparks() > 0 {
            PARKED.hit();
        }
        assert_runnable_once(&sched, &task);
        sched.run_until_idle(0);
        finish(sched, stats, jh, task, 4);
    });
    assert!(PARKED.get() > 0);
}

/// The running task pauses itself (so the pause is surely requested while it runs) and
/// stops at its preemption point; the slot parks it while another thread resumes it (it
/// retries until the pause is set). The resume may land before the preemption point
/// looks (the task completes), between it and the park (the slot reschedules it), or
/// after the park (the task moves to the resumed queue): the task ends up completed or
/// runnable exactly once, and is never polled while paused.
#[test]
fn resume_racing_park_of_running_task() {
    static RESUMED_FROM_QUEUE: Coverage = Coverage::new();
    static RESUMED_BEFORE_PARK: Coverage = Coverage::new();
    static RESUMED_BEFORE_CHECK: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(1);
        let stats = Stats::new();
        let me: Arc<Mutex<Option<TaskHandle>>> = Arc::default();
        let st = stats.clone();
        let me2 = me.clone();
        let jh = sched.spawn(Probe::new(&stats, async move {
            let handle = me2
                .lock()
                .unwrap()
                .take()
                .expect("handle stored before the run");
            assert!(handle.pause());
            drop(handle);
            preemption_point().await;
            Output::new(&st, 5)
        }));
        let task = jh.task();
        *me.lock().unwrap() = Some(jh.task());
        let resumer = {
            let task = task.clone();
            thread::spawn(move || {
                while !task.resume() {
                    thread::yield_now();
                }
            })
        };
        let first = sched.run_next(0).expect("the task was queued");
        resumer.join().unwrap();
        match first {
            // The resume came before the preemption point looked.
            Ran::Completed => RESUMED_BEFORE_CHECK.hit(),
            // The resume came between the preemption point and the park.
            Ran::Rescheduled => RESUMED_BEFORE_PARK.hit(),
            Ran::Parked => {
                assert!(sched.unparks() == 1 && sched.resumed(0) == 1);
                RESUMED_FROM_QUEUE.hit();
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_runnable_once(&sched, &task);
        if first != Ran::Completed {
            assert_eq!(sched.run_next(0), Some(Ran::Completed));
            assert_eq!(stats.polls.get(), 2);
        }
        finish(sched, stats, jh, task, 5);
    });
    assert!(RESUMED_FROM_QUEUE.get() > 0);
    assert!(RESUMED_BEFORE_PARK.get() > 0 && RESUMED_BEFORE_CHECK.get() > 0);
}

/// No pause left, not parked, and either complete or held by exactly one `Notified`
/// (in a run queue or the resumed queue).
fn assert_runnable_once(sched: &TestScheduler, task: &TaskHandle) {
    let s = state_of(task);
    assert!(!s.is_pause_requested() && !s.is_parked(), "{s:?}");
    assert_eq!(sched.suspended(0), 0);
    // JoinHandle, TaskHandle, plus the registry and the Notified while not complete.
    if s.is_complete() {
        assert_eq!(sched.queued() + sched.resumed(0), 0);
        assert_eq!(s.ref_count(), 2, "{s:?}");
    } else {
        assert!(s.is_notified() && !s.is_running(), "{s:?}");
        assert_eq!(
            sched.queued() + sched.resumed(0),
            1,
            "runnable exactly once"
        );
        assert_eq!(s.ref_count(), 4, "{s:?}");
    }
}

/// Slot 0 pops its local queue while slot 1 steals from it and a third thread pauses the
/// task. Exactly one slot gets it; if the pause came first the task is parked on the slot
/// that popped it (never stolen or run from there), and after `resume` it goes back to
/// that slot's resumed queue; if the pause came late the task just completes.
#[test]
fn steal_racing_pause() {
    static STOLEN_AND_PARKED: Coverage = Coverage::new();
    static OWN_AND_PARKED: Coverage = Coverage::new();
    static COMPLETED: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(2);
        let stats = Stats::new();
        let jh = sched.spawn_on(0, one_yield_point(&stats, 6));
        let task = jh.task();
        let thief = {
            let sched = sched.clone();
            thread::spawn(move || sched.steal(1, 0).map(|r| r.run(1)))
        };
        let pauser = {
            let task = task.clone();
            thread::spawn(move || task.pause())
        };
        let own = sched.pop(0).map(|r| r.run(0));
        let stolen = thief.join().unwrap();
        let paused = pauser.join().unwrap();
        let (popper, ran) = match (own, stolen) {
            (Some(r), None) => (0, r),
            (None, Some(r)) => (1, r),
            other => panic!("exactly one slot takes the task: {other:?}"),
        };
        let other = 1 - popper;
        match ran {
            Ran::Completed => COMPLETED.hit(),
            Ran::Parked => {
                assert!(paused);
                let s = state_of(&task);
                assert!(s.is_parked(), "{s:?}");
                assert_eq!(task.slot(), Some(popper));
                assert!(sched.is_suspended_on(popper, &task));
                assert_eq!(sched.suspended(other), 0);
                if popper == 1 {
                    STOLEN_AND_PARKED.hit();
                } else {
                    OWN_AND_PARKED.hit();
                }
                // Parked: neither slot can run or steal it.
                let polls = polls_before_park(&stats);
                assert!(sched.steal(other, popper).is_none());
                assert_eq!(sched.run_until_idle(0) + sched.run_until_idle(1), 0);
                assert_eq!(stats.polls.get(), polls);
                assert!(task.resume());
                assert!(sched.is_resumed_on(popper, &task));
                assert!(
                    sched.steal(other, popper).is_none(),
                    "resumed tasks are not stolen"
                );
                assert_eq!(sched.run_next(other), None);
                assert_eq!(sched.run_next(popper), Some(Ran::Completed));
            }
            other => panic!("unexpected {other:?}"),
        }
        finish(sched, stats, jh, task, 6);
    });
    assert!(STOLEN_AND_PARKED.get() > 0 && OWN_AND_PARKED.get() > 0 && COMPLETED.get() > 0);
}

/// Polls so far: 0 if the task parked before its first poll, 1 if at its preemption point.
fn polls_before_park(stats: &Stats) -> usize {
    let p = stats.polls.get();
    assert!(p <= 1, "a parked task was polled {p} times");
    p
}
