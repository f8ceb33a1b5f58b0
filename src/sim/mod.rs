//! The simulated fleet. PLACEHOLDER: the public surface below is fixed; the bodies are
//! being written (see the sim work item). Deterministic from a seed, on a caller-driven
//! clock (`advance_to(now)`), so real time and virtual time look the same to it.

use std::sync::Arc;
use std::time::Duration;

use crate::model::{Capacity, GroupSpec, MetricSample, Timestamp};
use crate::protocol::SimCommand;

mod trace;

pub use trace::{Trace, TraceError};

/// How one group behaves in the simulator (beyond its [`GroupSpec`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SimGroupSpec {
    /// Requests per second one ready instance serves at 100 % utilization.
    pub capacity_rps_per_instance: f64,
    /// Median latency of a request on an idle instance.
    pub service_time: Duration,
    pub traffic: TrafficSpec,
    /// Random instance failures, per ready instance per hour (0 = none).
    pub instance_failures_per_hour: f64,
    /// Probability that one poll of one series finds no new sample (0 = never).
    pub metric_gap_probability: f64,
    /// Probability that a requested launch never arrives (no GPU capacity in the zone).
    pub launch_failure_probability: f64,
}

impl Default for SimGroupSpec {
    fn default() -> Self {
        SimGroupSpec {
            capacity_rps_per_instance: 10.0,
            service_time: Duration::from_millis(300),
            traffic: TrafficSpec::Constant { rps: 10.0, noise: 0.0 },
            instance_failures_per_hour: 0.0,
            metric_gap_probability: 0.0,
            launch_failure_probability: 0.0,
        }
    }
}

/// Demand (requests/s) over time. Offsets (`peak_at`, `at`, `start`) are measured from the
/// simulation start. `noise` is the relative standard deviation of multiplicative noise.
#[derive(Clone, Debug, PartialEq)]
pub enum TrafficSpec {
    Constant {
        rps: f64,
        noise: f64,
    },
    /// Daily cycle between `base_rps` (trough) and `peak_rps` (peak at `peak_at` into each
    /// `period`); days 6 and 7 of each week of periods are scaled by `weekend_factor`.
    Diurnal {
        base_rps: f64,
        peak_rps: f64,
        peak_at: Duration,
        period: Duration,
        weekend_factor: f64,
        noise: f64,
    },
    /// `base_rps`, then at `at` a rise to `base_rps × factor` over `ramp`, held for `hold`,
    /// then back down over `ramp`.
    FlashCrowd {
        base_rps: f64,
        factor: f64,
        at: Duration,
        ramp: Duration,
        hold: Duration,
        noise: f64,
    },
    /// Linear from `from_rps` to `to_rps` between `start` and `start + over`, flat around it.
    Ramp {
        from_rps: f64,
        to_rps: f64,
        start: Duration,
        over: Duration,
        noise: f64,
    },
    /// A recorded trace, rates × `scale`; after its end it loops if `looped`, else holds.
    Trace {
        trace: Arc<Trace>,
        scale: f64,
        looped: bool,
    },
}

/// A mistake in a request to the simulator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("no group named `{0}` in the simulated fleet")]
    UnknownGroup(String),
}

/// The whole simulated fleet.
pub struct SimFleet {}

impl SimFleet {
    pub fn new(_groups: &[(GroupSpec, SimGroupSpec)], _seed: u64, _start: Timestamp) -> Self {
        unimplemented!("sim in progress")
    }

    pub fn now(&self) -> Timestamp {
        unimplemented!("sim in progress")
    }

    /// Runs the simulation forward to `now` in fixed steps; earlier instants are ignored.
    pub fn advance_to(&mut self, _now: Timestamp) {
        unimplemented!("sim in progress")
    }

    pub fn capacity(&self, _group: &str) -> Result<Capacity, SimError> {
        unimplemented!("sim in progress")
    }

    pub fn set_desired(&mut self, _group: &str, _desired: u32) -> Result<(), SimError> {
        unimplemented!("sim in progress")
    }

    /// The group's metrics as a source would report them now (gaps leave some out).
    pub fn sample(&mut self, _group: &str) -> Result<Vec<MetricSample>, SimError> {
        unimplemented!("sim in progress")
    }

    /// Applies an incident now; returns a one-line description of what was done.
    pub fn apply(&mut self, _command: &SimCommand) -> Result<String, SimError> {
        unimplemented!("sim in progress")
    }

    /// Schedules an incident to be applied when the simulation reaches `at`.
    pub fn schedule(&mut self, _at: Timestamp, _command: SimCommand) {
        unimplemented!("sim in progress")
    }

    /// Scheduled incidents applied since the last call, with when and what.
    pub fn take_applied(&mut self) -> Vec<(Timestamp, String)> {
        unimplemented!("sim in progress")
    }
}
