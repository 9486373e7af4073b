//! Plan builders: jobs built by name from serialisable arguments.
//!
//! Closures cannot travel between processes, so a cluster job is not shipped: it is
//! *rebuilt*. A [`Builders`] table maps names to plain functions
//! `fn(&Context, Args) -> Dataset<T>`; the driver program calls [`Context::build`],
//! which runs the builder (to plan the stages) and remembers its name and postcard-
//! encoded arguments. Each executor runs the same builder with the same arguments, in a
//! *build scope* whose dataset and shuffle ids start where the driver's did, so it gets
//! the same plan with the same stage names, and runs the tasks it is sent by name. A
//! builder must therefore be deterministic in its arguments; an executor that plans a
//! different stage than the driver asked for fails that task and says so.

use crate::context::Context;
use crate::dataset::Dataset;
use crate::error::{DataflowError, Result};
use crate::exec::feed::CountOut;
use crate::exec::{StageRunner, TaskEnv, TaskOutput};
use crate::plan::{AnyNode, NodeId, NodeRef, ShuffleId};
use crate::Data;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// What the result stage of a cluster job does on its executor. Actions that run a
/// closure of the driver program (`reduce`, `for_each`, …) cannot travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteAction {
    /// Send the partition's records back.
    Collect,
    /// Send the partition's record count back.
    Count,
}

impl RemoteAction {
    /// The action's name, as in stage names.
    pub fn name(self) -> &'static str {
        match self {
            RemoteAction::Collect => "collect",
            RemoteAction::Count => "count",
        }
    }

    /// The remote action for an action name, if it can run remotely.
    pub(crate) fn of(action: &str) -> Option<RemoteAction> {
        match action {
            "collect" => Some(RemoteAction::Collect),
            "count" => Some(RemoteAction::Count),
            _ => None,
        }
    }
}

/// A plan rebuilt from a builder: its last dataset, erased, and how to make the
/// result stage's runner for an action.
pub(crate) struct Built {
    pub(crate) root: Arc<dyn AnyNode>,
    /// The builder's `NodeRef<T>`.
    typed: Box<dyn Any + Send + Sync>,
    runner: Box<dyn Fn(RemoteAction) -> Arc<dyn StageRunner> + Send + Sync>,
}

impl Built {
    pub(crate) fn result_runner(&self, action: RemoteAction) -> Arc<dyn StageRunner> {
        (self.runner)(action)
    }
}

/// A registered builder with its types erased.
trait ErasedBuilder: Send + Sync + 'static {
    fn build(&self, ctx: &Context, args: &[u8]) -> Result<Built>;
    /// Builds from arguments of the builder's type, boxed (local mode: no encoding).
    fn build_any(&self, ctx: &Context, args: Box<dyn Any>) -> Result<Built>;
    fn types(&self) -> (TypeId, TypeId);
    /// The argument and record types' names, for errors.
    fn type_names(&self) -> (&'static str, &'static str);
}

struct TypedBuilder<A, T, F> {
    f: F,
    _types: std::marker::PhantomData<fn(A) -> T>,
}

impl<A, T, F> ErasedBuilder for TypedBuilder<A, T, F>
where
    A: Serialize + DeserializeOwned + 'static,
    T: Data,
    F: Fn(&Context, A) -> Dataset<T> + Send + Sync + 'static,
{
    fn build(&self, ctx: &Context, args: &[u8]) -> Result<Built> {
        let args: A = postcard::from_bytes(args)
            .map_err(|e| DataflowError::Cluster(format!("builder arguments are malformed: {e}")))?;
        self.build_any(ctx, Box::new(args))
    }

    fn build_any(&self, ctx: &Context, args: Box<dyn Any>) -> Result<Built> {
        let args = *args
            .downcast::<A>()
            .map_err(|_| DataflowError::Cluster("builder arguments of another type".into()))?;
        let dataset = (self.f)(ctx, args);
        let node = dataset.node.clone();
        Ok(Built {
            root: dataset.node.erased.clone(),
            typed: Box::new(dataset.node.clone()),
            runner: Box::new(move |action| match action {
                RemoteAction::Collect => Arc::new(EncodeCollect { node: node.clone() }),
                RemoteAction::Count => Arc::new(EncodeCount { node: node.clone() }),
            }),
        })
    }

    fn types(&self) -> (TypeId, TypeId) {
        (TypeId::of::<A>(), TypeId::of::<T>())
    }

    fn type_names(&self) -> (&'static str, &'static str) {
        (std::any::type_name::<A>(), std::any::type_name::<T>())
    }
}

/// The plan builders of a program, by name: what every process of a cluster must
/// agree on. Register the same table in the driver program (with
/// [`ContextBuilder::builders`](crate::ContextBuilder::builders)) and in the
/// executors (with [`run_executor`](super::run_executor) or
/// [`main_or_executor`](super::main_or_executor)): the simplest way is one function
/// that returns it, called by both.
///
/// ```
/// use neptune_dataflow::cluster::Builders;
/// use neptune_dataflow::{Context, Dataset};
///
/// fn squares(ctx: &Context, n: u64) -> Dataset<u64> {
///     ctx.range(0..n, 2).map(|x| x * x)
/// }
///
/// let builders = Builders::new().register("squares", squares);
/// let ctx = Context::builder().slots_per_executor(1).builders(builders).build().unwrap();
/// let total: u64 = ctx.build::<u64, u64>("squares", 4).unwrap().collect().unwrap().iter().sum();
/// assert_eq!(total, 1 + 4 + 9);
/// ```
#[derive(Clone, Default)]
pub struct Builders {
    table: BTreeMap<String, Arc<dyn ErasedBuilder>>,
    /// What some builders also leave for the driver side (a windowed builder's
    /// `reduce`), by name.
    extras: BTreeMap<String, Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for Builders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.table.keys()).finish()
    }
}

impl Builders {
    /// An empty table.
    pub fn new() -> Builders {
        Builders::default()
    }

    /// Registers `builder` under `name` (replacing an earlier one of that name). Its
    /// arguments and records must be serde types: a builder whose records cannot
    /// travel does not compile.
    pub fn register<A, T, F>(mut self, name: &str, builder: F) -> Builders
    where
        A: Serialize + DeserializeOwned + 'static,
        T: Data,
        F: Fn(&Context, A) -> Dataset<T> + Send + Sync + 'static,
    {
        let typed = TypedBuilder {
            f: builder,
            _types: std::marker::PhantomData,
        };
        self.table.insert(name.to_owned(), Arc::new(typed));
        self
    }

    /// Keeps `extra` under `name`, for the driver side of a builder of that name.
    pub(crate) fn with_extra(mut self, name: &str, extra: Arc<dyn Any + Send + Sync>) -> Builders {
        self.extras.insert(name.to_owned(), extra);
        self
    }

    /// What [`with_extra`](Self::with_extra) kept under `name`, if it is an `X`.
    pub(crate) fn extra<X: Send + Sync + 'static>(&self, name: &str) -> Option<Arc<X>> {
        self.extras.get(name)?.clone().downcast::<X>().ok()
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.table.keys().cloned().collect()
    }

    /// Runs builder `name` on encoded `args` in a build scope starting at `bases`
    /// (dataset id, shuffle id).
    pub(crate) fn rebuild(
        &self,
        ctx: &Context,
        name: &str,
        args: &[u8],
        bases: (u32, u32),
        default_partitions: usize,
    ) -> Result<Built> {
        let builder = self.lookup(name)?;
        let _scope = scope::enter(bases, default_partitions);
        builder.build(ctx, args)
    }

    /// The stage names of the job `action` over builder `name`'s dataset, as an
    /// executor would plan it (job 0, ids from 0): a check that a builder is
    /// deterministic in its arguments.
    pub fn stage_names<A: Serialize>(
        &self,
        ctx: &Context,
        name: &str,
        args: &A,
        action: RemoteAction,
    ) -> Result<Vec<String>> {
        let args = postcard::to_allocvec(args)
            .map_err(|e| DataflowError::Cluster(format!("cannot encode the arguments: {e}")))?;
        let built = self.rebuild(ctx, name, &args, (0, 0), ctx.default_partitions())?;
        let runner = built.result_runner(action);
        let plan = crate::plan::stages::plan(crate::JobId(0), &built.root, action.name(), runner);
        Ok(plan.stages.iter().map(|s| s.name.to_string()).collect())
    }

    fn lookup(&self, name: &str) -> Result<&Arc<dyn ErasedBuilder>> {
        self.table.get(name).ok_or_else(|| {
            DataflowError::Cluster(format!(
                "no plan builder named {name:?} (registered: {:?})",
                self.names()
            ))
        })
    }
}

/// Where a dataset made by [`Context::build`] came from: all an executor needs to
/// make it again.
pub(crate) struct Origin {
    pub(crate) builder: String,
    pub(crate) args: Vec<u8>,
    pub(crate) bases: (u32, u32),
    /// The default partition count the build saw.
    pub(crate) default_partitions: usize,
    /// The published values the build read, with their versions.
    pub(crate) published: Vec<(String, u64)>,
    /// The dataset the builder returned: only jobs on it can run in cluster mode.
    pub(crate) root: NodeId,
    /// Decodes a result part of a remote `collect` (a `Vec<T>`).
    pub(crate) decode_collect: fn(&[u8]) -> Result<Box<dyn Any + Send>>,
}

fn decode_vec<T: Data>(bytes: &[u8]) -> Result<Box<dyn Any + Send>> {
    let records: Vec<T> = postcard::from_bytes(bytes)
        .map_err(|e| DataflowError::Cluster(format!("a collected partition is malformed: {e}")))?;
    Ok(Box::new(records))
}

impl Context {
    /// Runs the plan builder registered as `name` with `args` and returns its dataset.
    ///
    /// In local mode this just calls the builder. In cluster mode the dataset also
    /// remembers the builder and its arguments, so that executors can rebuild it: only
    /// jobs on a dataset returned here can run there (a dataset derived from it on the
    /// driver holds closures that cannot travel; derive inside the builder instead).
    ///
    /// # Errors
    /// No builder of that name, or one registered with other argument or record types.
    pub fn build<A, T>(&self, name: &str, args: A) -> Result<Dataset<T>>
    where
        A: Serialize + DeserializeOwned + 'static,
        T: Data,
    {
        let builders = &self.inner.builders;
        let builder = builders.lookup(name)?;
        if builder.types() != (TypeId::of::<A>(), TypeId::of::<T>()) {
            let (args, records) = builder.type_names();
            return Err(DataflowError::Cluster(format!(
                "plan builder {name:?} takes {args} and makes records {records}, not {} and {}",
                std::any::type_name::<A>(),
                std::any::type_name::<T>()
            )));
        }
        let (built, bases, args, published) = if self.inner.cluster.is_some() {
            let encoded = postcard::to_allocvec(&args)
                .map_err(|e| DataflowError::Cluster(format!("cannot encode the arguments: {e}")))?;
            // One build at a time, in a scope that starts at the context's counters
            // and moves them past what the build used.
            let _one = self
                .inner
                .build_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let bases = self.inner.id_bases();
            let (built, published) = {
                let _scope = scope::enter(bases, self.inner.default_partitions);
                reads::record(|| builder.build_any(self, Box::new(args)))
            };
            self.inner.advance_ids(scope::last_used());
            (built?, bases, encoded, published)
        } else {
            // Local mode: the builder is just called; nothing is encoded.
            let bases = self.inner.id_bases();
            let (built, published) = reads::record(|| builder.build_any(self, Box::new(args)));
            (built?, bases, Vec::new(), published)
        };
        let node: NodeRef<T> = built
            .typed
            .downcast_ref::<NodeRef<T>>()
            .cloned()
            .ok_or_else(|| {
                DataflowError::Cluster("a builder returned another record type".into())
            })?;
        let origin = Origin {
            builder: name.to_owned(),
            args,
            bases,
            default_partitions: self.inner.default_partitions,
            published,
            root: node.erased.id(),
            decode_collect: decode_vec::<T>,
        };
        let mut dataset = Dataset::from_node(self.inner.clone(), node);
        dataset.origin = Some(Arc::new(origin));
        Ok(dataset)
    }
}

/// A remote `collect`: the partition's records, postcard-encoded as one `Vec<T>`.
struct EncodeCollect<T> {
    node: NodeRef<T>,
}

/// A remote `count`: the partition's record count, postcard-encoded.
struct EncodeCount<T> {
    node: NodeRef<T>,
}

impl<T: Data> StageRunner for EncodeCollect<T> {
    fn run(&self, partition: usize, env: TaskEnv) -> BoxFuture<'static, Result<TaskOutput>> {
        let mut records = CountOut::new(
            self.node.typed.compute(partition, &env),
            env.counters.clone(),
        );
        async move {
            let mut out = Vec::new();
            while let Some(chunk) = records.next().await {
                out.extend(chunk?);
            }
            let bytes = postcard::to_allocvec(&out)
                .map_err(|e| DataflowError::Cluster(format!("cannot encode records: {e}")))?;
            Ok(TaskOutput::Result(Box::new(bytes)))
        }
        .boxed()
    }
}

impl<T: Data> StageRunner for EncodeCount<T> {
    fn run(&self, partition: usize, env: TaskEnv) -> BoxFuture<'static, Result<TaskOutput>> {
        let mut records = CountOut::new(
            self.node.typed.compute(partition, &env),
            env.counters.clone(),
        );
        async move {
            let mut n = 0u64;
            while let Some(chunk) = records.next().await {
                n += chunk?.len() as u64;
            }
            let bytes = postcard::to_allocvec(&n)
                .map_err(|e| DataflowError::Cluster(format!("cannot encode a count: {e}")))?;
            Ok(TaskOutput::Result(Box::new(bytes)))
        }
        .boxed()
    }
}

/// Decodes the result part of a remote action into what the local sink would have
/// produced (`Vec<T>` for collect, `u64` for count).
pub(crate) fn decode_part(
    origin: &Origin,
    action: RemoteAction,
    bytes: &[u8],
) -> Result<Box<dyn Any + Send>> {
    match action {
        RemoteAction::Collect => (origin.decode_collect)(bytes),
        RemoteAction::Count => {
            let n: u64 = postcard::from_bytes(bytes)
                .map_err(|e| DataflowError::Cluster(format!("a count is malformed: {e}")))?;
            Ok(Box::new(n))
        }
    }
}

/// Build scopes: while a builder rebuilds a plan on this thread, dataset and shuffle
/// ids come from the scope, starting at the driver's bases, instead of the context, and
/// a partition count of 0 means the driver's default.
pub(crate) mod scope {
    use super::{NodeId, ShuffleId};
    use std::cell::Cell;

    #[derive(Clone, Copy)]
    struct Scope {
        node: u32,
        shuffle: u32,
        default_partitions: usize,
    }

    thread_local! {
        static SCOPE: Cell<Option<Scope>> = const { Cell::new(None) };
        static LAST: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
    }

    /// Ends the scope when dropped, remembering where its counters stopped.
    pub(crate) struct Guard(Option<Scope>);

    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(end) = SCOPE.with(|s| s.replace(self.0)) {
                LAST.with(|l| l.set((end.node, end.shuffle)));
            }
        }
    }

    /// Starts a scope whose first ids are `bases` (dataset, shuffle).
    pub(crate) fn enter(bases: (u32, u32), default_partitions: usize) -> Guard {
        let scope = Scope {
            node: bases.0,
            shuffle: bases.1,
            default_partitions,
        };
        Guard(SCOPE.with(|s| s.replace(Some(scope))))
    }

    /// Where the last scope on this thread stopped: the next unused ids.
    pub(crate) fn last_used() -> (u32, u32) {
        LAST.with(Cell::get)
    }

    pub(crate) fn next_node() -> Option<NodeId> {
        SCOPE.with(|s| {
            let mut scope = s.get()?;
            scope.node += 1;
            s.set(Some(scope));
            Some(NodeId(scope.node - 1))
        })
    }

    pub(crate) fn next_shuffle() -> Option<ShuffleId> {
        SCOPE.with(|s| {
            let mut scope = s.get()?;
            scope.shuffle += 1;
            s.set(Some(scope));
            Some(ShuffleId(scope.shuffle - 1))
        })
    }

    /// The default partition count of the build in progress, if any.
    pub(crate) fn default_partitions() -> Option<usize> {
        SCOPE.with(|s| s.get().map(|scope| scope.default_partitions))
    }
}

/// The published values a build reads: while a plan builder runs (on the driver or
/// an executor), each [`Context::published`] call notes the name and the version it
/// found, so that a job's statistics can say which versions its tasks used.
pub(crate) mod reads {
    use std::cell::RefCell;

    thread_local! {
        static READS: RefCell<Option<Vec<(String, u64)>>> = const { RefCell::new(None) };
    }

    /// Runs `build`, returning what it read.
    pub(crate) fn record<R>(build: impl FnOnce() -> R) -> (R, Vec<(String, u64)>) {
        let outer = READS.with(|r| r.replace(Some(Vec::new())));
        let result = build();
        let mut read = READS.with(|r| r.replace(outer)).unwrap_or_default();
        read.sort();
        read.dedup();
        (result, read)
    }

    /// Notes a read of `name` at `version`, if a build is being recorded.
    pub(crate) fn note(name: &str, version: u64) {
        READS.with(|r| {
            if let Some(reads) = r.borrow_mut().as_mut() {
                reads.push((name.to_owned(), version));
            }
        });
    }
}
