//! Scripted incidents: spikes, instance failures, metric gaps, stockouts.

use super::*;
use crate::protocol::SimCommand;

fn apply(fleet: &mut SimFleet, command: &str) -> String {
    fleet.apply(&command.parse::<SimCommand>().unwrap()).unwrap()
}

fn demand(fleet: &SimFleet) -> f64 {
    fleet.state("g").unwrap().demand_rps
}

#[test]
fn a_spike_multiplies_demand_by_its_factor_for_its_duration() {
    let mut fleet = one_group(group("g", 2, (60, 60)), constant(10.0));
    fleet.advance_to(at(100));
    let description = apply(&mut fleet, "spike g x3 for 1m");
    assert_eq!(description, "g: demand ×3 for 1m");
    for t in 101..=160 {
        fleet.advance_to(at(t));
        assert_eq!(demand(&fleet), 30.0, "at {t}s");
    }
    fleet.advance_to(at(161));
    assert_eq!(demand(&fleet), 10.0);
}

#[test]
fn a_spike_follows_a_moving_baseline() {
    let traffic =
        TrafficSpec::Ramp { from_rps: 10.0, to_rps: 100.0, start: secs(0), over: secs(900), noise: 0.0 };
    let mut fleet = one_group(group("g", 2, (60, 60)), SimGroupSpec { traffic, ..SimGroupSpec::default() });
    apply(&mut fleet, "spike g x2.5 5m");
    for t in 1..=400 {
        fleet.advance_to(at(t));
        let state = fleet.state("g").unwrap();
        let factor = if t <= 300 { 2.5 } else { 1.0 };
        assert!((state.demand_rps - factor * state.baseline_rps).abs() < 1e-9, "at {t}s: {state:?}");
        assert!((state.baseline_rps - (10.0 + 0.1 * t as f64)).abs() < 1e-9);
    }
}

#[test]
fn overlapping_spikes_multiply() {
    let mut fleet = one_group(group("g", 2, (60, 60)), constant(10.0));
    apply(&mut fleet, "spike g x2 2m");
    fleet.advance_to(at(60));
    apply(&mut fleet, "spike g x3 2m");
    fleet.advance_to(at(61));
    assert_eq!(demand(&fleet), 60.0);
    fleet.advance_to(at(121));
    assert_eq!(demand(&fleet), 30.0);
    fleet.advance_to(at(181));
    assert_eq!(demand(&fleet), 10.0);
}

#[test]
fn failed_instances_are_counted_and_replacements_launched() {
    let mut fleet = one_group(group("g", 4, (120, 120)), constant(10.0));
    fleet.advance_to(at(10));
    let description = apply(&mut fleet, "fail g 2");
    assert_eq!(description, "g: 2 ready instances failed, replacements requested");
    let cap = capacity(&fleet, "g");
    assert_eq!((cap.desired, cap.ready, cap.warming, cap.failed), (4, 2, 2, 2));
    fleet.advance_to(at(11));
    assert_eq!(fleet.state("g").unwrap().capacity_rps, 20.0);
    fleet.advance_to(at(130));
    let cap = capacity(&fleet, "g");
    assert_eq!((cap.ready, cap.warming, cap.failed), (4, 0, 2));
    fleet.advance_to(at(309));
    assert_eq!(capacity(&fleet, "g").failed, 2);
    fleet.advance_to(at(310));
    assert_eq!(capacity(&fleet, "g").failed, 0, "failed are shown for 5 minutes");
}

#[test]
fn failing_more_instances_than_are_ready_fails_the_ready_ones() {
    let mut fleet = one_group(group("g", 2, (60, 60)), constant(10.0));
    let description = apply(&mut fleet, "fail g 5");
    assert!(description.contains("5 asked, only 2 ready"), "{description}");
    let cap = capacity(&fleet, "g");
    assert_eq!((cap.ready, cap.warming, cap.failed), (0, 2, 2));
}

#[test]
fn a_gap_leaves_out_every_sample_for_its_duration() {
    let mut fleet = one_group(group("g", 2, (60, 60)), constant(10.0));
    fleet.advance_to(at(5));
    assert_eq!(apply(&mut fleet, "gap g 30s"), "g: metrics missing for 30s");
    for t in 5..35 {
        fleet.advance_to(at(t));
        assert!(fleet.sample("g").unwrap().is_empty(), "sample at {t}s");
    }
    fleet.advance_to(at(35));
    assert!(!fleet.sample("g").unwrap().is_empty());
    assert_eq!(capacity(&fleet, "g").ready, 2, "a metrics gap is not an outage");
}

#[test]
fn random_gaps_leave_out_series_at_their_probability() {
    let sim = SimGroupSpec { metric_gap_probability: 0.25, ..constant(10.0) };
    let mut fleet = one_group(group("g", 2, (60, 60)), sim);
    let full = value(&mut one_group(group("g", 2, (60, 60)), constant(10.0)), "g", &MetricKind::RequestRate);
    assert!(full.is_some());
    let (mut present, mut polls) = (0usize, 0usize);
    for t in 1..=1000 {
        fleet.advance_to(at(t));
        present += fleet.sample("g").unwrap().len();
        polls += 1;
    }
    // Generic group with demand and ready instances: 8 series per poll.
    let share = present as f64 / (8 * polls) as f64;
    assert!((share - 0.75).abs() < 0.03, "present share {share}");
}

#[test]
fn requested_instances_never_arrive_during_a_stockout() {
    let mut fleet = one_group(group("g", 2, (30, 60)), constant(10.0));
    assert_eq!(apply(&mut fleet, "stockout g 10m"), "g: no capacity for launches for 10m (stockout)");
    fleet.set_desired("g", 6).unwrap();
    for t in 1..600 {
        fleet.advance_to(at(t));
        let cap = capacity(&fleet, "g");
        assert_eq!((cap.ready, cap.warming), (2, 0), "an instance arrived during the stockout at {t}s");
    }
    // The stockout ends at 600 s, when the 30 s retries land on the next attempt.
    fleet.advance_to(at(600));
    assert_eq!(capacity(&fleet, "g").warming, 4);
    fleet.advance_to(at(700));
    assert_eq!(capacity(&fleet, "g").ready, 6);
}

#[test]
fn a_stockout_also_stops_replacements_of_failed_instances() {
    let mut fleet = one_group(group("g", 3, (30, 30)), constant(10.0));
    apply(&mut fleet, "stockout g 5m");
    apply(&mut fleet, "fail g 1");
    fleet.advance_to(at(299));
    let cap = capacity(&fleet, "g");
    assert_eq!((cap.desired, cap.ready, cap.warming), (3, 2, 0));
}

#[test]
fn a_nonsense_spike_factor_is_refused() {
    let mut fleet = one_group(group("g", 1, (60, 60)), constant(10.0));
    let spike = SimCommand::Spike { group: "g".into(), factor: f64::NAN, duration: secs(10) };
    assert!(fleet.apply(&spike).is_err());
}
