//! A task that moves between slots while paused: the suspended queue a task is parked
//! in must be the one of the slot its header names, which is where `resume` looks for it.
#![cfg(loom)]

use loom::thread;
use neptune_loom_tests::*;
use neptune_runtime::TaskHandle;
use std::sync::{Arc, Mutex};
use std::task::Poll;

/// A future for the migration models: its first poll leaves its waker in `slot` and
/// returns `Pending`; its second poll pauses its own task (through the handle left in
/// `me`), leaves its waker again and returns `Pending`; its third completes.
fn pause_on_second_poll(
    stats: &Stats,
    slot: WakerSlot,
    me: Arc<Mutex<Option<TaskHandle>>>,
    value: u32,
) -> Probe<impl std::future::Future<Output = Output>> {
    let st = stats.clone();
    let mut polls = 0;
    Probe::new(
        stats,
        std::future::poll_fn(move |cx| {
            polls += 1;
            match polls {
                1 => {
                    slot.store(cx.waker());
                    Poll::Pending
                }
                2 => {
                    let handle = me.lock().unwrap().take().expect("handle stored");
                    assert!(handle.pause());
                    drop(handle);
                    slot.store(cx.waker());
                    Poll::Pending
                }
                _ => Poll::Ready(Output::new(&st, value)),
            }
        }),
    )
}

/// The task is idle and paused after running on slot 0. Thread A wakes it: the wake must
/// be remembered by parking the task in the suspended queue of its slot. Meanwhile thread
/// B resumes it, wakes it, and runs it as slot 1, where it pauses itself again and goes
/// idle (so its slot is now 1). Then the main thread resumes it.
///
/// Whatever the order, a `PARKED` task must sit in the suspended queue of the slot its
/// header names (that is where `resume` looks for it), and after the final resume the
/// task must be runnable exactly once and complete.
#[test]
fn wake_of_paused_task_racing_its_migration() {
    model(|| {
        let sched = TestScheduler::new(2);
        let stats = Stats::new();
        let slot = WakerSlot::new();
        let me: Arc<Mutex<Option<TaskHandle>>> = Arc::default();
        let jh = sched.spawn_on(
            0,
            pause_on_second_poll(&stats, slot.clone(), me.clone(), 12),
        );
        let task = jh.task();
        *me.lock().unwrap() = Some(jh.task());
        assert_eq!(sched.run_next(0), Some(Ran::Idle));
        let waker = slot.take().expect("the first poll left its waker");
        assert!(task.pause());

        let a = {
            let waker = waker.clone();
            thread::spawn(move || waker.wake())
        };
        let b = {
            let (sched, task) = (sched.clone(), task.clone());
            thread::spawn(move || {
                assert!(task.resume());
                waker.wake();
                // As slot 1: run whatever is runnable (the task, if A's wake did not
                // park it first).
                while let Some(r) = sched.pop(1) {
                    r.run(1);
                }
            })
        };
        a.join().unwrap();
        b.join().unwrap();

        let s = state_of(&task);
        let home = task.slot().expect("it ran");
        if s.is_parked() {
            assert!(
                sched.is_suspended_on(home, &task),
                "PARKED on slot {home} but not in its suspended queue: {s:?} \
                 (suspended: slot 0 {}, slot 1 {})",
                sched.suspended(0),
                sched.suspended(1)
            );
        }
        // Withdraw every pause and run it to completion (waking it when it waits).
        for _ in 0..3 {
            task.resume();
            let s = state_of(&task);
            assert!(!s.is_parked(), "{s:?}");
            assert_eq!(
                sched.suspended(0) + sched.suspended(1),
                0,
                "a task that is not PARKED sits in a suspended queue: {s:?}"
            );
            sched.run_until_idle(0);
            sched.run_until_idle(1);
            if state_of(&task).is_complete() {
                break;
            }
            if let Some(w) = slot.take() {
                w.wake();
            }
        }
        drop(me);
        // A waker left by the second poll holds a reference to the task.
        drop(slot.take());
        finish(sched, stats, jh, task, 12);
    });
}

/// The task is parked on slot 0. Thread R resumes it. Thread B also resumes it, runs it
/// as slot 0 (its second poll leaves it idle), wakes it, pops it as slot 1 and, having
/// paused it again, runs it there: it parks on slot 1. R's resume, wherever it lands,
/// must move the task out of the suspended queue it really sits in (or leave it parked
/// there with its pause withdrawn only if another pause remains): a `PARKED` task is in
/// the suspended queue of the slot its header names, and a task that is not `PARKED` is
/// in no suspended queue.
#[test]
fn resume_racing_resume_and_migration() {
    model(|| {
        let sched = TestScheduler::new(2);
        let stats = Stats::new();
        let slot = WakerSlot::new();
        let st = stats.clone();
        let waker_slot = slot.clone();
        let mut polls = 0;
        let jh = sched.spawn_on(
            0,
            Probe::new(
                &stats,
                std::future::poll_fn(move |cx| {
                    polls += 1;
                    if polls < 3 {
                        waker_slot.store(cx.waker());
                        Poll::Pending
                    } else {
                        Poll::Ready(Output::new(&st, 13))
                    }
                }),
            ),
        );
        let task = jh.task();
        assert_eq!(sched.run_next(0), Some(Ran::Idle));
        assert!(task.pause());
        slot.take().expect("waker").wake();
        assert!(sched.is_suspended_on(0, &task));

        let r = {
            let task = task.clone();
            thread::spawn(move || task.resume())
        };
        let b = {
            let (sched, task, slot) = (sched.clone(), task.clone(), slot.clone());
            thread::spawn(move || {
                task.resume();
                // As slot 0: its resumed queue holds the task once a resume moved it.
                if sched.run_next(0) != Some(Ran::Idle) {
                    return;
                }
                slot.take().expect("second poll left its waker").wake();
                let Some(r) = sched.pop(1) else { return };
                task.pause();
                r.run(1);
            })
        };
        r.join().unwrap();
        b.join().unwrap();

        let s = state_of(&task);
        let home = task.slot().expect("it ran");
        if s.is_parked() {
            assert!(
                sched.is_suspended_on(home, &task),
                "PARKED on slot {home} but not in its suspended queue: {s:?} \
                 (suspended: slot 0 {}, slot 1 {})",
                sched.suspended(0),
                sched.suspended(1)
            );
        } else {
            assert_eq!(
                sched.suspended(0) + sched.suspended(1),
                0,
                "a task that is not PARKED sits in a suspended queue: {s:?}"
            );
        }
        for _ in 0..3 {
            task.resume();
            sched.run_until_idle(0);
            sched.run_until_idle(1);
            if state_of(&task).is_complete() {
                break;
            }
            if let Some(w) = slot.take() {
                w.wake();
            }
        }
        drop(slot.take());
        finish(sched, stats, jh, task, 13);
    });
}
