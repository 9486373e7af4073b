//! Task classes: Stream work runs before queued Batch work, the default policy pauses
//! Batch work to make room for Stream work, and slots dedicated to one class run it.

mod common;

use common::*;
use neptune_runtime::policy::{Policy, Preempt, Queueing, SlotClasses, SlotView};
use neptune_runtime::{Builder, Class, JoinHandle, SpawnOptions, TaskHandle, TaskState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<(Class, usize)>>>;

fn logged(log: &Log, class: Class, i: usize) -> impl std::future::Future<Output = usize> {
    let log = log.clone();
    async move {
        log.lock().unwrap().push((class, i));
        i
    }
}

/// Spawns a Batch task that holds its slot (no yield point) until `open` is set.
fn gate(rt: &neptune_runtime::Runtime, open: &Flag) -> JoinHandle<()> {
    let started = Flag::new();
    let (s, o) = (started.clone(), open.clone());
    let h = rt.spawn(async move {
        s.set();
        while !o.is_set() {
            std::hint::spin_loop();
        }
    });
    wait_for("the gate task holds the slot", || started.is_set());
    h
}

/// Spawns `n` Batch tasks that spin (counting units, yielding only when paused) until
/// `release`, and waits until each runs: with `n` slots, every slot is busy with one.
fn occupy_slots(
    rt: &neptune_runtime::Runtime,
    n: usize,
    release: &Flag,
) -> (Vec<JoinHandle<u64>>, Vec<Arc<AtomicU64>>) {
    let progress: Vec<Arc<AtomicU64>> = (0..n).map(|_| Arc::default()).collect();
    let batch = progress
        .iter()
        .map(|p| rt.spawn(spin_until(release.clone(), p.clone())))
        .collect();
    for p in &progress {
        wait_for("every Batch task runs", || p.load(SeqCst) > 0);
    }
    (batch, progress)
}

/// Asserts that every Stream entry of `log` comes before every Batch entry, and that
/// each task ran once.
#[track_caller]
fn assert_streams_first(log: &Log, streams: usize, batches: usize) {
    let log = log.lock().unwrap();
    assert_eq!(log.len(), streams + batches, "every task ran once: {log:?}");
    let first_batch = log.iter().position(|(c, _)| *c == Class::Batch);
    let last_stream = log.iter().rposition(|(c, _)| *c == Class::Stream);
    if let (Some(b), Some(s)) = (first_batch, last_stream) {
        assert!(
            s < b,
            "Stream task ran at position {s} after a Batch task at {b}: {log:?}"
        );
    }
    for class in [Class::Stream, Class::Batch] {
        let mut seen: Vec<usize> = log
            .iter()
            .filter(|(c, _)| *c == class)
            .map(|(_, i)| *i)
            .collect();
        seen.sort_unstable();
        let n = if class == Class::Stream {
            streams
        } else {
            batches
        };
        assert_eq!(seen, (0..n).collect::<Vec<_>>(), "{class:?} tasks");
    }
}

#[test]
fn stream_tasks_overtake_queued_batch_tasks() {
    let rt = runtime(1);
    let open = Flag::new();
    let _open = open.set_on_drop();
    let g = gate(&rt, &open);
    let log: Log = Arc::default();
    const B: usize = 30;
    const S: usize = 30;
    let batches: Vec<_> = (0..B)
        .map(|i| rt.spawn(logged(&log, Class::Batch, i)))
        .collect();
    let streams: Vec<_> = (0..S)
        .map(|i| rt.spawn_with(SpawnOptions::stream(), logged(&log, Class::Stream, i)))
        .collect();
    assert!(
        log.lock().unwrap().is_empty(),
        "nothing runs while the gate holds the slot"
    );
    open.set();
    join(g).unwrap();
    for (i, h) in streams.into_iter().enumerate() {
        assert_eq!(join(h).unwrap(), i);
    }
    for (i, h) in batches.into_iter().enumerate() {
        assert_eq!(join(h).unwrap(), i);
    }
    assert_streams_first(&log, S, B);
}

#[test]
fn stream_children_overtake_batch_children_spawned_earlier() {
    // Spawned from a task on the only slot, the children go through that slot's queues.
    let rt = runtime(1);
    let log: Log = Arc::default();
    const B: usize = 25;
    const S: usize = 25;
    let l = log.clone();
    let parent = rt.spawn(async move {
        let batches: Vec<_> = (0..B)
            .map(|i| neptune_runtime::spawn(logged(&l, Class::Batch, i)))
            .collect();
        let streams: Vec<_> = (0..S)
            .map(|i| {
                neptune_runtime::spawn_with(SpawnOptions::stream(), logged(&l, Class::Stream, i))
            })
            .collect();
        assert!(
            l.lock().unwrap().is_empty(),
            "children wait for the parent's slot"
        );
        let mut sum = 0;
        for h in streams.into_iter().chain(batches) {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(
        join(parent).unwrap(),
        (0..S).sum::<usize>() + (0..B).sum::<usize>()
    );
    assert_streams_first(&log, S, B);
}

#[test]
fn default_policy_preempts_batch_work_for_a_stream_task() {
    const SLOTS: usize = 2;
    let rt = runtime(SLOTS);
    let release = Flag::new();
    let _release = release.set_on_drop();
    let (batch, progress) = occupy_slots(&rt, SLOTS, &release);
    let tasks: Vec<TaskHandle> = batch.iter().map(|h| h.task()).collect();
    assert!(tasks
        .iter()
        .all(|t| t.state() == TaskState::Running && t.slot().is_some()));

    let stream = rt.spawn_with(SpawnOptions::stream(), async { "served" });
    assert_eq!(join(stream).unwrap(), "served");
    // The Stream task finished while the Batch tasks could not have.
    assert!(batch.iter().all(|h| !h.is_finished()));
    let suspended: Vec<u32> = tasks.iter().map(|t| t.suspensions()).collect();
    assert!(
        suspended.iter().any(|&s| s >= 1),
        "no Batch task was suspended: {suspended:?}"
    );

    // The policy resumes the parked task once the Stream work is gone.
    let before: Vec<u64> = progress.iter().map(|p| p.load(SeqCst)).collect();
    for (p, b) in progress.iter().zip(&before) {
        wait_for("every Batch task runs again", || p.load(SeqCst) > *b);
    }
    release.set();
    for (h, p) in batch.into_iter().zip(&progress) {
        let n = join(h).expect("Batch task completes");
        assert_eq!(
            n,
            p.load(SeqCst),
            "each Batch task counted all its own units"
        );
    }
}

#[test]
fn a_micro_batch_of_stream_tasks_gets_a_slot_per_task() {
    // Each Stream task of the micro-batch holds its slot until all of them run at once,
    // which they can only do if one Batch task was paused for each: a Stream task that
    // waits for a slot already running Stream work would never start.
    const SLOTS: usize = 4;
    let rt = runtime(SLOTS);
    let release = Flag::new();
    let _release = release.set_on_drop();
    let (batch, _) = occupy_slots(&rt, SLOTS, &release);

    let running = Arc::new(AtomicUsize::new(0));
    let stream: Vec<_> = (0..SLOTS)
        .map(|_| {
            let running = running.clone();
            rt.spawn_with(SpawnOptions::stream(), async move {
                running.fetch_add(1, SeqCst);
                wait_until(DEADLINE, || running.load(SeqCst) == SLOTS)
            })
        })
        .collect();
    for h in stream {
        assert!(
            join(h).unwrap(),
            "the micro-batch's tasks never ran together"
        );
    }
    let suspended: u32 = batch.iter().map(|h| h.task().suspensions()).sum();
    assert!(
        suspended as usize >= SLOTS,
        "{suspended} pauses for {SLOTS} Stream tasks"
    );
    release.set();
    for h in batch {
        join(h).expect("Batch task completes");
    }
}

#[test]
fn default_policy_preempts_for_stream_tasks_spawned_from_batch_tasks() {
    // Each Batch task, busy on its slot, spawns Stream work: the Stream work must still
    // be served while every slot is busy with Batch work.
    const SLOTS: usize = 2;
    let rt = runtime(SLOTS);
    let release = Flag::new();
    let _release = release.set_on_drop();
    let served = Arc::new(AtomicUsize::new(0));
    let streams: Arc<Mutex<Vec<TaskHandle>>> = Arc::default();
    let batch: Vec<_> = (0..SLOTS)
        .map(|_| {
            let (release, served, streams) = (release.clone(), served.clone(), streams.clone());
            rt.spawn(async move {
                let progress = Arc::new(AtomicU64::new(0));
                for _ in 0..3 {
                    let s = served.clone();
                    let h = neptune_runtime::spawn_with(SpawnOptions::stream(), async move {
                        s.fetch_add(1, SeqCst);
                    });
                    streams.lock().unwrap().push(h.task());
                    for _ in 0..1000 {
                        progress.fetch_add(1, SeqCst);
                        neptune_runtime::preemption_point().await;
                    }
                }
                spin_until(release, progress).await
            })
        })
        .collect();
    let ok = wait_until(DEADLINE, || served.load(SeqCst) == 3 * SLOTS);
    let states: Vec<TaskState> = streams.lock().unwrap().iter().map(|t| t.state()).collect();
    release.set();
    assert!(
        ok,
        "Stream tasks spawned by busy Batch tasks were not served: {states:?}"
    );
    for h in batch {
        join(h).unwrap();
    }
}

#[test]
fn stream_task_queued_behind_a_busy_slot_runs_before_global_batch_work() {
    // Slot A runs a CPU-bound Batch task X; slot B runs a Stream task T; a Batch task Y
    // waits in the global queue. X spawns a Stream task S, which goes to A's queue (B is
    // busy with Stream work, so no preemption is due). When T ends, B is free while S is
    // runnable: S must run (B takes it, or the policy makes room) although Y is queued.
    let rt = runtime(2);
    let release = Flag::new();
    let _release = release.set_on_drop();
    let spawn_s = Flag::new();
    let served = Flag::new();
    let s_task: Arc<Mutex<Option<TaskHandle>>> = Arc::default();
    let x_progress = Arc::new(AtomicU64::new(0));
    let (go, sv, st, rel, xp) = (
        spawn_s.clone(),
        served.clone(),
        s_task.clone(),
        release.clone(),
        x_progress.clone(),
    );
    let x = rt.spawn(async move {
        while !go.is_set() {
            xp.fetch_add(1, SeqCst);
            neptune_runtime::preemption_point().await;
        }
        let s = neptune_runtime::spawn_with(SpawnOptions::stream(), async move { sv.set() });
        *st.lock().unwrap() = Some(s.task());
        spin_until(rel, xp).await
    });
    wait_for("X runs", || x_progress.load(SeqCst) > 0);

    let t_started = Flag::new();
    let t_done = Flag::new();
    let (ts, td) = (t_started.clone(), t_done.clone());
    let t = rt.spawn_with(SpawnOptions::stream(), async move {
        ts.set();
        while !td.is_set() {
            std::hint::spin_loop();
        }
    });
    wait_for("T holds the other slot", || t_started.is_set());

    let y_progress = Arc::new(AtomicU64::new(0));
    let y = rt.spawn(spin_until(release.clone(), y_progress.clone()));
    spawn_s.set();
    wait_for("X spawns S", || s_task.lock().unwrap().is_some());
    t_done.set();
    join(t).unwrap();

    let ok = wait_until(DEADLINE, || served.is_set());
    let s_state = s_task.lock().unwrap().as_ref().map(|t| t.state());
    let y_ran = y_progress.load(SeqCst) > 0;
    release.set();
    assert!(
        ok,
        "a runnable Stream task starved while Batch work ran on every slot (S {s_state:?}, \
         Y ran: {y_ran})"
    );
    join(x).unwrap();
    join(y).unwrap();
}

#[test]
fn a_stream_task_in_the_lifo_slot_runs_before_batch_work_at_the_global_turn() {
    // Two Stream tasks ping-pong on one slot: each wakes the other into the LIFO slot,
    // so no Stream task ever waits in the global queue and the policy is never asked.
    // A Batch task that only yields when paused waits in the global queue. Every
    // GLOBAL_QUEUE_INTERVAL picks the slot looks at the global queues first; it must
    // still run the Stream task in its LIFO slot before that Batch task, which would
    // otherwise hold the slot for good while the Stream task sits in the local queue.
    use futures::{SinkExt, StreamExt};
    const ROUNDS: usize = 2_000;
    let rt = runtime(1);
    let release = Flag::new();
    let _release = release.set_on_drop();
    let (mut to_pong, mut pings) = futures::channel::mpsc::channel::<usize>(1);
    let (mut to_ping, mut pongs) = futures::channel::mpsc::channel::<usize>(1);
    let rounds = Arc::new(AtomicUsize::new(0));
    let r = rounds.clone();
    let ping = rt.spawn_with(SpawnOptions::stream().name("ping"), async move {
        for i in 0..ROUNDS {
            to_pong.send(i).await.unwrap();
            assert_eq!(pongs.next().await, Some(i));
            r.store(i + 1, SeqCst);
        }
    });
    let pong = rt.spawn_with(SpawnOptions::stream().name("pong"), async move {
        while let Some(i) = pings.next().await {
            to_ping.send(i).await.unwrap();
        }
    });
    wait_for("the ping-pong runs", || rounds.load(SeqCst) > 0);
    let progress = Arc::new(AtomicU64::new(0));
    let batch = rt.spawn(spin_until(release.clone(), progress.clone()));
    let done = wait_until(DEADLINE, || ping.is_finished());
    let reached = rounds.load(SeqCst);
    release.set();
    assert!(
        done,
        "the ping-pong stopped after {reached} of {ROUNDS} rounds while a Batch task held \
         the slot"
    );
    join(ping).unwrap();
    join(pong).unwrap();
    join(batch).unwrap();
}

/// A policy that makes room for Stream work by cancelling the running Batch tasks.
struct Kill;

impl Policy for Kill {
    fn name(&self) -> &str {
        "kill"
    }

    fn on_stream_waiting(&self, _waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        slots
            .iter()
            .map(|s| Preempt::Cancel(s.running.task.clone()))
            .collect()
    }

    fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        suspended.to_vec()
    }
}

#[test]
fn cancelling_policy_frees_the_slot_of_a_task_that_yields() {
    let rt = Builder::new().slots(1).policy(Kill).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let spawned = Flag::new();
    let _spawned = spawned.set_on_drop();
    let (p, sp) = (progress.clone(), spawned.clone());
    let b = rt.spawn(counted(&drops, async move {
        // Hold the slot (so the policy is asked) until the Stream task is spawned...
        while !sp.is_set() {
            p.fetch_add(1, SeqCst);
        }
        // ...then yield to the slot in a loop.
        loop {
            p.fetch_add(1, SeqCst);
            neptune_runtime::yield_now().await;
        }
    }));
    wait_for("the Batch task runs", || progress.load(SeqCst) > 0);
    let s = rt.spawn_with(SpawnOptions::stream(), async { 1 });
    spawned.set();
    assert_eq!(join(s).unwrap(), 1);
    let err = join(b).expect_err("the policy cancelled the Batch task");
    assert!(err.is_cancelled(), "{err:?}");
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn cancelling_policy_frees_the_slot_of_a_task_at_preemption_points() {
    // A CPU-bound task that awaits `preemption_point` between units: the policy cancels
    // it to make room for a Stream task; its future must be dropped and the slot freed.
    let rt = Builder::new().slots(1).policy(Kill).build().unwrap();
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    let drops = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let b = rt.spawn(counted(&drops, spin_until(stop.clone(), progress.clone())));
    let b_task = b.task();
    wait_for("the Batch task runs", || progress.load(SeqCst) > 0);
    let s = rt.spawn_with(SpawnOptions::stream(), async { 1 });
    let served = wait_until(DEADLINE, || s.is_finished());
    let state = b_task.state();
    stop.set();
    assert!(
        served,
        "the Stream task never ran: the cancelled Batch task kept its slot ({state:?}, \
         progress still moving)"
    );
    assert_eq!(join(s).unwrap(), 1);
    let err = join(b).expect_err("the policy cancelled the Batch task");
    assert!(err.is_cancelled(), "{err:?}");
    assert_eq!(drops.load(SeqCst), 1);
}

/// The slot it names runs only Stream tasks, the others only Batch tasks.
struct Dedicated(usize);

impl Policy for Dedicated {
    fn name(&self) -> &str {
        "dedicated"
    }

    fn slot_classes(&self, slot: usize, _slots: usize) -> SlotClasses {
        if slot == self.0 {
            SlotClasses::StreamOnly
        } else {
            SlotClasses::BatchOnly
        }
    }

    fn on_stream_waiting(&self, _waiting: usize, _slots: &[SlotView]) -> Vec<Preempt> {
        Vec::new()
    }

    fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        suspended.to_vec()
    }
}

#[test]
fn dedicated_slots_run_their_own_class() {
    // Alternate the classes, one task at a time, letting both slots go to sleep in
    // between: each task must be run by the one slot that may run it.
    let rt = Builder::new()
        .slots(2)
        .policy(Dedicated(0))
        .build()
        .unwrap();
    for round in 0..6 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        let class = if round % 2 == 0 {
            Class::Stream
        } else {
            Class::Batch
        };
        let h = rt.spawn_with(SpawnOptions::new().class(class), async move { round });
        let task = h.task();
        let ok = wait_until(DEADLINE, || h.is_finished());
        assert!(
            ok,
            "round {round}: a {class:?} task spawned while the slots slept never ran ({:?})",
            task.state()
        );
        assert_eq!(join(h).unwrap(), round);
        let want = if class == Class::Stream { 0 } else { 1 };
        assert_eq!(
            task.slot(),
            Some(want),
            "{class:?} task ran on the wrong slot"
        );
    }
}

#[test]
fn dedicated_stream_slot_takes_stream_work_spawned_on_the_batch_slot() {
    let rt = Builder::new()
        .slots(2)
        .policy(Dedicated(0))
        .build()
        .unwrap();
    let parent = rt.spawn(async {
        let child = neptune_runtime::spawn_with(SpawnOptions::stream(), async { 3 });
        let task = child.task();
        (child, task)
    });
    let ok = wait_until(DEADLINE, || parent.is_finished());
    assert!(ok, "the Batch parent never ran on the batch-only slot");
    let (child, task) = join(parent).unwrap();
    let ok = wait_until(DEADLINE, || child.is_finished());
    assert!(ok, "the Stream child never ran ({:?})", task.state());
    assert_eq!(join(child).unwrap(), 3);
    assert_eq!(task.slot(), Some(0));
}

/// A Batch task paused while idle, whose slot a policy switch then gives to Stream work
/// alone, is parked on that slot when it is woken and resumed into its queue there; the
/// slot hands it to one that runs Batch work at once. (It used to wait there until the
/// slot ran out of Stream work, and then run there.)
#[test]
fn a_batch_task_resumed_on_a_slot_since_given_to_stream_work_runs_on_another() {
    let rt = Builder::new().slots(2).build().unwrap();
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let h = rt.spawn(async move { rx.await.expect("the value is sent") + 1 });
    let task = h.task();
    wait_for("the Batch task waits for its value", || {
        task.state() == TaskState::Idle
    });
    let slot = task.slot().expect("it ran");
    assert!(task.pause());
    rt.set_policy(Dedicated(slot));
    tx.send(41).unwrap();
    wait_for("the woken task is parked on its slot", || {
        rt.metrics().slots[slot].suspended == 1
    });
    assert!(task.resume());
    let ok = wait_until(DEADLINE, || h.is_finished());
    assert!(ok, "the resumed task never ran ({:?})", task.state());
    assert_eq!(join(h).unwrap(), 42);
    assert_eq!(task.slot(), Some(1 - slot), "it ran on the Batch slot");
}

/// One queue for both classes, in arrival order.
struct Fifo;

impl Policy for Fifo {
    fn name(&self) -> &str {
        "fifo"
    }

    fn queueing(&self) -> Queueing {
        Queueing::Arrival
    }

    fn on_stream_waiting(&self, _waiting: usize, _slots: &[SlotView]) -> Vec<Preempt> {
        Vec::new()
    }

    fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        suspended.to_vec()
    }
}

#[test]
fn arrival_queueing_gives_stream_tasks_no_priority() {
    let rt = Builder::new().slots(1).policy(Fifo).build().unwrap();
    let open = Flag::new();
    let _open = open.set_on_drop();
    let g = gate(&rt, &open);
    let log: Log = Arc::default();
    let batches: Vec<_> = (0..10)
        .map(|i| rt.spawn(logged(&log, Class::Batch, i)))
        .collect();
    let streams: Vec<_> = (0..10)
        .map(|i| rt.spawn_with(SpawnOptions::stream(), logged(&log, Class::Stream, i)))
        .collect();
    open.set();
    join(g).unwrap();
    for h in streams.into_iter().chain(batches) {
        join(h).unwrap();
    }
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 20);
    assert_eq!(
        log[0],
        (Class::Batch, 0),
        "the oldest task runs first: {log:?}"
    );
}
