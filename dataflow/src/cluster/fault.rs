//! Injected faults, for testing how a cluster survives them.
//!
//! An executor process started with the environment variable [`FAULT_ENV`] set to a
//! fault spec misbehaves once, at a point fixed by the data rather than by time, so
//! every run of a fault scenario hits the same point:
//!
//! ```text
//! ACTION[,node=NAME][,stage=TEXT][,partition=P][,attempt=A|any][,after=N|,at=finished|,at=served:N]
//! ```
//!
//! - `ACTION`: `fail` (the task returns an error: retried), `panic` (a user function
//!   panics: the job fails, the executor stays), `kill` (the process sends itself
//!   SIGKILL), `stop` (SIGSTOP: the process hangs until continued or killed), `exit`
//!   (the process exits with status 101).
//! - `node`: only the executor with this node name (default: any).
//! - `stage`: only tasks of stages whose name contains `TEXT` (default: any);
//!   `partition`: only that partition; `attempt`: only that attempt (default 0, so a
//!   task run again does not fail again; `any` for every attempt).
//! - When: `after=N` once the task's sources produced N records (the default, N = 1);
//!   `at=finished` once the task's output is stored, before the driver hears of it;
//!   `at=served:N` when this executor is asked for its Nth shuffle block (its map
//!   outputs are written and a reducer is reading them).
//!
//! With [`FAULT_LOG_ENV`] naming a file, the process appends `ACTION NS` (wall-clock
//! nanoseconds) to it just before the fault, so a harness can time the recovery.
//!
//! ```
//! use neptune_dataflow::cluster::fault::{Fault, FaultAction, FaultPoint};
//! let f: Fault = "kill,node=executor-1,stage=shuffle,after=500".parse().unwrap();
//! assert_eq!(f.action, FaultAction::Kill);
//! assert_eq!(f.point, FaultPoint::Records(500));
//! assert!("explode".parse::<Fault>().is_err());
//! ```

use super::protocol::{now_ns, TaskKey};
use crate::error::DataflowError;
use std::io::Write;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

/// The environment variable holding an executor's fault spec.
pub const FAULT_ENV: &str = "NEPTUNE_FAULT";

/// The environment variable naming the file where a fault is logged before it hits.
pub const FAULT_LOG_ENV: &str = "NEPTUNE_FAULT_LOG";

/// What the fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// The task fails with an error (a retryable failure).
    Fail,
    /// A user function panics.
    Panic,
    /// The process is killed (SIGKILL): a crash.
    Kill,
    /// The process is stopped (SIGSTOP): a hang.
    Stop,
    /// The process exits with status 101.
    Exit,
}

/// When the fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// Once the task's sources produced this many records.
    Records(u64),
    /// Once the task's output is stored, before it is reported.
    Finished,
    /// When this executor is asked for its Nth shuffle block.
    Served(u64),
}

/// A parsed fault spec (see the [module](self) for the syntax).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What it does.
    pub action: FaultAction,
    /// When.
    pub point: FaultPoint,
    /// Only on the executor of this node name.
    pub node: Option<String>,
    /// Only in stages whose name contains this.
    pub stage: Option<String>,
    /// Only this partition.
    pub partition: Option<u32>,
    /// Only this attempt (None: every attempt).
    pub attempt: Option<u32>,
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(spec: &str) -> Result<Fault, String> {
        let mut parts = spec.split(',').map(str::trim);
        let action = match parts.next().unwrap_or("") {
            "fail" => FaultAction::Fail,
            "panic" => FaultAction::Panic,
            "kill" => FaultAction::Kill,
            "stop" => FaultAction::Stop,
            "exit" => FaultAction::Exit,
            other => {
                return Err(format!(
                    "unknown fault action {other:?} (fail, panic, kill, stop or exit)"
                ))
            }
        };
        let mut fault = Fault {
            action,
            point: FaultPoint::Records(1),
            node: None,
            stage: None,
            partition: None,
            attempt: Some(0),
        };
        let number = |key: &str, value: &str| {
            value
                .parse::<u64>()
                .map_err(|e| format!("fault {key}={value:?}: {e}"))
        };
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("fault spec part {part:?} is not KEY=VALUE"))?;
            match key {
                "node" => fault.node = Some(value.to_owned()),
                "stage" => fault.stage = Some(value.to_owned()),
                "partition" => fault.partition = Some(number(key, value)? as u32),
                "attempt" if value == "any" => fault.attempt = None,
                "attempt" => fault.attempt = Some(number(key, value)? as u32),
                "after" => fault.point = FaultPoint::Records(number(key, value)?.max(1)),
                "at" if value == "finished" => fault.point = FaultPoint::Finished,
                "at" => match value.strip_prefix("served:") {
                    Some(n) => fault.point = FaultPoint::Served(number(key, n)?.max(1)),
                    None => {
                        return Err(format!(
                            "fault at={value:?}: expected `finished` or `served:N`"
                        ))
                    }
                },
                _ => return Err(format!("unknown fault key {key:?}")),
            }
        }
        Ok(fault)
    }
}

/// An executor's armed fault: it hits once, at the first point that matches.
#[derive(Debug)]
pub(crate) struct Armed {
    fault: Fault,
    fired: AtomicBool,
    served: AtomicU64,
}

impl Armed {
    /// The fault of this process's environment, if it names this node; an error for
    /// a spec that does not parse.
    pub(crate) fn from_env(node: &str) -> Result<Option<Arc<Armed>>, DataflowError> {
        let Some(spec) = std::env::var_os(FAULT_ENV) else {
            return Ok(None);
        };
        let spec = spec.to_string_lossy();
        let fault: Fault = spec
            .parse()
            .map_err(|e| DataflowError::Config(format!("{FAULT_ENV}={spec:?}: {e}")))?;
        if fault.node.as_deref().is_some_and(|n| n != node) {
            return Ok(None);
        }
        Ok(Some(Arc::new(Armed {
            fault,
            fired: AtomicBool::new(false),
            served: AtomicU64::new(0),
        })))
    }

    /// The trip wire for a task about to start, if the fault targets it.
    pub(crate) fn for_task(self: &Arc<Self>, key: &TaskKey, stage: &str) -> Option<Trip> {
        let f = &self.fault;
        let matches = f.stage.as_deref().is_none_or(|s| stage.contains(s))
            && f.partition.is_none_or(|p| p == key.partition)
            && f.attempt.is_none_or(|a| a == key.attempt);
        (matches && !self.fired.load(SeqCst)).then(|| Trip {
            armed: self.clone(),
            what: format!("{key} of {stage}"),
        })
    }

    /// Counts a shuffle block served; hits at the Nth if the fault says so.
    pub(crate) fn block_served(&self) -> Option<DataflowError> {
        let FaultPoint::Served(n) = self.fault.point else {
            return None;
        };
        if self.served.fetch_add(1, SeqCst) + 1 == n {
            self.hit("a shuffle block was asked for")
        } else {
            None
        }
    }

    /// Makes the fault happen (once); an error to return for `fail`.
    fn hit(&self, what: &str) -> Option<DataflowError> {
        if self.fired.swap(true, SeqCst) {
            return None;
        }
        let action = self.fault.action;
        if let Some(path) = std::env::var_os(FAULT_LOG_ENV) {
            let line = format!("{} {}\n", action_name(action), now_ns());
            let logged = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(line.as_bytes()));
            if let Err(e) = logged {
                eprintln!("neptune fault: cannot log to {path:?}: {e}");
            }
        }
        eprintln!("neptune fault: {} at {what}", action_name(action));
        match action {
            FaultAction::Fail => Some(DataflowError::Cluster(format!(
                "injected failure at {what}"
            ))),
            FaultAction::Panic => panic!("injected panic at {what}"),
            FaultAction::Kill => {
                signal_self(libc::SIGKILL);
                None
            }
            FaultAction::Stop => {
                // Runs on when continued: a hang, not a failure.
                signal_self(libc::SIGSTOP);
                None
            }
            FaultAction::Exit => std::process::exit(101),
        }
    }
}

fn action_name(action: FaultAction) -> &'static str {
    match action {
        FaultAction::Fail => "fail",
        FaultAction::Panic => "panic",
        FaultAction::Kill => "kill",
        FaultAction::Stop => "stop",
        FaultAction::Exit => "exit",
    }
}

fn signal_self(signal: libc::c_int) {
    // SAFETY: kill(2) with this process's own id and a valid signal number has no
    // memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), signal);
    }
}

/// A fault waiting in one task.
#[derive(Debug)]
pub(crate) struct Trip {
    armed: Arc<Armed>,
    what: String,
}

impl Trip {
    /// The record count at which it hits (`u64::MAX`: not at a record).
    pub(crate) fn after_records(&self) -> u64 {
        match self.armed.fault.point {
            FaultPoint::Records(n) => n,
            _ => u64::MAX,
        }
    }

    /// The task's sources produced `after_records` records.
    pub(crate) fn records(&self) -> Option<DataflowError> {
        self.armed.hit(&self.what)
    }

    /// The task's output is stored.
    pub(crate) fn finished(&self) -> Option<DataflowError> {
        if self.armed.fault.point == FaultPoint::Finished {
            self.armed.hit(&self.what)
        } else {
            None
        }
    }
}
