//! Broadcast: [`Published`] values by name, across processes.
//!
//! A program gets a shared value with [`Context::published`]. In local mode it is a
//! plain [`Published`]. On a cluster driver, every version published is encoded once
//! and sent to every executor (and the latest to executors that join later); on an
//! executor, the same call in a plan builder returns the executor's replica, which
//! installs the driver's versions as they arrive. A task reads the latest version its
//! executor has, without locks, as in local mode.

use crate::context::Context;
use crate::error::{DataflowError, Result};
use crate::stream::Published;
use crate::Data;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

/// Sends a version to the executors: (name, version, encoded value).
pub(crate) type Sender = Arc<dyn Fn(&str, u64, Vec<u8>) + Send + Sync>;

/// Decodes a version received from the driver and installs it in the replica.
type Install = Box<dyn Fn(u64, &[u8]) -> Result<()> + Send + Sync>;

struct Entry {
    /// The `Published<T>`, once the program asked for it here.
    value: Option<Box<dyn Any + Send + Sync>>,
    /// Decodes and installs a version received from the driver.
    install: Option<Install>,
    /// A version that arrived before the program asked for the value.
    pending: Option<(u64, Vec<u8>)>,
}

/// The published values of one context, by name.
#[derive(Default)]
pub(crate) struct Broadcasts {
    entries: Mutex<HashMap<String, Entry>>,
    /// Set on a cluster driver.
    sender: Mutex<Option<Sender>>,
    /// On an executor: the newest version received per name, and the tasks waiting
    /// for one (see [`wait_for`](Self::wait_for)).
    received: Mutex<(HashMap<String, u64>, Vec<Waker>)>,
}

impl Broadcasts {
    pub(crate) fn set_sender(&self, sender: Sender) {
        *self.sender.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender);
    }

    /// Waits until every `(name, version)` of `wanted` was received (the driver's
    /// versions when it launched a task: a job launched after a publication sees it),
    /// or `limit` passed; false then, and the job goes on with the versions it has.
    pub(crate) async fn wait_for(&self, wanted: &[(String, u64)], limit: Duration) -> bool {
        let arrived = futures::future::poll_fn(|cx| {
            let mut received = self.received.lock().unwrap_or_else(|e| e.into_inner());
            let (versions, waiters) = &mut *received;
            if wanted
                .iter()
                .all(|(name, v)| versions.get(name).is_some_and(|have| have >= v))
            {
                return Poll::Ready(());
            }
            waiters.push(cx.waker().clone());
            Poll::Pending
        });
        neptune_runtime::time::timeout(limit, arrived).await.is_ok()
    }

    /// A version from the driver (on an executor).
    pub(crate) fn receive(&self, name: &str, version: u64, bytes: Vec<u8>) -> Result<()> {
        let installed = self.install(name, version, bytes);
        let waiters = {
            let mut received = self.received.lock().unwrap_or_else(|e| e.into_inner());
            let newest = received.0.entry(name.to_owned()).or_default();
            *newest = (*newest).max(version);
            std::mem::take(&mut received.1)
        };
        for w in waiters {
            w.wake();
        }
        installed
    }

    fn install(&self, name: &str, version: u64, bytes: Vec<u8>) -> Result<()> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(name.to_owned()).or_insert(Entry {
            value: None,
            install: None,
            pending: None,
        });
        match &entry.install {
            Some(install) => install(version, &bytes),
            None => {
                if entry.pending.as_ref().is_none_or(|(v, _)| *v < version) {
                    entry.pending = Some((version, bytes));
                }
                Ok(())
            }
        }
    }

    fn get<T: Data + Sync>(&self, name: &str, initial: T) -> Result<Published<T>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(name.to_owned()).or_insert(Entry {
            value: None,
            install: None,
            pending: None,
        });
        if let Some(value) = &entry.value {
            return value
                .downcast_ref::<Published<T>>()
                .cloned()
                .ok_or_else(|| {
                    DataflowError::Config(format!(
                        "published value {name:?} has another type than {}",
                        std::any::type_name::<T>()
                    ))
                });
        }
        let published = Published::new(initial);
        let replica = published.clone();
        let label = name.to_owned();
        let install = move |version: u64, bytes: &[u8]| -> Result<()> {
            let value: T = postcard::from_bytes(bytes).map_err(|e| {
                DataflowError::Cluster(format!("broadcast {label:?} v{version} is malformed: {e}"))
            })?;
            replica.install(version, value);
            Ok(())
        };
        if let Some((version, bytes)) = entry.pending.take() {
            install(version, &bytes)?;
        }
        entry.install = Some(Box::new(install));
        entry.value = Some(Box::new(published.clone()));
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(send) = sender {
            let label = name.to_owned();
            published.on_publish(Arc::new(move |v| match postcard::to_allocvec(&v.value) {
                Ok(bytes) => send(&label, v.version, bytes),
                Err(e) => super::driver::log(&format!(
                    "broadcast {label:?} v{} not sent: cannot encode it: {e}",
                    v.version
                )),
            }));
        }
        Ok(published)
    }
}

impl Context {
    /// The value published under `name` in this context, made with `initial` on first
    /// use. Jobs read it without locks ([`Published::latest`]); the program publishes
    /// new versions ([`Published::publish`]).
    ///
    /// In cluster mode, each version published on the driver reaches every executor
    /// once; a plan builder that calls `published` with the same name on an executor
    /// gets that executor's replica, holding the latest version it received (or
    /// `initial` until the first one arrives). A plan builder's call is noted with the
    /// version it found: [`JobStats::published`](crate::JobStats::published) and
    /// [`StreamStats::published`](crate::StreamStats::published) report them.
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let model = ctx.published("model", vec![0.0f32; 2]).unwrap();
    /// model.publish(vec![1.0, 2.0]);
    /// let again = ctx.published("model", Vec::<f32>::new()).unwrap();
    /// assert_eq!((again.version(), again.latest()[1]), (1, 2.0));
    /// ```
    ///
    /// # Errors
    /// `name` is already published with another type.
    pub fn published<T: Data + Sync>(&self, name: &str, initial: T) -> Result<Published<T>> {
        let published = self.inner.broadcasts.get(name, initial)?;
        super::builders::reads::note(name, published.version());
        Ok(published)
    }
}
