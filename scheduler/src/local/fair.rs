//! FAIR: weighted pools for the two classes, as Spark's fair scheduler pools.

use neptune_runtime::policy::{Policy, Queueing, SlotClasses};
use neptune_runtime::Class;

/// FAIR: a Stream pool and a Batch pool with weights and minimum shares, as Spark's fair
/// scheduler pools (`weight`, `minShare`). Nothing is preempted: a Stream task waits for
/// a running Batch task to end (or to reach a point where it yields the slot).
///
/// How the pool settings map onto the runtime's hook:
///
/// - **Weights** become [`Queueing::Weighted`]: on each shared slot, when both classes
///   have runnable work, polls go to the class furthest below its weighted share. This
///   is Spark's "running tasks / weight" comparison, made per slot and counted in polls
///   rather than per executor and counted in tasks.
/// - **Minimum shares** (in slots) become *reserved slots*: the first `stream_min` slots
///   run only Stream tasks, the next `batch_min` only Batch tasks, the rest are shared
///   and weighted. This is stronger than Spark's minShare, which only gives a pool
///   priority while it runs fewer tasks than its share and lends the slots out while
///   it is idle: the hook's slot classes are fixed when the runtime starts, so a
///   reserved slot sits idle when its pool has no work (as with STATIC). Leave the
///   minimum shares at 0 (the default) for pure weighted sharing.
/// - The reservation is clamped so that each class can run somewhere: if the minimum
///   shares would dedicate every slot to one class, one slot is shared instead.
///
/// ```
/// use neptune_runtime::policy::{Policy, Queueing, SlotClasses};
/// use neptune_scheduler::local::Fair;
///
/// let p = Fair::new().weights(3, 1).min_shares(1, 0);
/// assert_eq!(p.queueing(), Queueing::Weighted { stream: 3, batch: 1 });
/// assert_eq!(p.slot_classes(0, 4), SlotClasses::StreamOnly);
/// assert_eq!(p.slot_classes(1, 4), SlotClasses::Both);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fair {
    weight: [u32; 2],
    min_share: [usize; 2],
}

impl Default for Fair {
    /// Equal weights (1 and 1, Spark's default), no minimum shares.
    fn default() -> Fair {
        Fair {
            weight: [1, 1],
            min_share: [0, 0],
        }
    }
}

impl Fair {
    /// Equal weights, no minimum shares.
    pub fn new() -> Fair {
        Fair::default()
    }

    /// Sets the pools' weights (a weight of 0 counts as 1).
    pub fn weights(mut self, stream: u32, batch: u32) -> Fair {
        self.weight = [stream.max(1), batch.max(1)];
        self
    }

    /// Sets the pools' minimum shares, in slots (see the type's documentation for what
    /// they become).
    pub fn min_shares(mut self, stream: usize, batch: usize) -> Fair {
        self.min_share = [stream, batch];
        self
    }

    /// The weight of `class`'s pool.
    pub fn weight(&self, class: Class) -> u32 {
        self.weight[class.index()]
    }

    /// How many of `slots` are reserved for each class (indexed by [`Class::index`]),
    /// after clamping.
    pub fn reserved(&self, slots: usize) -> [usize; 2] {
        let mut stream = self.min_share[0].min(slots);
        let mut batch = self.min_share[1].min(slots - stream);
        if stream + batch == slots {
            // Every slot reserved: fine if both classes got some, else share one.
            if batch == 0 {
                stream = stream.saturating_sub(1);
            } else if stream == 0 {
                batch -= 1;
            }
        }
        [stream, batch]
    }
}

impl Policy for Fair {
    fn name(&self) -> &str {
        "fair"
    }

    fn queueing(&self) -> Queueing {
        Queueing::Weighted {
            stream: self.weight[0],
            batch: self.weight[1],
        }
    }

    fn slot_classes(&self, slot: usize, slots: usize) -> SlotClasses {
        let [stream, batch] = self.reserved(slots);
        if slot < stream {
            SlotClasses::StreamOnly
        } else if slot < stream + batch {
            SlotClasses::BatchOnly
        } else {
            SlotClasses::Both
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_leave_every_class_a_slot() {
        assert_eq!(Fair::new().reserved(4), [0, 0]);
        assert_eq!(Fair::new().min_shares(1, 1).reserved(4), [1, 1]);
        assert_eq!(Fair::new().min_shares(1, 1).reserved(2), [1, 1]);
        assert_eq!(Fair::new().min_shares(4, 0).reserved(4), [3, 0]);
        assert_eq!(Fair::new().min_shares(0, 9).reserved(4), [0, 3]);
        assert_eq!(Fair::new().min_shares(1, 0).reserved(1), [0, 0]);
        assert_eq!(Fair::new().min_shares(3, 3).reserved(4), [3, 1]);
        for slots in 1..6 {
            for s in 0..7 {
                for b in 0..7 {
                    let p = Fair::new().min_shares(s, b);
                    let classes: Vec<_> = (0..slots).map(|i| p.slot_classes(i, slots)).collect();
                    assert!(
                        classes.iter().any(|c| c.runs(Class::Stream)),
                        "{s} {b} {slots}"
                    );
                    assert!(
                        classes.iter().any(|c| c.runs(Class::Batch)),
                        "{s} {b} {slots}"
                    );
                }
            }
        }
    }

    #[test]
    fn zero_weights_count_as_one() {
        assert_eq!(
            Fair::new().weights(0, 0).queueing(),
            Queueing::Weighted {
                stream: 1,
                batch: 1
            }
        );
    }
}
