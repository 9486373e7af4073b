//! loom models over the neptune runtime's concurrency code: the task state word, pausing
//! and parking, cancellation, the join handle, and the idle-slot protocol.
//!
//! The models run the runtime's real code (built with `--cfg loom`, every atomic, lock
//! and thread in it is loom's). Run them with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release -p neptune-loom-tests --target-dir target/loom
//! ```
//!
//! Adding `CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true` also turns on the state word's
//! debug assertions; `-- --ignored` adds the long policy-preemption model. Without
//! `--cfg loom` this crate is empty and its tests compile to nothing.
//!
//! - `tests/pause.rs`: a pause racing a wake, a completion, a resume, a steal;
//! - `tests/join.rs`: a cancel racing a poll or a wake, the join handle dropped or
//!   re-polled with another waker while the task completes;
//! - `tests/migration.rs`: a wake or a resume racing a paused task's move to another
//!   slot;
//! - `tests/idle.rs`: a real one-slot runtime, its slot going to sleep while a spawn or
//!   a resume comes from another thread;
//! - `tests/preempt.rs`: a Stream spawn making the policy pause a running Batch task.
//!
//! This library holds what the models share: the model builder, counters that outlive a
//! task (polls, drops, outputs), a probe future that catches polls of a paused task, and
//! wakers that count what is done with them.

#[cfg(loom)]
pub use harness::*;

#[cfg(loom)]
mod harness {
    use neptune_runtime::{pause_requested, JoinError, JoinHandle, TaskHandle, TaskState};
    use std::future::Future;
    use std::pin::Pin;
    // Counters are std atomics on purpose: they carry no synchronisation under test, so
    // they stay out of loom's exploration (every model thread runs on one OS thread).
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Wake, Waker};

    pub use neptune_runtime::loom_support::{state_of, Ran, Runnable, StateBits, TestScheduler};

    /// Checks `f` under loom with a generous branch limit; the preemption bound comes
    /// from `LOOM_MAX_PREEMPTIONS` (loom reads it itself). Prints how many executions
    /// it explored (shown with `--nocapture`).
    pub fn model<F>(f: F)
    where
        F: Fn() + Sync + Send + 'static,
    {
        let mut builder = loom::model::Builder::new();
        builder.max_branches = 100_000;
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let start = std::time::Instant::now();
        builder.check(move || {
            counted.fetch_add(1, SeqCst);
            f();
        });
        println!(
            "loom: {} executions in {:.2?} (preemption bound {:?})",
            runs.load(SeqCst),
            start.elapsed(),
            builder.preemption_bound
        );
    }

    /// A counter shared by the model and the futures it spawns.
    #[derive(Clone, Default, Debug)]
    pub struct Counter(Arc<AtomicUsize>);

    impl Counter {
        /// Adds one.
        pub fn inc(&self) {
            self.0.fetch_add(1, SeqCst);
        }
        /// The count.
        pub fn get(&self) -> usize {
            self.0.load(SeqCst)
        }
    }

    /// What happened to one task's future and output.
    #[derive(Clone, Default, Debug)]
    pub struct Stats {
        /// Polls of the future.
        pub polls: Counter,
        /// Polls that found the task still paused after it had stopped for that pause.
        pub paused_polls: Counter,
        /// Times the future was dropped.
        pub future_drops: Counter,
        /// Outputs made.
        pub outputs_made: Counter,
        /// Outputs dropped.
        pub outputs_dropped: Counter,
    }

    impl Stats {
        /// Fresh counters.
        pub fn new() -> Stats {
            Stats::default()
        }

        /// Checks that the future was dropped once, that every output made was dropped
        /// once, and that no poll hit a pause.
        pub fn assert_clean(&self) {
            assert_eq!(self.future_drops.get(), 1, "future dropped once");
            assert_eq!(
                self.outputs_made.get(),
                self.outputs_dropped.get(),
                "every output dropped once"
            );
            assert!(self.outputs_made.get() <= 1, "at most one output");
            assert_eq!(self.paused_polls.get(), 0, "polled while paused");
        }
    }

    /// A task's output; counts its drops.
    #[derive(Debug)]
    pub struct Output {
        stats: Stats,
        /// A payload to compare.
        pub value: u32,
    }

    impl Output {
        /// Makes an output (counted).
        pub fn new(stats: &Stats, value: u32) -> Output {
            stats.outputs_made.inc();
            Output {
                stats: stats.clone(),
                value,
            }
        }
    }

    impl Drop for Output {
        fn drop(&mut self) {
            self.stats.outputs_dropped.inc();
        }
    }

    /// Wraps a task's future: counts polls and drops, and records a poll that finds the
    /// task paused when its previous poll already saw that pause and returned `Pending`
    /// (the slot must park such a task, not poll it again, until it is resumed; the
    /// models request at most one pause per task, so a pause seen again is the same one).
    pub struct Probe<F> {
        inner: Pin<Box<F>>,
        stats: Stats,
        stopped_for_pause: bool,
    }

    impl<F: Future> Probe<F> {
        /// Wraps `inner`.
        pub fn new(stats: &Stats, inner: F) -> Probe<F> {
            Probe {
                inner: Box::pin(inner),
                stats: stats.clone(),
                stopped_for_pause: false,
            }
        }
    }

    impl<F: Future> Future for Probe<F> {
        type Output = F::Output;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            self.stats.polls.inc();
            if self.stopped_for_pause && pause_requested() {
                self.stats.paused_polls.inc();
            }
            let res = self.inner.as_mut().poll(cx);
            if res.is_pending() {
                self.stopped_for_pause = pause_requested();
            }
            res
        }
    }

    impl<F> Drop for Probe<F> {
        fn drop(&mut self) {
            self.stats.future_drops.inc();
        }
    }

    /// Where a future leaves its waker for the model to wake it.
    #[derive(Clone, Default)]
    pub struct WakerSlot(Arc<Mutex<Option<Waker>>>);

    impl WakerSlot {
        /// An empty slot.
        pub fn new() -> WakerSlot {
            WakerSlot::default()
        }

        /// Stores a clone of `waker`. The clone (an atomic op under loom) and the drop of
        /// a replaced waker happen outside the std lock, so loom never switches threads
        /// while it is held.
        pub fn store(&self, waker: &Waker) {
            let w = waker.clone();
            let old = self.0.lock().unwrap().replace(w);
            drop(old);
        }

        /// Takes the stored waker.
        pub fn take(&self) -> Option<Waker> {
            self.0.lock().unwrap().take()
        }
    }

    /// A future that leaves its waker in a [`WakerSlot`] and returns `Pending` on its
    /// first poll, and completes with an [`Output`] on the next.
    pub fn wait_for_wake(
        stats: &Stats,
        slot: WakerSlot,
        value: u32,
    ) -> impl Future<Output = Output> {
        let stats = stats.clone();
        let mut waited = false;
        std::future::poll_fn(move |cx| {
            if waited {
                Poll::Ready(Output::new(&stats, value))
            } else {
                waited = true;
                slot.store(cx.waker());
                Poll::Pending
            }
        })
    }

    /// A waker that counts its wakes; the model checks its strong count to see that the
    /// runtime dropped every clone.
    #[derive(Default)]
    pub struct CountingWaker {
        wakes: AtomicUsize,
    }

    impl CountingWaker {
        /// A new waker and the handle to read its count.
        pub fn new() -> (Arc<CountingWaker>, Waker) {
            let w = Arc::new(CountingWaker::default());
            (w.clone(), Waker::from(w))
        }

        /// Wakes so far.
        pub fn wakes(&self) -> usize {
            self.wakes.load(SeqCst)
        }
    }

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wakes.fetch_add(1, SeqCst);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.wakes.fetch_add(1, SeqCst);
        }
    }

    /// Polls a join handle once with `waker`.
    pub fn poll_join<T>(jh: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, JoinError>> {
        Pin::new(jh).poll(&mut Context::from_waker(waker))
    }

    /// The output of a finished task (panics if it is not finished).
    pub fn join_now<T>(jh: &mut JoinHandle<T>) -> Result<T, JoinError> {
        let (_w, waker) = CountingWaker::new();
        match poll_join(jh, &waker) {
            Poll::Ready(r) => r,
            Poll::Pending => panic!("the task has not finished"),
        }
    }

    /// The end of a model whose task completed with an [`Output`] of `value`: checks
    /// that the join handle gets that output, that the task left the registry, that
    /// everything was dropped once, and — after dropping the handles and shutting the
    /// scheduler down — that the task's memory was freed.
    pub fn finish(
        sched: TestScheduler,
        stats: Stats,
        mut jh: JoinHandle<Output>,
        task: TaskHandle,
        value: u32,
    ) {
        assert!(state_of(&task).is_complete(), "{:?}", state_of(&task));
        assert_eq!(task.state(), TaskState::Completed);
        let out = join_now(&mut jh).expect("completed with an output");
        assert_eq!(out.value, value);
        drop(out);
        assert_eq!(stats.outputs_made.get(), 1);
        drop(jh);
        drop(task);
        assert_eq!(
            sched.registered(),
            0,
            "a completed task leaves the registry"
        );
        sched.shutdown();
        stats.assert_clean();
        assert_eq!(sched.live_tasks(), 0, "task memory freed");
    }

    /// A counter that lives across all executions of a model, to check that a model
    /// reached an interleaving at least once.
    #[derive(Debug, Default)]
    pub struct Coverage(AtomicUsize);

    impl Coverage {
        /// Zero.
        pub const fn new() -> Coverage {
            Coverage(AtomicUsize::new(0))
        }
        /// Records one hit.
        pub fn hit(&self) {
            self.0.fetch_add(1, SeqCst);
        }
        /// Hits so far.
        pub fn get(&self) -> usize {
            self.0.load(SeqCst)
        }
    }
}
