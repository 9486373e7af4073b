//! The cluster layer: one driver process and N executor processes, linked by QUIC.
//!
//! ## How it works
//!
//! - **Same binary, plans rebuilt by name.** Closures cannot travel, so every process
//!   runs the same executable and jobs are made by plan builders registered by name
//!   ([`Builders`]). The driver program calls [`Context::build`](crate::Context::build);
//!   each executor calls the same builder with the same postcard-encoded arguments and
//!   gets the same stages under the same names (`builders.rs`).
//! - **One engine.** The job driver (stage planning, placement, stage tracking) is the
//!   one of local mode; in cluster mode it places task sets over the executors'
//!   heartbeat windows (LMA by default) and launches each task by
//!   `(job, stage, partition, attempt)` on a QUIC stream that then carries the task's
//!   status until it ends (`driver.rs`, [`protocol`]).
//! - **Executors** ([`run_executor`]) run tasks on a Neptune runtime with their own
//!   policy (NEPTUNE by default), send a heartbeat every second (the process's counting
//!   allocator's figures where `main` named it), and obey pause, resume and kill
//!   messages.
//! - **Shuffles** stay where their map tasks ran; reducers fetch each block from the
//!   executor holding it, one stream per block (`blocks.rs`).
//! - **Broadcast**: [`Context::published`](crate::Context::published) values reach
//!   every executor once per version (`broadcast.rs`); **streams** build each
//!   micro-batch by name ([`Stream::build_batches`](crate::Stream::build_batches),
//!   [`Stream::window_built`](crate::Stream::window_built)), so micro-batches travel
//!   with their tasks.
//! - **Transport and security**: [`wire`] frames (version byte, length, postcard, size
//!   limit) over quinn on the Neptune runtime, mutual TLS against a cluster CA. A
//!   malformed frame closes its connection with a logged reason.
//! - **Starting it**: `neptune driver` / `neptune executor`, or a local cluster of N
//!   processes of this binary ([`LocalClusterConfig`], `--cluster local:N`), whose
//!   executors start through [`main_or_executor`].
//! - **Failures** (Spark's rules): an executor is lost when its connection closes or
//!   it misses [`MISSED_HEARTBEATS`] heartbeats; its tasks run again elsewhere; map
//!   outputs that lived there are lost, and the map tasks that wrote them run again
//!   (a reducer that cannot fetch a block reports a fetch failure, which does the
//!   same); a task that fails with an error is retried up to [`MAX_TASK_ATTEMPTS`]
//!   attempts, a panic fails the job; with no executor left a job fails after
//!   [`NO_EXECUTOR_GRACE`]. [`fault`] injects faults for tests.

pub(crate) mod blocks;
pub(crate) mod broadcast;
pub(crate) mod builders;
pub(crate) mod driver;
mod executor;
pub mod fault;
pub mod fingerprint;
pub mod hostfile;
pub(crate) mod local;
pub mod protocol;
pub mod wire;

pub use builders::{Builders, RemoteAction};
pub use driver::{
    DriverConfig, LostExecutor, MemberInfo, RemoteTask, RemoteTimes, MAX_STAGE_RESUBMISSIONS,
    MAX_TASK_ATTEMPTS, MISSED_HEARTBEATS, NO_EXECUTOR_GRACE,
};
pub use executor::{run_executor, ExecutorConfig};
pub use local::LocalClusterConfig;

use crate::error::{DataflowError, Result};
use neptune_runtime::quic::ClusterIdentity;

/// If this process was started as an executor of a local cluster, runs it with
/// `builders` and exits the process; otherwise returns at once. Call it first thing
/// in `main` of a program that uses `--cluster local:N` (the same program then serves
/// as its own executors). `NEPTUNE_EXECUTOR_BIND` and `NEPTUNE_EXECUTOR_ADVERTISE`, if
/// set, give the address its shuffle blocks are served on and the one other executors
/// dial (for executors started by hand on other hosts or network namespaces).
pub fn main_or_executor(builders: &Builders) {
    let Some(result) = executor_from_env(builders) else {
        return;
    };
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("neptune executor: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs the executor described by the environment of a local cluster, if it is set.
fn executor_from_env(builders: &Builders) -> Option<Result<()>> {
    let driver = std::env::var(local::env::DRIVER).ok()?;
    let config = (|| {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| DataflowError::Cluster(format!("{name} is not set")))
        };
        let driver = driver.parse().map_err(|e| {
            DataflowError::Cluster(format!("{}={driver:?}: {e}", local::env::DRIVER))
        })?;
        let name = var(local::env::NAME)?;
        let identity = ClusterIdentity::from_dir(var(local::env::CERTS)?, &name)
            .map_err(|e| DataflowError::Cluster(e.to_string()))?;
        let slots = var(local::env::SLOTS)?
            .parse()
            .map_err(|e| DataflowError::Cluster(format!("{}: {e}", local::env::SLOTS)))?;
        let mut config = ExecutorConfig::new(driver, identity, slots);
        config.policy = var(local::env::POLICY)?;
        // Optional addresses: unset is the default, set but unparsable is an error.
        let addr = |name: &str| match std::env::var(name) {
            Ok(a) => a
                .parse()
                .map(Some)
                .map_err(|e| DataflowError::Cluster(format!("{name}={a:?}: {e}"))),
            Err(_) => Ok(None),
        };
        if let Some(bind) = addr(local::env::BIND)? {
            config.bind = bind;
        }
        config.advertise = addr(local::env::ADVERTISE)?;
        if let Ok(nice) = std::env::var(local::env::SLOT_NICE) {
            config.slot_nice = Some(nice.parse().map_err(|e| {
                DataflowError::Cluster(format!("{}={nice:?}: {e}", local::env::SLOT_NICE))
            })?);
        }
        config.realtime = match std::env::var(local::env::REALTIME).as_deref() {
            Ok("1") => true,
            Ok("0") | Err(std::env::VarError::NotPresent) => false,
            Ok(other) => {
                return Err(DataflowError::Cluster(format!(
                    "{}={other:?}: expected 0 or 1",
                    local::env::REALTIME
                )))
            }
            Err(e) => {
                return Err(DataflowError::Cluster(format!(
                    "{}: {e}",
                    local::env::REALTIME
                )))
            }
        };
        Ok(config)
    })();
    Some(config.and_then(|c| run_executor(c, builders)))
}
