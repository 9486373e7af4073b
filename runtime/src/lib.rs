//! # neptune-runtime
//!
//! A stackless, work-stealing async runtime whose tasks come in two classes, `Stream`
//! (latency-sensitive) and `Batch` (latency-tolerant), and can be **paused** and
//! **resumed** without losing work.
//!
//! ## How it works
//!
//! - A task is one allocation: a header with one atomic state word (flags and a
//!   reference count), the future, then its output. Wakers point at the header.
//! - Each *slot* is a worker thread with a local run queue per class; there is a global
//!   queue per class; idle slots steal. A slot runs every runnable Stream task before any
//!   Batch task.
//! - A task woken or spawned by a poll goes to the slot's *LIFO slot* and runs right
//!   after that poll, on the same slot, with no wake-up of another slot (message
//!   passing between tasks stays on one core). It is bounded: at most three LIFO runs
//!   in a row before the queues; a Stream task woken by a Batch poll goes where idle
//!   slots see it at once; and a task that reaches a [`preemption_point`] with the LIFO
//!   slot taken hands that task to the local queue, where other slots steal it. A task
//!   that yields goes to the back of the queue instead.
//! - [`spawn`] gives the new task the class of the task that calls it (Batch outside a
//!   task), so a library's helper tasks follow the class of the work they serve;
//!   [`spawn_with`] names a class explicitly.
//! - A pause sets a flag in the state word. The slot checks it before every poll and
//!   after every `Pending`: a paused task is *parked* in the suspended queue of the slot
//!   that ran it, where it is never stolen. CPU-bound code awaits
//!   [`preemption_point`] between units of work: one relaxed load while no pause is
//!   requested. `resume` puts the task back on its slot, ahead of new Batch work, and it
//!   continues from where it stopped: its state is its future.
//! - When a Stream task becomes runnable and more Stream tasks wait than there are idle
//!   slots, the runtime asks its [`Policy`](policy::Policy) which Batch tasks to pause
//!   (or cancel), one per waiting task; when a slot runs out of Stream work it asks
//!   which parked tasks to resume. A policy can also name instants at which it is called
//!   back (`Policy::on_check`: resume parked tasks, change how slots share the classes),
//!   and a running runtime's policy can be replaced ([`Handle::set_policy`]); the tasks
//!   the old one paused become the new one's.
//! - Timers and I/O run on a driver thread (a mio reactor and a timer heap); their
//!   wakers schedule tasks like any other wake. The driver thread asks the kernel for a
//!   short time slice ([`time_slice`]) so that it runs the moment it wakes, even while
//!   every core is busy with Batch work. While slots keep running short (non-Batch)
//!   polls, they poll the reactor themselves between tasks and the driver thread stays
//!   out of `epoll_wait`, so a busy link does not wake it for every packet.
//! - With the `quic` feature, quinn runs on the runtime (module `quic`); with `http`, hyper
//!   (module `http`).
//! - With the `tracing` feature, each task carries a `tracing` span named `runtime.spawn`
//!   (target `neptune_runtime::task`; fields `kind`, `task.name`, `task.id` and `class`),
//!   entered around each of its polls, as tokio's task spans are, so tokio-console-style
//!   subscribers see Neptune's tasks. Without it, tasks carry nothing extra.
//! - Every atomic, lock and thread goes through one module (`sync`) that switches to
//!   loom under `cfg(loom)`, so the loom models check this very code.
//!
//! ```
//! use neptune_runtime::{Runtime, SpawnOptions, TaskState};
//!
//! let rt = Runtime::new().unwrap();
//! let batch = rt.spawn(async {
//!     let mut done = 0u64;
//!     while done < 100_000 {
//!         done += 1; // one unit of work
//!         neptune_runtime::preemption_point().await;
//!     }
//!     done
//! });
//! let task = batch.task();
//! task.pause(); // parks at its next yield point, keeping its progress
//! let answer = rt.block_on(rt.spawn_with(SpawnOptions::stream(), async { 42 })).unwrap();
//! assert_eq!(answer, 42);
//! task.resume(); // continues where it stopped
//! assert_eq!(rt.block_on(batch).unwrap(), 100_000);
//! assert_eq!(task.state(), TaskState::Completed);
//! ```

#![warn(missing_docs)]
// Every unsafe operation sits in its own `unsafe {}` block with a `// SAFETY:` comment
// saying why it is sound, inside `unsafe fn`s too (whose `# Safety` sections state the
// contract callers must keep): the reasoning is written where the operation is.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod clock;
mod executor;
pub mod metrics;
pub mod policy;
mod sync;
mod task;
mod timeline;
mod yield_point;

#[cfg(not(loom))]
pub(crate) mod driver;
#[cfg(all(feature = "http", not(loom)))]
pub mod http;
#[cfg(not(loom))]
pub mod net;
#[cfg(all(feature = "quic", not(loom)))]
pub mod quic;
#[cfg(not(loom))]
pub mod time;
pub mod time_slice;

#[cfg(loom)]
pub mod loom_support;

#[cfg(not(loom))]
pub use executor::runtime::spawn_blocking;
pub use executor::runtime::{spawn, spawn_with, Builder, EnterGuard, Handle, Runtime};
pub use task::{
    Class, JoinError, JoinHandle, JoinSet, SpawnOptions, TaskHandle, TaskId, TaskState,
};
pub use timeline::{SlotTimeline, Span, SpanKind, Timeline};
pub use yield_point::{pause_requested, preemption_point, yield_now, PreemptionPoint, YieldNow};
