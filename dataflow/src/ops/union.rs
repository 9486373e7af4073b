//! `union`: the partitions of one dataset followed by those of another.

use crate::exec::TaskEnv;
use crate::plan::{AnyNode, Dep, Node, NodeId, NodeRef, Records, ShuffleId};

pub(crate) struct UnionNode<T> {
    id: NodeId,
    left: NodeRef<T>,
    right: NodeRef<T>,
}

impl<T> UnionNode<T> {
    pub(crate) fn new(id: NodeId, left: NodeRef<T>, right: NodeRef<T>) -> Self {
        UnionNode { id, left, right }
    }

    /// Which side partition `part` comes from, and its index there.
    fn side(&self, part: usize) -> (&NodeRef<T>, usize) {
        let n = self.left.erased.partitions();
        if part < n {
            (&self.left, part)
        } else {
            (&self.right, part - n)
        }
    }
}

impl<T: Send + 'static> AnyNode for UnionNode<T> {
    fn id(&self) -> NodeId {
        self.id
    }

    fn op(&self) -> &'static str {
        "union"
    }

    fn partitions(&self) -> usize {
        self.left.erased.partitions() + self.right.erased.partitions()
    }

    fn deps(&self) -> Vec<Dep> {
        vec![
            Dep::Narrow(self.left.erased.clone()),
            Dep::Narrow(self.right.erased.clone()),
        ]
    }

    fn shuffle_reads(&self, part: usize, out: &mut Vec<(ShuffleId, usize)>) {
        let (side, p) = self.side(part);
        side.erased.shuffle_reads(p, out);
    }
}

impl<T: Send + 'static> Node<T> for UnionNode<T> {
    fn compute(&self, part: usize, env: &TaskEnv) -> Records<T> {
        let (side, p) = self.side(part);
        side.typed.compute(p, env)
    }
}
