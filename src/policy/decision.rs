//! What [`decide`](super::decide()) returns: the new desired capacity (if it changes) and
//! everything an on-call engineer needs to trust it — every policy's proposal, the
//! effective bounds, each clamp applied in order, what blocked a change, a stalled
//! scale-out, the state to store, and the reason in words.
//!
//! A decision is logged as one JSON line; it carries no maps, so two equal decisions
//! serialise to the same bytes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{MetricKind, Timestamp, duration_text};
use crate::policy::spec::{PolicyKind, Proposal};
use crate::policy::state::StateUpdates;

/// One group's decision for one tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub at: Timestamp,
    pub group: String,
    /// Desired capacity before this decision.
    pub current: u32,
    /// The new desired capacity, or None when it stays at `current`.
    pub desired: Option<u32>,
    /// What the policies recommend before stabilization, limits and bounds (recorded for
    /// the stabilization windows).
    pub recommendation: u32,
    pub proposals: Vec<Proposal>,
    pub bounds: Bounds,
    /// Each cut applied to the recommendation on its way to `desired`, in order.
    pub clamps: Vec<Clamp>,
    /// What stopped a change (or part of it).
    pub blocked: Vec<Block>,
    /// Problems with the data the policies read this tick (stale, missing, invalid),
    /// whether or not they blocked anything: the breaker's stale-data trip follows these,
    /// so it does not open and close with the direction a decision happens to want.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<MetricProblem>,
    pub stalled: Option<Stalled>,
    pub state_updates: StateUpdates,
    /// The decision in one line, e.g. "scale out 4→6: gpu_util 0.93 > target 0.70 (needs 6)".
    pub reason: String,
    /// The policy a change of desired is credited to (its cooldown and step warm-up
    /// count from it); None when nothing changes or only bounds or a hold moved it.
    #[serde(default)]
    pub driver: Option<PolicyKind>,
}

impl Decision {
    /// The desired capacity after this decision.
    pub fn resulting_desired(&self) -> u32 {
        self.desired.unwrap_or(self.current)
    }
}

/// The effective [min, max] and where each comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
    pub min_from: BoundSource,
    pub max_from: BoundSource,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BoundSource {
    /// The group's configured min or max.
    Group,
    /// A scheduled action in force.
    Scheduled { action: String },
    /// A force-scale hold confirmed beyond max.
    Hold { by: String },
}

/// One cut on the way from recommendation to desired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clamp {
    pub from: u32,
    pub to: u32,
    pub by: ClampBy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClampBy {
    /// Demand with no instance serving or warming: at least one.
    ColdStart,
    ScaleDownWindow,
    ScaleUpWindow,
    MaxStep,
    Budget,
    /// A scale-in-only pause.
    ScaleInPaused,
    /// A scale-out is stalled: no further increase.
    Stalled,
    /// A scheduled action set desired this tick.
    ScheduledDesired {
        action: String,
    },
    Hold {
        by: String,
    },
    Min,
    Max,
}

/// Why a change did not happen (or only partly).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Paused {
        by: String,
        until: Option<Timestamp>,
        reason: String,
    },
    ScaleInPaused {
        by: String,
        until: Option<Timestamp>,
        reason: String,
    },
    Held {
        desired: u32,
        by: String,
        until: Timestamp,
    },
    /// Scale-in is held at the highest recommendation within the window.
    ScaleDownWindow {
        #[serde(with = "duration_text")]
        window: Duration,
        highest: u32,
        /// The window's highest before the bounds, when they cut it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unclamped: Option<u32>,
    },
    /// Scale-out is held at the lowest recommendation within the window.
    ScaleUpWindow {
        #[serde(with = "duration_text")]
        window: Duration,
        lowest: u32,
        /// The window's lowest before the bounds, when they cut it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unclamped: Option<u32>,
    },
    MaxStep {
        limit: u32,
        #[serde(with = "duration_text")]
        period: Duration,
    },
    Budget {
        hourly_budget_usd: f64,
        max_instances: u32,
    },
    /// Scale-in needs these metrics and they are unusable.
    Data {
        metrics: Vec<MetricProblem>,
    },
    /// Latency is above the guard's fraction of the SLO.
    Latency {
        metric: MetricKind,
        value_secs: f64,
        limit_secs: f64,
    },
    Stalled {
        since: Timestamp,
    },
    /// A scheduled action could not be evaluated; the schedule is ignored this tick.
    Schedule {
        message: String,
    },
    /// The capacity was last observed longer ago than the actuator's staleness limit: it
    /// is unknown, and nothing is changed on it (DESIGN.md, "Stale capacity").
    CapacityUnknown {
        observed_at: Timestamp,
        #[serde(with = "duration_text")]
        age: Duration,
    },
}

/// A metric that cannot be used this tick, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricProblem {
    pub metric: MetricKind,
    pub problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The source has no sample.
    Missing,
    /// The newest sample is older than `stale_after`.
    Stale {
        #[serde(with = "duration_text::any")]
        age: Duration,
    },
    /// NaN, infinite or negative.
    Invalid,
    /// The policy's target is not a positive number (a config mistake).
    BadTarget,
}

/// Desired has exceeded ready + warming for longer than the maximum warm-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stalled {
    pub since: Timestamp,
    #[serde(with = "duration_text::any")]
    pub waiting: Duration,
    pub desired: u32,
    pub ready_plus_warming: u32,
}
