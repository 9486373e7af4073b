//! Pausing and resuming tasks: progress is kept, paused tasks do not run, and user
//! pauses are independent from pauses made by the scheduling policy.

mod common;

use common::*;
use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use neptune_runtime::policy::{Policy, Preempt, SlotClasses, SlotView};
use neptune_runtime::{Builder, SpawnOptions, TaskHandle, TaskState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Pauses `task`, waits until it is parked, and checks that `activity` does not move
/// while it stays paused.
#[track_caller]
fn pause_and_check_frozen(task: &TaskHandle, activity: impl Fn() -> u64) -> u64 {
    assert!(task.pause(), "pause of a live task returns true");
    assert!(task.is_pause_requested());
    wait_state(task, TaskState::Paused);
    let frozen = activity();
    assert!(
        holds_for(QUIET, || activity() == frozen
            && task.state() == TaskState::Paused),
        "a paused task made progress ({} -> {}) or left Paused ({:?})",
        frozen,
        activity(),
        task.state()
    );
    frozen
}

#[test]
fn pause_resume_of_cpu_bound_task_keeps_progress() {
    let rt = runtime(2);
    const N: u64 = 100_000;
    // The task cannot finish before the test releases it at unit N - 10.
    let units = Units::new(N, N - 10);
    let _release = units.release.set_on_drop();
    let h = rt.spawn(units.clone().run());
    let task = h.task();

    let mut last = 0;
    for cycle in 0..3 {
        let u = units.clone();
        wait_for("progress before pausing", || u.activity() > last + 500);
        let frozen = pause_and_check_frozen(&task, || units.activity());
        // Paused can mean held in a queue with the pause requested; the park (and its
        // count) follows when a slot takes the task.
        wait_for("the park to be counted", || task.suspensions() > cycle);
        let done = units.done();
        assert!(done < N, "the task finished while it should be paused");
        assert!(task.resume(), "resume of a paused task returns true");
        assert!(!task.is_pause_requested());
        last = frozen;
    }

    units.release.set();
    let out = join(h).expect("task completes");
    assert_eq!(
        out,
        uninterrupted(N),
        "result differs from an uninterrupted run"
    );
    assert_eq!(units.done(), N);
    units.assert_each_once();
    assert!(
        task.suspensions() >= 3,
        "suspensions {}",
        task.suspensions()
    );
    assert_eq!(task.state(), TaskState::Completed);
}

#[test]
fn pause_resume_on_another_thread_while_spinning_many_times() {
    // Many short pause/resume cycles on a task that never blocks: every cycle must park
    // it, and it must still finish with every unit done exactly once.
    let rt = runtime(2);
    const N: u64 = 20_000;
    let units = Units::new(N, N - 1);
    let _release = units.release.set_on_drop();
    let h = rt.spawn(units.clone().run());
    let task = h.task();
    wait_for("the task runs", || units.activity() > 0);
    for _ in 0..50 {
        assert!(task.pause());
        wait_state(&task, TaskState::Paused);
        let a = units.activity();
        std::thread::yield_now();
        assert_eq!(units.activity(), a, "a parked task ran");
        assert!(task.resume());
        // Let it run again, so the next pause stops a running task.
        wait_for("the resumed task runs", || units.activity() > a);
    }
    units.release.set();
    assert_eq!(join(h).unwrap(), uninterrupted(N));
    units.assert_each_once();
    assert!(task.suspensions() >= 50);
}

#[test]
fn paused_idle_task_does_not_run_when_its_oneshot_fires() {
    let rt = runtime(2);
    let (tx, rx) = oneshot::channel::<u32>();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let h = rt.spawn(async move {
        let v = rx.await.expect("sender kept");
        r.fetch_add(1, SeqCst);
        v * 2
    });
    let task = h.task();
    wait_state(&task, TaskState::Idle);
    assert!(task.pause());
    assert_eq!(task.state(), TaskState::Paused);

    tx.send(21).unwrap();
    // The wake is remembered: the task is parked, not run.
    wait_for("the wake parks the task", || task.suspensions() >= 1);
    assert!(
        holds_for(QUIET, || ran.load(SeqCst) == 0
            && task.state() == TaskState::Paused),
        "a paused task ran after its input became ready (ran {}, state {:?})",
        ran.load(SeqCst),
        task.state()
    );

    assert!(task.resume());
    assert_eq!(join(h).unwrap(), 42);
    assert_eq!(ran.load(SeqCst), 1);
    assert_eq!(task.state(), TaskState::Completed);
}

#[test]
fn paused_idle_task_does_not_consume_channel_messages() {
    let rt = runtime(2);
    let (tx, mut rx) = mpsc::unbounded::<u64>();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let h = rt.spawn(async move {
        let mut sum = 0;
        while let Some(v) = rx.next().await {
            sum += v;
            s.fetch_add(1, SeqCst);
        }
        sum
    });
    let task = h.task();
    let mut sent = 0;
    let mut expected = 0;
    for round in 0..3u64 {
        wait_state(&task, TaskState::Idle);
        assert!(task.pause());
        for v in 0..3 {
            tx.unbounded_send(round * 10 + v).unwrap();
            expected += round * 10 + v;
        }
        wait_for("the wake parks the task", || {
            task.suspensions() > round as u32
        });
        assert!(
            holds_for(QUIET, || seen.load(SeqCst) == sent),
            "a paused task consumed messages"
        );
        assert_eq!(task.state(), TaskState::Paused);
        assert!(task.resume());
        sent += 3;
        wait_for("resumed task drains the channel", || {
            seen.load(SeqCst) == sent
        });
    }
    drop(tx);
    assert_eq!(join(h).unwrap(), expected);
}

#[test]
fn paused_task_does_not_read_a_ready_tcp_socket() {
    use futures::io::AsyncReadExt;
    use neptune_runtime::net::TcpStream;
    use std::io::Write;

    let rt = runtime(2);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let mut stream = rt.block_on(async { TcpStream::from_std(server) }).unwrap();

    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let h = rt.spawn(async move {
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await.unwrap();
        r.fetch_add(1, SeqCst);
        buf
    });
    let task = h.task();
    wait_state(&task, TaskState::Idle);
    assert!(task.pause());

    client.write_all(b"hello").unwrap();
    wait_for("readiness parks the task", || task.suspensions() >= 1);
    assert!(
        holds_for(QUIET, || ran.load(SeqCst) == 0
            && task.state() == TaskState::Paused),
        "a paused task read its socket"
    );
    assert!(task.resume());
    assert_eq!(&join(h).unwrap(), b"hello");
    assert_eq!(ran.load(SeqCst), 1);
}

#[test]
fn pause_before_first_poll_then_resume() {
    // One slot, and the spawner runs on it: the child cannot be polled before the pause.
    let rt = runtime(1);
    let started = Flag::new();
    let st = started.clone();
    let parent = rt.spawn(async move {
        let child = neptune_runtime::spawn(async move {
            st.set();
            5u32
        });
        let task = child.task();
        assert!(task.pause());
        assert_eq!(task.state(), TaskState::Paused);
        neptune_runtime::yield_now().await;
        (child, task)
    });
    let (child, task) = join(parent).expect("parent completes");

    wait_for("the slot parks the child", || task.suspensions() >= 1);
    assert!(
        holds_for(QUIET, || !started.is_set()
            && task.state() == TaskState::Paused),
        "a task paused before its first poll was polled"
    );
    assert_eq!(task.slot(), Some(0));
    assert!(task.resume());
    assert_eq!(join(child).unwrap(), 5);
    assert!(started.is_set());
    assert_eq!(task.state(), TaskState::Completed);
}

#[test]
fn cancel_while_paused_before_first_poll() {
    let rt = runtime(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Flag::new();
    let (d, st) = (drops.clone(), started.clone());
    let parent = rt.spawn(async move {
        let child = neptune_runtime::spawn(counted(&d, async move {
            st.set();
        }));
        let task = child.task();
        assert!(task.pause());
        (child, task)
    });
    let (child, task) = join(parent).unwrap();
    wait_for("the slot parks the child", || task.suspensions() >= 1);
    assert_eq!(task.state(), TaskState::Paused);

    task.cancel();
    let err = join(child).expect_err("a cancelled task has no output");
    assert!(err.is_cancelled(), "{err:?}");
    assert!(!started.is_set(), "a cancelled paused task was polled");
    assert_eq!(drops.load(SeqCst), 1, "the future is dropped once");
    assert_eq!(task.state(), TaskState::Cancelled);
}

#[test]
fn cancel_while_paused_mid_run() {
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let units = Units::new(1_000_000, 1_000);
    let _release = units.release.set_on_drop();
    let h = rt.spawn(counted(&drops, units.clone().run()));
    let task = h.task();
    wait_for("progress", || units.done() >= 1_000);
    pause_and_check_frozen(&task, || units.activity());
    h.abort();
    let err = join(h).expect_err("cancelled");
    assert!(err.is_cancelled(), "{err:?}");
    assert_eq!(drops.load(SeqCst), 1);
    assert_eq!(task.state(), TaskState::Cancelled);
    assert!(units.done() < units.n);
}

#[test]
fn cancel_while_paused_and_idle() {
    let rt = runtime(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel::<()>();
    let h = rt.spawn(counted(&drops, async move {
        let _ = rx.await;
    }));
    let task = h.task();
    wait_state(&task, TaskState::Idle);
    assert!(task.pause());
    task.cancel();
    let err = join(h).expect_err("cancelled");
    assert!(err.is_cancelled());
    assert_eq!(drops.load(SeqCst), 1);
    assert!(tx.is_canceled(), "the receiver was dropped with the future");
}

#[test]
fn pause_and_resume_return_values() {
    let rt = runtime(2);
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    let progress = Arc::new(AtomicU64::new(0));
    let h = rt.spawn(spin_until(stop.clone(), progress.clone()));
    let task = h.task();
    wait_for("task runs", || progress.load(SeqCst) > 0);

    assert!(!task.resume(), "resume of a task that is not paused");
    assert!(!task.is_pause_requested());
    assert!(task.pause());
    assert!(task.pause(), "a second pause is accepted too");
    wait_state(&task, TaskState::Paused);
    assert!(task.resume());
    assert!(!task.resume(), "resume twice");
    assert!(
        !task.policy_resume(),
        "the user pause is not a policy pause"
    );

    stop.set();
    let n = join(h).unwrap();
    assert!(n > 0);
    assert_eq!(task.state(), TaskState::Completed);
    assert!(!task.pause(), "pause of a completed task");
    assert!(!task.resume(), "resume of a completed task");
    assert!(!task.is_pause_requested());

    // A cancelled task cannot be paused either.
    let (_tx, rx) = oneshot::channel::<()>();
    let h = rt.spawn(async move {
        let _ = rx.await;
    });
    let task = h.task();
    h.abort();
    assert!(join(h).unwrap_err().is_cancelled());
    assert!(!task.pause());
    assert_eq!(task.state(), TaskState::Cancelled);
}

/// One slot: a CPU-bound Batch task A runs; a Stream task S spawned from outside makes
/// the default policy pause A, then S occupies the slot until released. Returns A's
/// handle, its progress, its stop flag, S's release flag and S's join handle.
struct PolicyPaused {
    a: neptune_runtime::JoinHandle<u64>,
    a_task: TaskHandle,
    a_progress: Arc<AtomicU64>,
    a_stop: Flag,
    s: neptune_runtime::JoinHandle<()>,
    s_release: Flag,
    _guards: [SetOnDrop; 2],
}

fn policy_paused_setup(rt: &neptune_runtime::Runtime) -> PolicyPaused {
    let a_stop = Flag::new();
    let stop_guard = a_stop.set_on_drop();
    let a_progress = Arc::new(AtomicU64::new(0));
    let a = rt.spawn(spin_until(a_stop.clone(), a_progress.clone()));
    let a_task = a.task();
    wait_for("A runs", || a_progress.load(SeqCst) > 100);

    let s_started = Flag::new();
    let s_release = Flag::new();
    let guards = [stop_guard, s_release.set_on_drop()];
    let (ss, sr) = (s_started.clone(), s_release.clone());
    let s = rt.spawn_with(SpawnOptions::stream(), async move {
        ss.set();
        // Hold the only slot without yielding.
        while !sr.is_set() {
            std::hint::spin_loop();
        }
    });
    if !wait_until(DEADLINE, || s_started.is_set()) {
        a_stop.set();
        s_release.set();
        panic!(
            "the Stream task never ran: the policy did not pause the Batch task ({:?})",
            a_task.state()
        );
    }
    // S runs on the only slot, so A must be parked.
    assert_eq!(a_task.state(), TaskState::Paused);
    assert!(a_task.suspensions() >= 1);
    assert!(a_task.is_pause_requested());
    PolicyPaused {
        a,
        a_task,
        a_progress,
        a_stop,
        s,
        s_release,
        _guards: guards,
    }
}

#[test]
fn policy_resumes_what_the_policy_paused() {
    let rt = runtime(1);
    let p = policy_paused_setup(&rt);
    let before = p.a_progress.load(SeqCst);
    p.s_release.set();
    join(p.s).unwrap();
    // No user action: the policy resumes A once the slot has no Stream work.
    wait_for("the policy resumes A", || {
        p.a_progress.load(SeqCst) > before
    });
    assert!(!p.a_task.resume(), "A was not paused by the user");
    p.a_stop.set();
    join(p.a).unwrap();
}

#[test]
fn policy_does_not_resume_a_user_paused_task() {
    let rt = runtime(1);
    let p = policy_paused_setup(&rt);
    // The user pauses A too while it is parked by the policy.
    assert!(p.a_task.pause());
    let frozen = p.a_progress.load(SeqCst);
    p.s_release.set();
    join(p.s).unwrap();

    // The slot drained its Stream work and asked the policy to resume its tasks: A must
    // stay paused because the user paused it.
    assert!(
        holds_for(QUIET * 2, || p.a_progress.load(SeqCst) == frozen
            && p.a_task.state() == TaskState::Paused),
        "the policy resumed a user-paused task ({:?}, progress {} -> {})",
        p.a_task.state(),
        frozen,
        p.a_progress.load(SeqCst)
    );
    assert!(p.a_task.is_pause_requested());
    // The policy withdrew its pause: A is parked, but no longer by the policy, and the
    // slot's count says so (it asks the policy about its parked tasks while it is not 0).
    wait_for("the slot counts no task parked by the policy", || {
        let m = rt.metrics();
        m.slots[0].policy_parked == 0 && m.slots[0].suspended == 1
    });

    // More Stream work comes and goes; A still stays put.
    for _ in 0..5 {
        rt.block_on(rt.spawn_with(SpawnOptions::stream(), async {}))
            .unwrap();
    }
    assert!(holds_for(QUIET, || p.a_progress.load(SeqCst) == frozen));

    assert!(p.a_task.resume());
    wait_for("A runs after the user resumes it", || {
        p.a_progress.load(SeqCst) > frozen
    });
    p.a_stop.set();
    join(p.a).unwrap();
}

#[test]
fn user_resume_does_not_undo_a_policy_pause_but_the_policy_resumes_later() {
    let rt = runtime(1);
    let p = policy_paused_setup(&rt);
    // User pause and resume while the policy holds A: the policy pause remains.
    assert!(p.a_task.pause());
    assert!(p.a_task.resume());
    let frozen = p.a_progress.load(SeqCst);
    assert!(
        holds_for(QUIET, || p.a_progress.load(SeqCst) == frozen),
        "A ran while S held the slot"
    );
    assert_eq!(p.a_task.state(), TaskState::Paused);
    p.s_release.set();
    join(p.s).unwrap();
    wait_for("the policy resumes A", || {
        p.a_progress.load(SeqCst) > frozen
    });
    p.a_stop.set();
    join(p.a).unwrap();
}

/// A default-like policy whose preemption decision takes a while: it waits for the test
/// to say go, which lets the test place a user pause between the moment the policy sees
/// a running task and the moment it pauses it.
struct SlowPolicy {
    entered: Flag,
    go: Flag,
}

impl Policy for SlowPolicy {
    fn name(&self) -> &str {
        "slow"
    }

    fn on_stream_waiting(&self, _waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        self.entered.set();
        wait_until(DEADLINE, || self.go.is_set());
        slots
            .iter()
            .map(|s| Preempt::Pause(s.running.task.clone()))
            .collect()
    }

    fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        suspended.to_vec()
    }
}

#[test]
fn policy_pause_racing_with_a_user_pause_does_not_strand_the_task() {
    // Interleaving: the policy sees A running and decides to pause it; before its pause
    // lands, the user pauses A and A parks; then the policy's pause lands on the parked
    // task. Once the Stream work is done and the user resumes A, A must run again.
    let entered = Flag::new();
    let go = Flag::new();
    let rt = Builder::new()
        .slots(1)
        .policy(SlowPolicy {
            entered: entered.clone(),
            go: go.clone(),
        })
        .build()
        .unwrap();
    let stop = Flag::new();
    let _stop = stop.set_on_drop();
    let _go = go.set_on_drop();
    let progress = Arc::new(AtomicU64::new(0));
    let a = rt.spawn(spin_until(stop.clone(), progress.clone()));
    let a_task = a.task();
    wait_for("A runs", || progress.load(SeqCst) > 100);

    let handle = rt.handle().clone();
    let spawner =
        std::thread::spawn(move || handle.spawn_with(SpawnOptions::stream(), async { 7 }));
    wait_for("the policy is asked", || entered.is_set());
    assert!(a_task.pause());
    wait_state(&a_task, TaskState::Paused);
    go.set();
    let s = spawner.join().unwrap();
    assert_eq!(join(s).unwrap(), 7);

    assert!(a_task.resume());
    let frozen = progress.load(SeqCst);
    let resumed = wait_until(DEADLINE, || progress.load(SeqCst) > frozen);
    // Let the task go whatever happened, so the runtime can shut down.
    let state = a_task.state();
    a_task.policy_resume();
    stop.set();
    assert!(
        resumed,
        "a task paused by both the user and the policy stayed parked after the user resumed \
         it and the slot ran out of Stream work (state {state:?})"
    );
    join(a).unwrap();
}

/// Every slot runs only Stream tasks.
struct StreamOnly;

impl Policy for StreamOnly {
    fn name(&self) -> &str {
        "stream-only"
    }

    fn slot_classes(&self, _slot: usize, _slots: usize) -> SlotClasses {
        SlotClasses::StreamOnly
    }

    fn on_stream_waiting(&self, _waiting: usize, _slots: &[SlotView]) -> Vec<Preempt> {
        Vec::new()
    }

    fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        suspended.to_vec()
    }
}

#[test]
fn paused_stream_task_resumes_on_a_stream_only_slot() {
    let rt = Builder::new().slots(1).policy(StreamOnly).build().unwrap();
    const N: u64 = 50_000;
    let units = Units::new(N, N - 1);
    let _release = units.release.set_on_drop();
    let h = rt.spawn_with(SpawnOptions::stream(), units.clone().run());
    let task = h.task();
    wait_for("the Stream task runs", || units.done() > 100);
    pause_and_check_frozen(&task, || units.activity());
    assert_eq!(task.slot(), Some(0));
    assert!(task.resume());
    let u = units.clone();
    let ran = wait_until(DEADLINE, || u.done() == u.n - 1);
    units.release.set();
    assert!(
        ran,
        "a resumed Stream task never ran again on its stream-only slot (state {:?}, done {})",
        task.state(),
        units.done()
    );
    assert_eq!(join(h).unwrap(), uninterrupted(N));
    units.assert_each_once();
}

/// Exempts everything at first, asking to be asked again a little later; pauses the
/// youngest Batch task once asked again.
struct ExemptThenPause {
    asked: AtomicUsize,
}

impl Policy for ExemptThenPause {
    fn name(&self) -> &str {
        "exempt-then-pause"
    }

    fn on_stream_waiting(&self, _waiting: usize, slots: &[SlotView]) -> Vec<Preempt> {
        if self.asked.fetch_add(1, SeqCst) == 0 {
            let later = std::time::Instant::now() + std::time::Duration::from_millis(20);
            return vec![Preempt::AskAgainAt(later)];
        }
        slots
            .iter()
            .filter(|s| !s.running.pausing)
            .take(1)
            .map(|s| Preempt::Pause(s.running.task.clone()))
            .collect()
    }

    fn on_stream_drained(&self, _slot: usize, suspended: &[TaskHandle]) -> Vec<TaskHandle> {
        suspended.to_vec()
    }
}

#[test]
fn a_policy_that_asks_to_be_asked_again_is_asked_again() {
    let policy = Arc::new(ExemptThenPause {
        asked: AtomicUsize::new(0),
    });
    let rt = Builder::new()
        .slots(1)
        .policy(policy.clone())
        .build()
        .unwrap();
    let stop = Flag::new();
    let progress = Arc::new(AtomicU64::new(0));
    let batch = rt.spawn(spin_until(stop.clone(), progress.clone()));
    let _stop = stop.set_on_drop();
    wait_for("the Batch task runs", || progress.load(SeqCst) > 100);
    // The Batch task only stops when told: the Stream task can run only if the policy
    // is asked again and pauses it, since no other Stream work arrives to ask it.
    let stream = rt.spawn_with(SpawnOptions::stream(), async { 7 });
    let got = within(DEADLINE, move || join(stream));
    assert_eq!(
        got.map(Result::unwrap),
        Some(7),
        "the Stream task never ran: the policy was asked {} time(s)",
        policy.asked.load(SeqCst)
    );
    assert!(policy.asked.load(SeqCst) >= 2);
    assert!(!stop.is_set(), "the Batch task was still spinning");
    stop.set();
    join(batch).unwrap();
}
