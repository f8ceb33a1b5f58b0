//! The fleet as a whole: determinism, the step clock, catch-up, the queue over time.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::model::MetricSample;
use crate::protocol::SimCommand;
use crate::sim::{FINE_CATCH_UP, MAX_COARSE_STEPS, SimError, Trace};

/// Three groups with every random feature switched on.
fn busy_fleet(seed: u64) -> SimFleet {
    let noisy = |traffic| SimGroupSpec {
        traffic,
        instance_failures_per_hour: 2.0,
        metric_gap_probability: 0.1,
        launch_failure_probability: 0.2,
        ..SimGroupSpec::default()
    };
    let diurnal = TrafficSpec::Diurnal {
        base_rps: 20.0,
        peak_rps: 80.0,
        peak_at: secs(600),
        period: secs(3600),
        weekend_factor: 0.5,
        noise: 0.2,
    };
    let mut vllm = group("chat", 6, (60, 180));
    vllm.serving = Serving::Vllm;
    let groups = [
        (vllm, noisy(diurnal)),
        (group("vision", 3, (30, 90)), noisy(TrafficSpec::Constant { rps: 25.0, noise: 0.1 })),
        (group("embed", 2, (30, 60)), noisy(TrafficSpec::Constant { rps: 30.0, noise: 0.3 })),
    ];
    SimFleet::new(&groups, seed, START)
}

/// Runs a fixed script of calls and records everything the fleet reported.
fn run_script(fleet: &mut SimFleet) -> (Vec<Vec<MetricSample>>, Vec<Capacity>) {
    let (mut samples, mut capacities) = (Vec::new(), Vec::new());
    fleet.schedule(at(300), SimCommand::Fail { group: "vision".into(), count: 1 });
    for tick in 1..=180 {
        fleet.advance_to(at(tick * 10));
        if tick == 20 {
            fleet.set_desired("chat", 10).unwrap();
        }
        if tick == 90 {
            fleet.apply(&"spike embed x4 5m".parse().unwrap()).unwrap();
        }
        for name in ["chat", "vision", "embed"] {
            samples.push(fleet.sample(name).unwrap());
            capacities.push(fleet.capacity(name).unwrap());
        }
    }
    (samples, capacities)
}

#[test]
fn the_simulator_is_deterministic_for_a_seed() {
    let first = run_script(&mut busy_fleet(42));
    let second = run_script(&mut busy_fleet(42));
    assert_eq!(first, second);
}

#[test]
fn a_different_seed_gives_a_different_run() {
    let first = run_script(&mut busy_fleet(42));
    let other = run_script(&mut busy_fleet(43));
    assert_ne!(first.0, other.0);
}

#[test]
fn adding_a_group_does_not_change_the_others() {
    let alone = SimFleet::new(&[(group("a", 2, (60, 60)), noisy_constant())], 5, START);
    let mut alone = alone;
    let mut with_other = SimFleet::new(
        &[(group("b", 4, (60, 60)), noisy_constant()), (group("a", 2, (60, 60)), noisy_constant())],
        5,
        START,
    );
    for t in 1..=100 {
        alone.advance_to(at(t));
        with_other.advance_to(at(t));
        assert_eq!(alone.sample("a").unwrap(), with_other.sample("a").unwrap());
    }
}

fn noisy_constant() -> SimGroupSpec {
    SimGroupSpec { traffic: TrafficSpec::Constant { rps: 10.0, noise: 0.3 }, ..SimGroupSpec::default() }
}

#[test]
fn one_jump_and_many_small_steps_reach_the_same_state() {
    let (mut jumped, mut stepped) = (busy_fleet(7), busy_fleet(7));
    jumped.advance_to(at(1800));
    for t in 1..=3600 {
        stepped.advance_to(START.plus(Duration::from_millis(t * 500)));
    }
    for name in ["chat", "vision", "embed"] {
        assert_eq!(jumped.capacity(name), stepped.capacity(name));
        assert_eq!(jumped.state(name), stepped.state(name));
    }
}

#[test]
fn advance_runs_whole_steps_and_ignores_the_past() {
    let mut fleet = one_group(group("g", 1, (60, 60)), constant(5.0));
    fleet.advance_to(START.plus(Duration::from_millis(2_700)));
    assert_eq!(fleet.now(), at(2));
    fleet.advance_to(at(1));
    assert_eq!(fleet.now(), at(2));
    let samples = fleet.sample("g").unwrap();
    assert!(!samples.is_empty());
    assert!(samples.iter().all(|s| s.sample.at == at(2)));
    assert_eq!(capacity(&fleet, "g").observed_at, at(2));
}

#[test]
fn a_jump_of_a_month_is_caught_up_in_bounded_steps() {
    // At most MAX_COARSE_STEPS coarse steps, then the last FINE_CATCH_UP in 1 s steps,
    // whatever the jump's length (its wall-clock cost is the `sim` benchmark's business).
    let fine = FINE_CATCH_UP.as_secs();
    let bound = MAX_COARSE_STEPS as u64 + fine;
    let mut fleet = busy_fleet(3);
    fleet.advance_to(at(30 * 86_400));
    assert_eq!(fleet.now(), at(30 * 86_400));
    let month = fleet.steps_run();
    assert!(month > fine && month <= bound, "{month} steps for a month, bound {bound}");
    // Ten times the jump, no more steps.
    fleet.advance_to(at(330 * 86_400));
    let ten_months = fleet.steps_run() - month;
    assert!(ten_months <= bound, "{ten_months} steps for 300 days, bound {bound}");
    let chat = capacity(&fleet, "chat");
    assert_eq!(chat.desired, 6);
    assert!(fleet.state("chat").unwrap().backlog >= 0.0);
}

#[test]
fn scheduled_events_fire_when_the_clock_passes_them_and_are_reported_once() {
    let mut fleet = one_group(group("g", 4, (60, 60)), constant(10.0));
    fleet.schedule(at(30), SimCommand::Fail { group: "g".into(), count: 1 });
    fleet.schedule(at(10), SimCommand::Spike { group: "g".into(), factor: 2.0, duration: secs(60) });
    fleet.schedule(at(20), SimCommand::Fail { group: "nope".into(), count: 1 });
    fleet.advance_to(at(9));
    assert!(fleet.take_applied().is_empty());
    fleet.advance_to(at(100));
    let applied = fleet.take_applied();
    let times: Vec<Timestamp> = applied.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, vec![at(10), at(20), at(30)]);
    assert!(applied[0].1.contains("×2"), "{applied:?}");
    assert!(applied[1].1.contains("ignored") && applied[1].1.contains("nope"), "{applied:?}");
    assert!(applied[2].1.contains("1 ready instance failed"), "{applied:?}");
    assert!(fleet.take_applied().is_empty());
}

#[test]
fn unknown_groups_are_refused_everywhere() {
    let mut fleet = one_group(group("g", 1, (60, 60)), constant(1.0));
    let unknown = Err(SimError::UnknownGroup("x".into()));
    assert_eq!(fleet.capacity("x"), unknown.clone().map(|()| Capacity::default()));
    assert_eq!(fleet.set_desired("x", 2), unknown.clone());
    assert_eq!(fleet.sample("x"), unknown.clone().map(|()| Vec::new()));
    assert_eq!(fleet.apply(&"fail x 1".parse().unwrap()), unknown.clone().map(|()| String::new()));
    assert!(fleet.state("x").is_err());
}

#[test]
fn overload_builds_a_backlog_then_drops_requests_at_the_queue_limit() {
    // 2 instances × 10 req/s = 20 req/s against 30: the backlog grows 10 a second until
    // it holds 60 s of capacity (1200 requests), then 10 req/s are dropped.
    let mut fleet = one_group(group("g", 2, (60, 60)), constant(30.0));
    fleet.advance_to(at(10));
    let state = fleet.state("g").unwrap();
    assert!((state.backlog - 100.0).abs() < 1e-9 && state.dropped_rps == 0.0, "{state:?}");
    assert_eq!(state.served_rps, 20.0);
    fleet.advance_to(at(200));
    let state = fleet.state("g").unwrap();
    assert!((state.backlog - 1200.0).abs() < 1e-9, "{state:?}");
    assert!((state.dropped_rps - 10.0).abs() < 1e-9, "{state:?}");
    assert!((value(&mut fleet, "g", &MetricKind::ErrorRate).unwrap() - 10.0).abs() < 1e-9);
}

#[test]
fn trace_traffic_follows_the_trace() {
    let trace = Trace::from_csv("t_seconds,requests_per_second\n0,1\n5,3\n10,2\n".as_bytes()).unwrap();
    let traffic = TrafficSpec::Trace { trace: Arc::new(trace), scale: 10.0, looped: true };
    let mut fleet = one_group(group("g", 1, (60, 60)), SimGroupSpec { traffic, ..SimGroupSpec::default() });
    let mut demand = Vec::new();
    for t in 1..=16 {
        fleet.advance_to(at(t));
        demand.push(fleet.state("g").unwrap().demand_rps);
    }
    let expected = [10., 10., 10., 10., 30., 30., 30., 30., 30., 20., 20., 20., 20., 20., 10., 10.];
    assert_eq!(demand, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn backlog_is_never_negative(
        rps in 0.0f64..500.0,
        noise in 0.0f64..1.0,
        per_instance in 0.0f64..50.0,
        script in proptest::collection::vec((0u32..40, 1u64..600, 0.1f64..10.0), 1..12),
    ) {
        let sim = SimGroupSpec {
            capacity_rps_per_instance: per_instance,
            traffic: TrafficSpec::Constant { rps, noise },
            instance_failures_per_hour: 5.0,
            launch_failure_probability: 0.3,
            ..SimGroupSpec::default()
        };
        let mut fleet = one_group(group("g", 3, (10, 120)), sim);
        let mut t = 0;
        for (desired, wait_s, spike) in script {
            fleet.set_desired("g", desired).unwrap();
            fleet.apply(&SimCommand::Spike { group: "g".into(), factor: spike, duration: secs(wait_s) }).unwrap();
            for _ in 0..wait_s.div_ceil(10) {
                t += 10;
                fleet.advance_to(at(t));
                let state = fleet.state("g").unwrap();
                prop_assert!(state.backlog >= 0.0, "{state:?}");
                prop_assert!(state.served_rps <= state.capacity_rps + 1e-9, "{state:?}");
                for s in fleet.sample("g").unwrap() {
                    prop_assert!(s.sample.value.is_finite() && s.sample.value >= 0.0, "{s:?}");
                }
            }
        }
    }
}
