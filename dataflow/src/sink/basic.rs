//! `collect`, `count`, `reduce`, `for_each` and `for_each_async`.

use super::{Output, Sink};
use crate::error::Result;
use crate::exec::TaskEnv;
use futures::future::BoxFuture;
use futures::{future, Future, FutureExt, StreamExt, TryStreamExt};
use std::marker::PhantomData;
use std::sync::Arc;

/// Every record, in partition order.
pub(crate) struct Collect;

impl<T: Send + 'static> Sink<T> for Collect {
    type Part = Vec<T>;
    type Answer = Vec<T>;
    const ACTION: &'static str = "collect";

    fn consume(
        &self,
        _part: usize,
        records: Output<T>,
        _env: &TaskEnv,
    ) -> BoxFuture<'static, Result<Vec<T>>> {
        records
            .try_fold(Vec::new(), |mut all, chunk| {
                if all.is_empty() {
                    all = chunk.into_vec();
                } else {
                    all.extend(chunk);
                }
                future::ready(Ok(all))
            })
            .map(|r| r.map_err(|e| *e))
            .boxed()
    }

    fn combine(&self, parts: Vec<Vec<T>>) -> Result<Vec<T>> {
        let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
        for p in parts {
            all.extend(p);
        }
        Ok(all)
    }
}

/// The number of records.
pub(crate) struct Count;

impl<T: Send + 'static> Sink<T> for Count {
    type Part = u64;
    type Answer = u64;
    const ACTION: &'static str = "count";

    fn consume(
        &self,
        _part: usize,
        mut records: Output<T>,
        _env: &TaskEnv,
    ) -> BoxFuture<'static, Result<u64>> {
        async move {
            let mut n = 0u64;
            while let Some(chunk) = records.next().await {
                n += chunk?.len() as u64;
            }
            Ok(n)
        }
        .boxed()
    }

    fn combine(&self, parts: Vec<u64>) -> Result<u64> {
        Ok(parts.into_iter().sum())
    }
}

/// The records folded with a function, per partition and then across partitions.
pub(crate) struct Reduce<T, F> {
    f: Arc<F>,
    _t: PhantomData<fn(T)>,
}

impl<T, F> Reduce<T, F> {
    pub(crate) fn new(f: F) -> Self {
        Reduce {
            f: Arc::new(f),
            _t: PhantomData,
        }
    }
}

impl<T, F> Sink<T> for Reduce<T, F>
where
    T: Send + 'static,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    type Part = Option<T>;
    type Answer = Option<T>;
    const ACTION: &'static str = "reduce";

    fn consume(
        &self,
        _part: usize,
        mut records: Output<T>,
        _env: &TaskEnv,
    ) -> BoxFuture<'static, Result<Option<T>>> {
        let f = self.f.clone();
        async move {
            let mut acc: Option<T> = None;
            while let Some(chunk) = records.next().await {
                let mut chunk = chunk?.into_iter();
                let Some(first) = acc.take().or_else(|| chunk.next()) else {
                    continue;
                };
                acc = Some(chunk.fold(first, |a, t| f(a, t)));
            }
            Ok(acc)
        }
        .boxed()
    }

    fn combine(&self, parts: Vec<Option<T>>) -> Result<Option<T>> {
        Ok(parts.into_iter().flatten().reduce(|a, b| (self.f)(a, b)))
    }
}

/// A function called on every record, in the tasks.
pub(crate) struct ForEach<F>(pub(crate) Arc<F>);

impl<T, F> Sink<T> for ForEach<F>
where
    T: Send + 'static,
    F: Fn(T) + Send + Sync + 'static,
{
    type Part = ();
    type Answer = ();
    const ACTION: &'static str = "for_each";

    fn consume(
        &self,
        _part: usize,
        mut records: Output<T>,
        _env: &TaskEnv,
    ) -> BoxFuture<'static, Result<()>> {
        let f = self.0.clone();
        async move {
            while let Some(chunk) = records.next().await {
                chunk?.into_iter().for_each(|t| f(t));
            }
            Ok(())
        }
        .boxed()
    }

    fn combine(&self, _parts: Vec<()>) -> Result<()> {
        Ok(())
    }
}

/// An async function awaited on every record, in order, in the tasks.
pub(crate) struct ForEachAsync<F>(pub(crate) Arc<F>);

impl<T, F, Fut> Sink<T> for ForEachAsync<F>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Part = ();
    type Answer = ();
    const ACTION: &'static str = "for_each_async";

    fn consume(
        &self,
        _part: usize,
        mut records: Output<T>,
        _env: &TaskEnv,
    ) -> BoxFuture<'static, Result<()>> {
        let f = self.0.clone();
        async move {
            while let Some(chunk) = records.next().await {
                for t in chunk? {
                    f(t).await;
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn combine(&self, _parts: Vec<()>) -> Result<()> {
        Ok(())
    }
}
