//! # Neptune
//!
//! Unified stream/batch execution on one set of cores. This facade re-exports the
//! three layers:
//!
//! - [`runtime`]: the async runtime with Stream/Batch task classes and pausable tasks;
//! - [`scheduler`]: scheduling policies plugged into the runtime's policy hook;
//! - [`dataflow`]: datasets and operators written as async fns, and micro-batch
//!   streams.
//!
//! [`ui`] serves a live view of a running context: Prometheus metrics, a JSON API
//! shaped like Spark's, and HTML pages.
//!
//! The facade adds `AppAllocator` (feature `mimalloc`): the counting allocator that
//! applications install, so that an executor's heartbeats report its memory.
//!
//! The applications themselves (the unified stream/batch application, YSB, TPC-H,
//! workload MW-1, the benchmarks) and the `neptune` command live in the `neptune-apps`
//! package (`apps/`), built on this facade.

pub use neptune_dataflow as dataflow;
pub use neptune_runtime as runtime;
pub use neptune_scheduler as scheduler;

pub mod ui;

/// The allocator the applications install as `#[global_allocator]` (feature
/// `mimalloc`, which `neptune-apps` turns on): mimalloc, because records are allocated
/// on one slot and freed on another after every shuffle, which glibc's malloc
/// serialises (YSB on a 16-core machine ran 0.6× as fast on 16 slots as on one with it,
/// 9.3× as fast with mimalloc); wrapped in a counting allocator, whose figures (bytes in
/// use, allocation rate) an executor's heartbeats report.
///
/// ```
/// #[global_allocator]
/// static ALLOC: neptune::AppAllocator = neptune::app_allocator();
///
/// neptune::scheduler::metrics::count_process_allocations(&ALLOC);
/// ```
#[cfg(feature = "mimalloc")]
pub type AppAllocator = neptune_scheduler::metrics::CountingAllocator<mimalloc::MiMalloc>;

/// A fresh [`AppAllocator`].
#[cfg(feature = "mimalloc")]
pub const fn app_allocator() -> AppAllocator {
    neptune_scheduler::metrics::CountingAllocator::wrap(mimalloc::MiMalloc)
}
