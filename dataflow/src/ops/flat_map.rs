//! `flat_map`: any number of outputs per record, each through a yield point.

use super::narrow::Transform;
use crate::exec::yielding::YieldPoint;
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
            current: None,
            first: false,
            point: YieldPoint::default(),
        }
        .boxed()
    }
}

/// The stream: pulls a record, then emits its expansion one item per yield point. The
/// first item needs none of its own: the record it comes from passed one on its way
/// in.
struct Expand<T, F, I> {
    input: Records<T>,
    f: Arc<FlatMap<F>>,
    current: Option<I>,
    /// `current` has not been asked for an item yet.
    first: bool,
    point: YieldPoint,
}

// The expansion iterator is only used through `&mut`, never pinned.
impl<T, F, I> Unpin for Expand<T, F, I> {}

impl<T, U, F, I> Stream for Expand<T, F, I::IntoIter>
where
    F: Fn(T) -> I,
    I: IntoIterator<Item = U>,
{
    type Item = Item<U>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<U>>> {
        let this = self.get_mut();
        loop {
            if let Some(items) = &mut this.current {
                if !std::mem::take(&mut this.first) {
                    ready!(this.point.poll(cx));
                }
                match items.next() {
                    Some(u) => return Poll::Ready(Some(Ok(u))),
                    None => this.current = None,
                }
            }
            match ready!(this.input.poll_next_unpin(cx)) {
                Some(Ok(t)) => {
                    this.current = Some((this.f.0)(t).into_iter());
                    this.first = true;
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}
