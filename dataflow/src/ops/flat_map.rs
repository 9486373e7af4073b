//! `flat_map`: any number of outputs per record, handed on in chunks of their own,
//! each through a yield point.

use super::narrow::Transform;
use crate::exec::yielding::{Pace, YieldPoint};
use crate::plan::{Item, Records};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// `flat_map`'s transform.
pub(crate) struct FlatMap<F>(pub(crate) F);

impl<T, U, I, F> Transform<T, U> for FlatMap<F>
where
    T: Send + 'static,
    U: Send + 'static,
    F: Fn(T) -> I + Send + Sync + 'static,
    I: IntoIterator<Item = U> + 'static,
    I::IntoIter: Send + 'static,
{
    const OP: &'static str = "flat_map";

    fn apply(self: Arc<Self>, input: Records<T>) -> Records<U> {
        Expand {
            input,
            f: self,
            records: Vec::new().into_iter(),
            current: None,
            pace: Pace::default(),
            point: YieldPoint::default(),
        }
        .boxed()
    }
}

/// The outputs of a flat_map. One record may expand to more outputs than a chunk
/// holds (or than fit in memory), so outputs go out in chunks sized by their own
/// [`Pace`] with a yield point before each, whatever the input chunks are.
struct Expand<T, F, I> {
    input: Records<T>,
    f: Arc<FlatMap<F>>,
    /// The rest of the input chunk being expanded.
    records: std::vec::IntoIter<T>,
    /// The outputs of the record being expanded.
    current: Option<I>,
    pace: Pace,
    point: YieldPoint,
}

impl<T, F, I> Unpin for Expand<T, F, I> {}

impl<T: 'static, U, F, I> Stream for Expand<T, F, I::IntoIter>
where
    F: Fn(T) -> I,
    I: IntoIterator<Item = U>,
{
    type Item = Item<U>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<U>>> {
        let this = self.get_mut();
        let n = this.pace.records_of::<U>().next_size();
        ready!(this.point.poll(cx));
        // Most flat_maps emit about a record per record: room for that.
        let mut out = Vec::with_capacity(n.min(this.records.len().max(1)));
        loop {
            if let Some(outputs) = &mut this.current {
                out.extend(outputs.by_ref().take(n - out.len()));
                if out.len() == n {
                    this.pace.handed();
                    return Poll::Ready(Some(Ok(out.into())));
                }
                this.current = None;
            }
            // The outputs of each record are taken while they are a local: only those of
            // a record that fills the chunk are kept in the stream (moving every
            // record's iterator into it cost a copy of its size, per record).
            while out.len() < n {
                let Some(t) = this.records.next() else { break };
                let mut outputs = (this.f.0)(t).into_iter();
                out.extend(outputs.by_ref().take(n - out.len()));
                if out.len() == n {
                    this.current = Some(outputs);
                }
            }
            if out.len() == n {
                this.pace.handed();
                return Poll::Ready(Some(Ok(out.into())));
            }
            // Hand on what is here before waiting for more input.
            if !out.is_empty() {
                this.pace.handed();
                return Poll::Ready(Some(Ok(out.into())));
            }
            match ready!(this.input.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => {
                    this.records = chunk.into_iter();
                    out.reserve(n.min(this.records.len()));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::yielding::MAX_CHUNK;
    use futures::executor::block_on;
    use futures::stream;

    #[test]
    fn a_record_expanding_past_a_chunk_comes_out_in_bounded_chunks() {
        let input: Records<u64> = stream::iter(vec![Ok(vec![5_000u64, 0, 3].into())]).boxed();
        let f = Arc::new(FlatMap(|n: u64| 0..n));
        let out: Vec<Item<u64>> = block_on(f.apply(input).collect());
        let mut all = Vec::new();
        for chunk in out {
            let chunk = chunk.expect("records");
            assert!((1..=MAX_CHUNK).contains(&chunk.len()), "{}", chunk.len());
            all.extend(chunk);
        }
        let expected: Vec<u64> = (0..5_000).chain(0..3).collect();
        assert_eq!(all, expected);
    }
}
