//! `local:N` clusters: N executor processes of this very binary on loopback, with an
//! ephemeral CA, stopped when the driver stops (also when the program fails: the
//! driver's context is dropped while unwinding, and an executor whose driver
//! connection closes exits on its own).

use super::driver::log;
use crate::error::{DataflowError, Result};
use neptune_runtime::quic::{ClusterCa, ClusterIdentity};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Environment variables through which [`main_or_executor`](super::main_or_executor)
/// learns that this process is an executor of a local cluster.
pub(crate) mod env {
    pub const DRIVER: &str = "NEPTUNE_EXECUTOR_DRIVER";
    pub const CERTS: &str = "NEPTUNE_EXECUTOR_CERTS";
    pub const NAME: &str = "NEPTUNE_EXECUTOR_NAME";
    pub const SLOTS: &str = "NEPTUNE_EXECUTOR_SLOTS";
    pub const POLICY: &str = "NEPTUNE_EXECUTOR_POLICY";
    /// Optional: where the executor serves shuffle blocks (default: an ephemeral port
    /// on loopback, or on every address when the driver is not on loopback). An
    /// executor on another host or network namespace binds that host's address.
    pub const BIND: &str = "NEPTUNE_EXECUTOR_BIND";
    /// Optional: the block address other executors dial (default: the bound one).
    pub const ADVERTISE: &str = "NEPTUNE_EXECUTOR_ADVERTISE";
    /// Optional: the slot threads' nice value (default: the executor's own rule).
    pub const SLOT_NICE: &str = "NEPTUNE_EXECUTOR_SLOT_NICE";
    /// `1`: the executor's urgent threads may run under the real-time policy (see
    /// [`ExecutorConfig::realtime`](crate::cluster::ExecutorConfig::realtime)); `0`
    /// or unset: not. A local cluster passes on its driver process's
    /// [`allow_realtime`](neptune_runtime::time_slice::allow_realtime).
    pub const REALTIME: &str = "NEPTUNE_EXECUTOR_REALTIME";
}

/// How a local cluster's executors are started.
#[derive(Clone, Debug)]
pub struct LocalClusterConfig {
    /// Executor processes.
    pub executors: usize,
    /// Slots of each.
    pub slots: usize,
    /// Their local policy.
    pub policy: String,
    /// The program to run (default: this executable).
    pub program: Option<PathBuf>,
    /// Its arguments (default: none; a test binary names its executor entry test).
    pub args: Vec<String>,
    /// Extra environment variables of every executor process (e.g. an injected
    /// [`fault`](super::fault)).
    pub env: Vec<(String, String)>,
}

/// The processes of a local cluster, and the directory of their certificates.
pub(crate) struct LocalCluster {
    children: Vec<Child>,
    dir: PathBuf,
    config: LocalClusterConfig,
    driver: SocketAddr,
}

/// Makes an ephemeral CA in a fresh directory: the driver's identity, and one
/// certificate per executor saved there.
pub(crate) fn ephemeral_ca(executors: usize) -> Result<(ClusterIdentity, PathBuf)> {
    let failed = |e: &dyn std::fmt::Display| DataflowError::Cluster(format!("ephemeral CA: {e}"));
    let dir = std::env::temp_dir().join(format!(
        "neptune-local-cluster-{}-{}",
        std::process::id(),
        super::protocol::now_ns()
    ));
    let ca = ClusterCa::generate("neptune local cluster").map_err(|e| failed(&e))?;
    let driver = ca.issue("driver").map_err(|e| failed(&e))?;
    for i in 0..executors {
        ca.issue(&format!("executor-{i}"))
            .and_then(|id| id.save(&dir))
            .map_err(|e| failed(&e))?;
    }
    Ok((driver, dir))
}

impl LocalCluster {
    /// Starts `config.executors` executor processes dialling `driver`, with the
    /// certificates in `dir`.
    pub(crate) fn spawn(
        config: &LocalClusterConfig,
        driver: SocketAddr,
        dir: PathBuf,
    ) -> Result<LocalCluster> {
        let mut cluster = LocalCluster {
            children: Vec::with_capacity(config.executors),
            dir,
            config: config.clone(),
            driver,
        };
        for i in 0..config.executors {
            let child = cluster.start(i)?;
            cluster.children.push(child);
        }
        Ok(cluster)
    }

    /// Starts executor process `i` (named `executor-i`).
    fn start(&self, i: usize) -> Result<Child> {
        let config = &self.config;
        let program = match &config.program {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .map_err(|e| DataflowError::Cluster(format!("cannot find this executable: {e}")))?,
        };
        let mut command = Command::new(&program);
        // Together the executors' slots may fill the cores though each process's do
        // not: the rule of one process applies to all of them together (see
        // `ContextBuilder::slot_nice`).
        let nice = crate::context::default_slot_nice(config.executors * config.slots);
        command.env(env::SLOT_NICE, nice.to_string());
        let realtime = neptune_runtime::time_slice::realtime_allowed();
        command.env(env::REALTIME, if realtime { "1" } else { "0" });
        command
            .args(&config.args)
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            .env(env::DRIVER, self.driver.to_string())
            .env(env::CERTS, &self.dir)
            .env(env::NAME, format!("executor-{i}"))
            .env(env::SLOTS, config.slots.to_string())
            .env(env::POLICY, &config.policy)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                DataflowError::Cluster(format!(
                    "cannot start executor {i} ({}): {e}",
                    program.display()
                ))
            })
    }

    /// The process ids of the executor processes, in start order.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Kills executor process `i` (if it still runs) and starts it again, without the
    /// extra environment (an injected fault is not injected twice): it registers as
    /// a new executor, with a new id. Its new process id.
    pub(crate) fn restart(&mut self, i: usize) -> Result<u32> {
        let Some(old) = self.children.get_mut(i) else {
            return Err(DataflowError::Cluster(format!(
                "the local cluster has no executor process {i}"
            )));
        };
        let _ = old.kill();
        let _ = old.wait();
        let env = std::mem::take(&mut self.config.env);
        let started = self.start(i);
        self.config.env = env;
        self.children[i] = started?;
        Ok(self.children[i].id())
    }

    /// Fails if an executor process has exited.
    pub(crate) fn check(&mut self) -> Result<()> {
        for (i, child) in self.children.iter_mut().enumerate() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(DataflowError::Cluster(format!(
                    "executor process {i} exited ({status})"
                )));
            }
        }
        Ok(())
    }

    /// Stops every process and removes the certificates.
    pub(crate) fn stop(&mut self) {
        for child in &mut self.children {
            if let Err(e) = child.kill() {
                if e.kind() != std::io::ErrorKind::InvalidInput {
                    log(&format!("cannot stop executor process {}: {e}", child.id()));
                }
            }
            let _ = child.wait();
        }
        self.children.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
