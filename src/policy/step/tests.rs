//! Step and simple scaling against the examples of "Step and simple scaling policies for
//! Amazon EC2 Auto Scaling"
//! (<https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html>),
//! cited per test as "AWS page, <section>".

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::model::{AlarmState, Capacity, Timestamp};
use crate::policy::spec::{ActivityCause, AdjustmentType, AlarmInput, PolicyKind, ScalingActivity};

const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);
const WARMUP: Duration = Duration::from_secs(300);

fn step(lower: Option<f64>, upper: Option<f64>, adjustment: f64) -> StepAdjustment {
    StepAdjustment { lower, upper, adjustment }
}

/// AWS page, "Step adjustments": the scale-out policy (percent of group, threshold 50).
fn aws_scale_out() -> StepRule {
    StepRule {
        alarm: "cpu-high".into(),
        adjustment_type: AdjustmentType::PercentChangeInCapacity,
        steps: vec![
            step(Some(0.0), Some(10.0), 0.0),
            step(Some(10.0), Some(20.0), 10.0),
            step(Some(20.0), None, 30.0),
        ],
        min_adjustment_magnitude: None,
        warmup: Some(WARMUP),
    }
}

/// AWS page, "Step adjustments": the scale-in policy.
fn aws_scale_in() -> StepRule {
    StepRule {
        alarm: "cpu-low".into(),
        adjustment_type: AdjustmentType::PercentChangeInCapacity,
        steps: vec![
            step(Some(-10.0), Some(0.0), 0.0),
            step(Some(-20.0), Some(-10.0), -10.0),
            step(None, Some(-20.0), -30.0),
        ],
        min_adjustment_magnitude: None,
        warmup: Some(WARMUP),
    }
}

fn alarm(name: &str, state: AlarmState, value: f64) -> AlarmInput {
    AlarmInput { name: name.into(), state, value: Some(value), value_at: None, threshold: 50.0, since: None }
}

fn firing(name: &str, value: f64) -> AlarmInput {
    alarm(name, AlarmState::Firing, value)
}

fn cap(desired: u32, ready: u32, warming: u32) -> Capacity {
    Capacity { desired, ready, warming, failed: 0, observed_at: NOW }
}

fn activity(ago_secs: u64, from: u32, to: u32, policy: PolicyKind) -> ScalingActivity {
    let at = NOW.minus(Duration::from_secs(ago_secs));
    ScalingActivity { at, from, to, cause: ActivityCause::Policy, policy: Some(policy) }
}

fn by_rule(rule: &StepRule) -> PolicyKind {
    PolicyKind::StepScaling { alarm: rule.alarm.clone() }
}

fn run(rule: &StepRule, value: f64, capacity: Capacity, history: &[ScalingActivity]) -> Proposal {
    step_proposal(rule, Some(&firing(&rule.alarm, value)), &capacity, history, WARMUP, NOW)
}

#[test]
fn the_aws_step_adjustments_example_is_reproduced() {
    // AWS page, "Step adjustments": group of 10, threshold 50, the two policies above.
    let out = aws_scale_out();
    let inn = aws_scale_in();
    let cases: [(&str, &StepRule, f64, Capacity, Option<u32>); 7] = [
        ("between 40 and 60 the capacity is kept (out)", &out, 55.0, cap(10, 10, 0), None),
        ("between 40 and 60 the capacity is kept (in)", &inn, 45.0, cap(10, 10, 0), None),
        ("at 60: +10 % of 10 → 11", &out, 60.0, cap(10, 10, 0), Some(11)),
        ("at 70 after warm-up: +30 % of 11 = 3.3 → 3 → 14", &out, 70.0, cap(11, 11, 0), Some(14)),
        ("at 40: −10 % of 14 = 1.4 → 1 → 13", &inn, 40.0, cap(14, 14, 0), Some(13)),
        ("at 30: −30 % of 13 = 3.9 → 3 → 10", &inn, 30.0, cap(13, 13, 0), Some(10)),
        ("above 70 still the third step", &out, 95.0, cap(10, 10, 0), Some(13)),
    ];
    for (what, rule, value, capacity, want) in cases {
        let proposal = run(rule, value, capacity, &[]);
        assert_eq!(proposal.desired, want, "{what}: {}", proposal.reason);
    }
}

#[test]
fn breaches_while_earlier_steps_warm_apply_only_the_difference() {
    // AWS page, "Instance warm-up": at 60 desired went 10 → 11; while that instance warms,
    // 62 adds nothing (desired already 11) and 70 adds 30 % of 10 = 3 minus the 1 → 13.
    let rule = aws_scale_out();
    let history = [activity(60, 10, 11, by_rule(&rule))];
    let warming = cap(11, 10, 1);

    let at_62 = run(&rule, 62.0, warming, &history);
    assert_eq!(at_62.desired, Some(11), "{}", at_62.reason);
    assert!(at_62.reason.contains("desired already 11"), "{}", at_62.reason);

    let at_70 = run(&rule, 70.0, warming, &history);
    assert_eq!(at_70.desired, Some(13), "{}", at_70.reason);
}

#[test]
fn an_instance_counts_as_warming_until_the_rule_warmup_ends_even_when_ready() {
    // AWS page, "Instance warm-up": "Until its specified warm-up time has expired, an
    // instance is not counted". Ready after 200 s, but the rule's warm-up is 300 s.
    let rule = aws_scale_out();
    let ready_early = run(&rule, 70.0, cap(11, 11, 0), &[activity(200, 10, 11, by_rule(&rule))]);
    assert_eq!(ready_early.desired, Some(13), "{}", ready_early.reason);
    let warmed = run(&rule, 70.0, cap(11, 11, 0), &[activity(301, 10, 11, by_rule(&rule))]);
    assert_eq!(warmed.desired, Some(14), "{}", warmed.reason);
}

#[test]
fn the_default_warmup_applies_when_the_rule_has_none() {
    let rule = StepRule { warmup: None, ..aws_scale_out() };
    let history = [activity(200, 10, 11, by_rule(&rule))];
    let alarm = firing("cpu-high", 70.0);
    let short = step_proposal(&rule, Some(&alarm), &cap(11, 11, 0), &history, Duration::from_secs(100), NOW);
    assert_eq!(short.desired, Some(14), "{}", short.reason);
    let long = step_proposal(&rule, Some(&alarm), &cap(11, 11, 0), &history, Duration::from_secs(600), NOW);
    assert_eq!(long.desired, Some(13), "{}", long.reason);
}

#[test]
fn activities_of_other_policies_do_not_count_as_this_rules_warmup() {
    // They are warming only while the actuator says so (ready < desired).
    let rule = aws_scale_out();
    let other = PolicyKind::StepScaling { alarm: "queue-high".into() };
    let proposal = run(&rule, 70.0, cap(11, 11, 0), &[activity(60, 10, 11, other)]);
    assert_eq!(proposal.desired, Some(14), "{}", proposal.reason);
}

#[test]
fn scale_in_waits_while_instances_warm() {
    // AWS page, "Instance warm-up": "A scale-in activity can't start while a scale-out
    // activity is in progress."
    let proposal = run(&aws_scale_in(), 30.0, cap(14, 13, 1), &[]);
    assert_eq!(proposal.desired, None);
    assert!(proposal.reason.contains("warm"), "{}", proposal.reason);
}

#[test]
fn scale_in_counts_terminating_instances_so_it_does_not_remove_twice() {
    // AWS page, "Instance warm-up": "While scaling in, we consider instances that are
    // terminating as part of the current capacity". Desired went 14 → 13, 14 still run.
    let proposal = run(&aws_scale_in(), 40.0, cap(13, 14, 0), &[]);
    assert_eq!(proposal.desired, Some(13), "{}", proposal.reason);
}

#[test]
fn interval_bounds_follow_the_aws_inclusive_rule_on_each_side_of_the_threshold() {
    // AWS page, "Step adjustments": above the threshold the lower bound is inclusive and
    // the upper exclusive; below it, the lower bound is exclusive and the upper inclusive.
    let cases: [(&str, StepRule, f64, Option<u32>); 5] = [
        ("breach 10 is in [10, 20)", aws_scale_out(), 60.0, Some(11)),
        ("breach 9.99 is in [0, 10)", aws_scale_out(), 59.99, None),
        ("breach 20 is in [20, +∞)", aws_scale_out(), 70.0, Some(13)),
        ("breach −10 is in (−20, −10]", aws_scale_in(), 40.0, Some(9)),
        ("breach −20 is in (−∞, −20]", aws_scale_in(), 30.0, Some(7)),
    ];
    for (what, rule, value, want) in cases {
        let proposal = run(&rule, value, cap(10, 10, 0), &[]);
        assert_eq!(proposal.desired, want, "{what}: {}", proposal.reason);
    }
}

#[test]
fn adjustment_types_match_the_aws_examples() {
    // AWS page, "Scaling adjustment types": current 3 and adjustment 5 give 8
    // (ChangeInCapacity) and 5 (ExactCapacity); current 10 and 10 % give 11; 25 % of 4
    // with a minimum magnitude of 2 adds 2.
    let cases = [
        (AdjustmentType::ChangeInCapacity, 5.0, None, 3, 8),
        (AdjustmentType::ExactCapacity, 5.0, None, 3, 5),
        (AdjustmentType::PercentChangeInCapacity, 10.0, None, 10, 11),
        (AdjustmentType::PercentChangeInCapacity, 25.0, None, 4, 5),
        (AdjustmentType::PercentChangeInCapacity, 25.0, Some(2), 4, 6),
        (AdjustmentType::ChangeInCapacity, -2.0, None, 3, 1),
        (AdjustmentType::ChangeInCapacity, -5.0, None, 3, 0),
    ];
    for (kind, adjustment, min, current, want) in cases {
        let rule = StepRule {
            alarm: "a".into(),
            adjustment_type: kind,
            steps: vec![step(Some(0.0), None, adjustment)],
            min_adjustment_magnitude: min,
            warmup: None,
        };
        let proposal = run(&rule, 60.0, cap(current, current, 0), &[]);
        assert_eq!(proposal.desired, Some(want), "{kind:?} {adjustment} on {current}: {}", proposal.reason);
    }
}

#[test]
fn percent_results_round_as_the_aws_page_says() {
    // AWS page, "Scaling adjustment types", note: 12.7 → 12, .67 → 1, -.58 → -1,
    // -6.67 → -6.
    for (raw, want) in [(12.7, 12), (0.67, 1), (-0.58, -1), (-6.67, -6), (1.0, 1), (-1.0, -1), (0.0, 0)] {
        assert_eq!(round_percent_change(raw), want, "{raw}");
    }
}

#[test]
fn min_adjustment_magnitude_raises_small_percent_changes_in_both_directions() {
    // AWS page, "Scaling adjustment types": 25 % of 4 is 1, minimum 2 → 2.
    assert_eq!(percent_change(4, 25.0, Some(2)), 2);
    assert_eq!(percent_change(4, -25.0, Some(2)), -2);
    assert_eq!(percent_change(40, 25.0, Some(2)), 10);
    assert_eq!(percent_change(0, 50.0, Some(1)), 1);
    assert_eq!(percent_change(0, 50.0, None), 0);
}

#[test]
fn only_negative_adjustments_may_scale_in() {
    let out = run(&aws_scale_out(), 70.0, cap(10, 10, 0), &[]);
    assert!(!out.may_scale_in);
    let inn = run(&aws_scale_in(), 30.0, cap(10, 10, 0), &[]);
    assert!(inn.may_scale_in);
    let exact = StepRule {
        adjustment_type: AdjustmentType::ExactCapacity,
        steps: vec![step(None, Some(0.0), 2.0)],
        ..aws_scale_in()
    };
    let lower = run(&exact, 30.0, cap(10, 10, 0), &[]);
    assert_eq!((lower.desired, lower.may_scale_in), (Some(2), true), "{}", lower.reason);
}

#[test]
fn a_rule_acts_only_while_its_alarm_fires() {
    let rule = aws_scale_out();
    for state in [AlarmState::Ok, AlarmState::Pending, AlarmState::InsufficientData] {
        let alarm = alarm("cpu-high", state, 90.0);
        let proposal = step_proposal(&rule, Some(&alarm), &cap(10, 10, 0), &[], WARMUP, NOW);
        assert_eq!(proposal.desired, None, "{state:?}");
        assert!(proposal.reason.contains("not firing"), "{}", proposal.reason);
    }
    let missing = step_proposal(&rule, None, &cap(10, 10, 0), &[], WARMUP, NOW);
    assert!(missing.desired.is_none() && missing.reason.contains("does not exist"), "{}", missing.reason);
    let no_value = AlarmInput { value: None, ..firing("cpu-high", 0.0) };
    let blank = step_proposal(&rule, Some(&no_value), &cap(10, 10, 0), &[], WARMUP, NOW);
    assert!(blank.desired.is_none() && blank.reason.contains("without a usable value"), "{}", blank.reason);
}

#[test]
fn rules_breaking_the_aws_step_constraints_are_refused_with_the_reason() {
    // AWS page, "Step adjustments": no overlaps, no gaps, one null bound on each side,
    // negative lower / positive upper bounds need the null-bound step.
    let cases: [(&str, Vec<StepAdjustment>, &str); 8] = [
        ("empty", vec![], "no steps"),
        ("gap", vec![step(Some(0.0), Some(10.0), 1.0), step(Some(15.0), None, 2.0)], "gap between 10 and 15"),
        ("overlap", vec![step(Some(0.0), Some(10.0), 1.0), step(Some(5.0), None, 2.0)], "overlap"),
        ("two open uppers", vec![step(Some(0.0), None, 1.0), step(Some(10.0), None, 2.0)], "overlap"),
        ("unbounded", vec![step(None, None, 1.0)], "neither"),
        ("inverted", vec![step(Some(10.0), Some(0.0), 1.0), step(Some(10.0), None, 1.0)], "empty"),
        ("no +∞", vec![step(Some(0.0), Some(10.0), 1.0)], "no upper bound"),
        ("no −∞", vec![step(Some(-10.0), Some(0.0), -1.0)], "no lower bound"),
    ];
    for (what, steps, want) in cases {
        let rule = StepRule { steps, ..aws_scale_out() };
        let proposal = run(&rule, 90.0, cap(10, 10, 0), &[]);
        assert_eq!(proposal.desired, None, "{what}");
        assert!(
            proposal.reason.contains("refused") && proposal.reason.contains(want),
            "{what}: {}",
            proposal.reason
        );
    }
}

#[test]
fn fractional_instance_counts_and_negative_exact_capacity_are_refused() {
    let fractional = StepRule {
        adjustment_type: AdjustmentType::ChangeInCapacity,
        steps: vec![step(Some(0.0), None, 1.5)],
        ..aws_scale_out()
    };
    assert!(run(&fractional, 90.0, cap(10, 10, 0), &[]).reason.contains("not a whole number"));
    let negative = StepRule { adjustment_type: AdjustmentType::ExactCapacity, ..fractional };
    let negative = StepRule { steps: vec![step(Some(0.0), None, -1.0)], ..negative };
    assert!(run(&negative, 90.0, cap(10, 10, 0), &[]).reason.contains("negative"));
}

fn simple_rule() -> SimpleRule {
    SimpleRule {
        alarm: "queue-high".into(),
        adjustment_type: AdjustmentType::ChangeInCapacity,
        adjustment: 2.0,
        min_adjustment_magnitude: None,
        cooldown: Duration::from_secs(300),
    }
}

fn simple_at(history: &[ScalingActivity], capacity: Capacity) -> Proposal {
    simple_proposal(&simple_rule(), Some(&firing("queue-high", 80.0)), &capacity, history, NOW)
}

#[test]
fn simple_scaling_makes_one_adjustment_when_its_alarm_fires() {
    // AWS page, "Differences between step and simple scaling".
    let proposal = simple_at(&[], cap(4, 4, 0));
    assert_eq!((proposal.desired, proposal.may_scale_in), (Some(6), false), "{}", proposal.reason);
}

#[test]
fn simple_scaling_waits_for_its_cooldown_after_its_own_activity() {
    // AWS page: "the policy must wait for [...] the cooldown period to expire".
    let mine = PolicyKind::SimpleScaling { alarm: "queue-high".into() };
    let within = simple_at(&[activity(100, 4, 6, mine.clone())], cap(6, 6, 0));
    assert_eq!(within.desired, None);
    assert!(within.reason.contains("cooldown until 2023-11-14T22:16:40Z"), "{}", within.reason);
    let after = simple_at(&[activity(300, 4, 6, mine)], cap(6, 6, 0));
    assert_eq!(after.desired, Some(8), "{}", after.reason);
}

#[test]
fn another_policys_activity_does_not_start_the_simple_cooldown() {
    let other = PolicyKind::SimpleScaling { alarm: "latency-high".into() };
    assert_eq!(simple_at(&[activity(10, 4, 6, other)], cap(6, 6, 0)).desired, Some(8));
}

#[test]
fn simple_scaling_has_no_opinion_when_its_alarm_is_ok() {
    let ok = alarm("queue-high", AlarmState::Ok, 10.0);
    let proposal = simple_proposal(&simple_rule(), Some(&ok), &cap(4, 4, 0), &[], NOW);
    assert_eq!(proposal.desired, None);
}

fn arb_bound() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![Just(None), (-40i32..40).prop_map(|b| Some(f64::from(b)))]
}

fn arb_rule() -> impl Strategy<Value = StepRule> {
    let kind = prop_oneof![
        Just(AdjustmentType::ChangeInCapacity),
        Just(AdjustmentType::ExactCapacity),
        Just(AdjustmentType::PercentChangeInCapacity),
    ];
    let steps = proptest::collection::vec((arb_bound(), arb_bound(), -60i32..60), 1..4);
    (kind, steps, proptest::option::of(0u32..4), 0u64..600).prop_map(|(kind, steps, min, warmup)| StepRule {
        alarm: "a".into(),
        adjustment_type: kind,
        steps: steps.into_iter().map(|(l, u, a)| step(l, u, f64::from(a))).collect(),
        min_adjustment_magnitude: min,
        warmup: Some(Duration::from_secs(warmup)),
    })
}

/// A rule that passes validation: contiguous steps over the whole line.
fn arb_valid_rule() -> impl Strategy<Value = StepRule> {
    let kind =
        prop_oneof![Just(AdjustmentType::ChangeInCapacity), Just(AdjustmentType::PercentChangeInCapacity)];
    (kind, -30i32..0, 1i32..30, proptest::collection::vec(-60i32..60, 3), proptest::option::of(0u32..4))
        .prop_map(|(kind, a, b, adj, min)| StepRule {
            alarm: "a".into(),
            adjustment_type: kind,
            steps: vec![
                step(None, Some(f64::from(a)), f64::from(adj[0])),
                step(Some(f64::from(a)), Some(f64::from(b)), f64::from(adj[1])),
                step(Some(f64::from(b)), None, f64::from(adj[2])),
            ],
            min_adjustment_magnitude: min,
            warmup: Some(WARMUP),
        })
}

fn arb_capacity() -> impl Strategy<Value = Capacity> {
    (0u32..50, 0u32..50, 0u32..5)
        .prop_map(|(desired, ready, warming)| cap(desired, ready.min(desired), warming))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn step_proposal_is_deterministic(
        rule in arb_rule(),
        value in -100.0f64..200.0,
        capacity in arb_capacity(),
        ago in 0u64..900,
        grew in 0u32..5,
    ) {
        let history = [activity(ago, capacity.desired.saturating_sub(grew), capacity.desired, by_rule(&rule))];
        let first = run(&rule, value, capacity, &history);
        let second = run(&rule, value, capacity, &history);
        prop_assert_eq!(first, second);
    }

    #[test]
    fn percent_rounding_matches_the_documented_rule(raw in prop_oneof![-1.0e6f64..1.0e6, -3.0f64..3.0]) {
        // AWS page, "Scaling adjustment types": > 1 down, (0, 1) → 1, (−1, 0) → −1, < −1 up.
        let got = round_percent_change(raw);
        let want = if raw >= 1.0 {
            raw.floor() as i64
        } else if raw > 0.0 {
            1
        } else if raw == 0.0 {
            0
        } else if raw > -1.0 {
            -1
        } else {
            raw.ceil() as i64
        };
        prop_assert_eq!(got, want);
    }

    #[test]
    fn repeating_a_breach_while_its_step_warms_adds_nothing(
        rule in arb_valid_rule(),
        value in 0.0f64..150.0,
        ready in 0u32..40,
    ) {
        // AWS page, "Instance warm-up": multiple breaches in the same step while instances
        // warm result in a single scaling activity.
        let before = cap(ready, ready, 0);
        let first = run(&rule, value, before, &[]);
        if let Some(desired) = first.desired.filter(|&d| d > ready) {
            let after = cap(desired, ready, desired - ready);
            let history = [activity(10, ready, desired, by_rule(&rule))];
            let again = run(&rule, value, after, &history);
            prop_assert_eq!(again.desired, Some(desired), "{}", again.reason);
        }
    }

    #[test]
    fn a_proposal_moves_desired_only_in_its_adjustments_direction(
        rule in arb_valid_rule(),
        value in -100.0f64..200.0,
        capacity in arb_capacity(),
    ) {
        let proposal = run(&rule, value, capacity, &[]);
        if let Some(desired) = proposal.desired {
            if proposal.may_scale_in {
                prop_assert!(desired <= capacity.desired, "{}", proposal.reason);
            } else {
                prop_assert!(desired >= capacity.desired, "{}", proposal.reason);
            }
        }
    }
}

#[test]
fn the_reason_shows_the_step_and_the_arithmetic() {
    let rule = aws_scale_out();
    let proposal = run(&rule, 70.0, cap(11, 10, 1), &[activity(60, 10, 11, by_rule(&rule))]);
    assert_eq!(
        proposal.reason,
        "alarm `cpu-high` firing at 70 (threshold 50): step 20 to +∞ changes capacity by 30% of 10 = 3 → +3; \
         current capacity 10 (desired 11, warming not counted) → desired 13"
    );
}

#[test]
fn a_change_beyond_any_capacity_saturates_instead_of_overflowing() {
    // A decide file may say `adjustment = 1e308`: it is i64::MAX instances as a change,
    // and current + change once overflowed.
    let rule = StepRule {
        alarm: "q".into(),
        adjustment_type: AdjustmentType::ChangeInCapacity,
        steps: vec![step(Some(0.0), None, 1e308)],
        min_adjustment_magnitude: None,
        warmup: Some(WARMUP),
    };
    assert_eq!(run(&rule, 60.0, cap(4, 4, 0), &[]).desired, Some(u32::MAX));
    let shrink = StepRule { steps: vec![step(Some(0.0), None, -1e308)], ..rule };
    assert_eq!(run(&shrink, 60.0, cap(4, 4, 0), &[]).desired, Some(0));
}
