//! `join`'s reduce side: an inner hash join of one partition of both sides.
//!
//! The right side's buckets are built into a table (key to group of values), then the
//! left side's records stream past it in map-task order; each left record is paired
//! with every right value of its key, in the order they arrived.

use crate::error::DataflowError;
use crate::exec::yielding::{Pace, Stride, YieldPoint};
use crate::exec::TaskEnv;
use crate::plan::{AnyNode, Dep, Item, Node, NodeId, Records, ShuffleId};
use crate::shuffle::{HashWriter, MapSide, ShuffleDep, Table};
use crate::Data;
use futures::{stream, Stream, StreamExt, TryStreamExt};
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::iter::Flatten;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

pub(crate) struct JoinNode<K, V, W> {
    id: NodeId,
    left: Arc<MapSide<(K, V), HashWriter<K, V>>>,
    right: Arc<MapSide<(K, W), HashWriter<K, W>>>,
}

impl<K, V, W> JoinNode<K, V, W> {
    /// Both sides must have the same number of reduce partitions.
    pub(crate) fn new(
        id: NodeId,
        left: Arc<MapSide<(K, V), HashWriter<K, V>>>,
        right: Arc<MapSide<(K, W), HashWriter<K, W>>>,
    ) -> Self {
        JoinNode { id, left, right }
    }
}

impl<K, V, W> AnyNode for JoinNode<K, V, W>
where
    K: Hash + Eq + Data,
    V: Data,
    W: Data,
{
    fn id(&self) -> NodeId {
        self.id
    }

    fn op(&self) -> &'static str {
        "join"
    }

    fn partitions(&self) -> usize {
        self.left.reduce_partitions()
    }

    fn deps(&self) -> Vec<Dep> {
        vec![
            Dep::Shuffle(self.left.clone()),
            Dep::Shuffle(self.right.clone()),
        ]
    }

    fn shuffle_reads(&self, part: usize, out: &mut Vec<(ShuffleId, usize)>) {
        out.push((self.left.id(), part));
        out.push((self.right.id(), part));
    }
}

impl<K, V, W> Node<(K, (V, W))> for JoinNode<K, V, W>
where
    K: Hash + Eq + Data,
    V: Data,
    W: Data,
{
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<(K, (V, W))> {
        let (left, right, env) = (self.left.clone(), self.right.clone(), env.clone());
        stream::once(async move {
            let mut index: Table<K, usize> = Table::default();
            let mut groups: Vec<Vec<W>> = Vec::new();
            let mut right_buckets = right.buckets(&env, part);
            let mut stride = Stride::default();
            while let Some(bucket) = right_buckets.next().await {
                for (k, w) in bucket? {
                    stride.tick().await;
                    match index.entry(k) {
                        Entry::Occupied(e) => groups[*e.get()].push(w),
                        Entry::Vacant(e) => {
                            e.insert(groups.len());
                            groups.push(vec![w]);
                        }
                    }
                }
            }
            let buckets: Vec<Vec<(K, V)>> = left.buckets(&env, part).try_collect().await?;
            Ok::<_, Box<DataflowError>>(Probe {
                left: buckets.into_iter().flatten(),
                index,
                groups,
                current: None,
                pace: Pace::default(),
                point: YieldPoint::default(),
            })
        })
        .try_flatten()
        .boxed()
    }
}

/// Streams the left records past the right side's table, in chunks of pairs with a
/// yield point before each; a chunk ends after its pace's worth of steps (a left record
/// looked up, or a pair made), so a long run of left records without a match still
/// passes yield points.
struct Probe<K, V, W> {
    left: Flatten<std::vec::IntoIter<Vec<(K, V)>>>,
    index: Table<K, usize>,
    /// Right values per key; never empty.
    groups: Vec<Vec<W>>,
    /// The left record being paired: key, value, its group, the next value's index.
    current: Option<(K, V, usize, usize)>,
    pace: Pace,
    point: YieldPoint,
}

// Nothing in a probe is pinned structurally.
impl<K, V, W> Unpin for Probe<K, V, W> {}

impl<K, V, W> Stream for Probe<K, V, W>
where
    K: Hash + Eq + Clone,
    V: Clone,
    W: Clone,
{
    type Item = Item<(K, (V, W))>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Chunks are never empty: steps that found no match pass another yield point
        // and go on.
        loop {
            let n = this.pace.records_of::<(K, (V, W))>().next_size();
            ready!(this.point.poll(cx));
            // Room for a pair per step: growing by doubling would copy the pairs again.
            let mut out = Vec::with_capacity(n);
            let mut ended = false;
            for _ in 0..n {
                if let Some((k, v, g, i)) = this.current.take() {
                    let values = &this.groups[g];
                    let w = values[i].clone();
                    if i + 1 < values.len() {
                        out.push((k.clone(), (v.clone(), w)));
                        this.current = Some((k, v, g, i + 1));
                    } else {
                        // The last pairing moves the left record instead of cloning it.
                        out.push((k, (v, w)));
                    }
                    continue;
                }
                match this.left.next() {
                    None => {
                        ended = true;
                        break;
                    }
                    Some((k, v)) => {
                        if let Some(&g) = this.index.get(&k) {
                            this.current = Some((k, v, g, 0));
                        }
                    }
                }
            }
            this.pace.handed();
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(out.into())));
            }
            if ended {
                return Poll::Ready(None);
            }
        }
    }
}
