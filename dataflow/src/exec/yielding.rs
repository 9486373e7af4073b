//! Yield points: where a task of a dataflow job can be paused.
//!
//! User operators never mention pausing. Instead, every record *enters* a stage's
//! pipeline through a yield point: records read by a source (a collection, a range, a
//! generator, a file), records read back from a shuffle, every record a `flat_map`
//! emits, and every record merged while a reduce side builds its hash table. Between
//! two yield points a task does the work of one record through the stage's narrow
//! operators, so a pause requested by a `TaskHandle` or by the executor's policy takes
//! effect within one record's worth of work. Placing them at the sources rather than
//! at the end of the pipeline matters: a `filter` that rejects a long run of records
//! still passes a yield point per record.
//!
//! A yield point is [`neptune_runtime::preemption_point`]: one thread-local read and
//! one relaxed atomic load while no pause is requested.
//!
//! The cargo feature `no-yield-points` compiles them out, to measure what they cost;
//! tasks then cannot be paused before they finish their partition.

use crate::error::Result;
use crate::exec::TaskCounters;
use crate::plan::Item;
use futures::Stream;
#[cfg(not(feature = "no-yield-points"))]
use neptune_runtime::PreemptionPoint;
#[cfg(not(feature = "no-yield-points"))]
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// Awaited once per unit of work in loops that are not streams (building a reduce
/// side's hash table).
#[inline(always)]
pub(crate) async fn yield_point() {
    #[cfg(not(feature = "no-yield-points"))]
    neptune_runtime::preemption_point().await;
}

/// A yield point held across polls by hand-written streams: `poll` completes once no
/// pause is requested, or once the task was parked and resumed.
#[derive(Debug, Default)]
pub(crate) struct YieldPoint {
    #[cfg(not(feature = "no-yield-points"))]
    pending: Option<PreemptionPoint>,
}

impl YieldPoint {
    #[inline(always)]
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        #[cfg(not(feature = "no-yield-points"))]
        {
            let point = self
                .pending
                .get_or_insert_with(neptune_runtime::preemption_point);
            ready!(Pin::new(point).poll(cx));
            self.pending = None;
        }
        #[cfg(feature = "no-yield-points")]
        let _ = cx;
        Poll::Ready(())
    }
}

/// A stream over an iterator of results with a yield point before every item: how
/// sources and shuffle reads enter records into a pipeline.
///
/// When `counters` is given, the items it produced are added to the task's records
/// in when the stream is dropped.
pub(crate) struct IterStream<I> {
    iter: I,
    point: YieldPoint,
    produced: u64,
    counters: Option<Arc<TaskCounters>>,
    /// The record count at which an injected fault hits (`u64::MAX`: none): one
    /// comparison per record instead of a look at the counters.
    trip_at: u64,
}

// The iterator is never pinned (it is only used through `&mut`), so the stream is
// `Unpin` whatever the iterator is.
impl<I> Unpin for IterStream<I> {}

impl<I> IterStream<I> {
    /// A stream that does not count its records (shuffle reads).
    pub(crate) fn new(iter: I) -> IterStream<I> {
        IterStream {
            iter,
            point: YieldPoint::default(),
            produced: 0,
            counters: None,
            trip_at: u64::MAX,
        }
    }

    /// A stream that counts its records as the task's records in (sources).
    pub(crate) fn counted(iter: I, counters: Arc<TaskCounters>) -> IterStream<I> {
        IterStream {
            iter,
            point: YieldPoint::default(),
            produced: 0,
            trip_at: counters
                .trip
                .as_ref()
                .map_or(u64::MAX, |t| t.after_records()),
            counters: Some(counters),
        }
    }
}

impl<T, I: Iterator<Item = Result<T>>> Stream for IterStream<I> {
    type Item = Item<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<T>>> {
        let this = self.get_mut();
        ready!(this.point.poll(cx));
        Poll::Ready(match this.iter.next() {
            Some(Ok(record)) => {
                this.produced += 1;
                if this.produced == this.trip_at {
                    let trip = this.counters.as_ref().and_then(|c| c.trip.as_ref());
                    if let Some(e) = trip.and_then(|t| t.records()) {
                        return Poll::Ready(Some(Err(Box::new(e))));
                    }
                }
                Some(Ok(record))
            }
            Some(Err(e)) => Some(Err(Box::new(e))),
            None => None,
        })
    }
}

impl<I> Drop for IterStream<I> {
    fn drop(&mut self) {
        if let Some(c) = &self.counters {
            c.add_records_in(self.produced);
        }
    }
}

/// Passes records through, counting them as the task's records out (what a result
/// stage hands to its action).
pub(crate) struct CountOut<S> {
    inner: S,
    seen: u64,
    counters: Arc<TaskCounters>,
}

impl<S> CountOut<S> {
    pub(crate) fn new(inner: S, counters: Arc<TaskCounters>) -> CountOut<S> {
        CountOut {
            inner,
            seen: 0,
            counters,
        }
    }
}

impl<T, S: Stream<Item = Item<T>> + Unpin> Stream for CountOut<S> {
    type Item = Item<T>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<T>>> {
        let next = ready!(Pin::new(&mut self.inner).poll_next(cx));
        if matches!(next, Some(Ok(_))) {
            self.seen += 1;
        }
        Poll::Ready(next)
    }
}

impl<S> Drop for CountOut<S> {
    fn drop(&mut self) {
        self.counters.add_records_out(self.seen);
    }
}
