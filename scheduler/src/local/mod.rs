//! Local policies: what a newly runnable Stream task does to running Batch work on one
//! executor. Each is a [`Policy`](neptune_runtime::policy::Policy) for the runtime's
//! `Builder::policy`.
//!
//! | policy | Stream arrival with every slot busy | cost |
//! |---|---|---|
//! | [`Static`] | cannot happen on a dedicated Stream slot | idle slots |
//! | [`Fifo`] | waits its turn in arrival order | Stream waits behind Batch |
//! | [`Fair`] | waits; shares follow pool weights | Stream waits for a Batch task |
//! | [`Kill`] | cancels a Batch task (restarted from scratch) | wasted work |
//! | [`Neptune`] | pauses a Batch task (resumed later) | suspended state in memory |
//! | [`Adaptive`] | one of the above mechanisms, chosen per window from what it observes | the cost of the mechanism in use |

mod adaptive;
mod fair;
mod fifo;
mod kill;
mod neptune;
mod starvation;
mod static_;

pub use adaptive::{
    Adaptive, AdaptiveStats, Decision, Mode, Params, Window, DEFAULT_SLO, DEFAULT_WINDOW,
    MAX_LIMIT, MIN_QUANTUM,
};
pub use fair::Fair;
pub use fifo::Fifo;
pub use kill::{Kill, KillLog, DEFAULT_KILL_LOG_CAPACITY};
pub use neptune::{Neptune, NeptuneStats, DEFAULT_MAX_SUSPENSIONS, DEFAULT_QUANTUM, MAX_QUANTUM};
pub use static_::Static;
