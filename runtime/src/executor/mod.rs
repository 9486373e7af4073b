//! The executor: slots (worker threads) with per-class local queues, global injectors,
//! work stealing, suspended queues, and the idle protocol.

#[cfg(not(loom))]
mod blocking;
pub(crate) mod context;
mod idle;
pub(crate) mod queue;
#[cfg(not(loom))]
mod recheck;
mod registry;
pub(crate) mod runtime;
mod shared;
mod slot;
