//! FIFO: one queue for both classes, in arrival order, no preemption.

use neptune_runtime::policy::{Policy, Queueing};

/// FIFO: first come, first served. Stream and Batch tasks share one queue in arrival
/// order ([`Queueing::Arrival`]) and nothing is preempted: a Stream task waits behind
/// every task that arrived before it.
///
/// ```
/// use neptune_runtime::policy::{Policy, Queueing};
/// assert_eq!(neptune_scheduler::local::Fifo.queueing(), Queueing::Arrival);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fifo;

impl Policy for Fifo {
    fn name(&self) -> &str {
        "fifo"
    }

    fn queueing(&self) -> Queueing {
        Queueing::Arrival
    }
}
