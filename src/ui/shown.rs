//! What a UI shows: a dataflow [`Context`], or a bare runtime.
//!
//! Everything the routes read goes through [`Shown`], so that a bare runtime (an
//! application that spawns its own Stream and Batch tasks, with no jobs) is served by
//! the same metrics, API and pages as a context: it shows as one local executor,
//! `executor-0`, with an empty status board.

use neptune_dataflow::cluster::MemberInfo;
use neptune_dataflow::status::{ExecutorTasks, Status, StatusSummary};
use neptune_dataflow::Context;
use neptune_runtime::metrics::RuntimeMetrics;
use neptune_runtime::{Class, Handle, Timeline};
use std::sync::{Arc, Mutex};

/// The executor id a bare runtime shows as.
const RUNTIME_ID: u32 = 0;

/// What a UI shows now (cheap to clone: both kinds are handles).
#[derive(Clone)]
pub(crate) enum Shown {
    /// A context: its local executors, its status board and, in cluster mode, the
    /// driver's view of its executors.
    Context(Context),
    /// A runtime on its own: its slots and tasks, and no jobs.
    Runtime(Handle),
}

/// What a UI shows, replaceable while it runs (an application that runs one context
/// or runtime after another keeps one UI).
pub(crate) type Current = Arc<Mutex<Shown>>;

/// What `current` holds now (a clone: a request never holds the lock while it reads
/// figures).
pub(crate) fn shown_now(current: &Current) -> Shown {
    current.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// One runtime in this process: a context's local executor, or the bare runtime.
pub(crate) struct Local {
    /// The executor's number (`executor-N`).
    pub(crate) id: u32,
    pub(crate) metrics: RuntimeMetrics,
    /// Shuffle bytes the executor holds (0 for a bare runtime).
    pub(crate) memory: u64,
}

/// A runtime's live tasks per class: those parked (`paused`), or all the others.
fn runtime_tasks(m: &RuntimeMetrics, paused: bool) -> [usize; 2] {
    let mut out = [0; 2];
    for c in Class::ALL {
        let counts = m.tasks.of(c);
        out[c.index()] = if paused {
            counts.paused
        } else {
            counts.live() - counts.paused
        };
    }
    out
}

/// The driver's view of a cluster's executors.
pub(crate) struct ClusterView {
    pub(crate) live: Vec<MemberInfo>,
    pub(crate) lost: usize,
}

impl Shown {
    /// `context` or `runtime`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Shown::Context(_) => "context",
            Shown::Runtime(_) => "runtime",
        }
    }

    /// Each local runtime's metrics, in executor order.
    pub(crate) fn locals(&self) -> Vec<Local> {
        match self {
            Shown::Context(ctx) => ctx
                .executors()
                .iter()
                .map(|e| Local {
                    id: e.id().0,
                    metrics: e.metrics(),
                    memory: e.shuffle_bytes(),
                })
                .collect(),
            Shown::Runtime(rt) => vec![Local {
                id: RUNTIME_ID,
                metrics: rt.metrics(),
                memory: 0,
            }],
        }
    }

    /// Each local runtime's timeline snapshot, with its executor number.
    pub(crate) fn timelines(&self) -> Vec<(u32, Timeline)> {
        match self {
            Shown::Context(ctx) => ctx
                .executors()
                .iter()
                .map(|e| (e.id().0, e.timeline()))
                .collect(),
            Shown::Runtime(rt) => vec![(RUNTIME_ID, rt.timeline())],
        }
    }

    /// The status board. A bare runtime has no jobs; its one executor counts the
    /// runtime's tasks.
    pub(crate) fn status(&self) -> Status {
        match self {
            Shown::Context(ctx) => ctx.status(),
            Shown::Runtime(rt) => {
                let m = rt.metrics();
                let [running, paused] = [runtime_tasks(&m, false), runtime_tasks(&m, true)];
                let finished = Class::ALL.iter().map(|&c| m.total(|s| s.tasks_of(c)));
                Status {
                    executors: vec![ExecutorTasks {
                        id: format!("executor-{RUNTIME_ID}"),
                        active_tasks: running.iter().chain(&paused).sum(),
                        paused_tasks: paused.iter().sum(),
                        completed_tasks: finished.sum(),
                        ..ExecutorTasks::default()
                    }],
                    ..Status::default()
                }
            }
        }
    }

    /// The status board's counts. A bare runtime has no jobs; its running and paused
    /// tasks are the runtime's live tasks, and its succeeded ones those that finished.
    pub(crate) fn status_summary(&self) -> StatusSummary {
        match self {
            Shown::Context(ctx) => ctx.status_summary(),
            Shown::Runtime(rt) => {
                let m = rt.metrics();
                let mut summary = StatusSummary {
                    running_tasks: runtime_tasks(&m, false),
                    paused_tasks: runtime_tasks(&m, true),
                    ..StatusSummary::default()
                };
                for c in Class::ALL {
                    summary.totals.tasks_succeeded[c.index()] = m.total(|s| s.tasks_of(c));
                }
                summary
            }
        }
    }

    /// Whether the status board is a context's (a bare runtime's is made up of the
    /// runtime's own counts, which the runtime families already publish).
    pub(crate) fn has_board(&self) -> bool {
        matches!(self, Shown::Context(_))
    }

    /// The driver's view of its executors, in cluster mode.
    pub(crate) fn cluster(&self) -> Option<ClusterView> {
        match self {
            Shown::Context(ctx) if ctx.is_cluster() => Some(ClusterView {
                live: ctx.cluster_executors(),
                lost: ctx.cluster_losses().len(),
            }),
            _ => None,
        }
    }

    /// The placement policy's name (`none` for a bare runtime, which places nothing).
    pub(crate) fn placement(&self) -> String {
        match self {
            Shown::Context(ctx) => ctx.placement_name().to_owned(),
            Shown::Runtime(_) => "none".to_owned(),
        }
    }
}
