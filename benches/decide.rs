//! `policy::decide` for a 100-group fleet: each group tracks GPU utilization and queue
//! length per instance, has a latency guard, and a recommendation history of 20 entries
//! (5 minutes at one tick per 15 s). The engine decides every group every tick, so this is
//! the policy's share of a tick.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use fleetdeck::model::{Capacity, MetricKind, Timestamp};
use fleetdeck::policy::{
    GroupState, Inputs, LatencyGuard, MetricInput, PolicySpec, Recommendation, TargetTracking, decide,
};

const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

fn group(i: u32) -> (GroupState, Inputs) {
    let desired = 2 + i % 12;
    let policy = PolicySpec {
        target_tracking: vec![
            TargetTracking { metric: MetricKind::GpuUtil, target: 0.7, per_instance: false, alarms: None },
            TargetTracking { metric: MetricKind::QueueLength, target: 5.0, per_instance: true, alarms: None },
        ],
        tolerance: 0.1,
        latency_guard: Some(LatencyGuard {
            metric: MetricKind::LatencyP95,
            slo: Duration::from_secs(2),
            block_scale_in_above: 0.8,
        }),
        ..PolicySpec::default()
    };
    let recent_recommendations = (0..20u64)
        .map(|k| Recommendation {
            at: NOW.minus(Duration::from_secs(15 * (20 - k))),
            desired: desired + (k % 3) as u32,
        })
        .collect();
    let state = GroupState {
        name: format!("group-{i:03}"),
        min: 1,
        max: 40,
        hard_max: None,
        hourly_cost_usd: 32.77,
        max_warmup: Duration::from_secs(300),
        policy,
        capacity: Capacity { desired, ready: desired - i % 2, warming: i % 2, failed: 0, observed_at: NOW },
        recent_recommendations,
        recent_activities: Vec::new(),
        hold: None,
        pause: None,
        scale_out_pending_since: None,
        last_tick: Some(NOW.minus(Duration::from_secs(15))),
    };
    // A spread of loads: some groups scale out, some in, most stay.
    let load = 0.2 + f64::from(i % 10) * 0.12;
    let metric = |kind, value| MetricInput::new(kind, NOW.minus(Duration::from_secs(2)), value);
    let inputs = Inputs {
        metrics: vec![
            metric(MetricKind::GpuUtil, load),
            metric(MetricKind::QueueLength, load * 8.0 * f64::from(desired)),
            metric(MetricKind::RequestRate, 40.0 * load),
            metric(MetricKind::LatencyP95, 0.4 + load),
        ],
        stale_after: Duration::from_secs(45),
        ..Inputs::default()
    };
    (state, inputs)
}

fn bench(c: &mut Criterion) {
    let fleet: Vec<_> = (0..100).map(group).collect();
    c.bench_function("decide 100 groups", |b| {
        b.iter(|| {
            for (state, inputs) in &fleet {
                black_box(decide(black_box(state), black_box(inputs), NOW));
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
