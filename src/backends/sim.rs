//! The simulator as a backend: [`SimSource`] reads the simulated fleet's metrics,
//! [`SimActuator`] observes and changes its capacity and keeps its pause markers, and
//! [`SimControl`] is the capability only this backend has — `:sim` incidents and the
//! scheduled ones it played. All three share one [`SimFleet`], run forward to the clock's
//! now on every call.

use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;

use crate::actuators::{Actuator, Observation, TargetBounds};
use crate::clock::Clock;
use crate::model::{BackendError, GroupSpec, Timestamp};
use crate::protocol::SimCommand;
use crate::sim::{MAX_INSTANCES_PER_GROUP, SimError, SimFleet};
use crate::sources::{MetricSource, SourcePoll};

/// The simulated fleet, shared by its source, actuator and control.
pub type SharedFleet = Arc<Mutex<SimFleet>>;

/// Locks the shared fleet; a poisoned lock (a panic elsewhere) becomes an error, not a panic.
fn lock(fleet: &SharedFleet) -> Result<MutexGuard<'_, SimFleet>, BackendError> {
    fleet
        .lock()
        .map_err(|_| BackendError::transient("the simulated fleet is unavailable (a previous call panicked)"))
}

/// A group the simulator does not have is a missing target, like an unknown ASG.
fn sim_error(err: SimError) -> BackendError {
    match err {
        SimError::UnknownGroup(_) => BackendError::not_found(err.to_string()),
        other => BackendError::transient(other.to_string()),
    }
}

/// The fleet run forward to the clock's now, locked.
fn advanced<'a>(fleet: &'a SharedFleet, clock: &dyn Clock) -> Result<MutexGuard<'a, SimFleet>, BackendError> {
    let mut fleet = lock(fleet)?;
    fleet.advance_to(clock.now());
    Ok(fleet)
}

/// Reads samples from the simulated fleet.
pub struct SimSource {
    name: String,
    fleet: SharedFleet,
    clock: Arc<dyn Clock>,
}

impl SimSource {
    pub fn new(name: impl Into<String>, fleet: SharedFleet, clock: Arc<dyn Clock>) -> Self {
        SimSource { name: name.into(), fleet, clock }
    }
}

impl MetricSource for SimSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll<'a>(&'a self, groups: &'a [GroupSpec]) -> BoxFuture<'a, SourcePoll> {
        let result = advanced(&self.fleet, self.clock.as_ref())
            .map(|mut fleet| groups.iter().map(|g| fleet.sample(&g.name).map_err(sim_error)).collect());
        Box::pin(std::future::ready(result))
    }
}

/// Observes and changes the simulated fleet's capacity, and keeps each group's pause
/// marker as an ASG keeps a tag.
pub struct SimActuator {
    name: String,
    fleet: SharedFleet,
    clock: Arc<dyn Clock>,
}

impl SimActuator {
    pub fn new(name: impl Into<String>, fleet: SharedFleet, clock: Arc<dyn Clock>) -> Self {
        SimActuator { name: name.into(), fleet, clock }
    }
}

impl Actuator for SimActuator {
    fn name(&self) -> &str {
        &self.name
    }

    /// This process's own simulated fleet: no other engine can act on it.
    fn needs_lease(&self) -> bool {
        false
    }

    /// The simulator's own limit is its only bound: it launches at most
    /// [`MAX_INSTANCES_PER_GROUP`] instances a group.
    fn observe<'a>(&'a self, group: &'a GroupSpec) -> BoxFuture<'a, Result<Observation, BackendError>> {
        let result = advanced(&self.fleet, self.clock.as_ref()).and_then(|fleet| {
            let capacity = fleet.capacity(&group.name).map_err(sim_error)?;
            let marker = fleet.marker(&group.name).map_err(sim_error)?.map(str::to_string);
            Ok(Observation {
                capacity,
                bounds: Some(TargetBounds { min: 0, max: MAX_INSTANCES_PER_GROUP }),
                marker,
                warnings: Vec::new(),
            })
        });
        Box::pin(std::future::ready(result))
    }

    fn set_desired<'a>(
        &'a self,
        group: &'a GroupSpec,
        desired: u32,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        let result = advanced(&self.fleet, self.clock.as_ref())
            .and_then(|mut fleet| fleet.set_desired(&group.name, desired).map_err(sim_error));
        Box::pin(std::future::ready(result))
    }

    fn write_marker<'a>(
        &'a self,
        group: &'a GroupSpec,
        marker: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        let result = lock(&self.fleet).and_then(|mut fleet| {
            fleet.set_marker(&group.name, marker.map(str::to_string)).map_err(sim_error)
        });
        Box::pin(std::future::ready(result))
    }
}

/// What only the simulator offers: incidents on demand (`:sim spike …`) and the
/// scheduled incidents it played, for the engine to announce.
#[derive(Clone)]
pub struct SimControl {
    fleet: SharedFleet,
}

impl SimControl {
    pub fn new(fleet: SharedFleet) -> Self {
        SimControl { fleet }
    }

    /// Applies an incident at `at`; its description in words, or why it could not be.
    pub fn apply(&self, command: &SimCommand, at: Timestamp) -> Result<String, String> {
        let mut fleet = lock(&self.fleet).map_err(|e| e.to_string())?;
        fleet.advance_to(at);
        fleet.apply(command).map_err(|e| e.to_string())
    }

    /// Scheduled incidents played since the last call (none if the fleet is unavailable).
    pub fn take_applied(&self) -> Vec<(Timestamp, String)> {
        lock(&self.fleet).map(|mut fleet| fleet.take_applied()).unwrap_or_default()
    }

    /// The fleet itself, for tests and tools that look inside it.
    pub fn fleet(&self) -> &SharedFleet {
        &self.fleet
    }
}
