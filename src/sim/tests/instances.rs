//! Instances: warm-ups, scale-in order, launch failures and retries, random failures.

use super::*;

#[test]
fn the_group_starts_with_desired_instances_ready() {
    let fleet = one_group(group("g", 3, (60, 120)), constant(10.0));
    let cap = capacity(&fleet, "g");
    assert_eq!((cap.desired, cap.ready, cap.warming, cap.failed), (3, 3, 0, 0));
    assert_eq!(cap.observed_at, START);
}

#[test]
fn warming_instances_never_serve_before_the_minimum_warmup() {
    // Demand far above capacity, so every ready instance serves flat out.
    let mut fleet = one_group(group("g", 2, (120, 300)), constant(500.0));
    fleet.advance_to(at(10));
    fleet.set_desired("g", 6).unwrap();
    assert_eq!(capacity(&fleet, "g").warming, 4);
    for t in 11..130 {
        fleet.advance_to(at(t));
        let state = fleet.state("g").unwrap();
        assert_eq!(state.served_rps, 20.0, "served more than the 2 ready instances at {t}s");
        assert_eq!((state.ready, capacity(&fleet, "g").ready), (2, 2));
    }
    fleet.advance_to(at(10 + 300));
    let cap = capacity(&fleet, "g");
    assert_eq!((cap.ready, cap.warming), (6, 0));
    assert_eq!(fleet.state("g").unwrap().served_rps, 60.0);
}

#[test]
fn ready_rises_only_after_each_instances_warmup() {
    // A fixed 180 s warm-up: launched at 10 s, ready at 190 s and not a step earlier.
    let mut fleet = one_group(group("g", 1, (180, 180)), constant(5.0));
    fleet.advance_to(at(10));
    fleet.set_desired("g", 3).unwrap();
    fleet.advance_to(at(189));
    assert_eq!((capacity(&fleet, "g").ready, capacity(&fleet, "g").warming), (1, 2));
    fleet.advance_to(at(190));
    assert_eq!((capacity(&fleet, "g").ready, capacity(&fleet, "g").warming), (3, 0));
}

#[test]
fn ready_count_climbs_one_instance_at_a_time_within_the_warmup_range() {
    let mut fleet = one_group(group("g", 0, (100, 200)), constant(5.0));
    fleet.set_desired("g", 20).unwrap();
    let mut previous = 0;
    for t in 1..=200 {
        fleet.advance_to(at(t));
        let cap = capacity(&fleet, "g");
        assert_eq!(cap.ready + cap.warming, 20);
        if t < 100 {
            assert_eq!(cap.ready, 0, "ready before the minimum warm-up at {t}s");
        }
        assert!(cap.ready >= previous);
        previous = cap.ready;
    }
    assert_eq!(previous, 20);
}

#[test]
fn scale_in_removes_warming_instances_before_ready_ones() {
    let mut fleet = one_group(group("g", 4, (120, 120)), constant(10.0));
    fleet.set_desired("g", 7).unwrap();
    fleet.set_desired("g", 5).unwrap();
    let cap = capacity(&fleet, "g");
    assert_eq!((cap.desired, cap.ready, cap.warming), (5, 4, 1));
    fleet.set_desired("g", 2).unwrap();
    let cap = capacity(&fleet, "g");
    assert_eq!((cap.desired, cap.ready, cap.warming), (2, 2, 0));
}

#[test]
fn a_desired_beyond_the_simulators_limit_is_refused() {
    let mut fleet = one_group(group("g", 1, (60, 60)), constant(1.0));
    assert!(fleet.set_desired("g", u32::MAX).is_err());
    assert_eq!(capacity(&fleet, "g").desired, 1);
}

#[test]
fn lost_launches_are_retried_after_the_backoff() {
    let sim = SimGroupSpec { launch_failure_probability: 1.0, ..constant(10.0) };
    let mut fleet = one_group(group("g", 1, (10, 10)), sim);
    fleet.set_desired("g", 3).unwrap();
    fleet.advance_to(at(600));
    let cap = capacity(&fleet, "g");
    assert_eq!((cap.desired, cap.ready, cap.warming), (3, 1, 0), "a launch that always fails arrived");

    // Half the launches lost: everything arrives eventually, some only after a retry.
    let sim = SimGroupSpec { launch_failure_probability: 0.5, ..constant(10.0) };
    let mut fleet = one_group(group("g", 0, (10, 10)), sim);
    fleet.set_desired("g", 20).unwrap();
    let launched_at_once = capacity(&fleet, "g").warming;
    assert!(launched_at_once < 20, "no launch was lost");
    fleet.advance_to(at(29));
    assert_eq!(capacity(&fleet, "g").ready, launched_at_once, "retried before the 30 s backoff");
    fleet.advance_to(at(600));
    assert_eq!(capacity(&fleet, "g").ready, 20);
}

#[test]
fn random_instance_failures_are_counted_and_replaced() {
    let sim = SimGroupSpec { instance_failures_per_hour: 6.0, ..constant(10.0) };
    let mut fleet = one_group(group("g", 10, (60, 60)), sim);
    let mut seen_failed = 0;
    for t in 1..=3600 {
        fleet.advance_to(at(t));
        let cap = capacity(&fleet, "g");
        assert_eq!(cap.ready + cap.warming, 10, "a failed instance was not replaced at once ({t}s)");
        seen_failed = seen_failed.max(cap.failed);
    }
    assert!(seen_failed > 0, "60 failures expected in an hour, none seen");
}
