//! `OperatorRegistry`: stage pipelines by name.
//!
//! When a job starts, each of its stages is registered under a name derived from the
//! plan (see [`StageInfo::name`](crate::StageInfo::name)); a task carries only its
//! [`TaskId`](crate::TaskId) and its stage's name, and the task harness looks the
//! pipeline up here to run its partition. Nothing a task runs travels with it, so the
//! same program, building the same plan elsewhere, can run a task from its name and id.
//! Entries live while a job that uses them runs (stages shared by concurrent jobs are
//! counted).

use crate::error::Result;
use crate::exec::TaskEnv;
use crate::shuffle::MapStatus;
use futures::future::BoxFuture;
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// What a task produced.
pub(crate) enum TaskOutput {
    /// A shuffle-map task wrote its buckets; the sizes are for placement.
    Shuffle(MapStatus),
    /// A result task's part of the action's answer (its concrete type is the action's).
    Result(Box<dyn Any + Send>),
}

/// A stage's pipeline: runs one partition of it.
pub(crate) trait StageRunner: Send + Sync + 'static {
    fn run(&self, partition: usize, env: TaskEnv) -> BoxFuture<'static, Result<TaskOutput>>;
}

struct Entry {
    runner: Arc<dyn StageRunner>,
    holders: usize,
}

/// The registry of the stages of running jobs, by name.
///
/// ```
/// use neptune_dataflow::Context;
/// let ctx = Context::builder().executors(1).slots_per_executor(1).build().unwrap();
/// let words = ctx.parallelize(vec!['a', 'b', 'a'], 2).map(|w| (w, 1)).reduce_by_key(|a, b| a + b);
/// let job = words.job().collect();
/// let names: Vec<String> = job.stages().into_iter().map(|s| s.name).collect();
/// assert_eq!(names, ["map#1>shuffle#0", "reduce_by_key#2>collect@job-0"]);
/// job.wait().unwrap();
/// assert!(ctx.registry().is_empty()); // entries leave with their job
/// ```
#[derive(Clone, Default)]
pub struct OperatorRegistry {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl fmt::Debug for OperatorRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorRegistry")
            .field("names", &self.names())
            .finish()
    }
}

impl OperatorRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The registered stage names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().keys().cloned().collect();
        names.sort();
        names
    }

    /// Whether a stage is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.lock().contains_key(name)
    }

    /// Number of registered stages.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no stage is registered (no job is running).
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Registers `runner` under `name` until the returned guard is dropped. A name that
    /// is already registered (a stage shared by concurrent jobs) keeps its runner.
    pub(crate) fn register(&self, name: Arc<str>, runner: Arc<dyn StageRunner>) -> Registration {
        self.lock()
            .entry(name.to_string())
            .or_insert(Entry { runner, holders: 0 })
            .holders += 1;
        Registration {
            registry: self.clone(),
            name,
        }
    }

    /// The runner registered under `name`.
    pub(crate) fn lookup(&self, name: &str) -> Option<Arc<dyn StageRunner>> {
        self.lock().get(name).map(|e| e.runner.clone())
    }
}

/// Keeps a stage registered.
pub(crate) struct Registration {
    registry: OperatorRegistry,
    name: Arc<str>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut entries = self.registry.lock();
        if let Some(e) = entries.get_mut(&*self.name) {
            e.holders -= 1;
            if e.holders == 0 {
                entries.remove(&*self.name);
            }
        }
    }
}
