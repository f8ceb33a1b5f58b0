//! Actuators: what observes and changes a group's capacity. [`Actuator::observe`] returns
//! an [`Observation`]: desired / ready / warming / failed counts, the target's own bounds
//! (an ASG's MinSize/MaxSize), the pause marker found on it and warnings;
//! [`Actuator::set_desired`] asks for a new desired capacity and
//! [`Actuator::write_marker`] writes or clears the pause marker. Implementations live in
//! [`backends`](crate::backends).
//!
//! Like sources, actuators map their platform's failures to a [`BackendError`] and never
//! retry by themselves.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::model::{BackendError, Capacity, GroupSpec};

/// The bounds the target itself enforces, whatever fleetdeck's config says: an ASG
/// refuses a desired capacity outside its MinSize..=MaxSize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetBounds {
    pub min: u32,
    pub max: u32,
}

/// What an actuator saw of a group's target.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// Capacity, stamped with when it was true (a watching actuator: its last list, event
    /// or bookmark), not with the time of the call.
    pub capacity: Capacity,
    /// The target's own bounds, when it has any.
    pub bounds: Option<TargetBounds>,
    /// The pause marker found on the target ([`crate::model::marker`]: the tag or
    /// annotation `fleetdeck.io/pause`), as written, whoever wrote it.
    pub marker: Option<String>,
    /// What an operator should know about the target, in words ("another autoscaler acts
    /// on this target: its scaling policies are enabled").
    pub warnings: Vec<String>,
}

impl Observation {
    /// Only capacity: no bounds, marker or warnings.
    pub fn of(capacity: Capacity) -> Self {
        Observation { capacity, ..Observation::default() }
    }
}

pub trait Actuator: Send + Sync {
    /// Short name for the UI and logs: the connection's name, e.g. `sim`.
    fn name(&self) -> &str;

    /// How old an observation may be before the capacity it reports counts as unknown
    /// (nothing is changed on it), given the group's poll interval. The default is
    /// DESIGN.md's stale rule, three polls; an actuator that watches its target (and
    /// stamps capacity with its last list, event or bookmark) may allow longer.
    fn capacity_stale_after(&self, poll_interval: Duration) -> Duration {
        poll_interval.saturating_mul(3)
    }

    /// Whether acting on a target needs this engine to hold the group's lease even
    /// without a lease store (which then means: observe only). True for every real
    /// backend, which other engines can reach too.
    fn needs_lease(&self) -> bool {
        true
    }

    fn observe<'a>(&'a self, group: &'a GroupSpec) -> BoxFuture<'a, Result<Observation, BackendError>>;

    fn set_desired<'a>(
        &'a self,
        group: &'a GroupSpec,
        desired: u32,
    ) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Writes the pause marker on the target (`Some`, already encoded: at most
    /// [`crate::model::marker::MAX_MARKER_LEN`] characters), or removes it (`None`).
    fn write_marker<'a>(
        &'a self,
        group: &'a GroupSpec,
        marker: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), BackendError>>;
}
