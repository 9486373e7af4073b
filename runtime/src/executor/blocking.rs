//! The blocking pool: threads for code that blocks (file I/O, name resolution, a
//! C library), so that it never holds a slot.
//!
//! Threads are started on demand up to a bound, and one that has had nothing to do
//! for [`KEEP_ALIVE`] exits. A job waits in a queue when every thread is busy.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long an idle blocking thread waits for work before it exits.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The default bound on blocking threads (tokio's).
pub(crate) const DEFAULT_MAX_THREADS: usize = 512;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    /// Threads waiting for work and not yet called.
    idle: usize,
    /// Wake-ups sent to idle threads and not yet taken up: each stands for a job, so a
    /// second job never counts on the same sleeping thread as the first.
    notified: usize,
    shutdown: bool,
}

/// One runtime's blocking threads.
pub(crate) struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    work: Condvar,
    max_threads: usize,
    name: String,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize, name: String) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                state: Mutex::default(),
                work: Condvar::new(),
                max_threads: max_threads.max(1),
                name,
            }),
        }
    }

    /// Runs `job` on a blocking thread; false if the pool was shut down.
    pub(crate) fn run(&self, job: Job) -> bool {
        let mut state = self.inner.state();
        if state.shutdown {
            return false;
        }
        state.queue.push_back(job);
        if state.idle > 0 {
            state.idle -= 1;
            state.notified += 1;
            self.inner.work.notify_one();
        } else if state.threads < self.inner.max_threads {
            state.threads += 1;
            let inner = self.inner.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-blocking", self.inner.name))
                .spawn(move || work(&inner));
            if spawned.is_err() {
                // No thread: the job waits for one that exists (or, with none, runs
                // never — the caller's handle then sees its channel close).
                state.threads -= 1;
                if state.threads == 0 {
                    state.queue.pop_back();
                    return false;
                }
            }
        }
        true
    }

    /// Lets the threads finish their current job and exit; queued jobs are dropped.
    pub(crate) fn shutdown(&self) {
        let mut state = self.inner.state();
        state.shutdown = true;
        state.queue.clear();
        self.inner.work.notify_all();
    }
}

/// A blocking thread's loop.
fn work(inner: &Inner) {
    let mut state = inner.state();
    'run: loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            job();
            state = inner.state();
            continue;
        }
        if state.shutdown {
            break;
        }
        state.idle += 1;
        loop {
            let (next, timeout) = inner
                .work
                .wait_timeout(state, KEEP_ALIVE)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            if state.notified > 0 {
                // Called for a job: `run` already took us off the idle count.
                state.notified -= 1;
                continue 'run;
            }
            if state.shutdown || timeout.timed_out() {
                state.idle -= 1;
                break 'run;
            }
            // A spurious wake-up: still idle.
        }
    }
    state.threads -= 1;
}
