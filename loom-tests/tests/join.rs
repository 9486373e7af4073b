//! Cancellation and the join handle: a cancel racing a poll, a join handle dropped while
//! the task completes.
#![cfg(loom)]

use loom::thread;
use neptune_loom_tests::*;
use neptune_runtime::{yield_now, TaskState};
use std::sync::Arc;
use std::task::Poll;

/// A future that yields once (rescheduled by its own wake), then completes with `value`.
fn yield_once(stats: &Stats, value: u32) -> Probe<impl std::future::Future<Output = Output>> {
    let st = stats.clone();
    Probe::new(stats, async move {
        yield_now().await;
        Output::new(&st, value)
    })
}

/// `JoinHandle::abort` from another thread while the slot polls the task (it yields once,
/// so the abort can land before, during or between its polls, or after it finished). The
/// future is dropped exactly once; the join handle gets the output or a cancelled error.
#[test]
fn abort_racing_poll() {
    static GOT_OUTPUT: Coverage = Coverage::new();
    static GOT_CANCELLED: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(1);
        let stats = Stats::new();
        let jh = sched.spawn(yield_once(&stats, 5));
        let task = jh.task();
        let aborter = thread::spawn(move || {
            jh.abort();
            jh
        });
        sched.run_until_idle(0);
        let mut jh = aborter.join().unwrap();
        // Nothing is left to run: the abort found the task queued or running.
        assert_eq!(sched.run_until_idle(0), 0);
        assert!(state_of(&task).is_complete());
        assert_eq!(
            stats.future_drops.get(),
            1,
            "the future is dropped when the task ends"
        );
        match join_now(&mut jh) {
            Ok(out) => {
                assert_eq!(out.value, 5);
                assert_eq!(task.state(), TaskState::Completed);
                GOT_OUTPUT.hit();
            }
            Err(e) => {
                assert!(e.is_cancelled(), "{e:?}");
                assert_eq!(stats.outputs_made.get(), 0);
                assert_eq!(task.state(), TaskState::Cancelled);
                GOT_CANCELLED.hit();
            }
        }
        drop(jh);
        drop(task);
        assert_eq!(sched.registered(), 0);
        sched.shutdown();
        stats.assert_clean();
        assert_eq!(sched.live_tasks(), 0);
    });
    assert!(GOT_OUTPUT.get() > 0 && GOT_CANCELLED.get() > 0);
}

/// `TaskHandle::cancel` on a task idle after its first poll, racing its wake (thread B)
/// while the slot runs (main thread): a cancel of an idle task submits it itself, so the
/// two may both try to queue it. The future is dropped once; the task ran its second
/// poll at most once; the join handle gets the output or a cancelled error.
#[test]
fn cancel_racing_wake_and_poll() {
    static GOT_OUTPUT: Coverage = Coverage::new();
    static GOT_CANCELLED: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(1);
        let stats = Stats::new();
        let slot = WakerSlot::new();
        let mut jh = sched.spawn(Probe::new(&stats, wait_for_wake(&stats, slot.clone(), 6)));
        let task = jh.task();
        assert_eq!(sched.run_next(0), Some(Ran::Idle));
        let waker = slot.take().expect("the first poll left its waker");

        let canceller = {
            let task = task.clone();
            thread::spawn(move || task.cancel())
        };
        let waker = thread::spawn(move || waker.wake());
        sched.run_until_idle(0);
        canceller.join().unwrap();
        waker.join().unwrap();
        sched.run_until_idle(0);

        assert!(state_of(&task).is_complete());
        assert!(stats.polls.get() <= 2);
        assert_eq!(stats.future_drops.get(), 1);
        match join_now(&mut jh) {
            Ok(out) => {
                assert_eq!(out.value, 6);
                GOT_OUTPUT.hit();
            }
            Err(e) => {
                assert!(e.is_cancelled(), "{e:?}");
                GOT_CANCELLED.hit();
            }
        }
        drop(jh);
        drop(task);
        sched.shutdown();
        stats.assert_clean();
        assert_eq!(sched.live_tasks(), 0);
    });
    assert!(GOT_OUTPUT.get() > 0 && GOT_CANCELLED.get() > 0);
}

/// Another thread polls the join handle once (storing its waker) and drops it while the
/// slot completes the task. The output is dropped exactly once (by whoever owns it then),
/// the join waker is woken at most once and every clone of it is dropped, and the task
/// is freed.
#[test]
fn join_handle_drop_racing_completion() {
    static JOINED: Coverage = Coverage::new();
    static DROPPED_UNREAD: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(1);
        let stats = Stats::new();
        let st = stats.clone();
        let jh = sched.spawn(Probe::new(&stats, async move { Output::new(&st, 9) }));
        let (counting, waker) = CountingWaker::new();
        let joiner = thread::spawn(move || {
            let mut jh = jh;
            match poll_join(&mut jh, &waker) {
                Poll::Ready(out) => {
                    assert_eq!(out.expect("completed").value, 9);
                    true
                }
                Poll::Pending => false,
            }
        });
        assert_eq!(sched.run_next(0), Some(Ran::Completed));
        let joined = joiner.join().unwrap();
        if joined {
            JOINED.hit();
        } else {
            DROPPED_UNREAD.hit();
        }
        assert_eq!(stats.outputs_made.get(), 1);
        assert_eq!(stats.outputs_dropped.get(), 1, "output dropped once");
        assert!(counting.wakes() <= 1);
        assert_eq!(
            Arc::strong_count(&counting),
            1,
            "every join waker clone dropped"
        );
        assert_eq!(sched.registered(), 0);
        assert_eq!(sched.live_tasks(), 0, "task memory freed");
        sched.shutdown();
        stats.assert_clean();
    });
    assert!(JOINED.get() > 0 && DROPPED_UNREAD.get() > 0);
}

/// Another thread polls the join handle with one waker, then with a different one (the
/// handle swaps the stored waker), while the slot completes the task. If the second
/// poll is still `Pending`, the second waker is woken exactly once; the output arrives
/// once; every waker clone the task held is dropped.
#[test]
fn join_waker_swap_racing_completion() {
    static SWAPPED_THEN_WOKEN: Coverage = Coverage::new();
    model(|| {
        let sched = TestScheduler::new(1);
        let stats = Stats::new();
        let st = stats.clone();
        let jh = sched.spawn(Probe::new(&stats, async move { Output::new(&st, 10) }));
        let (first, first_waker) = CountingWaker::new();
        let (second, second_waker) = CountingWaker::new();
        let joiner = thread::spawn(move || {
            let mut jh = jh;
            for waker in [&first_waker, &second_waker] {
                if let Poll::Ready(out) = poll_join(&mut jh, waker) {
                    assert_eq!(out.expect("completed").value, 10);
                    return (jh, true);
                }
            }
            (jh, false)
        });
        assert_eq!(sched.run_next(0), Some(Ran::Completed));
        let (mut jh, joined) = joiner.join().unwrap();
        if joined {
            // Completed before the second waker was stored: only the first may be woken.
            assert!(first.wakes() <= 1);
            assert_eq!(second.wakes(), 0);
        } else {
            assert_eq!(second.wakes(), 1, "the waker stored last is woken");
            assert_eq!(first.wakes(), 0, "the replaced waker is not woken");
            assert_eq!(join_now(&mut jh).expect("completed").value, 10);
            SWAPPED_THEN_WOKEN.hit();
        }
        assert_eq!(stats.outputs_made.get(), 1);
        assert_eq!(stats.outputs_dropped.get(), 1);
        drop(jh);
        assert_eq!(Arc::strong_count(&first), 1);
        assert_eq!(Arc::strong_count(&second), 1);
        sched.shutdown();
        stats.assert_clean();
        assert_eq!(sched.live_tasks(), 0);
    });
    assert!(SWAPPED_THEN_WOKEN.get() > 0);
}
