//! Timer behaviour through the public runtime API. Only orderings, completion and lower
//! bounds on elapsed time are asserted, so that a loaded machine cannot make them fail.

// The timer and network modules do not exist in loom builds.
#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use neptune_runtime::time::{
    interval, interval_at, sleep, sleep_until, timeout, Elapsed, MissedTickBehavior,
};
use neptune_runtime::{spawn, Builder, Runtime};

fn runtime() -> Runtime {
    Builder::new().slots(2).build().unwrap()
}

/// Runs `future` as a spawned task, i.e. on one of the runtime's worker threads.
async fn in_task<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn(future).await.unwrap()
}

/// A small deterministic pseudo-random generator (xorshift), so that failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// Pending on the first poll (waking itself), ready on the second.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Sleeps until `count` deadlines drawn by `deadline_after(rng)` past a base one second
/// ahead (far enough that registering every sleep, microseconds, ends long before the
/// first deadline even on a stalled machine), from one task; returns each sleep's
/// `(deadline, id)` in the order they completed, checking none completed early.
fn completion_order(
    seed: u64,
    count: usize,
    deadline_after: fn(&mut XorShift) -> Duration,
) -> Vec<(Instant, usize)> {
    let rt = runtime();
    rt.block_on(in_task(async move {
        let mut rng = XorShift(seed);
        let base = Instant::now() + Duration::from_secs(1);
        let mut sleeps = FuturesUnordered::new();
        for id in 0..count {
            let deadline = base + deadline_after(&mut rng);
            sleeps.push(async move {
                sleep_until(deadline).await;
                assert!(Instant::now() >= deadline, "a sleep completed early");
                (deadline, id)
            });
        }
        let mut order = Vec::new();
        while let Some(done) = sleeps.next().await {
            order.push(done);
        }
        order
    }))
}

/// Asserts deadline order, and insertion order among equal deadlines.
fn assert_in_deadline_order(order: &[(Instant, usize)]) {
    let mut sorted = order.to_vec();
    sorted.sort();
    assert_eq!(order, sorted);
}

#[test]
fn sleeps_complete_in_deadline_order() {
    // The small range produces many equal deadlines.
    let order = completion_order(0x9E37_79B9_7F4A_7C15, 200, |rng| {
        Duration::from_millis(rng.below(40))
    });
    assert_in_deadline_order(&order);
}

#[test]
fn sub_millisecond_deadlines_complete_in_deadline_order() {
    // Deadlines 10 µs apart within one millisecond: distinct sub-millisecond deadlines
    // (which a millisecond-resolution driver would fire in one batch) and equal ones.
    let order = completion_order(0x2545_F491_4F6C_DD1D, 300, |rng| {
        Duration::from_micros(10 * rng.below(100))
    });
    assert_in_deadline_order(&order);
    let distinct: std::collections::BTreeSet<_> = order.iter().map(|&(d, _)| d).collect();
    assert!(distinct.len() > 50 && distinct.len() < order.len());
}

/// Logs `id` into a shared log when woken, then wakes `inner`: the log shows the order
/// in which the driver fired timers, whatever order the scheduler then runs tasks in.
struct LogWake {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
    inner: Waker,
}

impl Wake for LogWake {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
        self.inner.wake_by_ref();
    }
}

#[test]
fn equal_sub_millisecond_deadlines_fire_in_scheduling_order() {
    let rt = runtime();
    let scheduled = Arc::new(Mutex::new(Vec::new()));
    let fired = Arc::new(Mutex::new(Vec::new()));
    let base = Instant::now() + Duration::from_secs(1);
    // Three tasks per deadline, deadlines 50 µs apart and interleaved: tasks 0, 40 and
    // 80 share the first deadline.
    let deadline = move |id: usize| base + Duration::from_micros(50 * (id % 40) as u64);
    let tasks: Vec<_> = (0..120usize)
        .map(|id| {
            let (scheduled, fired) = (scheduled.clone(), fired.clone());
            rt.spawn(async move {
                let deadline = deadline(id);
                let mut sleep = Box::pin(sleep_until(deadline));
                let mut first = true;
                std::future::poll_fn(|cx| {
                    let waker = Waker::from(Arc::new(LogWake {
                        id,
                        log: fired.clone(),
                        inner: cx.waker().clone(),
                    }));
                    let mut cx = Context::from_waker(&waker);
                    // The first poll schedules the timer; under the lock, so that the log
                    // has the order in which the slots scheduled them.
                    let _scheduling = std::mem::take(&mut first).then(|| {
                        let mut log = scheduled.lock().unwrap();
                        log.push(id);
                        log
                    });
                    sleep.as_mut().poll(&mut cx)
                })
                .await;
                assert!(Instant::now() >= deadline, "a sleep completed early");
            })
        })
        .collect();
    for task in tasks {
        rt.block_on(task).unwrap();
    }
    let scheduled = scheduled.lock().unwrap().clone();
    let mut expected: Vec<(Instant, usize, usize)> = scheduled
        .iter()
        .enumerate()
        .map(|(rank, &id)| (deadline(id), rank, id))
        .collect();
    expected.sort();
    let expected: Vec<usize> = expected.into_iter().map(|(_, _, id)| id).collect();
    assert_eq!(*fired.lock().unwrap(), expected);
}

#[test]
fn sub_millisecond_sleeps_never_return_early() {
    let rt = runtime();
    rt.block_on(in_task(async {
        let mut rng = XorShift(7);
        for _ in 0..200 {
            let duration = Duration::from_micros(1 + rng.below(999));
            let start = Instant::now();
            sleep(duration).await;
            assert!(start.elapsed() >= duration);
        }
    }));
}

#[test]
fn sleep_never_returns_early() {
    let rt = runtime();
    rt.block_on(async {
        let start = Instant::now();
        sleep(Duration::from_millis(50)).await;
        assert!(start.elapsed() >= Duration::from_millis(50));

        let mut rng = XorShift(42);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let duration = Duration::from_millis(rng.below(60));
                spawn(async move {
                    let start = Instant::now();
                    sleep(duration).await;
                    start.elapsed() >= duration
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap());
        }
    });
}

#[test]
fn zero_and_past_sleeps_complete() {
    let rt = runtime();
    rt.block_on(async {
        sleep(Duration::ZERO).await;
        sleep_until(Instant::now() - Duration::from_millis(10)).await;
        spawn(sleep(Duration::ZERO)).await.unwrap();
    });
}

#[test]
fn timeout_fires() {
    let rt = runtime();
    rt.block_on(async {
        let start = Instant::now();
        let result = timeout(Duration::from_millis(50), futures::future::pending::<()>()).await;
        assert!(matches!(result, Err(Elapsed { .. })));
        assert!(start.elapsed() >= Duration::from_millis(50));
        let err = result.unwrap_err();
        assert_eq!(err.to_string(), "deadline has elapsed");
        let _: &dyn std::error::Error = &err;
    });
}

#[test]
fn timeout_does_not_fire() {
    let rt = runtime();
    rt.block_on(async {
        assert_eq!(timeout(Duration::from_secs(60), async { 5 }).await, Ok(5));
        let slow = timeout(Duration::from_secs(60), async {
            sleep(Duration::from_millis(20)).await;
            6
        });
        assert_eq!(slow.await, Ok(6));
        let joined = timeout(Duration::from_secs(60), spawn(async { 7 })).await;
        assert_eq!(joined.unwrap().unwrap(), 7);
    });
}

#[test]
fn many_timeouts_that_do_not_fire() {
    let rt = runtime();
    rt.block_on(in_task(async {
        for _ in 0..10_000 {
            // Registers a 60s timer on the first poll, completes on the second; the timer
            // is dropped without firing.
            timeout(Duration::from_secs(60), YieldOnce(false))
                .await
                .unwrap();
        }
        let start = Instant::now();
        sleep(Duration::from_millis(10)).await;
        assert!(start.elapsed() >= Duration::from_millis(10));
    }));
}

#[test]
fn interval_ticks_on_schedule() {
    let rt = runtime();
    rt.block_on(in_task(async {
        let period = Duration::from_millis(20);
        let created = Instant::now();
        let mut ticks = interval(period);
        assert_eq!(ticks.period(), period);
        assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
        let first = ticks.tick().await;
        assert!(first >= created);
        for k in 1..5u32 {
            // Ticks report their scheduled instant, which never drifts with Burst.
            assert_eq!(ticks.tick().await, first + period * k);
        }
        assert!(Instant::now() >= first + period * 4);
    }));
}

#[test]
fn interval_burst_catches_up() {
    let rt = runtime();
    rt.block_on(in_task(async {
        let period = Duration::from_millis(10);
        let start = Instant::now();
        let mut ticks = interval_at(start, period);
        assert_eq!(ticks.tick().await, start);
        sleep(Duration::from_millis(55)).await;
        // Missed ticks are delivered back to back, each with its own schedule.
        for k in 1..=5u32 {
            assert_eq!(ticks.tick().await, start + period * k);
        }
    }));
}

#[test]
fn interval_delay_restarts_after_a_late_tick() {
    let rt = runtime();
    rt.block_on(in_task(async {
        let period = Duration::from_millis(10);
        let start = Instant::now();
        let mut ticks = interval_at(start, period);
        ticks.tick().await;
        // Only from here: had this thread stalled before the first tick, that tick
        // would already count as late.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        sleep(Duration::from_millis(55)).await;
        let late = ticks.tick().await;
        assert_eq!(late, start + period);
        let next = ticks.tick().await;
        // Scheduled one period after the late tick was delivered (at >= 55ms).
        assert!(next >= start + Duration::from_millis(55) + period);
    }));
}

#[test]
fn sleep_reset_earlier() {
    let rt = runtime();
    rt.block_on(async {
        let start = Instant::now();
        let mut long = Box::pin(sleep(Duration::from_secs(3600)));
        assert!(futures::poll!(long.as_mut()).is_pending());
        long.as_mut().reset(start + Duration::from_millis(30));
        assert_eq!(long.deadline(), start + Duration::from_millis(30));
        timeout(Duration::from_secs(60), long)
            .await
            .expect("a sleep moved earlier completes at its new deadline");
        assert!(start.elapsed() >= Duration::from_millis(30));
    });
}

#[test]
fn sleep_reset_later() {
    let rt = runtime();
    rt.block_on(async {
        let start = Instant::now();
        let mut short = sleep(Duration::from_millis(20));
        // Pending, unless this thread stalled past the deadline.
        let first = futures::poll!(&mut short);
        assert!(first.is_pending() || start.elapsed() >= Duration::from_millis(20));
        short.reset(start + Duration::from_millis(120));
        short.await;
        assert!(start.elapsed() >= Duration::from_millis(120));
    });
}

#[test]
fn sleep_reset_after_completion_runs_again() {
    let rt = runtime();
    rt.block_on(async {
        let mut sleep = sleep(Duration::from_millis(5));
        (&mut sleep).await;
        assert!(sleep.is_elapsed());
        let again = Instant::now() + Duration::from_millis(30);
        sleep.reset(again);
        assert!(!sleep.is_elapsed() || Instant::now() >= again);
        (&mut sleep).await;
        assert!(Instant::now() >= again);
    });
}

#[test]
#[should_panic(expected = "must be called from within a neptune runtime")]
fn sleep_outside_runtime_panics() {
    drop(sleep(Duration::from_millis(1)));
}

#[test]
#[should_panic(expected = "must be called from within a neptune runtime")]
fn timeout_outside_runtime_panics() {
    drop(timeout(Duration::from_millis(1), async {}));
}
