//! `NarrowNode`: a one-parent node that transforms its parent's records, and the
//! transforms that need nothing more than a closure per record.

use crate::exec::TaskEnv;
use crate::plan::{AnyNode, Dep, Node, NodeId, NodeRef, Records, ShuffleId};
use futures::future;
use futures::{Future, StreamExt};
use std::marker::PhantomData;
use std::sync::Arc;

/// Turns a partition's stream of `T` into one of `U`.
pub(crate) trait Transform<T, U>: Send + Sync + 'static {
    const OP: &'static str;
    fn apply(self: Arc<Self>, input: Records<T>) -> Records<U>;
}

/// A node whose partition `p` is its parent's partition `p`, transformed.
pub(crate) struct NarrowNode<T, U, X> {
    id: NodeId,
    parent: NodeRef<T>,
    transform: Arc<X>,
    _out: PhantomData<fn() -> U>,
}

impl<T, U, X> NarrowNode<T, U, X> {
    pub(crate) fn new(id: NodeId, parent: NodeRef<T>, transform: X) -> Self {
        NarrowNode {
            id,
            parent,
            transform: Arc::new(transform),
            _out: PhantomData,
        }
    }
}

impl<T: 'static, U: 'static, X: Transform<T, U>> AnyNode for NarrowNode<T, U, X> {
    fn id(&self) -> NodeId {
        self.id
    }

    fn op(&self) -> &'static str {
        X::OP
    }

    fn partitions(&self) -> usize {
        self.parent.erased.partitions()
    }

    fn deps(&self) -> Vec<Dep> {
        vec![Dep::Narrow(self.parent.erased.clone())]
    }

    fn shuffle_reads(&self, part: usize, out: &mut Vec<(ShuffleId, usize)>) {
        self.parent.erased.shuffle_reads(part, out);
    }
}

impl<T: 'static, U: 'static, X: Transform<T, U>> Node<U> for NarrowNode<T, U, X> {
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<U> {
        self.transform
            .clone()
            .apply(self.parent.typed.compute(part, env))
    }
}

/// `map`: one output per record.
pub(crate) struct Map<F>(pub(crate) F);

impl<T, U, F> Transform<T, U> for Map<F>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> U + Send + Sync + 'static,
{
    const OP: &'static str = "map";

    fn apply(self: Arc<Self>, input: Records<T>) -> Records<U> {
        input
            .map(move |r| r.map(|chunk| chunk.into_iter().map(&self.0).collect::<Vec<_>>().into()))
            .boxed()
    }
}

/// `filter`: the records the predicate accepts.
pub(crate) struct Filter<F>(pub(crate) F);

impl<T, F> Transform<T, T> for Filter<F>
where
    T: Send + 'static,
    F: Fn(&T) -> bool + Send + Sync + 'static,
{
    const OP: &'static str = "filter";

    fn apply(self: Arc<Self>, input: Records<T>) -> Records<T> {
        // A chunk the predicate empties is dropped here: chunks are never empty.
        input
            .filter_map(move |r| {
                future::ready(match r {
                    Ok(chunk) => {
                        let kept = chunk.retain(|t| (self.0)(t));
                        (!kept.is_empty()).then_some(Ok(kept.into()))
                    }
                    Err(e) => Some(Err(e)),
                })
            })
            .boxed()
    }
}

/// `key_by`: each record paired with its key.
pub(crate) struct KeyBy<F>(pub(crate) F);

impl<T, K, F> Transform<T, (K, T)> for KeyBy<F>
where
    T: Send + 'static,
    K: Send + 'static,
    F: Fn(&T) -> K + Send + Sync + 'static,
{
    const OP: &'static str = "key_by";

    fn apply(self: Arc<Self>, input: Records<T>) -> Records<(K, T)> {
        input
            .map(move |r| {
                r.map(|chunk| {
                    let keyed: Vec<_> = chunk.into_iter().map(|t| ((self.0)(&t), t)).collect();
                    keyed.into()
                })
            })
            .boxed()
    }
}

/// `map_async`: one output per record, from a future; records stay in order, and the
/// futures of a chunk are awaited one after the other.
pub(crate) struct MapAsync<F>(pub(crate) F);

impl<T, U, F, Fut> Transform<T, U> for MapAsync<F>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = U> + Send + 'static,
{
    const OP: &'static str = "map_async";

    fn apply(self: Arc<Self>, input: Records<T>) -> Records<U> {
        input
            .then(move |r| {
                let f = self.clone();
                async move {
                    let chunk = r?;
                    let mut out = Vec::with_capacity(chunk.len());
                    for t in chunk {
                        out.push((f.0)(t).await);
                    }
                    Ok(out.into())
                }
            })
            .boxed()
    }
}
