//! Sources: where a job's records come from — collections, ranges, generators and
//! files (CSV, JSON lines). Every record a source produces enters the pipeline through
//! a yield point and counts as one of the job's records in.

mod collection;
mod csv;
mod file;
mod json;

pub(crate) use collection::{GenerateNode, ParallelizeNode, RangeNode};
pub use file::FileReader;

/// Splits `len` items into `parts` contiguous, nearly equal ranges: range `p`.
pub(crate) fn split(len: u64, parts: usize, p: usize) -> std::ops::Range<u64> {
    let (len, parts, p) = (len as u128, parts as u128, p as u128);
    let start = len * p / parts;
    let end = len * (p + 1) / parts;
    start as u64..end as u64
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_covers_everything_once() {
        for len in [0u64, 1, 7, 100, u64::MAX] {
            for parts in 1..6 {
                let mut next = 0;
                for p in 0..parts {
                    let r = split(len, parts, p);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, len);
            }
        }
    }
}
