//! The per-slot timeline, task counts by class and state, Batch busy time and paused
//! time: what a live view of the runtime reads.

mod common;

use common::*;
use neptune_runtime::metrics::CountedState;
use neptune_runtime::{
    Builder, Class, Runtime, SpanKind, SpawnOptions, TaskHandle, TaskState, Timeline,
};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

fn with_timeline(slots: usize, spans: usize) -> Runtime {
    Builder::new()
        .slots(slots)
        .thread_name("neptune-timeline")
        .timeline(spans)
        .build()
        .expect("runtime starts")
}

/// A Batch task that counts its iterations and yields (a preemption point) after each,
/// until `stop` is set; returned once it has run.
fn spinner(rt: &Runtime, stop: &Flag) -> (TaskHandle, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let (c, stop) = (count.clone(), stop.clone());
    let h = rt.spawn(async move {
        while !stop.is_set() {
            c.fetch_add(1, SeqCst);
            neptune_runtime::preemption_point().await;
        }
    });
    wait_for("the spinner to run", || count.load(SeqCst) > 0);
    (h.task(), count)
}

/// Pauses a running `task` and waits until it is parked: Paused, with one more
/// suspension (the state turns Paused at the request, before the task parks).
fn park(task: &TaskHandle) {
    let before = task.suspensions();
    assert!(task.pause());
    wait_state(task, TaskState::Paused);
    wait_for("the park", || task.suspensions() == before + 1);
}

/// The Paused spans of `task`.
fn paused_spans(t: &Timeline, task: &TaskHandle) -> Vec<(usize, neptune_runtime::Span)> {
    t.spans()
        .filter(|(_, s)| s.kind == SpanKind::Paused && s.task == task.id())
        .map(|(slot, s)| (slot, *s))
        .collect()
}

/// Checks what every snapshot must satisfy: spans sorted, within `0..=now`.
#[track_caller]
fn check_shape(t: &Timeline) {
    for s in &t.slots {
        for w in s.spans.windows(2) {
            assert!(w[0].start <= w[1].start, "spans not sorted: {w:?}");
        }
        for span in &s.spans {
            assert!(span.start <= span.end, "{span:?}");
            assert!(span.end <= t.now, "{span:?} ends after now {:?}", t.now);
            if span.open {
                assert_eq!(span.end, t.now, "{span:?}");
            }
        }
    }
}

#[test]
fn a_paused_batch_task_shows_a_paused_span_open_then_closed() {
    let rt = with_timeline(1, 256);
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    let (task, count) = spinner(&rt, &stop);
    park(&task);
    // The task parks inside its poll; the slot records that poll right after it.
    wait_for("the parking poll in the timeline", || {
        rt.timeline()
            .spans()
            .any(|(_, s)| s.kind == SpanKind::Batch && s.task == task.id())
    });

    let t = rt.timeline();
    check_shape(&t);
    let paused = paused_spans(&t, &task);
    assert_eq!(paused.len(), 1, "{t:?}");
    let (slot, span) = paused[0];
    assert_eq!(Some(slot), task.slot());
    assert!(
        span.open && span.end == t.now && span.start <= span.end,
        "{span:?}"
    );

    // Still open, and no shorter, in a later snapshot.
    let later = rt.timeline();
    let (_, again) = paused_spans(&later, &task)[0];
    assert!(again.open && again.start == span.start && again.end >= span.end);

    let before = count.load(SeqCst);
    assert!(task.resume());
    wait_for("the task to run again", || count.load(SeqCst) > before);
    let t = rt.timeline();
    check_shape(&t);
    let paused = paused_spans(&t, &task);
    assert_eq!(paused.len(), 1, "{t:?}");
    let (_, closed) = paused[0];
    assert!(!closed.open, "{closed:?}");
    assert_eq!(closed.start, span.start);
    assert!(closed.start <= closed.end && closed.end <= t.now);
    stop.set();
}

#[test]
fn stream_and_batch_polls_show_as_their_kinds() {
    let rt = with_timeline(2, 1024);
    let stream = rt.spawn_with(SpawnOptions::stream(), async { 1 });
    let stream_id = stream.id();
    let batch = rt.spawn(async {
        for _ in 0..10 {
            neptune_runtime::yield_now().await;
        }
        2
    });
    let batch_id = batch.id();
    assert_eq!(rt.block_on(stream).unwrap(), 1);
    assert_eq!(rt.block_on(batch).unwrap(), 2);
    // A slot records a poll right after it; the join may resolve a moment before.
    wait_for("both polls in the timeline", || {
        let t = rt.timeline();
        let has = |kind, id| t.spans().any(|(_, s)| s.kind == kind && s.task == id);
        has(SpanKind::Stream, stream_id) && has(SpanKind::Batch, batch_id)
    });
    let t = rt.timeline();
    check_shape(&t);
    assert_eq!(t.slots.len(), 2);
    for (_, s) in t.spans() {
        if s.task == stream_id {
            assert_eq!(s.kind, SpanKind::Stream);
        }
        if s.task == batch_id {
            assert_eq!(s.kind, SpanKind::Batch);
        }
        assert!(!s.open);
    }
}

#[test]
fn back_to_back_polls_of_one_task_make_one_span() {
    let rt = with_timeline(1, 1024);
    let h = rt.spawn(async {
        for _ in 0..1000 {
            neptune_runtime::yield_now().await;
        }
    });
    let id = h.id();
    rt.block_on(h).unwrap();
    wait_for("the last poll in the timeline", || {
        rt.metrics().slots[0].tasks_of(Class::Batch) == 1
    });
    let t = rt.timeline();
    let spans = t.spans().filter(|(_, s)| s.task == id).count();
    // 1001 polls; only a sleep of the slot between two of them splits the span, and it
    // has no reason to sleep while the task is runnable.
    assert!((1..=5).contains(&spans), "{spans} spans for 1001 polls");
}

#[test]
fn the_ring_keeps_at_most_spans_per_slot() {
    const CAP: usize = 4;
    let rt = with_timeline(2, CAP);
    // Several tasks that take turns, so consecutive polls are of different tasks.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            rt.spawn(async {
                for _ in 0..200 {
                    neptune_runtime::yield_now().await;
                }
            })
        })
        .collect();
    for h in tasks {
        rt.block_on(h).unwrap();
    }
    let polls: u64 = rt.metrics().total(|s| s.polls);
    assert!(polls > 800);
    let t = rt.timeline();
    check_shape(&t);
    for s in &t.slots {
        assert!(
            s.spans.len() <= CAP,
            "slot {}: {} spans",
            s.slot,
            s.spans.len()
        );
    }
    assert!(t.spans().count() > 0);
}

#[test]
fn the_timeline_is_empty_when_off() {
    let rt = runtime(2);
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    let (task, _count) = spinner(&rt, &stop);
    park(&task);
    let t = rt.timeline();
    assert_eq!(t.spans().count(), 0, "{t:?}");
    assert!(t.slots.iter().all(|s| s.spans.is_empty()));
    // Paused time does not depend on the timeline.
    wait_for("paused time", || {
        task.paused_time() > std::time::Duration::ZERO
    });
    task.resume();
    stop.set();
}

#[test]
fn task_counts_show_running_and_paused_tasks_in_their_class() {
    let rt = runtime(2);
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    // A Batch task that keeps its slot (preemption points, never a real yield).
    let (task, _count) = spinner(&rt, &stop);
    wait_for("it to count as a running Batch task", || {
        let m = rt.metrics();
        m.tasks.of(Class::Batch).running == 1 && m.tasks.of(Class::Stream).running == 0
    });

    park(&task);
    wait_for("it to count as a paused Batch task", || {
        let c = rt.metrics().tasks;
        c.of(Class::Batch).paused == 1 && c.of(Class::Batch).running == 0
    });
    let c = rt.metrics().tasks;
    assert_eq!(c.of(Class::Stream).paused, 0);
    assert_eq!(c.of(Class::Batch).live(), rt.metrics().live_tasks);
    let gauges: Vec<_> = c.gauges().collect();
    assert_eq!(gauges.len(), 8);
    assert!(gauges.contains(&(Class::Batch, CountedState::Paused, 1)));

    // A paused Stream task counts in its own class.
    let s_stop = Flag::new();
    let _s_stop = s_stop.set_on_drop();
    let s_count = Arc::new(AtomicU64::new(0));
    let (c2, st) = (s_count.clone(), s_stop.clone());
    let s = rt.spawn_with(SpawnOptions::stream(), async move {
        while !st.is_set() {
            c2.fetch_add(1, SeqCst);
            neptune_runtime::preemption_point().await;
        }
    });
    let s = s.task();
    wait_for("the stream task to run", || s_count.load(SeqCst) > 0);
    assert!(s.pause());
    wait_state(&s, TaskState::Paused);
    wait_for("a paused Stream task", || {
        rt.metrics().tasks.of(Class::Stream).paused == 1
    });

    assert!(task.resume());
    wait_for("the Batch task no longer paused", || {
        rt.metrics().tasks.of(Class::Batch).paused == 0
    });
    s.resume();
    stop.set();
    s_stop.set();
    wait_for("every task to end", || rt.metrics().live_tasks == 0);
    let c = rt.metrics().tasks;
    assert_eq!(c.of(Class::Batch).live() + c.of(Class::Stream).live(), 0);
}

#[test]
fn waiting_and_runnable_tasks_are_counted() {
    let rt = runtime(1);
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    // Idle tasks: waiting for a wake that never comes until the senders go.
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..3)
        .map(|_| futures::channel::oneshot::channel::<()>())
        .unzip();
    let handles: Vec<_> = rxs
        .into_iter()
        .map(|rx| {
            rt.spawn(async move {
                let _ = rx.await;
            })
        })
        .collect();
    wait_for("three waiting Batch tasks", || {
        let c = rt.metrics().tasks;
        c.of(Class::Batch).waiting == 3 && c.of(Class::Batch).live() == 3
    });
    // It keeps the only slot: the tasks spawned next stay queued.
    let (_task, _count) = spinner(&rt, &stop);
    let queued: Vec<_> = (0..2).map(|_| rt.spawn(async {})).collect();
    let c = rt.metrics().tasks;
    assert_eq!(c.of(Class::Batch).runnable, 2, "{c:?}");
    assert_eq!(c.of(Class::Batch).running, 1, "{c:?}");
    assert_eq!(c.of(Class::Batch).waiting, 3, "{c:?}");
    assert_eq!(c.of(Class::Stream).live(), 0, "{c:?}");
    // A Stream task makes the policy pause the spinner; meanwhile it is counted once.
    let s = rt.spawn_with(SpawnOptions::stream(), async {});
    assert!(rt.metrics().tasks.of(Class::Stream).live() <= 1);
    rt.block_on(s).unwrap();
    stop.set();
    drop(txs);
    for h in handles.into_iter().chain(queued) {
        rt.block_on(h).unwrap();
    }
}

#[test]
fn paused_time_grows_while_parked_and_stops_after_resume() {
    let rt = runtime(1);
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    let (task, count) = spinner(&rt, &stop);
    assert_eq!(task.paused_time(), std::time::Duration::ZERO);
    park(&task);
    assert_eq!(task.suspensions(), 1);
    let a = task.paused_time();
    wait_for("paused time to grow while parked", || {
        task.paused_time() > a
    });

    let before = count.load(SeqCst);
    assert!(task.resume());
    wait_for("the task to run again", || count.load(SeqCst) > before + 10);
    let b = task.paused_time();
    assert!(b > a);
    let more = count.load(SeqCst);
    wait_for("more runs", || count.load(SeqCst) > more + 10);
    assert_eq!(task.paused_time(), b, "paused time moved while running");

    // A second parking adds to it.
    assert!(task.pause());
    wait_for("the second park", || task.suspensions() == 2);
    wait_for("paused time to grow again", || task.paused_time() > b);
    assert!(task.resume());
    stop.set();
}

#[test]
fn batch_busy_never_decreases() {
    let rt = runtime(2);
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    let (_task, count) = spinner(&rt, &stop);
    let short: Vec<_> = (0..50)
        .map(|i| {
            rt.spawn(async move {
                for _ in 0..100 {
                    neptune_runtime::yield_now().await;
                }
                i
            })
        })
        .collect();
    let mut last = [std::time::Duration::ZERO; 2];
    let mut check = || {
        let m = rt.metrics();
        for s in &m.slots {
            assert!(
                s.batch_busy >= last[s.slot],
                "slot {}: batch_busy went from {:?} to {:?}",
                s.slot,
                last[s.slot],
                s.batch_busy
            );
            assert_eq!(s.busy(Class::Batch), s.batch_busy);
            assert_eq!(s.busy(Class::Stream), s.stream_busy);
            last[s.slot] = s.batch_busy;
        }
        m.batch_busy()
    };
    wait_for("batch busy time", || {
        check() > std::time::Duration::ZERO && count.load(SeqCst) > 1000
    });
    for h in short {
        rt.block_on(h).unwrap();
    }
    for _ in 0..200 {
        check();
    }
    stop.set();
    wait_for("the spinner to end", || rt.metrics().live_tasks == 0);
    for _ in 0..50 {
        check();
    }
}
