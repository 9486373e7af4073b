//! Source streams: how records enter a pipeline, a chunk per yield point (see
//! [`yielding`](super::yielding) for why and how large).

use super::yielding::{Pace, YieldPoint};
use crate::error::{DataflowError, Result};
use crate::exec::blocking::blocking;
use crate::exec::TaskCounters;
use crate::plan::{Chunk, Item, SharedRecords, SharedRun};
use futures::future::BoxFuture;
use futures::Stream;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// What a source stream counts per record: the records it produced (added to the
/// task's records in when it is dropped), and the record at which an injected fault
/// hits.
struct Tally {
    produced: u64,
    counters: Option<Arc<TaskCounters>>,
    /// The record count at which an injected fault hits (`u64::MAX`: none, or no
    /// more): one comparison per record instead of a look at the counters.
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

    /// Counts one record on its way out; the injected fault's error if it hits this
    /// record (which is then dropped, and the error goes out in its place).
    #[inline]
    fn count(&mut self) -> Option<Box<DataflowError>> {
        self.produced += 1;
        if self.produced != self.trip_at {
            return None;
        }
        self.trip_at = u64::MAX;
        let trip = self.counters.as_ref().and_then(|c| c.trip.as_ref());
        trip.and_then(|t| t.records()).map(Box::new)
    }

    /// Whether a fault may still hit a record.
    fn armed(&self) -> bool {
        self.trip_at != u64::MAX
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        if let Some(c) = &self.counters {
            c.add_records_in(self.produced);
        }
    }
}

/// Why [`fill`] stopped.
enum Stop {
    /// The chunk is full.
    Full,
    /// The iterator has no more items.
    Exhausted,
    /// An error, which comes after the chunk and ends the stream.
    Failed(Box<DataflowError>),
}

/// Moves up to `n` records of `iter` into a new chunk, counting them, up to the
/// iterator's end or its first error.
#[inline]
fn fill<T>(
    iter: &mut impl Iterator<Item = Result<T>>,
    n: usize,
    tally: &mut Tally,
) -> (Vec<T>, Stop) {
    // Room for the whole chunk unless the iterator says it has fewer: growing a chunk
    // of large records by doubling copies them again and again.
    let mut chunk = Vec::with_capacity(n.min(iter.size_hint().1.unwrap_or(n)));
    while chunk.len() < n {
        match iter.next() {
            None => return (chunk, Stop::Exhausted),
            Some(Err(e)) => return (chunk, Stop::Failed(Box::new(e))),
            Some(Ok(record)) => {
                if let Some(e) = tally.count() {
                    return (chunk, Stop::Failed(e));
                }
                chunk.push(record);
            }
        }
    }
    (chunk, Stop::Full)
}

/// What a source stream has still to say once its records are out.
enum End {
    /// Nothing yet: more records may come.
    Open,
    /// The end.
    Done,
    /// This error, then the end.
    Failed(Box<DataflowError>),
}

/// What every source stream does around its records: a yield point and a pace per
/// chunk, the tally, and how it ends.
struct Feed {
    point: YieldPoint,
    pace: Pace,
    tally: Tally,
    end: End,
}

impl Feed {
    fn new(counters: Option<Arc<TaskCounters>>) -> Feed {
        Feed {
            point: YieldPoint::default(),
            pace: Pace::default(),
            tally: Tally::new(counters),
            end: End::Open,
        }
    }

    /// The start of a poll: the size of the chunk of `T`s to make once the yield point
    /// is passed, or `None` when the stream has no more records ([`Feed::finish`] then
    /// says what comes out).
    #[inline]
    fn begin<T>(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        if !matches!(self.end, End::Open) {
            return Poll::Ready(None);
        }
        let n = self.pace.records_of::<T>().next_size();
        ready!(self.point.poll(cx));
        Poll::Ready(Some(n))
    }

    /// Hands `chunk` on (if it has records), then `end`.
    #[inline]
    fn hand<T>(&mut self, chunk: Vec<T>, end: End) -> Option<Item<T>> {
        self.end = end;
        if chunk.is_empty() {
            return self.finish();
        }
        self.pace.handed();
        Some(Ok(Chunk::Owned(chunk)))
    }

    /// The error the stream ends with, once; then nothing.
    fn finish<T>(&mut self) -> Option<Item<T>> {
        match std::mem::replace(&mut self.end, End::Done) {
            End::Failed(e) => Some(Err(e)),
            End::Open | End::Done => None,
        }
    }
}

/// A stream over an iterator of results, a chunk per yield point: how sources and
/// shuffle reads enter records into a pipeline.
///
/// When `counters` is given, the records it produced are added to the task's records
/// in when the stream is dropped.
pub(crate) struct IterStream<I> {
    iter: I,
    feed: Feed,
}

// The iterator is never pinned (it is only used through `&mut`), so the stream is
// `Unpin` whatever the iterator is.
impl<I> Unpin for IterStream<I> {}

impl<I> IterStream<I> {
    /// A stream that does not count its records (shuffle reads).
    pub(crate) fn new(iter: I) -> IterStream<I> {
        IterStream {
            iter,
            feed: Feed::new(None),
        }
    }

    /// A stream that counts its records as the task's records in (sources).
    pub(crate) fn counted(iter: I, counters: Arc<TaskCounters>) -> IterStream<I> {
        IterStream {
            iter,
            feed: Feed::new(Some(counters)),
        }
    }
}

impl<T, I: Iterator<Item = Result<T>>> Stream for IterStream<I> {
    type Item = Item<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<T>>> {
        let this = self.get_mut();
        let Some(n) = ready!(this.feed.begin::<T>(cx)) else {
            return Poll::Ready(this.feed.finish());
        };
        let (chunk, stop) = fill(&mut this.iter, n, &mut this.feed.tally);
        let end = match stop {
            Stop::Full => End::Open,
            Stop::Exhausted => End::Done,
            Stop::Failed(e) => End::Failed(e),
        };
        Poll::Ready(this.feed.hand(chunk, end))
    }
}

/// A source stream over a shared collection of records: its chunks are runs of the
/// collection ([`Chunk::Shared`]), copied out only by the operators that need the
/// records by value.
pub(crate) struct SliceStream<T> {
    data: Arc<dyn SharedRecords<T>>,
    next: usize,
    end: usize,
    feed: Feed,
}

impl<T> Unpin for SliceStream<T> {}

impl<T> SliceStream<T> {
    /// The records `data[range]`, counted as the task's records in.
    pub(crate) fn counted(
        data: Arc<dyn SharedRecords<T>>,
        range: std::ops::Range<usize>,
        counters: Arc<TaskCounters>,
    ) -> SliceStream<T> {
        SliceStream {
            data,
            next: range.start,
            end: range.end,
            feed: Feed::new(Some(counters)),
        }
    }
}

impl<T: 'static> Stream for SliceStream<T> {
    type Item = Item<T>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<T>>> {
        let this = self.get_mut();
        let Some(n) = ready!(this.feed.begin::<T>(cx)) else {
            return Poll::Ready(this.feed.finish());
        };
        let k = n.min(this.end - this.next);
        if k == 0 {
            return Poll::Ready(this.feed.hand(Vec::new(), End::Done));
        }
        let run = this.next..this.next + k;
        if this.feed.tally.armed() {
            // A fault may hit a record of this chunk: count them one by one.
            let mut chunk = Vec::with_capacity(k);
            for i in run {
                if let Some(e) = this.feed.tally.count() {
                    // The tripping record is consumed: the error goes out instead.
                    this.next = i + 1;
                    return Poll::Ready(this.feed.hand(chunk, End::Failed(e)));
                }
                this.data.copy_out(i..i + 1, &mut chunk);
            }
            this.next += k;
            return Poll::Ready(this.feed.hand(chunk, End::Open));
        }
        this.next += k;
        this.feed.tally.produced += k as u64;
        this.feed.pace.handed();
        Poll::Ready(Some(Ok(Chunk::Shared(SharedRun::new(
            this.data.clone(),
            run,
        )))))
    }
}

/// An iterator whose `next` blocks (it reads a file), telling how far it has read.
pub(crate) trait BytesRead {
    /// Bytes of input consumed so far.
    fn bytes_read(&self) -> u64;
}

/// The most records one trip to the blocking pool reads.
const READ_RECORDS: usize = 4096;
/// The input bytes after which a trip to the blocking pool ends (it ends with a whole
/// record, so it may read a little more).
const READ_BYTES: u64 = 1 << 20;

/// What one trip to the blocking pool brings back.
struct Read<I: Iterator> {
    iter: I,
    items: Vec<I::Item>,
    /// The iterator returned `None`.
    ended: bool,
}

/// Runs `iter` on this (blocking) thread for up to [`READ_RECORDS`] records or
/// [`READ_BYTES`] of input, or up to an error, which may end the input: nothing past
/// it is read before the task asks for it.
fn read_some<T, I: Iterator<Item = Result<T>> + BytesRead>(mut iter: I) -> Read<I> {
    let start = iter.bytes_read();
    let mut items = Vec::new();
    loop {
        match iter.next() {
            None => {
                return Read {
                    iter,
                    items,
                    ended: true,
                }
            }
            Some(item) => {
                let failed = item.is_err();
                items.push(item);
                if failed
                    || items.len() >= READ_RECORDS
                    || iter.bytes_read().saturating_sub(start) >= READ_BYTES
                {
                    return Read {
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
    Reading(BoxFuture<'static, io::Result<Read<I>>>),
    /// Done.
    Ended,
}

/// A source stream, like [`IterStream`] (a chunk per yield point, records counted),
/// over an iterator that blocks: a file reader. The iterator runs on the runtime's
/// blocking pool a read at a time ([`READ_RECORDS`] records or [`READ_BYTES`] of
/// input, whichever comes first), and the task hands the records of a read on in
/// chunks while the pool reads the next one. So the slot never waits on the disk, a
/// pool thread is taken once per read rather than per record, and at most two reads
/// are in memory.
///
/// The records come out in the iterator's order, errors included, each where the
/// iterator produced it. The iterator's own work (parsing a record) happens on the
/// pool with its reading; what the task does with each record stays on the slot,
/// paced like any other source's.
pub(crate) struct BlockingIterStream<I: Iterator> {
    /// The file read, for the error of a runtime that shut down under it.
    path: Arc<Path>,
    ready: std::vec::IntoIter<I::Item>,
    fetch: Fetch<I>,
    feed: Feed,
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
            feed: Feed::new(Some(counters)),
        }
    }

    fn read(iter: I) -> Fetch<I> {
        Fetch::Reading(blocking(move || read_some(iter)))
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
        let Some(n) = ready!(this.feed.begin::<T>(cx)) else {
            return Poll::Ready(this.feed.finish());
        };
        loop {
            if this.ready.len() > 0 {
                // A chunk never waits for the next read: what this read has goes now.
                let (chunk, stop) = fill(&mut this.ready, n, &mut this.feed.tally);
                let end = match stop {
                    Stop::Failed(e) => End::Failed(e),
                    Stop::Full | Stop::Exhausted => End::Open,
                };
                return Poll::Ready(this.feed.hand(chunk, end));
            }
            match std::mem::replace(&mut this.fetch, Fetch::Ended) {
                Fetch::Idle(iter) => this.fetch = Self::read(iter),
                Fetch::Reading(mut read) => match read.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.fetch = Fetch::Reading(read);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(read)) => {
                        // Read ahead while the task works through this read, unless
                        // the input ended or an error (which may end the task) did.
                        let more = matches!(read.items.last(), Some(Ok(_)));
                        this.fetch = match (read.ended, more) {
                            (true, _) => Fetch::Ended,
                            (false, true) => Self::read(read.iter),
                            (false, false) => Fetch::Idle(read.iter),
                        };
                        this.ready = read.items.into_iter();
                    }
                    Poll::Ready(Err(source)) => {
                        let e = DataflowError::Io {
                            path: this.path.to_path_buf(),
                            source,
                        };
                        let end = End::Failed(Box::new(e));
                        return Poll::Ready(this.feed.hand(Vec::new(), end));
                    }
                },
                Fetch::Ended => return Poll::Ready(this.feed.hand(Vec::new(), End::Done)),
            }
        }
    }
}

/// Passes chunks through, counting their records as the task's records out (what a
/// result stage hands to its action).
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

impl<T: 'static, S: Stream<Item = Item<T>> + Unpin> Stream for CountOut<S> {
    type Item = Item<T>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<T>>> {
        let next = ready!(Pin::new(&mut self.inner).poll_next(cx));
        if let Some(Ok(chunk)) = &next {
            self.seen += chunk.len() as u64;
        }
        Poll::Ready(next)
    }
}

impl<S> Drop for CountOut<S> {
    fn drop(&mut self) {
        self.counters.add_records_out(self.seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::yielding::MAX_CHUNK;
    use futures::executor::block_on;
    use futures::StreamExt;

    fn chunks<S: Stream + Unpin>(stream: S) -> Vec<S::Item> {
        block_on(stream.collect())
    }

    #[test]
    fn an_iterator_comes_out_whole_in_order_in_non_empty_bounded_chunks() {
        let n = 20_000u64;
        let out = chunks(IterStream::new((0..n).map(Ok)));
        let mut all = Vec::new();
        for chunk in out {
            let chunk = chunk.expect("no error");
            assert!((1..=MAX_CHUNK).contains(&chunk.len()), "{}", chunk.len());
            all.extend(chunk);
        }
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn an_error_comes_after_the_records_before_it_and_ends_the_stream() {
        let items = (0..50u64)
            .map(Ok)
            .chain(std::iter::once(Err(DataflowError::Cluster("bad".into()))))
            .chain((0..10).map(Ok));
        let out = chunks(IterStream::new(items));
        let (last, before) = out.split_last().expect("some items");
        let records: Vec<u64> = before
            .iter()
            .flat_map(|c| match c {
                Ok(Chunk::Owned(records)) => records.clone(),
                _ => panic!("owned records before the error"),
            })
            .collect();
        assert_eq!(records, (0..50).collect::<Vec<_>>());
        assert!(
            matches!(last.as_ref().map_err(|e| &**e), Err(DataflowError::Cluster(m)) if m == "bad")
        );
    }

    #[test]
    fn an_empty_iterator_is_an_empty_stream() {
        assert!(chunks(IterStream::new(std::iter::empty::<Result<u8>>())).is_empty());
    }

    #[test]
    fn a_slice_comes_out_whole_and_counted() {
        let data: Arc<dyn SharedRecords<u32>> = Arc::new((0..5_000).collect::<Vec<u32>>());
        let counters = Arc::new(TaskCounters::default());
        let out = chunks(SliceStream::counted(data, 100..4_900, counters.clone()));
        let mut all = Vec::new();
        for chunk in out {
            let chunk = chunk.expect("records");
            assert!(matches!(chunk, Chunk::Shared(_)), "runs of the collection");
            all.extend(chunk);
        }
        assert_eq!(all, (100..4_900).collect::<Vec<_>>());
        assert_eq!(counters.snapshot().records_in, 4_800);
    }
}
