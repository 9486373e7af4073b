//! # neptune-dataflow
//!
//! The dataflow layer of Neptune: datasets of plain Rust records, operators written as
//! closures and async fns, and jobs that run as pausable tasks on one or more executors
//! in this process (local mode) or on executor processes linked by QUIC (cluster mode,
//! see [`cluster`]: the same program, with its jobs made by named plan builders).
//!
//! ## How it works
//!
//! - A [`Context`] owns the **executors**: each is a Neptune runtime with its own
//!   slots, local policy (`neptune`, `kill`, `fifo`, … from `neptune-scheduler`) and
//!   metrics. It makes [`Dataset`]s from collections, ranges, generators and files
//!   (CSV, JSON lines).
//! - A dataset is a **lazy plan**: a graph of nodes, each able to compute one of its
//!   partitions as a stream of records pulled from its parents. Operators (`map`,
//!   `filter`, `flat_map`, `map_async`, `key_by`, `union`) add *narrow* nodes, computed
//!   in the same task as their parent; `reduce_by_key`, `group_by_key`, `join` and
//!   `repartition` add *shuffles*.
//! - An action (`collect`, `count`, `reduce`, `for_each`, `save_*`) submits a **job**.
//!   The planner cuts the plan at shuffles into **stages**: one shuffle-map stage per
//!   shuffle and a result stage, parents first. Each stage is registered in the
//!   [`OperatorRegistry`] under a name derived from the plan (`key_by#3>shuffle#0`,
//!   `reduce_by_key#4>collect@job-0`).
//! - The job's driver (on the context's driver thread, never on a slot) launches each
//!   stage once its parents are done: one **task** per partition, identified by a
//!   [`TaskId`] (job, stage, partition), placed on an executor by a placement policy
//!   from `neptune-scheduler` (LB by default, LMA or RANDOM selectable) and spawned in
//!   the job's [`Class`]. The task harness looks its stage up *by name* in the registry
//!   and runs its partition, so a task is fully described by its id and stage name.
//! - **Shuffles** stay in memory: a map task distributes its records over one bucket
//!   per reduce partition by key hash (`reduce_by_key` combines values per key first,
//!   so a key costs one record per map task); reduce task `r` reads bucket `r` of every
//!   map task. See [`JobStats`] for what a job reports.
//! - **Stream or batch is one line**: [`Dataset::with_class`] (or [`Job::class`]) makes
//!   a job's tasks Stream tasks; otherwise they are Batch tasks that an executor's
//!   policy may pause to make room for Stream work.
//! - **Records move in chunks**: a partition's records flow through a stage's
//!   operators as vectors of up to 1,024 records (and 32 KiB), so each operator is a
//!   tight loop over a chunk (a `filter` over a parallelized collection even reads
//!   records where they are and copies out only those it keeps). How large a chunk is depends on
//!   how long the last one took to pass through the rest of the pipeline: between 5
//!   and 20 µs of work (one record, if a record takes longer).
//! - **Suspension is transparent**: every chunk enters a stage's pipeline through a
//!   yield point (`neptune_runtime::preemption_point`): chunks read from sources and
//!   shuffles, chunks emitted by `flat_map` and `join`, and every 64 records merged
//!   while a reduce side builds its table. User closures never mention pausing, yet a
//!   Batch task parks within one chunk's worth of work (about 20 µs) when paused,
//!   keeping its progress in its future, and resumes where it stopped.
//!   [`JobHandle::tasks`] lists a running job's tasks with their `TaskHandle`s, to
//!   pause and resume them by hand.
//! - **Streams** ([`stream`]) run as micro-batches: at every trigger interval the
//!   records a source delivered (a generator at a target rate, a TCP socket, a file
//!   being appended to) run as one Stream-class job through the same operators, with
//!   event-time tumbling and sliding windows, a watermark and allowed lateness, and
//!   sinks to standard output, JSON lines files or channels.
//!   [`Published`] shares state between jobs: a batch job
//!   publishes model versions that a stream job reads without locks.
//!
//! ## Word count
//!
//! ```
//! use neptune_dataflow::{Class, Context};
//!
//! let ctx = Context::builder()
//!     .executors(2)
//!     .slots_per_executor(2)
//!     .policy("neptune")
//!     .build()
//!     .unwrap();
//! let lines = ctx.parallelize(vec!["a rose is", "a rose is a rose"], 2);
//! let counts = lines
//!     .flat_map(|line| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
//!     .map(|word| (word, 1u32))
//!     .reduce_by_key(|a, b| a + b);
//! let result = counts.collect().unwrap();
//! let mut words = result.value.clone();
//! words.sort();
//! assert_eq!(words, [("a".into(), 3), ("is".into(), 2), ("rose".into(), 3)]);
//! assert_eq!((result.stats.stages, result.stats.tasks), (2, 4));
//!
//! // The same pipeline as a stream job: its tasks preempt batch work.
//! let urgent = counts.with_class(Class::Stream).count().unwrap();
//! assert_eq!(*urgent, 3);
//! ```
//!
//! ## Cargo features
//!
//! - `no-yield-points` (off by default): compiles the yield points out, to measure
//!   what they cost. Tasks then cannot be paused before their partition is done, so
//!   leave it off in real use.
//!
//! ## What moving records costs
//!
//! Measured with the `yield_cost` test (`tests/yield_cost.rs`) on pipelines that do
//! almost nothing per record, where the engine's own work weighs the most:
//! nanoseconds per record, two alternating runs on a shared 2-core machine, with
//! records moved one at a time (one stream poll per operator and a yield point per
//! record, as the engine did before) and in chunks:
//!
//! | pipeline | one at a time | in chunks |
//! |---|---|---|
//! | `range → map → filter → count` | 16.0 / 16.6 | 3.4 / 3.4 |
//! | `range → flat_map (2 per record) → count` | 10.9 / 10.9 per output | 5.5 / 5.6 |
//! | `range → key_by → reduce_by_key → count` | 27.3 / 30.9 | 15.3 / 15.2 |
//!
//! A yield point costs about 20 instructions; per chunk, with two clock reads for the
//! pace, that is well under a nanosecond per record. A paused task parked 1.5 to 8 µs
//! after the request (p50 to p99 of 50 pauses of a cheap pipeline, from the runtime's
//! pause-to-park histogram; one run under load saw a p99 of 122 µs).

#![warn(missing_docs)]

pub mod cluster;
mod context;
mod data;
mod dataset;
mod error;
mod exec;
mod ops;
mod plan;
mod shuffle;
mod sink;
mod source;
pub mod status;
pub mod stream;

pub use context::{Context, ContextBuilder, Executor, DEFAULT_SLOT_NICE};
pub use data::Data;
pub use dataset::{Dataset, Job};
pub use error::{BadRecord, DataflowError, Format, Result};
pub use exec::{
    JobHandle, JobResult, JobStats, JobTask, OperatorRegistry, StageInfo, StageKind, TaskControl,
};
pub use neptune_runtime::Class;
pub use plan::{JobId, NodeId, ShuffleId, StageId, TaskId};
pub use sink::SaveSummary;
pub use source::FileReader;
pub use stream::{Published, Stream, StreamHandle, StreamStats, Windows};
