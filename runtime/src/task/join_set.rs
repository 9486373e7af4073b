//! `JoinSet`: tasks spawned together and awaited in the order they finish.

use super::{JoinError, JoinHandle, SpawnOptions, TaskHandle};
use crate::executor::runtime::Handle;
use futures::stream::{FuturesUnordered, StreamExt};
use std::fmt;
use std::future::Future;

/// A set of tasks whose outputs are taken in the order the tasks finish.
///
/// Tasks are spawned on the current runtime ([`spawn`](Self::spawn),
/// [`spawn_with`](Self::spawn_with)) or on a given one ([`spawn_on`](Self::spawn_on)).
/// Dropping the set cancels the tasks still in it, as [`abort_all`](Self::abort_all)
/// does: a set owns its tasks, so none outlives the code that waits for them.
///
/// ```
/// use neptune_runtime::{JoinSet, Runtime};
/// let rt = Runtime::new().unwrap();
/// let total = rt.block_on(async {
///     let mut set = JoinSet::new();
///     for i in 1..=10u64 {
///         set.spawn(async move { i * i });
///     }
///     let mut total = 0;
///     while let Some(done) = set.join_next().await {
///         total += done.unwrap();
///     }
///     total
/// });
/// assert_eq!(total, 385);
/// ```
pub struct JoinSet<T> {
    tasks: FuturesUnordered<JoinHandle<T>>,
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.tasks.len())
            .finish()
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            tasks: FuturesUnordered::new(),
        }
    }

    /// Tasks in the set (finished ones count until taken by
    /// [`join_next`](Self::join_next)).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Cancels every task in the set; each still answers
    /// [`join_next`](Self::join_next), with a cancellation error unless it had
    /// finished.
    pub fn abort_all(&mut self) {
        for task in self.tasks.iter() {
            task.abort();
        }
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// Spawns a task on the current runtime into the set, in the class of the calling
    /// task (see [`Handle::spawn`]).
    ///
    /// # Panics
    /// Outside a runtime (see [`Handle::current`]).
    pub fn spawn<F>(&mut self, future: F) -> TaskHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn_on(future, &Handle::current())
    }

    /// Spawns a task with `options` (class, name) on the current runtime into the set.
    ///
    /// # Panics
    /// Outside a runtime (see [`Handle::current`]).
    pub fn spawn_with<F>(&mut self, options: SpawnOptions, future: F) -> TaskHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(Handle::current().spawn_with(options, future))
    }

    /// Spawns a task on `handle`'s runtime into the set, in the class of the calling
    /// task (see [`Handle::spawn`]).
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> TaskHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    fn insert(&mut self, join: JoinHandle<T>) -> TaskHandle {
        let task = join.task();
        self.tasks.push(join);
        task
    }

    /// The output of the next task to finish, removed from the set; `None` once the
    /// set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.tasks.next().await
    }

    /// Waits for every task, dropping their outputs.
    pub async fn join_all(&mut self) {
        while self.join_next().await.is_some() {}
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}
