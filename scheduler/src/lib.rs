//! # neptune-scheduler
//!
//! Scheduling *policy* for Neptune; the runtime (`neptune-runtime`) holds the
//! *mechanism*. Three parts:
//!
//! ## How it works
//!
//! - **Local policies** ([`local`]) decide, on one executor, what a Stream task that
//!   finds every slot busy does to running Batch work. Each implements the runtime's
//!   [`Policy`](neptune_runtime::policy::Policy) hook: the runtime calls
//!   `on_stream_waiting` when a Stream task arrives and every slot polls a Batch task
//!   (the policy answers with tasks to pause or cancel), and `on_stream_drained` when a
//!   slot runs out of Stream work (the policy answers with parked tasks to resume).
//!   Queueing and slot classes are read once at start. STATIC splits the slots, FIFO
//!   queues by arrival, FAIR weights two pools, KILL cancels Batch tasks (restarted from
//!   scratch by [`restart`]), NEPTUNE pauses them and resumes them later, with
//!   anti-starvation, and ADAPTIVE switches among those mechanisms as the load changes
//!   (observing the runtime's metrics through the re-check hook, `on_check`). Pick one
//!   by name with [`policy_by_name`] or [`PolicyKind`].
//! - **Placement policies** ([`placement`]) decide which executor gets each task of a
//!   task set, from [`ExecutorView`](placement::ExecutorView)s kept up to date by
//!   heartbeats: RANDOM, LB (even load, Stream tasks towards pausable Batch work) and
//!   LMA (locality, then windowed memory pressure, then even load).
//! - **Executor metrics** ([`metrics`]) are what an executor reports in a
//!   [`Heartbeat`](metrics::Heartbeat): bytes in use and allocation churn from a
//!   counting global allocator, slots, running and suspended tasks from the runtime.
//!
//! ```
//! use neptune_runtime::{preemption_point, Builder, SpawnOptions};
//! use neptune_scheduler::local::Neptune;
//!
//! let rt = Builder::new().slots(2).policy(Neptune::new()).build().unwrap();
//! let batch = rt.spawn(async {
//!     let mut units = 0u64;
//!     while units < 100_000 {
//!         units += 1;
//!         preemption_point().await; // where a pause takes effect
//!     }
//!     units
//! });
//! let answer = rt.block_on(rt.spawn_with(SpawnOptions::stream(), async { 42 })).unwrap();
//! assert_eq!(answer, 42);
//! assert_eq!(rt.block_on(batch).unwrap(), 100_000);
//! ```

#![warn(missing_docs)]

mod id;
pub mod local;
pub mod metrics;
pub mod placement;
pub mod restart;
mod select;

pub use id::ExecutorId;
pub use select::{policy_by_name, PolicyKind, UnknownPolicy};
