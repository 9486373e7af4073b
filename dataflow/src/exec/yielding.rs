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

use crate::error::{DataflowError, Result};
use crate::exec::blocking::blocking;
use crate::exec::TaskCounters;
use crate::plan::Item;
use futures::future::BoxFuture;
use futures::Stream;
#[cfg(not(feature = "no-yield-points"))]
use neptune_runtime::PreemptionPoint;
#[cfg(not(feature = "no-yield-points"))]
use std::future::Future;
use std::io;
use std::path::Path;
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

/// What a source stream counts per record: the records it produced (added to the
/// task's records in when it is dropped), and the record at which an injected fault
/// hits.
struct Tally {
    produced: u64,
    counters: Option<Arc<TaskCounters>>,
    /// The record count at which an injected fault hits (`u64::MAX`: none): one
    /// comparison per record instead of a look at the counters.
    trip_at: u64,
}

impl Tally {
    fn new(counters: Option<Arc<TaskCounters>>) -> Tally {
        Tally {
            produced: 0,
            trip_at: counters
                .as_ref()
                .and_then(|c| c.trip.as_ref())
                .map_or(u64::MAX, |t| t.after_records()),
            counters,
        }
    }

    /// Counts `next` on its way out of the stream.
    #[inline]
    fn item<T>(&mut self, next: Option<Result<T>>) -> Option<Item<T>> {
        match next {
            Some(Ok(record)) => {
                self.produced += 1;
                if self.produced == self.trip_at {
                    let trip = self.counters.as_ref().and_then(|c| c.trip.as_ref());
                    if let Some(e) = trip.and_then(|t| t.records()) {
                        return Some(Err(Box::new(e)));
                    }
                }
                Some(Ok(record))
            }
            Some(Err(e)) => Some(Err(Box::new(e))),
            None => None,
        }
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        if let Some(c) = &self.counters {
            c.add_records_in(self.produced);
        }
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
    tally: Tally,
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
            tally: Tally::new(None),
        }
    }

    /// A stream that counts its records as the task's records in (sources).
    pub(crate) fn counted(iter: I, counters: Arc<TaskCounters>) -> IterStream<I> {
        IterStream {
            iter,
            point: YieldPoint::default(),
            tally: Tally::new(Some(counters)),
        }
    }
}

impl<T, I: Iterator<Item = Result<T>>> Stream for IterStream<I> {
    type Item = Item<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<T>>> {
        let this = self.get_mut();
        ready!(this.point.poll(cx));
        Poll::Ready(this.tally.item(this.iter.next()))
    }
}

/// An iterator whose `next` blocks (it reads a file), telling how far it has read.
pub(crate) trait BytesRead {
    /// Bytes of input consumed so far.
    fn bytes_read(&self) -> u64;
}

/// The most records one trip to the blocking pool reads.
const CHUNK_RECORDS: usize = 4096;
/// The input bytes after which a trip to the blocking pool ends (it ends with a whole
/// record, so it may read a little more).
const CHUNK_BYTES: u64 = 1 << 20;

/// What one trip to the blocking pool brings back.
struct Chunk<I: Iterator> {
    iter: I,
    items: Vec<I::Item>,
    /// The iterator returned `None`.
    ended: bool,
}

/// Runs `iter` on this (blocking) thread for up to [`CHUNK_RECORDS`] records or
/// [`CHUNK_BYTES`] of input, or up to an error, which may end the input: nothing past
/// it is read before the task asks for it.
fn read_chunk<T, I: Iterator<Item = Result<T>> + BytesRead>(mut iter: I) -> Chunk<I> {
    let start = iter.bytes_read();
    let mut items = Vec::new();
    loop {
        match iter.next() {
            None => {
                return Chunk {
                    iter,
                    items,
                    ended: true,
                }
            }
            Some(item) => {
                let failed = item.is_err();
                items.push(item);
                if failed
                    || items.len() >= CHUNK_RECORDS
                    || iter.bytes_read().saturating_sub(start) >= CHUNK_BYTES
                {
                    return Chunk {
                        iter,
                        items,
                        ended: false,
                    };
                }
            }
        }
    }
}

/// Where a [`BlockingIterStream`]'s iterator is.
enum Fetch<I: Iterator> {
    /// Here, waiting for the task to want more.
    Idle(I),
    /// On the blocking pool, reading the next chunk.
    Reading(BoxFuture<'static, io::Result<Chunk<I>>>),
    /// Done.
    Ended,
}

/// A source stream, like [`IterStream`] (a yield point before every record, records
/// counted), over an iterator that blocks: a file reader. The iterator runs on the
/// runtime's blocking pool a chunk of records at a time ([`CHUNK_RECORDS`] or
/// [`CHUNK_BYTES`] of input, whichever comes first), and the task hands the records of
/// a chunk on, one per yield point, while the pool reads the next chunk. So the slot
/// never waits on the disk, a pool thread is taken once per chunk rather than per
/// record, and at most two chunks are in memory.
///
/// The records come out in the iterator's order, errors included, each where the
/// iterator produced it. The iterator's own work (parsing a record) happens on the
/// pool with its reading; what the task does with each record stays on the slot, where
/// a pause stops it within one record.
pub(crate) struct BlockingIterStream<I: Iterator> {
    /// The file read, for the error of a runtime that shut down under it.
    path: Arc<Path>,
    ready: std::vec::IntoIter<I::Item>,
    fetch: Fetch<I>,
    point: YieldPoint,
    tally: Tally,
}

// The iterator is never pinned (it moves to the blocking pool and back by value).
impl<I: Iterator> Unpin for BlockingIterStream<I> {}

impl<T, I> BlockingIterStream<I>
where
    T: Send + 'static,
    I: Iterator<Item = Result<T>> + BytesRead + Send + 'static,
{
    /// A stream over `iter`, which reads `path`, counting its records as the task's
    /// records in. Nothing is read until the stream is first polled.
    pub(crate) fn counted(
        iter: I,
        path: Arc<Path>,
        counters: Arc<TaskCounters>,
    ) -> BlockingIterStream<I> {
        BlockingIterStream {
            path,
            ready: Vec::new().into_iter(),
            fetch: Fetch::Idle(iter),
            point: YieldPoint::default(),
            tally: Tally::new(Some(counters)),
        }
    }

    fn read(iter: I) -> Fetch<I> {
        Fetch::Reading(blocking(move || read_chunk(iter)))
    }
}

impl<T, I> Stream for BlockingIterStream<I>
where
    T: Send + 'static,
    I: Iterator<Item = Result<T>> + BytesRead + Send + 'static,
{
    type Item = Item<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<T>>> {
        let this = self.get_mut();
        ready!(this.point.poll(cx));
        loop {
            if let Some(item) = this.ready.next() {
                return Poll::Ready(this.tally.item(Some(item)));
            }
            match std::mem::replace(&mut this.fetch, Fetch::Ended) {
                Fetch::Idle(iter) => this.fetch = Self::read(iter),
                Fetch::Reading(mut chunk) => match chunk.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.fetch = Fetch::Reading(chunk);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(chunk)) => {
                        // Read ahead while the task works through this chunk, unless
                        // the input ended or an error (which may end the task) did.
                        let more = matches!(chunk.items.last(), Some(Ok(_)));
                        this.fetch = match (chunk.ended, more) {
                            (true, _) => Fetch::Ended,
                            (false, true) => Self::read(chunk.iter),
                            (false, false) => Fetch::Idle(chunk.iter),
                        };
                        this.ready = chunk.items.into_iter();
                    }
                    Poll::Ready(Err(source)) => {
                        let e = DataflowError::Io {
                            path: this.path.to_path_buf(),
                            source,
                        };
                        return Poll::Ready(this.tally.item(Some(Err(e))));
                    }
                },
                Fetch::Ended => return Poll::Ready(this.tally.item(None)),
            }
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
