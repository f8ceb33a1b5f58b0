//! Simulator step cost: one `advance_to(now + 1 s)` of a 100-group fleet mixing every
//! traffic shape, both serving kinds, noise, instance failures and launch failures.
//! Budget: well under 50 µs (≈ 500 ns per group), since the console steps on every poll.
//!
//! And a catch-up: a 30-day jump of the same fleet (a laptop waking after a month, a
//! replay skipping ahead), at most `MAX_COARSE_STEPS` coarse steps plus the last hour in
//! 1 s steps. Budget: under 5 s (the unit test checks the step count, not the time).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use fleetdeck::model::{GroupSpec, Serving, Timestamp, WarmupRange};
use fleetdeck::sim::{SimFleet, SimGroupSpec, Trace, TrafficSpec};

fn traffic(i: usize, trace: &Arc<Trace>) -> TrafficSpec {
    let secs = Duration::from_secs;
    match i % 5 {
        0 => TrafficSpec::Constant { rps: 40.0, noise: 0.1 },
        1 => TrafficSpec::Diurnal {
            base_rps: 10.0,
            peak_rps: 80.0,
            peak_at: secs(14 * 3600),
            period: secs(86_400),
            weekend_factor: 0.6,
            noise: 0.15,
        },
        2 => TrafficSpec::FlashCrowd {
            base_rps: 20.0,
            factor: 6.0,
            at: secs(30),
            ramp: secs(60),
            hold: secs(600),
            noise: 0.1,
        },
        3 => {
            TrafficSpec::Ramp { from_rps: 10.0, to_rps: 90.0, start: secs(0), over: secs(3600), noise: 0.05 }
        }
        _ => TrafficSpec::Trace { trace: Arc::clone(trace), scale: 8.0, looped: true },
    }
}

fn fleet_of_100() -> (SimFleet, Timestamp) {
    // A synthetic per-second trace the size of the shared Azure ones (an hour, bursty).
    let points = (0..3600).map(|t| (f64::from(t), 2.0 + f64::from((t * 7919) % 13))).collect();
    let trace = Arc::new(Trace { points });
    let groups: Vec<(GroupSpec, SimGroupSpec)> = (0..100)
        .map(|i| {
            let spec = GroupSpec {
                name: format!("group-{i:03}"),
                source: fleetdeck::model::SIM.into(),
                actuator: fleetdeck::model::SIM.into(),
                min: 1,
                max: 64,
                hard_max: None,
                desired: 4 + (i % 8) as u32,
                instance_type: "g5.2xlarge".into(),
                hourly_cost_usd: 1.2,
                warmup: WarmupRange::default(),
                serving: if i % 2 == 0 { Serving::Vllm } else { Serving::Generic },
                slo_p95: Some(Duration::from_secs(2)),
            };
            let sim = SimGroupSpec {
                traffic: traffic(i, &trace),
                instance_failures_per_hour: 0.5,
                metric_gap_probability: 0.01,
                launch_failure_probability: 0.05,
                ..SimGroupSpec::default()
            };
            (spec, sim)
        })
        .collect();
    let start = Timestamp::from_millis(1_700_000_000_000);
    let mut fleet = SimFleet::new(&groups, 42, start);
    // Warm past start-up so the measured steps are the steady state.
    let now = start.plus(Duration::from_secs(600));
    fleet.advance_to(now);
    (fleet, now)
}

fn sim_step(c: &mut Criterion) {
    let (mut fleet, mut now) = fleet_of_100();
    c.bench_function("sim step, 100 groups", |b| {
        b.iter(|| {
            now = now.plus(Duration::from_secs(1));
            fleet.advance_to(black_box(now));
        })
    });
}

fn sim_month_jump(c: &mut Criterion) {
    let mut bench = c.benchmark_group("sim catch-up");
    bench.sample_size(10);
    bench.bench_function("a 30-day jump, 100 groups", |b| {
        b.iter_batched(
            fleet_of_100,
            |(mut fleet, now)| {
                fleet.advance_to(black_box(now.plus(Duration::from_secs(30 * 86_400))));
                fleet
            },
            criterion::BatchSize::LargeInput,
        )
    });
    bench.finish();
}

criterion_group!(benches, sim_step, sim_month_jump);
criterion_main!(benches);
