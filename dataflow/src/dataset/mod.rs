//! `Dataset<T>`: a partitioned, lazily evaluated collection of records.

mod actions;
mod keyed;
mod narrow;

pub use actions::Job;

use crate::cluster::builders::Origin;
use crate::context::{Context, ContextInner};
use crate::plan::{Node, NodeRef};
use neptune_runtime::Class;
use std::fmt;
use std::sync::Arc;

/// A partitioned collection of records of type `T`, described by how to compute it:
/// nothing runs until an action (`collect`, `count`, `reduce`, `for_each`, `save_*`)
/// starts a job.
///
/// Operators take plain closures (`map_async` and `for_each_async` take closures
/// returning futures) and give a new dataset; the original stays usable. Records are
/// plain Rust values: `T: Send + 'static`; records that cross a shuffle
/// (`reduce_by_key`, `group_by_key`, `join`, `repartition`) are also `Clone` (a
/// shuffle's output read twice in one job is copied for all reads but the last, and
/// the cluster layer will need them serializable anyway), with keys `Hash + Eq`.
///
/// A dataset's jobs run in its [`Class`]: Batch unless marked with
/// [`with_class`](Self::with_class), and derived datasets keep their parent's class.
///
/// ```
/// use neptune_dataflow::Context;
/// let ctx = Context::builder().executors(1).slots_per_executor(2).build().unwrap();
/// let lines = ctx.parallelize(vec!["to be or", "not to be"], 2);
/// let mut counts = lines
///     .flat_map(|line| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
///     .map(|word| (word, 1u64))
///     .reduce_by_key(|a, b| a + b)
///     .collect()
///     .unwrap()
///     .into_value();
/// counts.sort();
/// assert_eq!(counts, [("be".into(), 2), ("not".into(), 1), ("or".into(), 1), ("to".into(), 2)]);
/// ```
pub struct Dataset<T> {
    pub(crate) ctx: Arc<ContextInner>,
    pub(crate) node: NodeRef<T>,
    pub(crate) class: Class,
    /// Set on a dataset made by a plan builder: how executors rebuild it.
    pub(crate) origin: Option<Arc<Origin>>,
}

impl<T> Clone for Dataset<T> {
    fn clone(&self) -> Self {
        Dataset {
            ctx: self.ctx.clone(),
            node: self.node.clone(),
            class: self.class,
            origin: self.origin.clone(),
        }
    }
}

impl<T> fmt::Debug for Dataset<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.node.erased.label())
            .field("partitions", &self.node.erased.partitions())
            .field("class", &self.class)
            .finish()
    }
}

impl<T: Send + 'static> Dataset<T> {
    pub(crate) fn from_node(ctx: Arc<ContextInner>, node: NodeRef<T>) -> Dataset<T> {
        Dataset {
            ctx,
            node,
            class: Class::Batch,
            origin: None,
        }
    }

    /// A dataset computed by `node`, in this dataset's class.
    pub(crate) fn derive<U: 'static, N: Node<U>>(&self, node: N) -> Dataset<U> {
        Dataset {
            ctx: self.ctx.clone(),
            node: NodeRef::new(node),
            class: self.class,
            origin: None,
        }
    }

    /// Number of partitions (tasks per stage computing this dataset).
    pub fn partitions(&self) -> usize {
        self.node.erased.partitions()
    }

    /// The dataset's name in the plan, `op#id` (ids count datasets in creation order).
    ///
    /// ```
    /// # let ctx = neptune_dataflow::Context::builder().slots_per_executor(1).build().unwrap();
    /// let ds = ctx.range(0..10, 2).map(|x| x + 1);
    /// assert_eq!(ds.name(), "map#1");
    /// ```
    pub fn name(&self) -> String {
        self.node.erased.label()
    }

    /// The class its jobs run in.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The same dataset, whose jobs (and those of datasets derived from it) run their
    /// tasks in `class`: the one line that makes a job a stream job.
    ///
    /// ```
    /// use neptune_dataflow::{Class, Context};
    /// # let ctx = Context::builder().slots_per_executor(1).build().unwrap();
    /// let alerts = ctx.range(0..100, 2).with_class(Class::Stream).filter(|x| x % 10 == 0);
    /// let job = alerts.job().count();
    /// assert_eq!(job.class(), Class::Stream);
    /// assert_eq!(*job.wait().unwrap(), 10);
    /// ```
    pub fn with_class(&self, class: Class) -> Dataset<T> {
        Dataset {
            class,
            ..self.clone()
        }
    }

    /// The context the dataset belongs to.
    pub fn context(&self) -> Context {
        Context {
            inner: self.ctx.clone(),
        }
    }
}
