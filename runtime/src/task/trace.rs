//! Task spans for `tracing` subscribers (feature `tracing`).
//!
//! Each task gets a `runtime.spawn` span with the fields tokio gives its own (`kind`,
//! `task.name`, `task.id`) plus `class`, under the target `neptune_runtime::task`, so
//! that subscribers written for tokio's task spans (tokio-console and the like) see
//! Neptune's tasks. The span travels inside the task: the future is wrapped in
//! `tracing`'s `Instrumented`, which enters the span around every poll, and also while
//! the future is dropped (so events from destructors land in the task). Without the
//! feature this module does not exist and the future is stored as it is.

use super::{SpawnOptions, TaskId};
use std::future::Future;
use tracing::instrument::{Instrument, Instrumented};

/// Wraps `future` in the `runtime.spawn` span of task `id`.
pub(super) fn instrument<F: Future>(
    future: F,
    id: TaskId,
    options: &SpawnOptions,
) -> Instrumented<F> {
    let span = tracing::trace_span!(
        target: "neptune_runtime::task",
        // A root span, as tokio's: a task outlives the code that spawned it, and as a
        // child it would keep its spawner's span open until it ends.
        parent: None,
        "runtime.spawn",
        kind = %"task",
        task.name = %options.name.as_deref().unwrap_or_default(),
        task.id = id.as_u64(),
        class = %options.class,
    );
    future.instrument(span)
}
