//! Behaviour tests of the whole simulated fleet on virtual time: determinism, the queue,
//! warm-ups, failures, launches, incidents and metrics. The pure parts (latency, traffic
//! shapes, traces, random numbers) are tested next to their code.

use std::time::Duration;

use crate::model::{Capacity, GroupSpec, MetricKind, Serving, Timestamp, WarmupRange};

use super::{SimFleet, SimGroupSpec, TrafficSpec};

mod fleet;
mod incidents;
mod instances;
mod metrics;

/// A fixed start far from 0 so offsets and absolute times cannot be confused.
const START: Timestamp = Timestamp(1_700_000_000_000);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn at(offset_s: u64) -> Timestamp {
    START.plus(secs(offset_s))
}

fn group(name: &str, desired: u32, warmup_s: (u64, u64)) -> GroupSpec {
    GroupSpec {
        name: name.to_string(),
        source: crate::model::SIM.into(),
        actuator: crate::model::SIM.into(),
        min: 0,
        max: 1000,
        hard_max: None,
        desired,
        instance_type: "g5.xlarge".to_string(),
        hourly_cost_usd: 1.0,
        warmup: WarmupRange { min: secs(warmup_s.0), max: secs(warmup_s.1) },
        serving: Serving::Generic,
        slo_p95: None,
    }
}

/// Constant demand without noise, 10 req/s per instance.
fn constant(rps: f64) -> SimGroupSpec {
    SimGroupSpec { traffic: TrafficSpec::Constant { rps, noise: 0.0 }, ..SimGroupSpec::default() }
}

fn one_group(spec: GroupSpec, sim: SimGroupSpec) -> SimFleet {
    SimFleet::new(&[(spec, sim)], 1, START)
}

fn capacity(fleet: &SimFleet, name: &str) -> Capacity {
    fleet.capacity(name).unwrap()
}

fn value(fleet: &mut SimFleet, name: &str, kind: &MetricKind) -> Option<f64> {
    fleet.sample(name).unwrap().into_iter().find(|s| &s.kind == kind).map(|s| s.sample.value)
}
