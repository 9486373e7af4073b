//! STATIC: dedicated Stream slots and dedicated Batch slots, no preemption.

use neptune_runtime::policy::{Policy, SlotClasses};

/// STATIC: the first `stream_slots` slots run only Stream tasks, the others only Batch
/// tasks. Nothing is ever paused or cancelled: isolation comes from the split itself, at
/// the cost of idle slots whenever one class has no work.
///
/// The split is clamped so that both classes can run: at most `slots - 1` slots are
/// dedicated to Stream, and on a single slot (or with `stream_slots == 0`) every slot
/// is shared by both classes (with Stream first).
///
/// ```
/// use neptune_runtime::policy::{Policy, SlotClasses};
/// use neptune_scheduler::local::Static;
///
/// let p = Static::default(); // one Stream slot
/// assert_eq!(p.slot_classes(0, 4), SlotClasses::StreamOnly);
/// assert_eq!(p.slot_classes(3, 4), SlotClasses::BatchOnly);
/// assert_eq!(p.slot_classes(0, 1), SlotClasses::Both);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Static {
    stream_slots: usize,
}

impl Static {
    /// Dedicates `stream_slots` slots to Stream work and the rest to Batch work.
    pub fn new(stream_slots: usize) -> Static {
        Static { stream_slots }
    }

    /// The default split for a runtime of `slots` slots: one Stream slot when there are
    /// at least two slots, else a shared slot.
    pub fn for_slots(slots: usize) -> Static {
        Static::new(usize::from(slots >= 2))
    }

    /// How many slots of `slots` are dedicated to Stream work (after clamping).
    pub fn stream_slots(&self, slots: usize) -> usize {
        self.stream_slots.min(slots.saturating_sub(1))
    }
}

impl Default for Static {
    /// One Stream slot (shared when the runtime has a single slot).
    fn default() -> Static {
        Static::new(1)
    }
}

impl Policy for Static {
    fn name(&self) -> &str {
        "static"
    }

    fn slot_classes(&self, slot: usize, slots: usize) -> SlotClasses {
        let stream = self.stream_slots(slots);
        if stream == 0 {
            SlotClasses::Both
        } else if slot < stream {
            SlotClasses::StreamOnly
        } else {
            SlotClasses::BatchOnly
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_clamped_so_both_classes_run() {
        let p = Static::new(8);
        assert_eq!(p.stream_slots(4), 3);
        assert_eq!(p.slot_classes(3, 4), SlotClasses::BatchOnly);
        assert_eq!(p.slot_classes(0, 1), SlotClasses::Both);
        assert_eq!(Static::new(0).slot_classes(0, 4), SlotClasses::Both);
        assert_eq!(Static::for_slots(1).stream_slots(1), 0);
        assert_eq!(Static::for_slots(2).stream_slots(2), 1);
    }
}
