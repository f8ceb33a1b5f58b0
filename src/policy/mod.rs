//! The autoscaling policy: pure functions from a group's state and this tick's inputs to
//! a [`Decision`] — no I/O, no clock (`now` is passed in), no runtime. The engine calls
//! [`decide()`] every tick; `fleetdeck decide` and `replay` call it the same way.
//!
//! # Layout
//!
//! - [`spec`]: the vocabulary — what a policy is configured with and what each policy
//!   proposes. Shared with config and the decision log.
//! - [`state`]: what `decide` reads ([`GroupState`], [`Inputs`]) and the [`StateUpdates`]
//!   a decision hands back; also the `fleetdeck decide FILE` input format.
//! - [`decision`]: what `decide` returns ([`Decision`], [`Block`], [`Clamp`], [`Bounds`]).
//! - [`decide`](mod@decide): the pipeline — proposals, recommendation, operator state,
//!   damping, limits — in one readable function.
//! - [`target`]: reading metrics (stale, missing, NaN, idle) and the metric policies:
//!   target tracking and the latency guard.
//! - [`stabilize`]: stabilization windows and the maximum step per period.
//! - [`bounds`]: effective [min, max] and the budget cap.
//! - [`step`], [`schedule`], [`predictive`]: AWS step/simple scaling, cron actions and
//!   the seasonal forecast, each a proposal `decide` combines.
//! - `reason`, `words`: the decision's reason in words.

pub mod bounds;
pub mod decide;
pub mod decision;
pub mod predictive;
mod reason;
pub mod schedule;
pub mod spec;
pub mod stabilize;
pub mod state;
pub mod step;
pub mod target;
pub(crate) mod words;

#[cfg(test)]
mod tests;

pub use decide::decide;
pub use decision::{Block, BoundSource, Bounds, Clamp, ClampBy, Decision, MetricProblem, Problem, Stalled};
pub use reason::{block_detail, block_text};
pub use spec::*;
pub use state::{
    GroupState, Hold, Inputs, MetricInput, Pause, PauseMode, Recommendation, StateUpdates,
    remember_recommendation,
};
