//! Actuators: what observes and changes a group's capacity. [`Actuator::observe`] returns
//! desired / ready / warming / failed counts; [`Actuator::set_desired`] asks for a new
//! desired capacity. [`SimActuator`] drives the simulated fleet.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::clock::Clock;
use crate::model::{Capacity, GroupSpec};
use crate::sources::{SharedFleet, lock_fleet};

/// A failed call to an actuator. Shown in the UI and retried with backoff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ActuatorError(pub String);

pub trait Actuator: Send + Sync {
    /// Short name for the UI and logs, e.g. `sim`.
    fn name(&self) -> &str;

    /// How old an observation may be before the capacity it reports counts as unknown
    /// (nothing is changed on it), given the engine's poll interval. The default is
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

    fn observe<'a>(&'a self, group: &'a GroupSpec) -> BoxFuture<'a, Result<Capacity, ActuatorError>>;

    fn set_desired<'a>(
        &'a self,
        group: &'a GroupSpec,
        desired: u32,
    ) -> BoxFuture<'a, Result<(), ActuatorError>>;
}

/// Observes and changes the simulated fleet's capacity.
pub struct SimActuator {
    fleet: SharedFleet,
    clock: Arc<dyn Clock>,
}

impl SimActuator {
    pub fn new(fleet: SharedFleet, clock: Arc<dyn Clock>) -> Self {
        SimActuator { fleet, clock }
    }
}

impl Actuator for SimActuator {
    fn name(&self) -> &str {
        "sim"
    }

    /// This process's own simulated fleet: no other engine can act on it.
    fn needs_lease(&self) -> bool {
        false
    }

    fn observe<'a>(&'a self, group: &'a GroupSpec) -> BoxFuture<'a, Result<Capacity, ActuatorError>> {
        let result = lock_fleet(&self.fleet).and_then(|mut fleet| {
            fleet.advance_to(self.clock.now());
            fleet.capacity(&group.name).map_err(|e| e.to_string())
        });
        Box::pin(std::future::ready(result.map_err(ActuatorError)))
    }

    fn set_desired<'a>(
        &'a self,
        group: &'a GroupSpec,
        desired: u32,
    ) -> BoxFuture<'a, Result<(), ActuatorError>> {
        let result = lock_fleet(&self.fleet).and_then(|mut fleet| {
            fleet.advance_to(self.clock.now());
            fleet.set_desired(&group.name, desired).map_err(|e| e.to_string())
        });
        Box::pin(std::future::ready(result.map_err(ActuatorError)))
    }
}
