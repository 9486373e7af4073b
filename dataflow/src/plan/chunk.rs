//! Chunks: the unit in which records move through a pipeline.

use std::ops::Range;
use std::sync::Arc;

/// A chunk of records (never empty): owned by the pipeline, or a run of records still
/// in a collection others share (a parallelized vector), which are copied out only
/// when an operator needs them by value. So a `filter` over a shared collection reads
/// every record where it is and copies out the ones it keeps, instead of copying all
/// of them and then dropping most, and a `count` copies nothing.
pub(crate) enum Chunk<T> {
    /// Records the pipeline owns.
    Owned(Vec<T>),
    /// Records still in a shared collection.
    Shared(SharedRun<T>),
}

/// A run of records in a shared collection.
pub(crate) struct SharedRun<T> {
    records: Arc<dyn SharedRecords<T>>,
    range: Range<usize>,
}

/// A collection whose records chunks may refer to. The `Clone` the copying needs is
/// here, where the collection is made, so that operators need no `T: Clone`.
pub(crate) trait SharedRecords<T>: Send + Sync + 'static {
    /// Every record.
    fn records(&self) -> &[T];

    /// Appends copies of `self.records()[range]` to `out`.
    fn copy_out(&self, range: Range<usize>, out: &mut Vec<T>);
}

impl<T: Clone + Send + Sync + 'static> SharedRecords<T> for Vec<T> {
    fn records(&self) -> &[T] {
        self
    }

    #[inline]
    fn copy_out(&self, range: Range<usize>, out: &mut Vec<T>) {
        out.extend_from_slice(&self[range]);
    }
}

impl<T: 'static> SharedRun<T> {
    /// The records `range` of `records` (a non-empty range within them).
    pub(crate) fn new(records: Arc<dyn SharedRecords<T>>, range: Range<usize>) -> SharedRun<T> {
        debug_assert!(range.start < range.end && range.end <= records.records().len());
        SharedRun { records, range }
    }

    fn slice(&self) -> &[T] {
        &self.records.records()[self.range.clone()]
    }
}

impl<T: 'static> Chunk<T> {
    /// The number of records.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Chunk::Owned(v) => v.len(),
            Chunk::Shared(run) => run.range.len(),
        }
    }

    /// The records, owned (a shared run is copied out).
    #[inline]
    pub(crate) fn into_vec(self) -> Vec<T> {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Shared(run) => {
                let mut out = Vec::with_capacity(run.range.len());
                run.records.copy_out(run.range, &mut out);
                out
            }
        }
    }

    /// The records `keep` accepts, in order. Of a shared run, only those are copied
    /// out, a stretch of consecutive kept records at a time.
    #[inline]
    pub(crate) fn retain(self, mut keep: impl FnMut(&T) -> bool) -> Vec<T> {
        match self {
            Chunk::Owned(mut v) => {
                v.retain(keep);
                v
            }
            Chunk::Shared(run) => {
                let base = run.range.start;
                let slice = run.slice();
                // Room for every record: growing by doubling would copy the kept ones
                // again and again, and untouched capacity costs nothing.
                let mut out = Vec::with_capacity(slice.len());
                // Alternately skip a stretch of rejected records and copy out a stretch
                // of kept ones: one test per record besides the predicate's.
                let mut i = 0;
                loop {
                    while i < slice.len() && !keep(&slice[i]) {
                        i += 1;
                    }
                    if i == slice.len() {
                        break;
                    }
                    let from = i;
                    i += 1;
                    while i < slice.len() && keep(&slice[i]) {
                        i += 1;
                    }
                    run.records.copy_out(base + from..base + i, &mut out);
                }
                out
            }
        }
    }
}

impl<T: 'static> IntoIterator for Chunk<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    /// The records by value (a shared run is copied out first).
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<T> From<Vec<T>> for Chunk<T> {
    fn from(v: Vec<T>) -> Chunk<T> {
        Chunk::Owned(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(n: u32, range: Range<usize>) -> Chunk<u32> {
        let records: Arc<dyn SharedRecords<u32>> = Arc::new((0..n).collect::<Vec<_>>());
        Chunk::Shared(SharedRun::new(records, range))
    }

    #[test]
    fn a_shared_run_is_its_range_of_the_collection() {
        let chunk = shared(100, 10..20);
        assert_eq!(chunk.len(), 10);
        assert_eq!(chunk.into_vec(), (10..20).collect::<Vec<_>>());
    }

    #[test]
    fn retain_keeps_the_same_records_shared_or_owned() {
        for keep in [
            (|x: &u32| x.is_multiple_of(3)) as fn(&u32) -> bool,
            |x| *x < 15,
            |x| *x >= 15,
            |_| true,
            |_| false,
            |x| x % 7 != 0,
        ] {
            let expected: Vec<u32> = (10..40).filter(keep).collect();
            assert_eq!(shared(50, 10..40).retain(keep), expected);
            assert_eq!(
                Chunk::from((10..40).collect::<Vec<_>>()).retain(keep),
                expected
            );
        }
    }

    /// Stretches kept or rejected at either end of the run, single records between
    /// them, and runs of one record.
    #[test]
    fn retain_copies_every_stretch_of_a_shared_run() {
        for keep in [
            (|x: &u32| (60..75).contains(x)) as fn(&u32) -> bool,
            |x| *x < 8 || *x > 280,
            |x| *x == 70 || *x == 71 || *x == 134,
            |x| x % 64 == 6,
            |x| x % 64 != 6,
            |x| x.count_ones() % 2 == 0,
        ] {
            for range in [7..300, 0..64, 6..70, 0..1, 299..300] {
                let expected: Vec<u32> = range.clone().map(|x| x as u32).filter(keep).collect();
                assert_eq!(
                    shared(300, range.clone()).retain(keep),
                    expected,
                    "{range:?}"
                );
            }
        }
    }
}
