//! Tests of the policy core: fixtures shared by the table tests of documented Kubernetes
//! HPA behaviour (`hpa`), the edge cases of DESIGN.md (`edges`) and the properties
//! (`props`), and the rule policies — step, simple, scheduled, predictive — through
//! `decide` (`rules`; their own modules test them alone).

mod edges;
mod hpa;
mod props;
mod rules;

use std::time::Duration;

use crate::model::{Capacity, MetricKind, Timestamp};
use crate::policy::spec::{LatencyGuard, PolicySpec, Stabilization, TargetTracking};
use crate::policy::state::{GroupState, Inputs, MetricInput};

/// 2023-11-14 22:13:20 UTC, a fixed origin so reasons print stable clock times.
pub const T0: i64 = 1_700_000_000_000;

pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_millis(T0 + secs * 1000)
}

pub fn tt(metric: MetricKind, target: f64) -> TargetTracking {
    TargetTracking { metric, target, per_instance: false, alarms: None }
}

/// Target tracking on GPU utilization 0.7, tolerance 0.1, default windows (0 s / 300 s).
pub fn gpu_policy() -> PolicySpec {
    PolicySpec {
        target_tracking: vec![tt(MetricKind::GpuUtil, 0.7)],
        tolerance: 0.1,
        stabilization: Stabilization::default(),
        ..PolicySpec::default()
    }
}

/// GPU utilization 0.7 and queue length 5 per instance, latency guard on a 2 s SLO.
pub fn full_policy() -> PolicySpec {
    let mut spec = gpu_policy();
    spec.target_tracking.push(TargetTracking {
        metric: MetricKind::QueueLength,
        target: 5.0,
        per_instance: true,
        alarms: None,
    });
    spec.latency_guard = Some(LatencyGuard {
        metric: MetricKind::LatencyP95,
        slo: Duration::from_secs(2),
        block_scale_in_above: 0.8,
    });
    spec
}

pub fn group(policy: PolicySpec, desired: u32, ready: u32, warming: u32) -> GroupState {
    GroupState {
        capacity: Capacity { desired, ready, warming, failed: 0, observed_at: at(0) },
        ..GroupState::new("llama-70b", (1, 20), 32.77, Duration::from_secs(300), policy)
    }
}

/// Fresh samples at `now`.
pub fn fresh(now: Timestamp, values: &[(MetricKind, f64)]) -> Inputs {
    Inputs {
        metrics: values.iter().map(|(kind, value)| MetricInput::new(kind.clone(), now, *value)).collect(),
        stale_after: Duration::from_secs(45),
        ..Inputs::default()
    }
}
