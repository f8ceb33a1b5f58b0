//! Metric sources: where a group's samples come from. [`MetricSource`] is the one trait
//! the engine polls; [`SimSource`] reads the simulated fleet. Sources report metrics only,
//! never capacity (that is the actuator's job), and stamp every sample with the time it
//! describes so the engine can judge freshness.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use crate::clock::Clock;
use crate::model::{GroupSpec, MetricSample};
use crate::sim::SimFleet;

/// A failed poll. The engine shows it, retries with backoff, and never crashes on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

pub trait MetricSource: Send + Sync {
    /// Short name for the UI and logs, e.g. `sim`.
    fn name(&self) -> &str;

    /// The group's newest samples. An empty list is not an error: it means no new data.
    fn poll<'a>(&'a self, group: &'a GroupSpec) -> BoxFuture<'a, Result<Vec<MetricSample>, SourceError>>;
}

/// The simulated fleet, shared by its source and actuator.
pub type SharedFleet = Arc<Mutex<SimFleet>>;

/// Reads samples from the simulated fleet, first running it forward to the clock's now.
pub struct SimSource {
    fleet: SharedFleet,
    clock: Arc<dyn Clock>,
}

impl SimSource {
    pub fn new(fleet: SharedFleet, clock: Arc<dyn Clock>) -> Self {
        SimSource { fleet, clock }
    }
}

impl MetricSource for SimSource {
    fn name(&self) -> &str {
        "sim"
    }

    fn poll<'a>(&'a self, group: &'a GroupSpec) -> BoxFuture<'a, Result<Vec<MetricSample>, SourceError>> {
        let result = lock_fleet(&self.fleet).and_then(|mut fleet| {
            fleet.advance_to(self.clock.now());
            fleet.sample(&group.name).map_err(|e| e.to_string())
        });
        Box::pin(std::future::ready(result.map_err(SourceError)))
    }
}

/// Locks the shared fleet; a poisoned lock (a panic elsewhere) becomes an error, not a panic.
pub(crate) fn lock_fleet(fleet: &SharedFleet) -> Result<std::sync::MutexGuard<'_, SimFleet>, String> {
    fleet.lock().map_err(|_| "the simulated fleet is unavailable (a previous call panicked)".to_string())
}
