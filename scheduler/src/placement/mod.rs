//! Placement policies: which executor gets each task of a task set, from executor views
//! built from heartbeats.
//!
//! - [`Random`]: a live executor drawn at random (seeded, reproducible).
//! - [`LoadBalance`] (LB): equal tasks per slot; Stream tasks prefer executors whose
//!   Batch work can be paused.
//! - [`Lma`]: locality preferences first, then the least memory-pressured executor
//!   (windowed, bucketed metrics, see [`MetricsWindow`]), then equal load.
//!
//! A new policy implements [`Placement`]: one method from task requests and executor
//! views to one executor per task.
//!
//! ```
//! use neptune_scheduler::placement::{ExecutorView, Placement, PlacementError, TaskRequest};
//! use neptune_scheduler::ExecutorId;
//!
//! /// Everything to the live executor with the most slots.
//! struct Biggest;
//! impl Placement for Biggest {
//!     fn name(&self) -> &str { "biggest" }
//!     fn place(&mut self, tasks: &[TaskRequest], executors: &[ExecutorView])
//!         -> Result<Vec<ExecutorId>, PlacementError>
//!     {
//!         let best = executors.iter().filter(|e| e.alive).max_by_key(|e| e.slots)
//!             .ok_or(PlacementError::NoLiveExecutor)?;
//!         Ok(vec![best.id; tasks.len()])
//!     }
//! }
//! let executors = [ExecutorView::new(ExecutorId(0), 2), ExecutorView::new(ExecutorId(1), 8)];
//! assert_eq!(Biggest.place(&[TaskRequest::batch()], &executors).unwrap(), vec![ExecutorId(1)]);
//! ```

mod lb;
mod lma;
mod random;
mod tally;
mod view;
mod window;

pub use lb::LoadBalance;
pub use lma::Lma;
pub use random::Random;
pub use view::ExecutorView;
pub use window::{bucket_of, MemoryPressure, Metric, MetricsWindow, Stat, DEFAULT_WINDOW};

use crate::ExecutorId;
use neptune_runtime::Class;
use std::fmt;
use std::str::FromStr;
use tally::Tally;

/// One task to place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TaskRequest {
    /// The executor holding the task's input, if any (a locality preference).
    pub preferred: Option<ExecutorId>,
    /// The task's class.
    pub class: Class,
}

impl TaskRequest {
    /// A Batch task without preference.
    pub fn batch() -> TaskRequest {
        TaskRequest {
            preferred: None,
            class: Class::Batch,
        }
    }

    /// A Stream task without preference.
    pub fn stream() -> TaskRequest {
        TaskRequest {
            preferred: None,
            class: Class::Stream,
        }
    }

    /// The same task, preferring `executor`.
    pub fn prefer(mut self, executor: ExecutorId) -> TaskRequest {
        self.preferred = Some(executor);
        self
    }
}

/// Why tasks could not be placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementError {
    /// There are tasks to place and no executor is alive.
    NoLiveExecutor,
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementError::NoLiveExecutor => f.write_str("no executor is alive to place tasks on"),
        }
    }
}

impl std::error::Error for PlacementError {}

/// Chooses an executor for each task of a task set.
pub trait Placement: Send {
    /// The policy's name (for reports).
    fn name(&self) -> &str;

    /// One executor per task, in the tasks' order, never a dead one. An empty task set
    /// gives an empty placement; tasks with no live executor give
    /// [`PlacementError::NoLiveExecutor`].
    fn place(
        &mut self,
        tasks: &[TaskRequest],
        executors: &[ExecutorView],
    ) -> Result<Vec<ExecutorId>, PlacementError>;
}

/// Fails if there are tasks to place and no executor is alive.
fn check_live(tasks: &[TaskRequest], executors: &[ExecutorView]) -> Result<(), PlacementError> {
    if !tasks.is_empty() && !executors.iter().any(|e| e.alive) {
        return Err(PlacementError::NoLiveExecutor);
    }
    Ok(())
}

/// The tallies of the live executors, or the error if there are tasks and none is
/// alive.
fn live_tallies(
    tasks: &[TaskRequest],
    executors: &[ExecutorView],
) -> Result<Vec<Tally>, PlacementError> {
    check_live(tasks, executors)?;
    Ok(Tally::live(executors))
}

/// The placement policies this crate ships, by name (`random`, `lb`, `lma`).
///
/// ```
/// use neptune_scheduler::placement::PlacementKind;
/// let mut p = "LMA".parse::<PlacementKind>().unwrap().build(1);
/// assert_eq!(p.name(), "lma");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlacementKind {
    /// [`Random`].
    Random,
    /// [`LoadBalance`].
    Lb,
    /// [`Lma`].
    Lma,
}

impl PlacementKind {
    /// Every kind.
    pub const ALL: [PlacementKind; 3] =
        [PlacementKind::Random, PlacementKind::Lb, PlacementKind::Lma];

    /// The policy's name.
    pub fn name(self) -> &'static str {
        match self {
            PlacementKind::Random => "random",
            PlacementKind::Lb => "lb",
            PlacementKind::Lma => "lma",
        }
    }

    /// The policy (`seed` feeds RANDOM; the others are deterministic).
    pub fn build(self, seed: u64) -> Box<dyn Placement> {
        match self {
            PlacementKind::Random => Box::new(Random::new(seed)),
            PlacementKind::Lb => Box::new(LoadBalance),
            PlacementKind::Lma => Box::new(Lma),
        }
    }
}

impl fmt::Display for PlacementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A placement name that is none of [`PlacementKind::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPlacement {
    /// The name given.
    pub name: String,
}

impl fmt::Display for UnknownPlacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown placement {:?}; valid placements: random, lb, lma",
            self.name
        )
    }
}

impl std::error::Error for UnknownPlacement {}

impl FromStr for PlacementKind {
    type Err = UnknownPlacement;

    /// Parses a placement name, ignoring ASCII case and surrounding whitespace.
    fn from_str(s: &str) -> Result<PlacementKind, UnknownPlacement> {
        let name = s.trim();
        PlacementKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownPlacement {
                name: name.to_owned(),
            })
    }
}
