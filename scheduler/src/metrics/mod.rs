//! Executor metrics: what an executor measures about itself and reports in heartbeats.
//!
//! - [`CountingAllocator`]: a `#[global_allocator]` wrapper counting bytes in use,
//!   allocations and frees; [`AllocSampler`] turns it into allocation rates (churn).
//! - [`suspended_bytes_estimate`]: memory held by suspended tasks, estimated.
//! - [`SpawnCounter`]: spawns per class, to split live tasks by class.
//! - [`Heartbeat`]: the report, with a fixed byte encoding for the network;
//!   [`HeartbeatSource`] builds one from a runtime handle and the allocator.

mod alloc;
mod census;
mod heartbeat;
mod source;
mod suspended;

pub use alloc::{
    count_process_allocations, process_allocator, AllocCounters, AllocRate, AllocSampler,
    AllocSnapshot, CountingAllocator,
};
pub use census::SpawnCounter;
pub use heartbeat::{DecodeError, Heartbeat};
pub use source::HeartbeatSource;
pub use suspended::{suspended_bytes_estimate, suspended_tasks};
