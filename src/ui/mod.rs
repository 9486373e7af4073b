//! A live view of a running [`Context`] (or of a bare runtime: [`UiBuilder::runtime`]):
//! Prometheus metrics, a JSON API shaped like Spark's, and a few HTML pages, served
//! over HTTP while jobs run.
//!
//! ```
//! use neptune::dataflow::Context;
//! use neptune::ui::Ui;
//! use std::io::{Read, Write};
//!
//! let ctx = Context::builder().slots_per_executor(1).build().unwrap();
//! let ui = Ui::builder().context(&ctx).bind("127.0.0.1:0").start().unwrap();
//! ctx.range(0..1000, 2).count().unwrap();
//!
//! let mut conn = std::net::TcpStream::connect(ui.local_addr()).unwrap();
//! conn.write_all(b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply).unwrap();
//! assert!(reply.starts_with("HTTP/1.1 200 OK"));
//! assert!(reply.contains(r#""name":"count at range#0""#));
//! ui.shutdown();
//! ```
//!
//! ## How it works
//!
//! - **Its own runtime.** [`UiBuilder::start`] starts a neptune runtime of one slot
//!   and serves hyper on it (the runtime's `http` feature); every connection is a
//!   Stream task there. The executors' slots never run UI code and a scrape never
//!   waits behind Batch work nor pauses it: reading the figures is a few relaxed loads
//!   per slot and one short lock of the context's status board.
//! - **Read at scrape time.** Nothing polls: `/metrics` is a prometheus-client
//!   registry whose engine collector reads each local executor's
//!   [`RuntimeMetrics`](crate::runtime::metrics::RuntimeMetrics), the context's
//!   [status board](crate::dataflow::status) and, in cluster mode, the driver's view
//!   of its executors (heartbeats) when asked. See the [metric families](#metrics).
//! - **The application's own metrics** go in the same registry:
//!   [`UiBuilder::metrics`] hands it over once, to register counters and gauges the
//!   application keeps updating (model version, accuracy), and
//!   [`UiBuilder::collector`] adds a collector read at each scrape (model staleness).
//! - **Pages** are single HTML documents with inline CSS and a little vanilla
//!   JavaScript and no external resource. The server embeds the JSON the page shows,
//!   so the first render needs no request; the script then fetches the same API every
//!   second and draws again.
//!
//! ## Routes
//!
//! Only `GET` is served (`405` otherwise); other paths answer `404`.
//!
//! | path | what |
//! |---|---|
//! | `/metrics` | Prometheus text format 0.0.4 |
//! | `/api/v1/jobs`, `/api/v1/jobs/ID` | jobs (`?status=running`, …) |
//! | `/api/v1/stages` | stages of those jobs |
//! | `/api/v1/tasks` | task attempts (`?status=paused`, …) |
//! | `/api/v1/executors` | executors, with per-slot figures (local) or heartbeats (cluster) |
//! | `/api/v1/overview` | the overview page's summary |
//! | `/api/v1/timeline` | each local slot's recent spans (`?window=SECONDS`, 2 by default) |
//! | `/` | overview: policy and mode, tasks by state (paused highlighted), stream latency, pause and resume latency, throughput |
//! | `/jobs` | jobs, their stages and running tasks, with paused tasks and suspensions |
//! | `/executors` | executors and their slots |
//! | `/timeline` | each slot's Stream runs, Batch runs and PAUSED intervals, drawn in SVG (`?window=SECONDS`); needs [`ContextBuilder::timeline`](crate::dataflow::ContextBuilder::timeline) |
//!
//! ## Metrics
//!
//! Names are `neptune_*` in base units (seconds, bytes); counters end in `_total`.
//! Labels: `executor`, `slot`, `class` (`stream`, `batch`), `state`, `policy`, `mode`.
//!
//! | family | type | labels |
//! |---|---|---|
//! | `neptune_tasks` | gauge: live runtime tasks | executor, class, state (`running`, `runnable`, `paused`, `waiting`) |
//! | `neptune_dataflow_tasks` | gauge: dataflow tasks launched and not finished | class, state (`running`, `paused`) |
//! | `neptune_tasks_ended_total` | counter | class, state (`success`, `failed`, `killed`) |
//! | `neptune_jobs_active` / `neptune_jobs_ended_total` | gauge / counter | class (, state) |
//! | `neptune_records_read_total`, `neptune_records_written_total` | counter | class |
//! | `neptune_wasted_task_seconds_total` | counter: time of attempts that failed or were killed | class |
//! | `neptune_task_suspensions_total`, `neptune_task_paused_seconds_total` | counter: of finished dataflow tasks | class |
//! | `neptune_suspensions_total`, `neptune_resumes_total` | counter | executor, slot |
//! | `neptune_suspended_tasks`, `neptune_suspended_bytes` | gauge | executor, slot |
//! | `neptune_pause_to_park_seconds`, `neptune_resume_to_poll_seconds` | histogram | executor |
//! | `neptune_stream_latency_seconds` | histogram | executor |
//! | `neptune_slot_busy_seconds_total` | counter | executor, slot, class |
//! | `neptune_slot_idle_seconds_total`, `neptune_slot_polls_total`, `neptune_slot_steals_total` | counter | executor, slot |
//! | `neptune_slot_tasks_finished_total` | counter: runtime tasks | executor, slot, class |
//! | `neptune_slots`, `neptune_runtime_live_tasks` | gauge | executor |
//! | `neptune_policy_mode` | gauge (1) | executor, policy, mode |
//! | `neptune_policy_switches_total` | counter | executor |
//! | `neptune_cluster_executors` | gauge (cluster) | state (`live`, `lost`) |
//! | `neptune_executor_heartbeats_total`, `neptune_executor_heartbeat_age_seconds`, `neptune_executor_slots`, `neptune_executor_running_tasks`, `neptune_executor_suspended_tasks`, `neptune_executor_memory_bytes`, `neptune_executor_spilled_bytes`, `neptune_executor_allocation_bytes_per_second` | counter / gauges (cluster, from heartbeats) | executor (, class) |
//!
//! In cluster mode the runtime families and the timeline are empty (the executors'
//! runtimes live in other processes; their heartbeats are what the driver knows), and
//! a remote task's paused state is as its executor last reported it.
//!
//! A bare runtime ([`UiBuilder::runtime`]) shows as one executor, `executor-0`, with
//! the runtime families and its timeline; it has no jobs, so the status board's
//! families (`neptune_dataflow_tasks` to `neptune_task_paused_seconds_total`) are left
//! out, and the overview counts the runtime's own live tasks.

mod api;
mod metrics;
mod pages;
mod server;
mod shown;

pub use prometheus_client;

use crate::dataflow::Context;
use crate::runtime::Handle;
use api::Source;
use prometheus_client::collector::Collector;
use prometheus_client::registry::Registry;
use server::UiState;
use shown::{Current, Shown};
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// The address a UI listens on unless told otherwise (Spark's UI port, on loopback).
pub const DEFAULT_ADDR: &str = "127.0.0.1:4040";

/// The live view; see the [module docs](self).
#[derive(Debug)]
pub struct Ui;

impl Ui {
    /// A builder: give it the context, optionally an address and the application's
    /// metrics, then [`start`](UiBuilder::start) it.
    pub fn builder() -> UiBuilder {
        UiBuilder {
            shown: None,
            addr: DEFAULT_ADDR
                .parse()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e)),
            registry: Registry::default(),
            collectors: Vec::new(),
        }
    }
}

/// Configures a [`Ui`].
pub struct UiBuilder {
    shown: Option<Shown>,
    addr: io::Result<SocketAddr>,
    registry: Registry,
    collectors: Vec<Box<dyn Collector>>,
}

impl fmt::Debug for UiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiBuilder")
            .field("shows", &self.shown.as_ref().map(Shown::kind))
            .field("addr", &self.addr.as_ref().ok())
            .field("collectors", &self.collectors.len())
            .finish_non_exhaustive()
    }
}

impl UiBuilder {
    /// The context to show (this or a [runtime](Self::runtime) is required). The UI
    /// keeps a clone of it, and so keeps its executors up, until the UI stops.
    pub fn context(mut self, ctx: &Context) -> UiBuilder {
        self.shown = Some(Shown::Context(ctx.clone()));
        self
    }

    /// A runtime to show on its own, for an application that spawns its Stream and
    /// Batch tasks itself rather than running dataflow jobs: it shows as one executor,
    /// `executor-0`, with its slots, tasks by class and state, suspensions, latencies
    /// and (with [`Builder::timeline`](crate::runtime::Builder::timeline)) its
    /// timeline; the jobs, stages and tasks of the API are empty. The UI keeps the
    /// handle; a runtime dropped meanwhile shows its last figures.
    ///
    /// ```
    /// use neptune::runtime::{Builder, SpawnOptions};
    /// use neptune::ui::Ui;
    /// use std::io::{Read, Write};
    ///
    /// let rt = Builder::new().slots(1).build().unwrap();
    /// let ui = Ui::builder().runtime(rt.handle()).bind("127.0.0.1:0").start().unwrap();
    /// rt.block_on(rt.spawn_with(SpawnOptions::stream(), async { 1 })).unwrap();
    ///
    /// let mut conn = std::net::TcpStream::connect(ui.local_addr()).unwrap();
    /// conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    /// let mut reply = String::new();
    /// conn.read_to_string(&mut reply).unwrap();
    /// assert!(reply.contains(r#"neptune_slots{executor="executor-0"} 1"#));
    /// ```
    pub fn runtime(mut self, runtime: &Handle) -> UiBuilder {
        self.shown = Some(Shown::Runtime(runtime.clone()));
        self
    }

    /// Where to listen ([`DEFAULT_ADDR`] otherwise); port 0 picks a free port (see
    /// [`UiHandle::local_addr`]). A name resolving to several addresses uses the
    /// first.
    pub fn bind(mut self, addr: impl ToSocketAddrs) -> UiBuilder {
        self.addr = addr.to_socket_addrs().and_then(|mut addrs| {
            addrs.next().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the address resolves to nothing",
                )
            })
        });
        self
    }

    /// Registers the application's own metrics in the registry `/metrics` serves,
    /// once, before the UI starts. Register handles the application keeps updating
    /// (prometheus-client metrics are shared on clone); name them outside
    /// `neptune_*`, which the engine's families use.
    ///
    /// ```
    /// use neptune::ui::prometheus_client::metrics::gauge::Gauge;
    /// use neptune::ui::Ui;
    /// let ctx = neptune::dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let version: Gauge = Gauge::default();
    /// let v = version.clone();
    /// let ui = Ui::builder()
    ///     .context(&ctx)
    ///     .bind("127.0.0.1:0")
    ///     .metrics(move |registry| registry.register("app_model_version", "Model version served", v))
    ///     .start()
    ///     .unwrap();
    /// version.set(3); // the next scrape shows app_model_version 3
    /// # drop(ui);
    /// ```
    pub fn metrics(mut self, register: impl FnOnce(&mut Registry)) -> UiBuilder {
        register(&mut self.registry);
        self
    }

    /// Adds a collector read at every scrape, for figures computed on demand (such as
    /// a model's staleness: the time since its last version).
    pub fn collector(mut self, collector: impl Collector) -> UiBuilder {
        self.collectors.push(Box::new(collector));
        self
    }

    /// Starts serving.
    ///
    /// # Errors
    /// Nothing to show (no context nor runtime given), an address that does not
    /// resolve or cannot be bound, or a runtime that cannot start.
    pub fn start(self) -> io::Result<UiHandle> {
        let shown = self.shown.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a UI needs a context or a runtime to show: Ui::builder().context(&ctx)",
            )
        })?;
        let addr = self.addr?;
        let current: Current = Arc::new(Mutex::new(shown));
        let mut registry = self.registry;
        registry.register_collector(Box::new(metrics::EngineCollector::new(current.clone())));
        for c in self.collectors {
            registry.register_collector(c);
        }
        let state = Arc::new(UiState {
            source: Source {
                current,
                started: Instant::now(),
                started_wall: SystemTime::now(),
            },
            registry,
        });
        let server = server::start(addr, state.clone())?;
        Ok(UiHandle {
            addr: server.addr,
            runtime: Some(server.runtime),
            state,
        })
    }
}

/// A running UI; it stops when dropped or [shut down](Self::shutdown).
pub struct UiHandle {
    addr: SocketAddr,
    /// Dropping the runtime cancels the accept loop and every connection.
    runtime: Option<crate::runtime::Runtime>,
    /// Dropped after the runtime, on the caller's thread: if it holds the context's
    /// last clone, the executors stop here rather than on the UI's own thread.
    state: Arc<UiState>,
}

impl fmt::Debug for UiHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

impl UiHandle {
    /// The address it listens on (the bound port, if port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Shows `ctx` from now on, in place of the context shown so far: an application
    /// that runs one context after another (a run per policy) keeps one UI, at one
    /// address. Counters restart with the new context's executors, which Prometheus
    /// reads as a counter reset. The previous context is released here, on the
    /// caller's thread.
    pub fn set_context(&self, ctx: &Context) {
        self.show(Shown::Context(ctx.clone()));
    }

    /// Shows `runtime` from now on (see [`UiBuilder::runtime`]), in place of what was
    /// shown so far, as [`set_context`](Self::set_context) does for a context.
    pub fn set_runtime(&self, runtime: &Handle) {
        self.show(Shown::Runtime(runtime.clone()));
    }

    fn show(&self, shown: Shown) {
        let previous = {
            let mut current = self
                .state
                .source
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *current, shown)
        };
        drop(previous);
    }

    /// Stops serving: the listener closes and open connections are dropped.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        drop(self.runtime.take());
    }
}

impl Drop for UiHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
