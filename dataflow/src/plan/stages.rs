//! The stage planner: cuts a job's plan into stages at shuffles.
//!
//! Starting from the node the action runs on, the planner follows narrow dependencies
//! (they run in the same task) until it meets shuffles. Each shuffle becomes a
//! shuffle-map stage, planned the same way from the shuffle's map-side node, once per
//! job however many times it is reached. Stages are numbered parents first, so the
//! result stage comes last.
//!
//! Walking narrow paths also counts, per shuffle, how many times each of its buckets
//! will be read: once per path from a stage's root to the shuffle (a `union` of a
//! dataset with itself, or a self-join, reads twice). The shuffle store uses the count
//! to hand the last reader the bucket itself and the others a copy.
//!
//! Names are derived from the plan: a shuffle-map stage is `ROOT>shuffle#S`, the
//! result stage `ROOT>ACTION@job-J`, where `ROOT` is the stage's last node as `op#id`.

use super::{AnyNode, Dep, JobId, ShuffleId, StageId};
use crate::exec::StageRunner;
use crate::shuffle::{MapStage, ShuffleDep, ShuffleShape};
use std::collections::HashMap;
use std::sync::Arc;

/// One planned stage.
pub(crate) struct StagePlan {
    pub(crate) id: StageId,
    pub(crate) name: Arc<str>,
    /// The last node of the stage's pipeline.
    pub(crate) root: Arc<dyn AnyNode>,
    pub(crate) partitions: usize,
    pub(crate) parents: Vec<StageId>,
    /// The shuffle the stage writes; `None` for the result stage.
    pub(crate) shuffle: Option<ShuffleId>,
    pub(crate) runner: Arc<dyn StageRunner>,
}

/// A job's stages (parents first, result stage last) and shuffles.
pub(crate) struct JobPlan {
    pub(crate) stages: Vec<StagePlan>,
    pub(crate) shuffles: Vec<ShuffleShape>,
}

/// Plans the job that runs `result` (the action's stage runner, named `action`) over
/// `root`.
pub(crate) fn plan(
    job: JobId,
    root: &Arc<dyn AnyNode>,
    action: &str,
    result: Arc<dyn StageRunner>,
) -> JobPlan {
    let mut planner = Planner::default();
    let name = format!("{}>{action}@{job}", root.label());
    planner.stage(root.clone(), name, None, result);
    let shuffles = planner
        .shuffles
        .iter()
        .map(|(dep, reads)| ShuffleShape {
            id: dep.id(),
            map_partitions: dep.source().partitions(),
            reduce_partitions: dep.reduce_partitions(),
            reads: *reads,
        })
        .collect();
    JobPlan {
        stages: planner.stages,
        shuffles,
    }
}

#[derive(Default)]
struct Planner {
    stages: Vec<StagePlan>,
    /// The stage writing each shuffle.
    by_shuffle: HashMap<ShuffleId, StageId>,
    /// Every shuffle met, in order, with its bucket reads so far.
    shuffles: Vec<(Arc<dyn ShuffleDep>, usize)>,
}

impl Planner {
    /// Plans the stage whose pipeline ends at `root` (after its parents).
    fn stage(
        &mut self,
        root: Arc<dyn AnyNode>,
        name: String,
        shuffle: Option<ShuffleId>,
        runner: Arc<dyn StageRunner>,
    ) -> StageId {
        let mut reached = Vec::new();
        self.walk(&root, &mut reached);
        let mut parents: Vec<StageId> =
            reached.into_iter().map(|dep| self.map_stage(dep)).collect();
        parents.sort();
        parents.dedup();
        let id = StageId(self.stages.len() as u32);
        self.stages.push(StagePlan {
            id,
            name: name.into(),
            partitions: root.partitions(),
            root,
            parents,
            shuffle,
            runner,
        });
        id
    }

    /// The stage writing `dep`, planned on first sight.
    fn map_stage(&mut self, dep: Arc<dyn ShuffleDep>) -> StageId {
        if let Some(&id) = self.by_shuffle.get(&dep.id()) {
            return id;
        }
        let source = dep.source();
        let name = format!("{}>{}", source.label(), dep.id());
        let runner = Arc::new(MapStage(dep.clone()));
        let id = self.stage(source, name, Some(dep.id()), runner);
        self.by_shuffle.insert(dep.id(), id);
        id
    }

    /// Follows narrow dependencies from `node`, collecting the shuffles reached and
    /// counting one read of each per path.
    fn walk(&mut self, node: &Arc<dyn AnyNode>, reached: &mut Vec<Arc<dyn ShuffleDep>>) {
        for dep in node.deps() {
            match dep {
                Dep::Narrow(parent) => self.walk(&parent, reached),
                Dep::Shuffle(s) => {
                    match self.shuffles.iter_mut().find(|(d, _)| d.id() == s.id()) {
                        Some((_, reads)) => *reads += 1,
                        None => self.shuffles.push((s.clone(), 1)),
                    }
                    reached.push(s);
                }
            }
        }
    }
}
