//! Task and runtime lifecycle: panics, shutdown, abort, detaching, spawning from
//! anywhere, and the metrics that count it all.

mod common;

use common::*;
use futures::channel::oneshot;
use neptune_runtime::{Class, Handle, SpawnOptions, TaskState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// The text of a panic payload (a `String` or a `&'static str`).
fn message(payload: &Box<dyn std::any::Any + Send>) -> Option<String> {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
}

#[test]
fn a_panicking_task_is_isolated() {
    // One slot: the panic happens on the only slot thread, which must keep working.
    let rt = runtime(1);
    let (tx, rx) = oneshot::channel::<u32>();
    let waiting = rt.spawn(async move { rx.await.unwrap() + 1 });
    wait_state(&waiting.task(), TaskState::Idle);

    let p1 = rt.spawn(async {
        let n = std::hint::black_box(42);
        if n > 0 {
            panic!("boom {n}");
        }
        0u32
    });
    let p2 = rt.spawn_with(SpawnOptions::stream(), async {
        neptune_runtime::yield_now().await;
        if std::hint::black_box(true) {
            panic!("static boom");
        }
    });

    let e1 = join(p1).expect_err("the task panicked");
    assert!(e1.is_panic() && !e1.is_cancelled(), "{e1:?}");
    assert!(e1.to_string().contains("boom 42"), "{e1}");
    let payload = e1.try_into_panic().expect("a panic payload");
    assert_eq!(message(&payload).as_deref(), Some("boom 42"));

    let e2 = join(p2).expect_err("the task panicked");
    assert!(e2.is_panic());
    let payload = e2.try_into_panic().expect("a panic payload");
    assert_eq!(message(&payload).as_deref(), Some("static boom"));

    // The slot and the other tasks carry on.
    tx.send(1).unwrap();
    assert_eq!(join(waiting).unwrap(), 2);
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
    let nested = rt.spawn(async { neptune_runtime::spawn(async { 6 }).await.unwrap() });
    assert_eq!(join(nested).unwrap(), 6);
    wait_for("no live tasks", || rt.metrics().live_tasks == 0);
}

#[test]
fn a_cancelled_error_is_not_a_panic() {
    let rt = runtime(1);
    let (_tx, rx) = oneshot::channel::<()>();
    let h = rt.spawn(async move {
        let _ = rx.await;
    });
    let id = h.id();
    h.abort();
    let e = join(h).unwrap_err();
    assert!(e.is_cancelled() && !e.is_panic());
    assert_eq!(e.id(), id);
    assert!(e.try_into_panic().is_err());
}

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("drop boom");
        }
    }
}

#[test]
fn a_future_panicking_in_drop_on_abort_does_not_take_the_runtime_down() {
    let rt = runtime(1);
    let (_tx, rx) = oneshot::channel::<()>();
    let h = rt.spawn(async move {
        let _bomb = PanicOnDrop;
        let _ = rx.await;
    });
    wait_state(&h.task(), TaskState::Idle);
    h.abort();
    let e = join(h).unwrap_err();
    assert!(e.is_panic() || e.is_cancelled(), "{e:?}");
    assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
}

#[test]
fn dropping_the_runtime_cancels_and_drops_every_pending_task() {
    let rt = runtime(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let mut joins = Vec::new();
    let mut tasks = Vec::new();

    // Idle tasks waiting on channels whose senders stay alive.
    let mut senders = Vec::new();
    for _ in 0..5 {
        let (tx, rx) = oneshot::channel::<u32>();
        senders.push(tx);
        let h = rt.spawn(counted(&drops, async move { rx.await.unwrap_or(0) as u64 }));
        wait_state(&h.task(), TaskState::Idle);
        tasks.push(h.task());
        joins.push(h);
    }
    // CPU-bound tasks paused mid-run (parked).
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    for _ in 0..3 {
        let progress = Arc::new(AtomicU64::new(0));
        let h = rt.spawn(counted(&drops, spin_until(stop.clone(), progress.clone())));
        wait_for("the CPU-bound task runs", || progress.load(SeqCst) > 0);
        let t = h.task();
        assert!(t.pause());
        wait_for("it parks", || t.suspensions() >= 1);
        assert_eq!(t.state(), TaskState::Paused);
        tasks.push(t);
        joins.push(h);
    }
    // An idle task that is paused (not parked).
    let (tx, rx) = oneshot::channel::<u32>();
    senders.push(tx);
    let h = rt.spawn(counted(&drops, async move { rx.await.unwrap_or(0) as u64 }));
    wait_state(&h.task(), TaskState::Idle);
    assert!(h.task().pause());
    tasks.push(h.task());
    joins.push(h);

    // A Stream task that keeps the only slot busy, yielding, so Batch work stays queued.
    let spins = Arc::new(AtomicU64::new(0));
    let s = spins.clone();
    let blocker = rt.spawn_with(
        SpawnOptions::stream(),
        counted(&drops, async move {
            loop {
                s.fetch_add(1, SeqCst);
                neptune_runtime::yield_now().await;
            }
        }),
    );
    wait_for("the Stream task runs", || spins.load(SeqCst) > 10);
    tasks.push(blocker.task());
    // Queued Batch tasks that never get a turn.
    let started = Arc::new(AtomicUsize::new(0));
    let mut queued = Vec::new();
    for i in 0..5u64 {
        let st = started.clone();
        let h = rt.spawn(counted(&drops, async move {
            st.fetch_add(1, SeqCst);
            i
        }));
        tasks.push(h.task());
        queued.push(h);
    }
    let total = joins.len() + 1 + queued.len();
    assert_eq!(drops.load(SeqCst), 0);

    let dropped = within(Duration::from_secs(20), move || drop(rt));
    assert!(dropped.is_some(), "dropping the runtime hung");
    assert_eq!(drops.load(SeqCst), total, "every future is dropped");
    assert_eq!(started.load(SeqCst), 0, "queued tasks never ran");
    assert!(senders.iter().all(|s| s.is_canceled()), "receivers dropped");
    for t in &tasks {
        assert_eq!(t.state(), TaskState::Cancelled, "{t:?}");
    }
    for h in joins {
        let e = futures::executor::block_on(h).expect_err("cancelled by shutdown");
        assert!(e.is_cancelled(), "{e:?}");
    }
    let e = futures::executor::block_on(blocker).expect_err("cancelled by shutdown");
    assert!(e.is_cancelled());
    for h in queued {
        let e = futures::executor::block_on(h).expect_err("cancelled by shutdown");
        assert!(e.is_cancelled());
    }
}

#[test]
fn task_handles_outlive_the_runtime() {
    // Handles kept after the runtime is gone: every operation on them is harmless.
    let rt = runtime(2);
    let units = Units::new(1_000_000, 1_000);
    let _release = units.release.set_on_drop();
    let running = rt.spawn(units.clone().run());
    let paused = running.task();
    wait_for("progress", || units.done() >= 1_000);
    assert!(paused.pause());
    wait_for("it parks", || paused.suspensions() >= 1);
    assert_eq!(paused.state(), TaskState::Paused);
    let (_tx, rx) = oneshot::channel::<()>();
    let idle = rt.spawn(async move {
        let _ = rx.await;
    });
    let idle_task = idle.task();
    wait_state(&idle_task, TaskState::Idle);
    assert!(idle_task.pause());

    drop(rt);
    for t in [&paused, &idle_task] {
        assert_eq!(t.state(), TaskState::Cancelled, "{t:?}");
        // None of these may panic or revive the task.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            t.resume();
            t.pause();
            t.cancel();
            t.policy_pause();
            t.policy_resume();
        }));
        assert!(
            r.is_ok(),
            "an operation on the handle of a task paused at shutdown panicked"
        );
        assert_eq!(t.state(), TaskState::Cancelled);
        assert!(!t.pause(), "a finished task cannot be paused");
    }
    assert!(futures::executor::block_on(running)
        .unwrap_err()
        .is_cancelled());
    assert!(futures::executor::block_on(idle)
        .unwrap_err()
        .is_cancelled());
}

#[test]
fn shutdown_timeout_returns_despite_a_task_that_never_yields() {
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel::<()>();
    let idle = rt.spawn(counted(&drops, async move {
        let _ = rx.await;
    }));
    wait_state(&idle.task(), TaskState::Idle);

    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    let started = Flag::new();
    let (st, sp) = (started.clone(), stop.clone());
    let stuck = rt.spawn(async move {
        st.set();
        // No yield point at all.
        while !sp.is_set() {
            std::hint::spin_loop();
        }
    });
    wait_for("the never-yielding task runs", || started.is_set());

    let timeout = Duration::from_millis(200);
    let elapsed = within(Duration::from_secs(20), move || {
        let t0 = Instant::now();
        rt.shutdown_timeout(timeout);
        t0.elapsed()
    });
    let elapsed = elapsed.expect("shutdown_timeout did not return");
    assert!(
        elapsed >= timeout,
        "shutdown_timeout returned after {elapsed:?}, before its timeout although a slot \
         was still busy"
    );
    assert!(!stuck.is_finished());
    // Everything else was cancelled and dropped.
    assert_eq!(drops.load(SeqCst), 1);
    assert!(tx.is_canceled());
    assert!(futures::executor::block_on(idle)
        .unwrap_err()
        .is_cancelled());

    // Let the stuck slot thread go; the task then finishes on its own.
    stop.set();
    wait_for("the stuck task finishes", || stuck.is_finished());
}

#[test]
fn shutdown_timeout_with_idle_slots_cancels_everything() {
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (_tx, rx) = oneshot::channel::<()>();
    let h = rt.spawn(counted(&drops, async move {
        let _ = rx.await;
    }));
    wait_state(&h.task(), TaskState::Idle);
    let done = within(Duration::from_secs(20), move || {
        rt.shutdown_timeout(Duration::from_secs(5))
    });
    assert!(done.is_some(), "shutdown_timeout hung");
    assert_eq!(drops.load(SeqCst), 1);
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn abort_an_idle_task() {
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel::<u32>();
    let h = rt.spawn(counted(&drops, async move { rx.await.unwrap() }));
    let task = h.task();
    wait_state(&task, TaskState::Idle);
    h.abort();
    let e = join(h).unwrap_err();
    assert!(e.is_cancelled(), "{e:?}");
    assert_eq!(drops.load(SeqCst), 1);
    assert!(tx.is_canceled());
    assert_eq!(task.state(), TaskState::Cancelled);
}

#[test]
fn abort_a_queued_task_before_it_runs() {
    let rt = runtime(1);
    let open = Flag::new();
    let _open = open.set_on_drop();
    let o = open.clone();
    let gate = rt.spawn(async move {
        while !o.is_set() {
            std::hint::spin_loop();
        }
    });
    wait_state(&gate.task(), TaskState::Running);
    let started = Flag::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let st = started.clone();
    let h = rt.spawn(counted(&drops, async move { st.set() }));
    assert_eq!(h.task().state(), TaskState::Runnable);
    h.abort();
    open.set();
    assert!(join(h).unwrap_err().is_cancelled());
    assert!(!started.is_set(), "an aborted queued task was polled");
    assert_eq!(drops.load(SeqCst), 1);
    join(gate).unwrap();
}

#[test]
fn abort_a_running_task_that_yields() {
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let p = progress.clone();
    let h = rt.spawn(counted(&drops, async move {
        loop {
            p.fetch_add(1, SeqCst);
            neptune_runtime::yield_now().await;
        }
    }));
    wait_for("the task runs", || progress.load(SeqCst) > 100);
    h.abort();
    let e = join(h).unwrap_err();
    assert!(e.is_cancelled());
    assert_eq!(drops.load(SeqCst), 1);
    let p = progress.load(SeqCst);
    assert!(holds_for(QUIET, || progress.load(SeqCst) == p));
}

#[test]
fn abort_a_running_cpu_bound_task_at_its_preemption_points() {
    // The documented way to write CPU-bound work: units separated by
    // `preemption_point().await`. Aborting it must drop it at one of those points.
    let rt = runtime(2);
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    let drops = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let h = rt.spawn(counted(&drops, spin_until(stop.clone(), progress.clone())));
    let task = h.task();
    wait_for("the task runs", || progress.load(SeqCst) > 100);
    h.abort();
    let finished = wait_until(DEADLINE, || h.is_finished());
    let state = task.state();
    stop.set();
    assert!(
        finished,
        "an aborted CPU-bound task kept running past its preemption points ({state:?})"
    );
    let e = join(h).unwrap_err();
    assert!(e.is_cancelled(), "{e:?}");
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let rt = runtime(1);
    let h = rt.spawn(async { 9 });
    wait_for("done", || h.is_finished());
    h.abort();
    assert_eq!(h.task().state(), TaskState::Completed);
    assert_eq!(futures::executor::block_on(h).unwrap(), 9);
}

#[test]
fn dropping_a_join_handle_detaches_the_task() {
    let rt = runtime(2);
    let (tx, rx) = oneshot::channel::<u64>();
    let result = Arc::new(AtomicU64::new(0));
    let r = result.clone();
    let h = rt.spawn(async move {
        let v = rx.await.unwrap();
        r.store(v, SeqCst);
    });
    let task = h.task();
    wait_state(&task, TaskState::Idle);
    drop(h);
    tx.send(77).unwrap();
    wait_for("the detached task runs", || result.load(SeqCst) == 77);
    wait_state(&task, TaskState::Completed);

    // A detached CPU-bound task runs to the end too.
    let units = Units::new(5_000, u64::MAX);
    drop(rt.spawn(units.clone().run()));
    wait_for("the detached CPU-bound task finishes", || {
        units.done() == 5_000
    });
    units.assert_each_once();
    wait_for("no live tasks", || rt.metrics().live_tasks == 0);
}

#[test]
fn spawn_after_shutdown_resolves_to_cancelled() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    assert_eq!(rt.block_on(handle.spawn(async { 1 })).unwrap(), 1);
    drop(rt);

    let drops = Arc::new(AtomicUsize::new(0));
    let started = Flag::new();
    let st = started.clone();
    let h = handle.spawn(counted(&drops, async move {
        st.set();
        2
    }));
    assert_eq!(drops.load(SeqCst), 1, "the future is dropped at once");
    let e = futures::executor::block_on(h).expect_err("no runtime to run it");
    assert!(e.is_cancelled(), "{e:?}");
    assert!(!started.is_set());

    let st = started.clone();
    let h = handle.spawn_with(SpawnOptions::stream(), async move { st.set() });
    assert!(h.is_finished());
    assert_eq!(h.task().state(), TaskState::Cancelled);
    assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    assert!(!started.is_set());
    assert_eq!(handle.metrics().live_tasks, 0);
}

#[test]
fn spawn_from_inside_tasks_and_current_handle() {
    assert!(
        Handle::try_current().is_none(),
        "no runtime on a plain thread"
    );
    let rt = runtime(2);
    assert!(Handle::try_current().is_none());
    assert!(rt.block_on(async { Handle::try_current().is_some() }));
    assert!(
        Handle::try_current().is_none(),
        "block_on restores the context"
    );

    // A tree of tasks, each spawning children with the free function.
    fn tree(depth: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>> {
        Box::pin(async move {
            assert!(
                Handle::try_current().is_some(),
                "a task runs inside its runtime"
            );
            if depth == 0 {
                return 1;
            }
            let a = neptune_runtime::spawn(tree(depth - 1));
            let b = neptune_runtime::spawn_with(SpawnOptions::stream(), tree(depth - 1));
            a.await.unwrap() + b.await.unwrap()
        })
    }
    assert_eq!(join(rt.spawn(tree(6))).unwrap(), 64);

    // Handle::current inside a task spawns onto the same runtime.
    let h = rt.spawn(async {
        let handle = Handle::current();
        handle
            .spawn(async { Handle::try_current().is_some() })
            .await
            .unwrap()
    });
    assert!(join(h).unwrap());

    // A handle moved to a plain thread spawns from there.
    let handle = rt.handle().clone();
    let from_thread = std::thread::spawn(move || {
        assert!(Handle::try_current().is_none());
        handle.spawn(async { 8 })
    })
    .join()
    .unwrap();
    assert_eq!(join(from_thread).unwrap(), 8);
    wait_for("no live tasks", || rt.metrics().live_tasks == 0);
}

#[test]
fn metrics_count_polls_tasks_and_pauses() {
    let rt = runtime(2);
    let m0 = rt.metrics();
    assert_eq!(m0.slots.len(), 2);
    let polls0 = m0.total(|s| s.polls);
    let batch0 = m0.total(|s| s.tasks_of(Class::Batch));
    let stream0 = m0.total(|s| s.tasks_of(Class::Stream));

    let mut hs = Vec::new();
    for i in 0..20u64 {
        hs.push(rt.spawn(async move {
            for _ in 0..3 {
                neptune_runtime::yield_now().await;
            }
            i
        }));
    }
    let streams: Vec<_> = (0..5)
        .map(|_| rt.spawn_with(SpawnOptions::stream(), async {}))
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(join(h).unwrap(), i as u64);
    }
    for h in streams {
        join(h).unwrap();
    }
    // Each Batch task was polled at least four times (three yields).
    wait_for("polls are counted", || {
        rt.metrics().total(|s| s.polls) >= polls0 + 20 * 4 + 5
    });
    wait_for("finished tasks are counted per class", || {
        let m = rt.metrics();
        m.total(|s| s.tasks_of(Class::Batch)) >= batch0 + 20
            && m.total(|s| s.tasks_of(Class::Stream)) >= stream0 + 5
    });

    // A pause and a resume are counted as a park and a resume.
    let units = Units::new(10_000, 5_000);
    let _release = units.release.set_on_drop();
    let h = rt.spawn(units.clone().run());
    let task = h.task();
    wait_for("progress", || units.done() >= 5_000);
    assert!(task.pause());
    wait_state(&task, TaskState::Paused);
    wait_for("the park is counted", || {
        rt.metrics().total(|s| s.parks) >= 1
    });
    assert!(task.resume());
    units.release.set();
    join(h).unwrap();
    wait_for("the resume is counted", || {
        rt.metrics().total(|s| s.resumes) >= 1
    });
    wait_for("no live tasks", || rt.metrics().live_tasks == 0);
}

#[test]
fn idle_slot_steals_from_a_busy_one() {
    let rt = runtime(2);
    // The slot thread each child ran on, and the one that spawned them (a slot is a
    // thread; the parent's own last slot may differ, as it can move after a wake).
    let ran_on: Arc<Mutex<Vec<ThreadId>>> = Arc::default();
    let spawner: Arc<Mutex<Option<ThreadId>>> = Arc::default();
    let first_started = Flag::new();
    let release = Flag::new();
    let _release = release.set_on_drop();
    let (r, sp, fs, rel) = (
        ran_on.clone(),
        spawner.clone(),
        first_started.clone(),
        release.clone(),
    );
    let parent = rt.spawn(async move {
        *sp.lock().unwrap() = Some(std::thread::current().id());
        let mut children = Vec::new();
        for _ in 0..200 {
            let (fs, r) = (fs.clone(), r.clone());
            let h = neptune_runtime::spawn(async move {
                fs.set();
                for _ in 0..100 {
                    neptune_runtime::preemption_point().await;
                }
                r.lock().unwrap().push(std::thread::current().id());
            });
            children.push(h);
        }
        // Hold this slot (no yield): the children, all in this slot's queue, can only
        // run if the other slot steals them.
        while !fs.is_set() && !rel.is_set() {
            std::hint::spin_loop();
        }
        for h in children {
            h.await.unwrap();
        }
    });
    let stolen = wait_until(DEADLINE, || first_started.is_set());
    release.set();
    assert!(
        stolen,
        "no child ran while its slot was busy: nothing was stolen"
    );
    join(parent).unwrap();
    let spawner = spawner.lock().unwrap().unwrap();
    let ran_on = ran_on.lock().unwrap();
    assert_eq!(ran_on.len(), 200);
    assert!(
        ran_on.iter().any(|&t| t != spawner),
        "every child ended on the spawning slot"
    );
    wait_for("the steal is counted", || {
        rt.metrics().total(|s| s.steals) >= 1
    });
}

#[test]
fn block_on_inside_block_on_is_refused_on_any_thread() {
    let (a, b) = (runtime(1), runtime(1));
    for inner in [&a, &b] {
        let nested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            a.block_on(async { inner.block_on(async { 1 }) })
        }));
        let payload = nested.expect_err("a nested block_on must panic");
        let text = message(&payload).unwrap();
        assert!(text.contains("block_on called inside block_on"), "{text}");
    }
    // The refusal unwound both calls: the thread may block on again.
    assert_eq!(a.block_on(async { 2 }), 2);
    assert_eq!(b.block_on(async { 3 }), 3);
}

#[test]
fn an_entered_runtime_is_where_spawn_goes_until_the_guard_drops() {
    let named = |name: &str| {
        neptune_runtime::Builder::new()
            .slots(1)
            .thread_name(name)
            .build()
            .unwrap()
    };
    let (a, b) = (named("rt-a"), named("rt-b"));
    assert!(Handle::try_current().is_none());
    let on_a = {
        let _a = a.enter();
        let on_b = {
            let _b = b.enter();
            neptune_runtime::spawn(async { std::thread::current().name().map(str::to_owned) })
        };
        // Back to `a` once `b`'s guard dropped.
        assert!(Handle::try_current().is_some());
        (
            neptune_runtime::spawn(async { std::thread::current().name().map(str::to_owned) }),
            on_b,
        )
    };
    assert!(Handle::try_current().is_none());
    let (on_a, on_b) = on_a;
    let name_a = a.block_on(on_a).unwrap().unwrap();
    let name_b = b.block_on(on_b).unwrap().unwrap();
    assert_eq!(
        (name_a.as_str(), name_b.as_str()),
        ("rt-a-0", "rt-b-0"),
        "each task ran on the runtime entered when it was spawned"
    );
}

#[test]
fn a_join_set_gives_outputs_as_tasks_finish_and_cancels_what_it_still_holds_when_dropped() {
    use neptune_runtime::JoinSet;
    let rt = runtime(2);
    let (tx, rx) = oneshot::channel::<u32>();
    let started = Arc::new(AtomicUsize::new(0));
    let (first, stuck) = rt.block_on(async {
        let mut set = JoinSet::new();
        // The waiting task is spawned first but finishes last.
        let waiting = set.spawn(async move { rx.await.unwrap() });
        set.spawn(async { 7 });
        let first = set.join_next().await.unwrap().unwrap();
        assert_eq!(set.len(), 1);
        let s = started.clone();
        let stuck = set.spawn(async move {
            s.fetch_add(1, SeqCst);
            std::future::pending::<u32>().await
        });
        drop(set);
        (first, (waiting, stuck))
    });
    assert_eq!(first, 7);
    let (waiting, stuck) = stuck;
    wait_state(&waiting, TaskState::Cancelled);
    wait_state(&stuck, TaskState::Cancelled);
    assert!(
        tx.send(1).is_err(),
        "the cancelled task dropped its receiver"
    );

    let aborted = rt.block_on(async {
        let mut set = JoinSet::new();
        for _ in 0..3 {
            set.spawn(std::future::pending::<()>());
        }
        set.abort_all();
        let mut cancelled = 0;
        while let Some(done) = set.join_next().await {
            cancelled += usize::from(done.unwrap_err().is_cancelled());
        }
        cancelled
    });
    assert_eq!(aborted, 3);
}

#[test]
fn a_future_whose_poll_panics_is_dropped_while_the_panic_unwinds() {
    /// Records whether it is dropped during a panic.
    struct Witness(Arc<Mutex<Option<bool>>>);
    impl Drop for Witness {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(std::thread::panicking());
        }
    }
    let rt = runtime(1);
    let seen = Arc::new(Mutex::new(None));
    let witness = Witness(seen.clone());
    let task = rt.spawn(async move {
        let _witness = witness;
        panic!("the poll fails");
    });
    let err = rt.block_on(task).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(*seen.lock().unwrap(), Some(true), "dropped while unwinding");
    // A task that completes drops its future outside any panic.
    let seen = Arc::new(Mutex::new(None));
    let witness = Witness(seen.clone());
    rt.block_on(rt.spawn(async move { drop(witness) })).unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(false));
}

#[test]
fn spawn_blocking_runs_off_the_slots_on_a_bounded_pool() {
    let rt = neptune_runtime::Builder::new()
        .slots(1)
        .thread_name("rt-blk")
        .max_blocking_threads(2)
        .build()
        .unwrap();
    // The result, and where it ran.
    let (value, thread) = rt
        .block_on(
            rt.handle()
                .spawn_blocking(|| (6 * 7, std::thread::current().name().map(str::to_owned))),
        )
        .unwrap();
    assert_eq!((value, thread.as_deref()), (42, Some("rt-blk-blocking")));
    // A panic comes back as the handle's panic error.
    let err = rt
        .block_on(rt.handle().spawn_blocking(|| panic!("blocked badly")))
        .unwrap_err();
    assert!(err.is_panic());
    // Four jobs that block until a gate opens: two threads at most run them.
    let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let started = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<_> = (0..4)
        .map(|i| {
            let (gate, started) = (gate.clone(), started.clone());
            rt.handle().spawn_blocking(move || {
                started.fetch_add(1, SeqCst);
                let (open, cond) = &*gate;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cond.wait(open).unwrap();
                }
                i
            })
        })
        .collect();
    assert!(wait_until(Duration::from_secs(10), || started.load(SeqCst) == 2));
    // The other two wait for a thread (watched for a while: nothing else starts them).
    assert!(!wait_until(QUIET, || started.load(SeqCst) > 2));
    // The slot is free meanwhile.
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    let mut done: Vec<usize> = jobs.into_iter().map(|j| rt.block_on(j).unwrap()).collect();
    done.sort();
    assert_eq!(done, [0, 1, 2, 3]);
    assert_eq!(started.load(SeqCst), 4);
}

#[cfg(target_os = "linux")]
#[test]
fn slots_run_at_the_nice_value_asked_for() {
    let rt = neptune_runtime::Builder::new()
        .slots(2)
        .slot_nice(9)
        .build()
        .unwrap();
    let on_slot = rt.block_on(rt.spawn(async { neptune_runtime::time_slice::nice() }));
    assert_eq!(on_slot.unwrap(), Some(9));
    // The thread that built the runtime keeps its own.
    assert_ne!(neptune_runtime::time_slice::nice(), Some(9));
}
