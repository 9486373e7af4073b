//! `TaskEnv`: what a running task can reach besides its records.

use crate::error::BadRecord;
use crate::plan::TaskId;
use crate::shuffle::ShuffleStore;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// How many skipped bad records a task keeps as examples for the job's statistics.
pub(crate) const BAD_RECORD_SAMPLES: usize = 8;

/// The environment of one task: who it is, where it runs, the job's shuffle store,
/// and its counters.
#[derive(Clone)]
pub(crate) struct TaskEnv {
    pub(crate) task: TaskId,
    /// Index of the executor running the task.
    pub(crate) executor: usize,
    pub(crate) shuffles: Arc<ShuffleStore>,
    pub(crate) counters: Arc<TaskCounters>,
}

/// A task's counters. Streams count locally and add their totals here when they end,
/// so counting costs no atomic operation per record.
#[derive(Default, Debug)]
pub(crate) struct TaskCounters {
    records_in: AtomicU64,
    records_out: AtomicU64,
    shuffle_written: AtomicU64,
    shuffle_read: AtomicU64,
    skipped: AtomicU64,
    samples: Mutex<Vec<BadRecord>>,
    /// An injected fault waiting in this task (cluster tests only).
    pub(crate) trip: Option<crate::cluster::fault::Trip>,
}

impl TaskCounters {
    /// Counters of a task in which `trip` waits.
    pub(crate) fn with_trip(trip: Option<crate::cluster::fault::Trip>) -> TaskCounters {
        TaskCounters {
            trip,
            ..TaskCounters::default()
        }
    }

    pub(crate) fn add_records_in(&self, n: u64) {
        self.records_in.fetch_add(n, Relaxed);
    }

    pub(crate) fn add_records_out(&self, n: u64) {
        self.records_out.fetch_add(n, Relaxed);
    }

    pub(crate) fn add_shuffle_written(&self, n: u64) {
        self.shuffle_written.fetch_add(n, Relaxed);
    }

    pub(crate) fn add_shuffle_read(&self, n: u64) {
        self.shuffle_read.fetch_add(n, Relaxed);
    }

    /// Counts a bad record that was skipped, keeping the first few as examples.
    pub(crate) fn skip(&self, bad: BadRecord) {
        self.skipped.fetch_add(1, Relaxed);
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() < BAD_RECORD_SAMPLES {
            samples.push(bad);
        }
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            records_in: self.records_in.load(Relaxed),
            records_out: self.records_out.load(Relaxed),
            shuffle_written: self.shuffle_written.load(Relaxed),
            shuffle_read: self.shuffle_read.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            samples: self
                .samples
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

/// A task's counters once it finished, summed over tasks into the job's statistics.
#[derive(Clone, Debug, Default)]
pub(crate) struct CounterSnapshot {
    pub(crate) records_in: u64,
    pub(crate) records_out: u64,
    pub(crate) shuffle_written: u64,
    pub(crate) shuffle_read: u64,
    pub(crate) skipped: u64,
    pub(crate) samples: Vec<BadRecord>,
}

impl CounterSnapshot {
    pub(crate) fn merge(&mut self, other: CounterSnapshot) {
        self.records_in += other.records_in;
        self.records_out += other.records_out;
        self.shuffle_written += other.shuffle_written;
        self.shuffle_read += other.shuffle_read;
        self.skipped += other.skipped;
        let room = BAD_RECORD_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
    }
}
