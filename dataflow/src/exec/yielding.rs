//! Yield points: where a task of a dataflow job can be paused, and how often a task
//! passes one.
//!
//! User operators never mention pausing. Records move through a stage's pipeline in
//! *chunks* (vectors of records, never empty), and every chunk *enters* the pipeline
//! through a yield point: chunks read by a source (a collection, a range, a generator,
//! a file), chunks read back from a shuffle, every chunk a `flat_map` or a join emits.
//! Loops that are not streams (building a reduce side's hash table) pass one every
//! [`LOOP_STRIDE`] records. Between two yield points a task does the work of one chunk
//! through the stage's narrow operators, each of which runs a tight loop over the chunk
//! with no per-record dynamic call, allocation or wake-up check.
//!
//! How long is one chunk's work? The operators are closures whose cost is unknown, so
//! the size of a chunk is found, not fixed: a [`Pace`] times each chunk's trip through
//! the rest of the pipeline (from the moment it is handed on to the moment the next one
//! is asked for) and doubles the next chunk while that took less than [`GROW_BELOW`],
//! halves it above [`SHRINK_ABOVE`], between 1 and [`MAX_CHUNK`] records. So a pause
//! requested by a `TaskHandle` or by the executor's policy takes effect within about
//! [`SHRINK_ABOVE`] of work (one record, when a single record takes longer), while
//! cheap operators see chunks of up to [`MAX_CHUNK`] records and pay the per-chunk costs
//! (two clock reads, a yield point, a virtual call per operator) once per thousand.
//! Placing yield points at the sources rather than at the end of the pipeline matters:
//! a `filter` that rejects a long run of records still passes one per chunk.
//!
//! A yield point is [`neptune_runtime::preemption_point`]: one thread-local read and
//! one relaxed atomic load while no pause is requested.
//!
//! The cargo feature `no-yield-points` compiles them out, to measure what they cost;
//! tasks then cannot be paused before they finish their partition.

#[cfg(not(feature = "no-yield-points"))]
use neptune_runtime::PreemptionPoint;
use std::cell::Cell;
#[cfg(not(feature = "no-yield-points"))]
use std::future::Future;
#[cfg(not(feature = "no-yield-points"))]
use std::pin::Pin;
#[cfg(not(feature = "no-yield-points"))]
use std::task::ready;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The most records in one chunk.
pub(crate) const MAX_CHUNK: usize = 1024;
/// The most bytes of records in one chunk: a chunk is written by one operator and read
/// by the next, and while it fits in the core's first-level cache that costs little.
/// Chunks of large records are shorter than [`MAX_CHUNK`] for it (the training pass of
/// the unified application moves 152-byte records: 1,024 of them made its batch job a
/// quarter slower than moving them one at a time).
const CHUNK_BYTES: usize = 32 << 10;
/// The first chunk of a stream: small, so that an expensive operator is found out
/// before it holds a slot for long.
const FIRST_CHUNK: usize = 16;
/// A chunk whose trip took less than this makes the next one twice as large.
pub(crate) const GROW_BELOW: Duration = Duration::from_micros(5);
/// A chunk whose trip took more than this makes the next one half as large.
pub(crate) const SHRINK_ABOVE: Duration = Duration::from_micros(20);
/// Records between two yield points in loops that are not streams.
pub(crate) const LOOP_STRIDE: u32 = 64;

/// Awaited once per unit of work in loops that are not streams.
#[inline(always)]
pub(crate) async fn yield_point() {
    #[cfg(not(feature = "no-yield-points"))]
    neptune_runtime::preemption_point().await;
}

/// A yield point every [`LOOP_STRIDE`] calls of [`Stride::tick`], for loops that do a
/// small piece of work per record.
#[derive(Debug, Default)]
pub(crate) struct Stride(u32);

impl Stride {
    /// Counts one record, passing a yield point every [`LOOP_STRIDE`] of them.
    #[inline(always)]
    pub(crate) async fn tick(&mut self) {
        self.0 += 1;
        if self.0 == LOOP_STRIDE {
            self.0 = 0;
            yield_point().await;
        }
    }
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
            PASSED.with(|n| n.set(n.get().wrapping_add(1)));
        }
        #[cfg(feature = "no-yield-points")]
        let _ = cx;
        Poll::Ready(())
    }
}

thread_local! {
    /// Yield points of chunk streams passed on this thread, so far: a pace tells from
    /// it whether a chunk's trip passed yield points further down the pipeline.
    static PASSED: Cell<u64> = const { Cell::new(0) };
}

/// Sizes the chunks a stream hands on from how long the last one took to go through
/// the rest of the pipeline (see the module's documentation).
///
/// A trip that passed a yield point further down (a `flat_map` or a join cutting the
/// chunk's outputs into chunks of their own) says nothing about the work between two
/// yield points, which is what the size bounds: the stream further down bounds that.
/// Such a trip grows the chunk instead, so that a stream feeding one of those is not
/// shrunk to single records by work it does not pace.
#[derive(Debug)]
pub(crate) struct Pace {
    size: usize,
    /// The largest size, from the records' size.
    max: usize,
    /// When the last chunk was handed on, and [`PASSED`] then; `None` once its trip was
    /// measured.
    handed_at: Option<(Instant, u64)>,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            size: FIRST_CHUNK,
            max: MAX_CHUNK,
            handed_at: None,
        }
    }
}

impl Pace {
    /// Bounds the chunks by the size of their records, `T` (a constant per stream, so
    /// it is cheap to say at every poll).
    #[inline]
    pub(crate) fn records_of<T>(&mut self) -> &mut Pace {
        self.max = (CHUNK_BYTES / std::mem::size_of::<T>().max(1)).clamp(1, MAX_CHUNK);
        self.size = self.size.min(self.max);
        self
    }

    /// The size of the next chunk, called when the pipeline asks for it. Only the first
    /// call after a chunk was handed on measures (a stream asked again after a pause or
    /// a wait for input does not count the wait as the pipeline's work).
    #[inline]
    pub(crate) fn next_size(&mut self) -> usize {
        if let Some((at, passed)) = self.handed_at.take() {
            if PASSED.with(Cell::get) == passed {
                self.adjust(at.elapsed());
            } else {
                self.adjust(Duration::ZERO);
            }
        }
        self.size
    }

    /// The last chunk's trip took `took`.
    #[inline]
    fn adjust(&mut self, took: Duration) {
        if took < GROW_BELOW {
            self.size = (self.size * 2).min(self.max);
        } else if took > SHRINK_ABOVE {
            self.size = (self.size / 2).max(1);
        }
    }

    /// A chunk was handed on now.
    #[inline]
    pub(crate) fn handed(&mut self) {
        self.handed_at = Some((Instant::now(), PASSED.with(Cell::get)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_grows_to_the_largest_chunk_while_trips_are_quick() {
        let mut pace = Pace::default();
        assert_eq!(pace.next_size(), FIRST_CHUNK, "no trip measured yet");
        let mut sizes = Vec::new();
        for _ in 0..12 {
            pace.adjust(Duration::from_micros(1));
            sizes.push(pace.size);
        }
        assert!(sizes.windows(2).all(|w| w[1] >= w[0]), "{sizes:?}");
        assert_eq!(*sizes.last().unwrap(), MAX_CHUNK);
    }

    #[test]
    fn large_records_make_short_chunks() {
        let mut pace = Pace::default();
        pace.records_of::<[u8; 4096]>();
        for _ in 0..12 {
            pace.adjust(Duration::from_micros(1));
        }
        assert_eq!(pace.size, CHUNK_BYTES / 4096);
        let mut pace = Pace::default();
        pace.records_of::<u64>();
        for _ in 0..12 {
            pace.adjust(Duration::from_micros(1));
        }
        assert_eq!(pace.size, MAX_CHUNK, "small records: the count bounds them");
        pace.records_of::<[u8; 1 << 20]>();
        assert_eq!(
            pace.size, 1,
            "a record larger than the bound still makes a chunk"
        );
    }

    #[test]
    fn the_pace_shrinks_to_one_record_when_records_are_slow_and_holds_in_the_band() {
        let mut pace = Pace::default();
        for _ in 0..12 {
            pace.adjust(Duration::from_millis(1));
        }
        assert_eq!(
            pace.size, 1,
            "a single record over the bound still makes a chunk"
        );
        pace.adjust(Duration::from_micros(1));
        pace.adjust(Duration::from_micros(1));
        assert_eq!(pace.size, 4);
        // Between the two thresholds the size stays: no flapping around the target.
        for _ in 0..10 {
            pace.adjust((GROW_BELOW + SHRINK_ABOVE) / 2);
        }
        assert_eq!(pace.size, 4);
    }

    #[test]
    #[cfg(not(feature = "no-yield-points"))]
    fn a_trip_past_a_yield_point_further_down_grows_the_chunk() {
        let mut pace = Pace::default();
        pace.handed();
        std::thread::sleep(Duration::from_millis(1));
        let mut point = YieldPoint::default();
        let waker = futures::task::noop_waker();
        assert!(point.poll(&mut Context::from_waker(&waker)).is_ready());
        assert_eq!(
            pace.next_size(),
            FIRST_CHUNK * 2,
            "a slow trip, but not this pace's"
        );
    }

    #[test]
    fn only_the_first_ask_after_a_hand_over_measures() {
        let mut pace = Pace::default();
        pace.handed();
        std::thread::sleep(Duration::from_millis(1));
        let shrunk = pace.next_size();
        assert_eq!(shrunk, FIRST_CHUNK / 2, "a trip of 1 ms halves the chunk");
        // Asked again without a chunk handed on in between (the task was parked, or
        // waited for input): the wait is not the pipeline's work.
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(pace.next_size(), shrunk);
    }
}
