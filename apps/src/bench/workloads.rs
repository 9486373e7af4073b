//! The multi-thread scheduler workloads of tokio's `benches/rt_multi_threaded.rs`,
//! written once over the [`Rt`] trait so that the very same code runs on Neptune and on
//! tokio. Completion is signalled over a `std::sync::mpsc` channel that the calling
//! thread blocks on, as in tokio's benchmark; `ping_pong` uses `futures`' oneshot
//! channel on both runtimes (it belongs to neither, so neither gets an advantage).

use futures::channel::oneshot;
use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

/// Tasks spawned by `spawn_many_local` and `spawn_many_remote_idle`.
pub const NUM_SPAWN: usize = 10_000;
/// Tasks in `yield_many`.
pub const YIELD_TASKS: usize = 200;
/// Yields per task in `yield_many`.
pub const NUM_YIELD: usize = 1_000;
/// Pairs of tasks in `ping_pong`.
pub const NUM_PINGS: usize = 1_000;
/// Length of the spawn chain in `chained_spawn`.
pub const CHAIN: usize = 1_000;

/// What a workload needs from a runtime: each implementation uses that runtime's own
/// primitives (spawn, block_on, yield_now, join handles).
pub trait Rt: Sized + 'static {
    /// The runtime's name, as printed.
    const NAME: &'static str;
    /// The runtime's join handle.
    type Join<T: Send + 'static>: Future<Output = Result<T, Self::JoinError>> + Send + 'static;
    /// The error a join handle can return.
    type JoinError: Debug;

    /// A multi-thread runtime with `workers` worker threads.
    fn build(workers: usize) -> Self;
    /// Runs `f` to completion on the calling thread.
    fn block_on<F: Future>(&self, f: F) -> F::Output;
    /// Spawns from outside the runtime, through its handle.
    fn spawn<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Spawns a detached task on the runtime the calling thread is in (a task or
    /// `block_on`).
    fn spawn_here<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static;
    /// Yields to the scheduler once.
    fn yield_now() -> impl Future<Output = ()> + Send;
}

/// Neptune: every task is spawned in the default (Batch) class.
pub struct Neptune(neptune::runtime::Runtime);

impl Rt for Neptune {
    const NAME: &'static str = "neptune";
    type Join<T: Send + 'static> = neptune::runtime::JoinHandle<T>;
    type JoinError = neptune::runtime::JoinError;

    fn build(workers: usize) -> Self {
        let rt = neptune::runtime::Builder::new()
            .slots(workers)
            .build()
            .expect("neptune runtime");
        Neptune(rt)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn spawn<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.handle().spawn(f)
    }
    fn spawn_here<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        neptune::runtime::spawn(f);
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        neptune::runtime::yield_now()
    }
}

/// tokio's multi-thread runtime, built as in its own benchmark (`enable_all`).
pub struct Tokio(tokio::runtime::Runtime);

impl Rt for Tokio {
    const NAME: &'static str = "tokio";
    type Join<T: Send + 'static> = tokio::task::JoinHandle<T>;
    type JoinError = tokio::task::JoinError;

    fn build(workers: usize) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("tokio runtime");
        Tokio(rt)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
    fn spawn<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.handle().spawn(f)
    }
    fn spawn_here<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(f);
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

/// The workloads, in the order they are run and printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Spawns [`NUM_SPAWN`] tasks from a task and awaits them all.
    SpawnManyLocal,
    /// Spawns [`NUM_SPAWN`] tasks from outside the runtime, its workers idle.
    SpawnManyRemoteIdle,
    /// [`YIELD_TASKS`] tasks yielding [`NUM_YIELD`] times each.
    YieldMany,
    /// [`NUM_PINGS`] pairs of tasks exchanging a message over oneshot channels.
    PingPong,
    /// A chain of [`CHAIN`] tasks, each spawning the next.
    ChainedSpawn,
}

impl Workload {
    /// Every workload, in order.
    pub const ALL: [Workload; 5] = [
        Workload::SpawnManyLocal,
        Workload::SpawnManyRemoteIdle,
        Workload::YieldMany,
        Workload::PingPong,
        Workload::ChainedSpawn,
    ];

    /// Its name, as tokio's benchmark calls it.
    pub fn name(self) -> &'static str {
        match self {
            Workload::SpawnManyLocal => "spawn_many_local",
            Workload::SpawnManyRemoteIdle => "spawn_many_remote_idle",
            Workload::YieldMany => "yield_many",
            Workload::PingPong => "ping_pong",
            Workload::ChainedSpawn => "chained_spawn",
        }
    }
}

/// One runtime plus the state tokio's benchmark sets up once, outside its `b.iter`
/// loop: the completion channel, the countdown and the join-handle buffer.
pub struct Bench<R: Rt> {
    /// The runtime.
    pub rt: R,
    done_tx: SyncSender<()>,
    done_rx: Receiver<()>,
    rem: Arc<AtomicUsize>,
    handles: Vec<R::Join<()>>,
}

impl<R: Rt> Bench<R> {
    /// The runtime with `workers` worker threads, and the benchmark's state.
    pub fn new(workers: usize) -> Self {
        let (done_tx, done_rx) = mpsc::sync_channel(1000);
        Bench {
            rt: R::build(workers),
            done_tx,
            done_rx,
            rem: Arc::new(AtomicUsize::new(0)),
            handles: Vec::with_capacity(NUM_SPAWN),
        }
    }

    /// Runs `workload` once, to completion.
    pub fn run(&mut self, workload: Workload) {
        match workload {
            Workload::SpawnManyLocal => self.spawn_many_local(),
            Workload::SpawnManyRemoteIdle => self.spawn_many_remote_idle(),
            Workload::YieldMany => self.yield_many(),
            Workload::PingPong => self.ping_pong(),
            Workload::ChainedSpawn => self.chained_spawn(),
        }
    }

    /// From inside `block_on`, spawn `NUM_SPAWN` tasks that count down; the last one
    /// signals.
    fn spawn_many_local(&mut self) {
        let (tx, rx, rem) = (&self.done_tx, &self.done_rx, &self.rem);
        rem.store(NUM_SPAWN, Relaxed);
        self.rt.block_on(async {
            for _ in 0..NUM_SPAWN {
                let tx = tx.clone();
                let rem = rem.clone();
                R::spawn_here(async move {
                    if 1 == rem.fetch_sub(1, Relaxed) {
                        tx.send(()).unwrap();
                    }
                });
            }
            rx.recv().unwrap();
        });
    }

    /// `NUM_SPAWN` empty tasks spawned from the calling thread through the handle, then
    /// every join handle awaited in `block_on`.
    fn spawn_many_remote_idle(&mut self) {
        for _ in 0..NUM_SPAWN {
            self.handles.push(self.rt.spawn(async {}));
        }
        let handles = &mut self.handles;
        self.rt.block_on(async {
            for handle in handles.drain(..) {
                handle.await.unwrap();
            }
        });
    }

    /// `YIELD_TASKS` tasks spawned from outside, each yielding `NUM_YIELD` times.
    fn yield_many(&mut self) {
        for _ in 0..YIELD_TASKS {
            let tx = self.done_tx.clone();
            // Detached, as in tokio's benchmark: completion comes over the channel.
            drop(self.rt.spawn(async move {
                for _ in 0..NUM_YIELD {
                    R::yield_now().await;
                }
                tx.send(()).unwrap();
            }));
        }
        for _ in 0..YIELD_TASKS {
            self.done_rx.recv().unwrap();
        }
    }

    /// One task spawns `NUM_PINGS` tasks; each spawns a partner and the two exchange a
    /// message each way over oneshot channels.
    fn ping_pong(&mut self) {
        let done_tx = self.done_tx.clone();
        let rem = self.rem.clone();
        rem.store(NUM_PINGS, Relaxed);
        let done_rx = &self.done_rx;
        self.rt.block_on(async {
            R::spawn_here(async move {
                for _ in 0..NUM_PINGS {
                    let rem = rem.clone();
                    let done_tx = done_tx.clone();
                    R::spawn_here(async move {
                        let (tx1, rx1) = oneshot::channel();
                        let (tx2, rx2) = oneshot::channel();
                        R::spawn_here(async move {
                            rx1.await.unwrap();
                            tx2.send(()).unwrap();
                        });
                        tx1.send(()).unwrap();
                        rx2.await.unwrap();
                        if 1 == rem.fetch_sub(1, Relaxed) {
                            done_tx.send(()).unwrap();
                        }
                    });
                }
            });
            done_rx.recv().unwrap();
        });
    }

    /// A chain of `CHAIN` tasks, each spawning the next; the last signals.
    fn chained_spawn(&mut self) {
        fn iter<R: Rt>(done_tx: SyncSender<()>, n: usize) {
            if n == 0 {
                done_tx.send(()).unwrap();
            } else {
                R::spawn_here(async move {
                    iter::<R>(done_tx, n - 1);
                });
            }
        }
        let done_tx = self.done_tx.clone();
        let done_rx = &self.done_rx;
        self.rt.block_on(async {
            R::spawn_here(async move {
                iter::<R>(done_tx, CHAIN);
            });
            done_rx.recv().unwrap();
        });
    }
}
