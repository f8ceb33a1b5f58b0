//! The rule policies through `decide`: AWS step and simple scaling on alarms, scheduled
//! actions, the predictive forecast, and all of them combined with target tracking,
//! bounds and the budget. One behaviour per test; each decision is fed back with
//! [`GroupState::apply`] as the engine does.

use std::time::Duration;

use super::*;
use crate::model::AlarmState;
use crate::model::MetricKind::{GpuUtil, RequestRate};
use crate::policy::decision::{Block, BoundSource, ClampBy};
use crate::policy::predictive::build_load_profile;
use crate::policy::schedule::TimeZone;
use crate::policy::spec::Stabilization;
use crate::policy::spec::{
    AdjustmentType, AlarmInput, LoadProfile, PolicyKind, PredictiveMode, PredictiveSpec, ScheduledAction,
    SimpleRule, StepAdjustment, StepRule, TargetAlarms,
};
use crate::policy::state::Recommendation;
use crate::policy::{Decision, decide};

fn firing(name: &str, value: f64, threshold: f64) -> AlarmInput {
    AlarmInput {
        name: name.into(),
        state: AlarmState::Firing,
        value: Some(value),
        value_at: None,
        threshold,
        since: None,
    }
}

fn step(lower: Option<f64>, upper: Option<f64>, adjustment: f64) -> StepAdjustment {
    StepAdjustment { lower, upper, adjustment }
}

/// The README's rule on `queue-high` (threshold 50): +1 below a breach of 100, +2 up to
/// 500, +4 beyond.
fn queue_high() -> StepRule {
    StepRule {
        alarm: "queue-high".into(),
        adjustment_type: AdjustmentType::ChangeInCapacity,
        steps: vec![
            step(Some(0.0), Some(100.0), 1.0),
            step(Some(100.0), Some(500.0), 2.0),
            step(Some(500.0), None, 4.0),
        ],
        min_adjustment_magnitude: None,
        warmup: Some(Duration::from_secs(300)),
    }
}

/// Scale in by one while `queue-low` fires (any breach below its threshold).
fn queue_low() -> StepRule {
    StepRule {
        alarm: "queue-low".into(),
        adjustment_type: AdjustmentType::ChangeInCapacity,
        steps: vec![step(None, Some(0.0), -1.0)],
        min_adjustment_magnitude: None,
        warmup: None,
    }
}

fn with_steps(rules: Vec<StepRule>) -> PolicySpec {
    PolicySpec { step_scaling: rules, ..PolicySpec::default() }
}

fn alarms(now: Timestamp, metrics: &[(MetricKind, f64)], alarms: Vec<AlarmInput>) -> Inputs {
    Inputs { alarms, ..fresh(now, metrics) }
}

/// Feed a decision back as the engine does, recording which policy made the change.
fn apply_by(state: &mut GroupState, d: &Decision, policy: PolicyKind) {
    state.apply(d);
    if d.desired.is_some() {
        state.recent_activities.last_mut().expect("an activity").policy = Some(policy);
    }
}

/// The group was last recommended `desired`, 15 s before `now`: the scale-down window
/// holds nothing above it (and a first look does not seed it with current).
fn recommended(state: &mut GroupState, now: Timestamp, desired: u32) {
    state.recent_recommendations = vec![Recommendation { at: now.minus(Duration::from_secs(15)), desired }];
}

// Step scaling.

#[test]
fn a_firing_alarm_in_the_plus_two_step_scales_four_to_six() {
    let state = group(with_steps(vec![queue_high()]), 4, 4, 0);
    let d = decide(&state, &alarms(at(0), &[], vec![firing("queue-high", 180.0, 50.0)]), at(0));
    assert_eq!(d.desired, Some(6), "{}", d.reason);
    assert_eq!(
        d.reason,
        "scale out 4→6: alarm `queue-high` firing at 180 (threshold 50): step 100 to 500 changes capacity \
         by +2; current capacity 4 → desired 6"
    );
}

#[test]
fn the_same_step_breach_while_its_instances_warm_adds_nothing() {
    let by_step = PolicyKind::StepScaling { alarm: "queue-high".into() };
    let mut state = group(with_steps(vec![queue_high()]), 4, 4, 0);
    let breach = |now| alarms(now, &[], vec![firing("queue-high", 180.0, 50.0)]);
    let d = decide(&state, &breach(at(0)), at(0));
    apply_by(&mut state, &d, by_step.clone());
    state.capacity.warming = 2;
    for tick in 1..20 {
        let now = at(15 * tick);
        let d = decide(&state, &breach(now), now);
        assert_eq!(d.desired, None, "tick {tick}: {}", d.reason);
        apply_by(&mut state, &d, by_step.clone());
    }
    assert_eq!(state.capacity.desired, 6);
}

#[test]
fn step_instances_ready_within_the_rule_warm_up_are_not_counted_twice() {
    // AWS counts the rule's instances as warming for its whole warm-up, even when the
    // actuator already reports them ready: the same breach still adds nothing.
    let by_step = PolicyKind::StepScaling { alarm: "queue-high".into() };
    let mut state = group(with_steps(vec![queue_high()]), 4, 4, 0);
    let breach = |now| alarms(now, &[], vec![firing("queue-high", 180.0, 50.0)]);
    let d = decide(&state, &breach(at(0)), at(0));
    apply_by(&mut state, &d, by_step);
    state.capacity.ready = 6;
    let d = decide(&state, &breach(at(120)), at(120));
    assert_eq!(d.desired, None, "{}", d.reason);
    // After the warm-up they count: the same breach adds 2 again.
    let d = decide(&state, &breach(at(300)), at(300));
    assert_eq!(d.desired, Some(8), "{}", d.reason);
}

#[test]
fn a_larger_step_while_instances_warm_adds_only_the_difference() {
    let by_step = PolicyKind::StepScaling { alarm: "queue-high".into() };
    let mut state = group(with_steps(vec![queue_high()]), 4, 4, 0);
    let d = decide(&state, &alarms(at(0), &[], vec![firing("queue-high", 180.0, 50.0)]), at(0));
    apply_by(&mut state, &d, by_step);
    state.capacity.warming = 2;
    // A breach of 550 is in the +4 step: 4 counted + 4 = 8, so 2 more than asked.
    let d = decide(&state, &alarms(at(15), &[], vec![firing("queue-high", 600.0, 50.0)]), at(15));
    assert_eq!(d.desired, Some(8), "{}", d.reason);
    assert!(d.reason.contains("(desired 6, warming not counted)"), "{}", d.reason);
}

/// Step scale-in by one plus target tracking on GPU utilization, 6 ready.
fn step_in_with_target_tracking() -> GroupState {
    let mut state = group(PolicySpec { step_scaling: vec![queue_low()], ..gpu_policy() }, 6, 6, 0);
    recommended(&mut state, at(0), 5);
    state
}

fn queue_low_firing(now: Timestamp, gpu: &[(MetricKind, f64)]) -> Inputs {
    alarms(now, gpu, vec![firing("queue-low", 10.0, 50.0)])
}

#[test]
fn a_step_scale_in_is_blocked_while_target_tracking_holds_current() {
    let state = step_in_with_target_tracking();
    let d = decide(&state, &queue_low_firing(at(0), &[(GpuUtil, 0.7)]), at(0));
    assert_eq!(d.desired, None, "{}", d.reason);
}

#[test]
fn a_step_scale_in_is_blocked_when_the_target_tracking_metric_is_stale() {
    let state = step_in_with_target_tracking();
    let mut inputs = queue_low_firing(at(0), &[]);
    inputs.metrics.push(MetricInput::new(GpuUtil, at(-120), 0.1));
    let d = decide(&state, &inputs, at(0));
    assert_eq!(d.desired, None, "{}", d.reason);
    assert!(d.blocked.iter().any(|b| matches!(b, Block::Data { .. })), "{:?}", d.blocked);
    assert!(d.reason.contains("gpu_util stale"), "{}", d.reason);
}

#[test]
fn a_step_scale_in_goes_through_when_target_tracking_agrees() {
    // 6 ready at 0.3 need 3; the step's 5 is the higher of the two scale-ins.
    let state = step_in_with_target_tracking();
    let d = decide(&state, &queue_low_firing(at(0), &[(GpuUtil, 0.3)]), at(0));
    assert_eq!(d.desired, Some(5), "{}", d.reason);
}

#[test]
fn a_step_scale_in_waits_for_the_scale_down_window() {
    let mut state = group(with_steps(vec![queue_low()]), 6, 6, 0);
    let mut changes = Vec::new();
    for tick in 0..45 {
        let now = at(15 * tick);
        let d = decide(&state, &queue_low_firing(now, &[]), now);
        if tick == 0 {
            assert!(d.blocked.iter().any(|b| matches!(b, Block::ScaleDownWindow { .. })), "{}", d.reason);
        }
        state.apply(&d);
        // Instances leave as soon as they are asked to.
        state.capacity.ready = state.capacity.desired;
        if let Some(to) = d.desired {
            changes.push((15 * tick, to));
        }
    }
    // A first look holds 6 for a window; then one down per window of steady "one less".
    assert_eq!(changes, vec![(300, 5), (600, 4)]);
}

// Alarm-gated (AWS-style) target tracking.

/// GPU 0.7 gated by `high` (out) and `low` (in), no scale-down window.
fn gated() -> PolicySpec {
    let mut target = tt(GpuUtil, 0.7);
    target.alarms = Some(TargetAlarms { scale_out: "high".into(), scale_in: "low".into() });
    PolicySpec {
        target_tracking: vec![target],
        stabilization: Stabilization { scale_up: Duration::ZERO, scale_down: Duration::ZERO },
        ..PolicySpec::default()
    }
}

fn alarm_in(name: &str, state: AlarmState, value: Option<f64>) -> AlarmInput {
    AlarmInput { name: name.into(), state, value, value_at: None, threshold: 0.7, since: None }
}

#[test]
fn a_gated_target_scales_out_on_the_alarms_datapoint_not_the_newest_sample() {
    let state = group(gated(), 4, 4, 0);
    // The newest sample says 0.99; the alarm's 1-minute average says 0.84: 4 × 0.84 / 0.7 = 4.8.
    let inputs = alarms(
        at(0),
        &[(GpuUtil, 0.99)],
        vec![firing("high", 0.84, 0.7), alarm_in("low", AlarmState::Ok, Some(0.84))],
    );
    let d = decide(&state, &inputs, at(0));
    assert_eq!(d.desired, Some(5), "{}", d.reason);
    assert!(d.reason.contains("alarm `high` firing: gpu_util 0.84 > target 0.70 (needs 5)"), "{}", d.reason);
}

#[test]
fn a_gated_target_holds_while_neither_alarm_fires_whatever_the_sample() {
    let state = group(gated(), 4, 4, 0);
    for sample in [0.1, 0.99] {
        let inputs = alarms(
            at(0),
            &[(GpuUtil, sample)],
            vec![
                alarm_in("high", AlarmState::Pending, Some(0.9)),
                alarm_in("low", AlarmState::Ok, Some(0.9)),
            ],
        );
        let d = decide(&state, &inputs, at(0));
        assert_eq!(d.desired, None, "{}", d.reason);
        assert!(d.reason.contains("alarm `high` PENDING, `low` OK: holds 4"), "{}", d.reason);
    }
}

#[test]
fn a_gated_target_scales_in_only_when_its_scale_in_alarm_fires() {
    let state = group(gated(), 6, 6, 0);
    let inputs = alarms(
        at(0),
        &[(GpuUtil, 0.3)],
        vec![alarm_in("high", AlarmState::Ok, Some(0.35)), firing("low", 0.35, 0.7)],
    );
    let d = decide(&state, &inputs, at(0));
    // 6 × 0.35 / 0.7 = 3.
    assert_eq!(d.desired, Some(3), "{}", d.reason);
}

#[test]
fn a_gated_target_waits_for_a_datapoint_measured_after_its_last_change() {
    let mut state = group(gated(), 6, 6, 0);
    let low = |start: i64| AlarmInput { value_at: Some(at(start)), ..firing("low", 0.35, 0.7) };
    let inputs = |start| alarms(at(120), &[], vec![alarm_in("high", AlarmState::Ok, Some(0.35)), low(start)]);
    let d = decide(&state, &inputs(0), at(0));
    assert_eq!(d.desired, Some(3), "{}", d.reason);
    state.apply(&d);
    state.capacity.ready = 3;
    // A datapoint from before the change, or one that began at it, still says 0.35 of 6.
    for start in [-60, 0] {
        let again = decide(&state, &inputs(start), at(60));
        assert_eq!(again.desired, None, "{}", again.reason);
        assert!(again.reason.contains("before the last change at"), "{}", again.reason);
    }
    // A datapoint that began after it is read against the 3 now there: 3 × 0.35 / 0.7 = 2.
    let later = decide(&state, &inputs(60), at(120));
    assert_eq!(later.desired, Some(2), "{}", later.reason);
}

#[test]
fn a_missing_gate_alarm_or_one_firing_without_a_value_never_scales_in() {
    let state = group(gated(), 6, 6, 0);
    let missing = alarms(at(0), &[(GpuUtil, 0.1)], vec![alarm_in("high", AlarmState::Ok, Some(0.1))]);
    let d = decide(&state, &missing, at(0));
    assert_eq!(d.desired, None, "{}", d.reason);
    assert!(d.reason.contains("`low` missing: holds 6"), "{}", d.reason);
    let valueless = alarms(
        at(0),
        &[],
        vec![alarm_in("high", AlarmState::Ok, None), alarm_in("low", AlarmState::Firing, None)],
    );
    let d = decide(&state, &valueless, at(0));
    assert_eq!(d.desired, None, "{}", d.reason);
    assert!(d.proposals[0].reason.contains("alarm `low` firing without a usable value"), "{:?}", d.proposals);
    assert!(!d.proposals[0].may_scale_in);
}

// Simple scaling.

/// A +2 simple rule on a firing alarm, 25 ticks of 15 s; `feed` stores each decision
/// as the engine would. New instances serve at once: only the cooldown stops a second
/// adjustment. Returns (seconds, new desired) of each change.
fn simple_rule_changes(feed: impl Fn(&mut GroupState, &Decision)) -> Vec<(i64, u32)> {
    let rule = SimpleRule {
        alarm: "queue-high".into(),
        adjustment_type: AdjustmentType::ChangeInCapacity,
        adjustment: 2.0,
        min_adjustment_magnitude: None,
        cooldown: Duration::from_secs(300),
    };
    let mut state = group(PolicySpec { simple_scaling: vec![rule], ..PolicySpec::default() }, 4, 4, 0);
    let mut changes = Vec::new();
    for tick in 0..25 {
        let now = at(15 * tick);
        let d = decide(&state, &alarms(now, &[], vec![firing("queue-high", 180.0, 50.0)]), now);
        if tick == 1 {
            let simple = &d.proposals[0];
            assert!(simple.reason.contains("cooldown until 2023-11-14T22:18:20Z"), "{}", simple.reason);
        }
        feed(&mut state, &d);
        state.capacity.ready = state.capacity.desired;
        if let Some(to) = d.desired {
            changes.push((15 * tick, to));
        }
    }
    changes
}

#[test]
fn a_simple_rule_adjusts_once_then_waits_for_its_cooldown() {
    let by_rule = PolicyKind::SimpleScaling { alarm: "queue-high".into() };
    let changes = simple_rule_changes(|state, d| apply_by(state, d, by_rule.clone()));
    assert_eq!(changes, vec![(0, 6), (300, 8)]);
}

#[test]
fn apply_credits_the_driving_rule_so_its_cooldown_holds_without_help() {
    // The engine feeds decisions back with `GroupState::apply` alone: the decision must
    // name the rule that made the change, or the cooldown would never start.
    let changes = simple_rule_changes(|state, d| {
        if d.desired.is_some() {
            assert_eq!(d.driver, Some(PolicyKind::SimpleScaling { alarm: "queue-high".into() }));
        }
        state.apply(d);
    });
    assert_eq!(changes, vec![(0, 6), (300, 8)]);
}

// Scheduled actions.

/// An action every hour on the hour: the latest occurrence (22:00 UTC on T0's day) is
/// in force at every tick of these tests.
fn hourly(name: &str) -> ScheduledAction {
    ScheduledAction {
        name: name.into(),
        cron: "0 * * * *".parse().unwrap(),
        timezone: TimeZone::utc(),
        min: None,
        max: None,
        desired: None,
    }
}

fn scheduled(actions: Vec<ScheduledAction>) -> PolicySpec {
    PolicySpec { scheduled: actions, ..gpu_policy() }
}

#[test]
fn a_scheduled_min_in_force_raises_desired() {
    let state = group(scheduled(vec![ScheduledAction { min: Some(6), ..hourly("peak") }]), 4, 4, 0);
    let d = decide(&state, &fresh(at(0), &[(GpuUtil, 0.7)]), at(0));
    assert_eq!(d.desired, Some(6), "{}", d.reason);
    assert_eq!((d.bounds.min, d.bounds.min_from), (6, BoundSource::Scheduled { action: "peak".into() }));
    assert_eq!(d.reason, "scale out 4→6: raised to min 6");
}

#[test]
fn a_scheduled_max_in_force_lowers_desired_even_without_data() {
    // Bounds win (DESIGN.md: "always within the effective [min, max]"): capping at a
    // scheduled max is not a scale-in the missing metric could block.
    let state = group(scheduled(vec![ScheduledAction { max: Some(6), ..hourly("night") }]), 10, 10, 0);
    let d = decide(&state, &fresh(at(0), &[]), at(0));
    assert_eq!(d.desired, Some(6), "{}", d.reason);
    assert_eq!(d.bounds.max_from, BoundSource::Scheduled { action: "night".into() });
    assert!(d.reason.starts_with("scale in 10→6: capped at max 6"), "{}", d.reason);
}

/// Sets desired 8 at 22:15 UTC, 100 s after T0.
fn at_22_15() -> ScheduledAction {
    ScheduledAction { cron: "15 22 * * *".parse().unwrap(), desired: Some(8), ..hourly("warm-up") }
}

#[test]
fn a_scheduled_desired_fires_in_the_tick_of_its_occurrence() {
    let mut state = group(scheduled(vec![at_22_15()]), 4, 4, 0);
    state.last_tick = Some(at(90));
    let d = decide(&state, &fresh(at(105), &[(GpuUtil, 0.7)]), at(105));
    assert_eq!(d.desired, Some(8), "{}", d.reason);
    assert!(
        d.clamps.iter().any(|c| c.by == ClampBy::ScheduledDesired { action: "warm-up".into() }),
        "{:?}",
        d.clamps
    );
}

#[test]
fn a_scheduled_desired_does_not_fire_again_in_later_ticks() {
    let mut state = group(scheduled(vec![at_22_15()]), 4, 4, 0);
    state.last_tick = Some(at(90));
    let d = decide(&state, &fresh(at(105), &[(GpuUtil, 0.7)]), at(105));
    state.apply(&d);
    state.capacity.ready = 8;
    // Utilization at target: the other policies take over and leave 8 alone.
    let d = decide(&state, &fresh(at(120), &[(GpuUtil, 0.7)]), at(120));
    assert_eq!(d.desired, None, "{}", d.reason);
    assert!(
        d.proposals.iter().all(|p| !matches!(p.policy, PolicyKind::Scheduled { .. })),
        "{:?}",
        d.proposals
    );
}

#[test]
fn a_scheduled_desired_missed_before_the_first_tick_is_not_replayed() {
    let state = group(scheduled(vec![at_22_15()]), 4, 4, 0);
    let d = decide(&state, &fresh(at(105), &[(GpuUtil, 0.7)]), at(105));
    assert_eq!(d.desired, None, "{}", d.reason);
}

#[test]
fn a_group_state_with_a_bad_cron_is_refused_when_read_naming_the_expression() {
    let state = group(scheduled(vec![ScheduledAction { min: Some(9), ..hourly("peak") }]), 4, 4, 0);
    let text = serde_json::to_string(&state).unwrap().replace("0 * * * *", "61 * * * *");
    let err = serde_json::from_str::<GroupState>(&text).unwrap_err();
    assert!(err.to_string().contains("bad cron expression `61 * * * *`"), "{err}");
}

// Predictive scaling.

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// Monday 2024-01-01 00:00 UTC.
const MONDAY: i64 = 1_704_067_200_000;

fn t(day: i64, hour: i64, minute: i64) -> Timestamp {
    Timestamp::from_millis(MONDAY + day * DAY_MS + (hour * 60 + minute) * MINUTE_MS)
}

/// Two weeks at one point a minute: 40 requests/s at night and at weekends, 240/s on
/// weekdays from 09:00 to 18:00 UTC.
fn two_weeks() -> LoadProfile {
    let points: Vec<_> = (0..14 * 24 * 60)
        .map(|m| {
            let (day, minute) = (m / (24 * 60), m % (24 * 60));
            let busy = day % 7 < 5 && (9 * 60..18 * 60).contains(&minute);
            (Timestamp::from_millis(MONDAY + m * MINUTE_MS), if busy { 240.0 } else { 40.0 })
        })
        .collect();
    build_load_profile(&points, Duration::from_secs(300)).unwrap()
}

/// 30 requests/s per instance, 15 minutes ahead, with target tracking on GPU utilization.
fn predictive(mode: PredictiveMode) -> PolicySpec {
    let spec = PredictiveSpec {
        metric: RequestRate,
        target_per_instance: 30.0,
        mode,
        lead: Some(Duration::from_secs(900)),
    };
    PolicySpec { predictive: Some(spec), ..gpu_policy() }
}

fn predicted(now: Timestamp, gpu: f64) -> Inputs {
    Inputs { load_profile: Some(two_weeks()), ..fresh(now, &[(GpuUtil, gpu), (RequestRate, 60.0)]) }
}

/// `desired` ready, and a scale-down window that holds nothing above `floor`.
fn forecast_group(mode: PredictiveMode, desired: u32, now: Timestamp, floor: u32) -> GroupState {
    let mut state = group(predictive(mode), desired, desired, 0);
    recommended(&mut state, now, floor);
    state
}

#[test]
fn forecast_and_scale_raises_desired_one_lead_before_the_ramp() {
    // Monday of week 3: 240/s from 09:00 needs 8, asked for from 08:45.
    let state = forecast_group(PredictiveMode::ForecastAndScale, 2, t(14, 8, 40), 2);
    let d = decide(&state, &predicted(t(14, 8, 40), 0.7), t(14, 8, 40));
    assert_eq!(d.desired, None, "{}", d.reason);
    let d = decide(&state, &predicted(t(14, 8, 45), 0.7), t(14, 8, 45));
    assert_eq!(d.desired, Some(8), "{}", d.reason);
    assert!(d.reason.starts_with("scale out 2→8: predictive (forecast and scale): forecast"), "{}", d.reason);
}

#[test]
fn a_low_forecast_never_lowers_desired_by_itself() {
    // Monday 20:00: the forecast needs 2, target tracking is at target with 8.
    let state = forecast_group(PredictiveMode::ForecastAndScale, 8, t(14, 20, 0), 1);
    let d = decide(&state, &predicted(t(14, 20, 0), 0.7), t(14, 20, 0));
    let forecast = d.proposals.iter().find(|p| p.policy == PolicyKind::Predictive).unwrap();
    assert_eq!((forecast.desired, forecast.may_scale_in), (Some(2), false));
    assert_eq!(d.desired, None, "{}", d.reason);
}

#[test]
fn a_low_forecast_alone_never_lowers_desired() {
    let mut state = forecast_group(PredictiveMode::ForecastAndScale, 8, t(14, 20, 0), 1);
    state.policy.target_tracking.clear();
    let d = decide(&state, &predicted(t(14, 20, 0), 0.7), t(14, 20, 0));
    assert_eq!(d.desired, None, "{}", d.reason);
}

#[test]
fn the_forecast_is_a_floor_under_a_target_tracking_scale_in() {
    // Monday noon, 10 instances at 0.1 need 2; the forecast of 240/s needs 8.
    let state = forecast_group(PredictiveMode::ForecastAndScale, 10, t(14, 12, 0), 1);
    let d = decide(&state, &predicted(t(14, 12, 0), 0.1), t(14, 12, 0));
    assert_eq!(d.desired, Some(8), "{}", d.reason);
}

#[test]
fn forecast_only_shows_the_proposal_without_acting() {
    let state = forecast_group(PredictiveMode::ForecastOnly, 2, t(14, 8, 45), 2);
    let d = decide(&state, &predicted(t(14, 8, 45), 0.7), t(14, 8, 45));
    assert_eq!(d.desired, None, "{}", d.reason);
    let forecast = d.proposals.iter().find(|p| p.policy == PolicyKind::Predictive).unwrap();
    assert_eq!(forecast.desired, Some(8));
    assert!(forecast.reason.starts_with("predictive (forecast only)"), "{}", forecast.reason);
}

// All together.

/// Target tracking says 5 (4 ready at 0.85), step says 8 (+4), predictive says 7 (a flat
/// forecast of 210/s at 30 per instance).
fn everything(max: u32) -> (GroupState, Inputs) {
    let mut spec = predictive(PredictiveMode::ForecastAndScale);
    let rule = StepRule { steps: vec![step(Some(0.0), None, 4.0)], ..queue_high() };
    spec.step_scaling = vec![rule];
    let mut state = group(spec, 4, 4, 0);
    state.max = max;
    let flat = LoadProfile {
        slot: Duration::from_secs(3600),
        daily: vec![210.0; 24],
        weekly: vec![210.0; 7 * 24],
        days_of_history: 14.0,
    };
    let inputs = Inputs {
        load_profile: Some(flat),
        ..alarms(at(0), &[(GpuUtil, 0.85), (RequestRate, 60.0)], vec![firing("queue-high", 180.0, 50.0)])
    };
    (state, inputs)
}

#[test]
fn the_largest_of_target_tracking_step_and_predictive_wins() {
    let (state, inputs) = everything(20);
    let d = decide(&state, &inputs, at(0));
    let by = |kind: &PolicyKind| d.proposals.iter().find(|p| &p.policy == kind).and_then(|p| p.desired);
    assert_eq!(by(&PolicyKind::TargetTracking { metric: GpuUtil }), Some(5));
    assert_eq!(by(&PolicyKind::StepScaling { alarm: "queue-high".into() }), Some(8));
    assert_eq!(by(&PolicyKind::Predictive), Some(7));
    assert_eq!(d.desired, Some(8), "{}", d.reason);
    assert!(d.reason.starts_with("scale out 4→8: alarm `queue-high`"), "{}", d.reason);
}

#[test]
fn the_largest_proposal_is_capped_at_max() {
    let (state, inputs) = everything(6);
    let d = decide(&state, &inputs, at(0));
    assert_eq!(d.desired, Some(6), "{}", d.reason);
    assert!(d.reason.contains("capped at max 6"), "{}", d.reason);
}

#[test]
fn the_largest_proposal_is_capped_by_the_budget() {
    let (mut state, inputs) = everything(20);
    state.policy.hourly_budget_usd = Some(200.0); // 200 / 32.77 pays for 6
    let d = decide(&state, &inputs, at(0));
    assert_eq!(d.desired, Some(6), "{}", d.reason);
    assert!(
        d.blocked.contains(&Block::Budget { hourly_budget_usd: 200.0, max_instances: 6 }),
        "{:?}",
        d.blocked
    );
}
