//! Properties of `decide` over generated groups and inputs (10,000 cases each): bounds
//! (against those the input states, worked out here, not those `decide` reports),
//! missing data, the latency guard, determinism, the scale-down window, and one +k per
//! need while instances warm; then bounds and determinism again with every policy kind
//! configured (step and simple rules, alarms in any state, scheduled actions, a
//! forecast), rules acting only on firing alarms, and the forecast's two modes.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::model::AlarmState;
use crate::model::MetricKind::{GpuUtil, LatencyP95, QueueLength, RequestRate};
use crate::policy::decide;
use crate::policy::spec::{
    ActivityCause, AdjustmentType, AlarmInput, LoadProfile, MaxStep, PolicyKind, PredictiveMode,
    PredictiveSpec, ScalingActivity, ScheduledAction, SimpleRule, StepAdjustment, StepRule,
};
use crate::policy::state::{Hold, Pause, PauseMode, Recommendation};

/// One metric as a source may report it.
#[derive(Clone, Debug)]
enum Obs {
    Fresh(f64),
    Stale(f64),
    Missing,
    NaN,
}

impl Obs {
    fn usable(&self) -> bool {
        matches!(self, Obs::Fresh(_))
    }
}

fn obs(values: impl Strategy<Value = f64> + Clone) -> impl Strategy<Value = Obs> {
    prop_oneof![
        6 => values.clone().prop_map(Obs::Fresh),
        1 => values.prop_map(Obs::Stale),
        1 => Just(Obs::Missing),
        1 => Just(Obs::NaN),
    ]
}

#[derive(Clone, Debug)]
struct World {
    gpu: Obs,
    queue: Obs,
    rate: Obs,
    latency: Obs,
}

fn world() -> impl Strategy<Value = World> {
    let rate = prop_oneof![1 => Just(0.0), 3 => 0.0..50.0f64];
    (obs(0.0..1.5f64), obs(0.0..200.0f64), obs(rate), obs(0.0..5.0f64))
        .prop_map(|(gpu, queue, rate, latency)| World { gpu, queue, rate, latency })
}

fn inputs(w: &World, now: Timestamp) -> Inputs {
    let mut inputs = fresh(now, &[]);
    for (kind, o) in
        [(GpuUtil, &w.gpu), (QueueLength, &w.queue), (RequestRate, &w.rate), (LatencyP95, &w.latency)]
    {
        let (at, value) = match o {
            Obs::Fresh(v) => (now, *v),
            Obs::Stale(v) => (now.minus(Duration::from_secs(46)), *v),
            Obs::Missing => continue,
            Obs::NaN => (now, f64::NAN),
        };
        inputs.metrics.push(MetricInput::new(kind, at, value));
    }
    inputs
}

/// Request rate a fresh 0 with no queue waiting: the idle rule applies.
fn idle(w: &World) -> bool {
    matches!(w.rate, Obs::Fresh(r) if r == 0.0) && matches!(w.queue, Obs::Fresh(0.0) | Obs::Missing)
}

prop_compose! {
    fn state()(
        (min, span, desired, ready, warming) in (0u32..5, 0u32..30, 0u32..40, 0u32..40, 0u32..10),
        history in prop::collection::vec((1i64..600, 0u32..40), 0..20),
        activities in prop::collection::vec((1i64..60, 0u32..40, 0u32..40), 0..4),
        hold in prop::option::weighted(0.15, (0u32..50, -60i64..600, any::<bool>())),
        hard_max in prop::option::weighted(0.3, 0u32..60),
        pause in prop::option::weighted(0.15, (any::<bool>(), prop::option::of(-60i64..600))),
        budget in prop::option::weighted(0.2, 0.0..700.0f64),
        max_step in prop::option::weighted(0.3, (0u32..6, 0.0..200.0f64, 1u64..120)),
        pending_since in prop::option::of(0i64..900),
        (tolerance, down) in (0.0..0.3f64, prop::sample::select(vec![0u64, 60, 300])),
    ) -> GroupState {
        let mut s = group(full_policy(), desired, ready, warming);
        (s.min, s.max) = (min, min + span);
        // Config refuses a hard_max below max; a decide file may still say one.
        s.hard_max = hard_max;
        s.policy.tolerance = tolerance;
        s.policy.stabilization.scale_down = Duration::from_secs(down);
        let mut history: Vec<_> = history.into_iter().map(|(ago, d)| Recommendation { at: at(-ago), desired: d }).collect();
        history.sort_by_key(|r| r.at);
        s.recent_recommendations = history;
        s.recent_activities = activities
            .into_iter()
            .map(|(ago, from, to)| ScalingActivity { at: at(-ago), from, to, cause: ActivityCause::Policy, policy: None })
            .collect();
        s.recent_activities.sort_by_key(|a| a.at);
        s.hold = hold.map(|(d, until, beyond_max)| Hold { desired: d, until: at(until), beyond_max, by: "ana".into() });
        s.pause = pause.map(|(full, until)| Pause {
            mode: if full { PauseMode::Full } else { PauseMode::ScaleInOnly },
            by: "bob".into(),
            until: until.map(at),
            reason: String::new(),
        });
        s.policy.hourly_budget_usd = budget;
        s.policy.max_step = max_step.map(|(instances, percent, secs)| MaxStep { instances, percent, period: Duration::from_secs(secs) });
        s.scale_out_pending_since = pending_since.map(|ago| at(-ago));
        s
    }
}

/// The same group with no hold and no pause (operators may override any rule).
fn operator_free(mut s: GroupState) -> GroupState {
    (s.hold, s.pause) = (None, None);
    s
}

fn full_pause(s: &GroupState) -> bool {
    s.pause.as_ref().is_some_and(|p| p.is_active(at(0)) && p.mode == PauseMode::Full)
}

/// The effective [min, max] at T0, worked out from the generated input alone (the rules of
/// DESIGN.md restated, not `decide`'s own bounds): a scheduled min or max in force replaces
/// the group's (the most recent occurrence wins; on a tie, the action listed later); a hold
/// still active and confirmed beyond max raises max to its value; min never ends above max.
fn expected_bounds(s: &GroupState) -> (u32, u32) {
    // The last occurrence at or before T0 (Tuesday 2023-11-14 22:13:20 UTC) of each action
    // `scheduled_action()` generates, in seconds before T0, worked out by hand.
    let ago = |a: &ScheduledAction| match (a.cron.as_str(), a.timezone.as_str()) {
        ("0 * * * *", "UTC") => 800,               // 22:00 UTC
        ("*/5 * * * *", "UTC") => 200,             // 22:10 UTC
        ("0 8 * * 1-5", "Europe/Paris") => 54_800, // 08:00 CET, 07:00 UTC that morning
        ("13 22 * * *", "UTC") => 20,              // 22:13 UTC
        (cron, zone) => panic!("no occurrence worked out for `{cron}` in {zone}"),
    };
    let scheduled = |value: fn(&ScheduledAction) -> Option<u32>| {
        let set = s.policy.scheduled.iter().filter_map(|a| Some((ago(a), value(a)?)));
        set.fold(None, |latest: Option<(u32, u32)>, (ago, v)| match latest {
            Some((seen, _)) if seen < ago => latest,
            _ => Some((ago, v)),
        })
        .map(|(_, v)| v)
    };
    let min = scheduled(|a| a.min).unwrap_or(s.min);
    let mut max = scheduled(|a| a.max).unwrap_or(s.max);
    if let Some(hold) = s.hold.as_ref().filter(|h| at(0) < h.until && h.beyond_max) {
        // Never past the hard cap: hard_max, else twice the group's max; never below
        // the group's max (config refuses less; a decide file may say it).
        let cap = s.hard_max.unwrap_or(2 * s.max).max(s.max);
        max = max.max(hold.desired.min(cap));
    }
    (min.min(max), max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn desired_is_always_within_the_effective_bounds(s in state(), w in world()) {
        let d = decide(&s, &inputs(&w, at(0)), at(0));
        let (min, max) = expected_bounds(&s);
        prop_assert_eq!((d.bounds.min, d.bounds.max), (min, max), "{}", d.reason);
        if let Some(v) = d.desired {
            prop_assert!(min <= v && v <= max, "{v} outside [{min}, {max}]: {}", d.reason);
        }
        if !full_pause(&s) {
            let v = d.resulting_desired();
            prop_assert!(min <= v && v <= max, "{v} outside [{min}, {max}]: {}", d.reason);
        }
    }

    #[test]
    fn no_scale_in_when_an_input_it_relies_on_is_unusable(
        s in state(), mut w in world(), rate in 0.1..50.0f64, broken in 0usize..3, problem in obs(0.0..1.0f64)
    ) {
        let s = operator_free(s);
        if w.gpu.usable() && w.queue.usable() && w.latency.usable() {
            let problem = if problem.usable() { Obs::Missing } else { problem };
            *[&mut w.gpu, &mut w.queue, &mut w.latency][broken] = problem;
        }
        if idle(&w) {
            w.rate = Obs::Fresh(rate);
        }
        let d = decide(&s, &inputs(&w, at(0)), at(0));
        let floor = s.capacity.desired.min(expected_bounds(&s).1);
        prop_assert!(d.resulting_desired() >= floor, "{}", d.reason);
    }

    #[test]
    fn latency_alone_never_lowers_desired(s in state(), w in world()) {
        let mut alone = operator_free(s);
        alone.policy.target_tracking.clear();
        let d = decide(&alone, &inputs(&w, at(0)), at(0));
        let floor = alone.capacity.desired.min(expected_bounds(&alone).1);
        prop_assert!(d.resulting_desired() >= floor, "{}", d.reason);
    }

    #[test]
    fn the_latency_guard_never_lowers_the_decision(s in state(), w in world()) {
        let mut unguarded = s.clone();
        unguarded.policy.latency_guard = None;
        let inputs = inputs(&w, at(0));
        let guarded = decide(&s, &inputs, at(0)).resulting_desired();
        prop_assert!(guarded >= decide(&unguarded, &inputs, at(0)).resulting_desired());
    }

    #[test]
    fn identical_inputs_give_identical_decisions(s in state(), w in world()) {
        let inputs = inputs(&w, at(0));
        let first = decide(&s, &inputs, at(0));
        let second = decide(&s.clone(), &inputs.clone(), at(0));
        prop_assert_eq!(serde_json::to_string(&first).unwrap(), serde_json::to_string(&second).unwrap());
        // Through the `fleetdeck decide` TOML format and back: the same decision.
        let s2: GroupState = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        let i2: Inputs = toml::from_str(&toml::to_string(&inputs).unwrap()).unwrap();
        prop_assert_eq!(first, decide(&s2, &i2, at(0)));
    }

    #[test]
    fn scale_in_never_goes_below_the_highest_recommendation_in_the_window(s in state(), w in world()) {
        let s = operator_free(s);
        let d = decide(&s, &inputs(&w, at(0)), at(0));
        let v = d.resulting_desired();
        let cutoff = at(0).minus(s.policy.stabilization.scale_down);
        let highest = s.recent_recommendations.iter().filter(|r| r.at > cutoff).map(|r| r.desired).max();
        if let Some(highest) = highest.filter(|_| v < s.capacity.desired && !s.policy.stabilization.scale_down.is_zero()) {
            prop_assert!(v >= highest.min(expected_bounds(&s).1), "{v} < {highest} in window: {}", d.reason);
        }
    }

    #[test]
    fn a_run_of_equal_recommendations_kept_as_its_newest_decides_the_same(s in state(), w in world()) {
        // Issue 15, point 20: the compacted history must change no decision. Values near
        // current, so runs of equal ones are common.
        let mut s = s;
        let around = s.capacity.desired.saturating_sub(1);
        s.recent_recommendations.iter_mut().for_each(|r| r.desired = around + r.desired % 3);
        let mut compact = s.clone();
        compact.recent_recommendations.clear();
        for r in &s.recent_recommendations {
            crate::policy::remember_recommendation(&mut compact.recent_recommendations, *r, Timestamp::from_millis(0));
        }
        let inputs = inputs(&w, at(0));
        prop_assert_eq!(decide(&s, &inputs, at(0)), decide(&compact, &inputs, at(0)));
    }

    #[test]
    fn a_need_for_k_more_while_instances_warm_is_asked_once(
        ready in 1u32..10, warming in 0u32..5, extra in 2u32..30, warm_ticks in 1usize..30,
    ) {
        let need = ((ready + warming) as f64 * 1.1).ceil() as u32 + extra;
        let mut s = group(gpu_policy(), ready + warming, ready, warming);
        s.max = 200;
        let mut launched: Vec<usize> = vec![0; warming as usize];
        let mut changes = 0;
        for tick in 0..60usize {
            // Load worth `need` instances at the target, carried by the ready ones.
            let util = need as f64 * 0.7 / s.capacity.ready.max(1) as f64;
            let now = at(15 * tick as i64);
            let d = decide(&s, &fresh(now, &[(GpuUtil, util)]), now);
            s.apply(&d);
            changes += usize::from(d.desired.is_some());
            // The actuator launches what is asked for; launches serve after `warm_ticks`.
            let asked = s.capacity.desired.saturating_sub(s.capacity.ready + s.capacity.warming);
            launched.extend(std::iter::repeat_n(tick, asked as usize));
            let done = launched.iter().filter(|t| tick - **t >= warm_ticks).count() as u32;
            launched.retain(|t| tick - *t < warm_ticks);
            s.capacity.ready += done;
            s.capacity.warming = launched.len() as u32;
        }
        prop_assert_eq!(changes, 1);
        prop_assert_eq!(s.capacity.desired, need);
    }
}

// Every policy kind at once: step and simple rules on alarms in any state, a scheduled
// action (sometimes a bad one), and a predictive forecast.

const ALARMS: [&str; 3] = ["queue-high", "queue-low", "latency-high"];

fn alarm_name() -> impl Strategy<Value = String> {
    prop::sample::select(ALARMS.to_vec()).prop_map(String::from)
}

/// A valid rule in one of four shapes, with random thresholds and adjustments: two
/// scale-out steps, two scale-in steps, a step either side of the threshold, or one
/// exact capacity above it.
fn step_rule() -> impl Strategy<Value = StepRule> {
    let kind =
        prop_oneof![Just(AdjustmentType::ChangeInCapacity), Just(AdjustmentType::PercentChangeInCapacity)];
    (alarm_name(), 0usize..4, kind, 1i32..200, prop::collection::vec(-60i32..60, 2), 0u32..40).prop_flat_map(
        |(alarm, shape, kind, edge, adj, exact)| {
            let edge = f64::from(edge);
            let (a, b) = (f64::from(adj[0]), f64::from(adj[1]));
            let s = |lower, upper, adjustment| StepAdjustment { lower, upper, adjustment };
            let (kind, steps) = match shape {
                0 => (kind, vec![s(Some(0.0), Some(edge), a.abs()), s(Some(edge), None, b.abs())]),
                1 => (kind, vec![s(Some(-edge), Some(0.0), -a.abs()), s(None, Some(-edge), -b.abs())]),
                2 => (kind, vec![s(None, Some(0.0), -a.abs()), s(Some(0.0), None, b.abs())]),
                _ => (AdjustmentType::ExactCapacity, vec![s(Some(0.0), None, f64::from(exact))]),
            };
            (prop::option::of(0u32..4), prop::option::of(0u64..600)).prop_map(move |(min, warmup)| StepRule {
                alarm: alarm.clone(),
                adjustment_type: kind,
                steps: steps.clone(),
                min_adjustment_magnitude: min,
                warmup: warmup.map(Duration::from_secs),
            })
        },
    )
}

fn simple_rule() -> impl Strategy<Value = SimpleRule> {
    let adjustment = prop_oneof![
        (-5i32..6).prop_map(|n| (AdjustmentType::ChangeInCapacity, f64::from(n))),
        (0u32..40).prop_map(|n| (AdjustmentType::ExactCapacity, f64::from(n))),
        (-80.0..200.0f64).prop_map(|p| (AdjustmentType::PercentChangeInCapacity, p)),
    ];
    (alarm_name(), adjustment, prop::option::of(0u32..4), 0u64..600).prop_map(
        |(alarm, (kind, n), min, cooldown)| SimpleRule {
            alarm,
            adjustment_type: kind,
            adjustment: n,
            min_adjustment_magnitude: min,
            cooldown: Duration::from_secs(cooldown),
        },
    )
}

fn alarm_input(name: &'static str) -> impl Strategy<Value = AlarmInput> {
    let state = prop::sample::select(vec![
        AlarmState::Ok,
        AlarmState::Pending,
        AlarmState::Firing,
        AlarmState::Firing,
        AlarmState::InsufficientData,
    ]);
    let value =
        prop_oneof![8 => (-200.0..800.0f64).prop_map(Some), 1 => Just(None), 1 => Just(Some(f64::NAN))];
    (state, value, 0.0..100.0f64).prop_map(move |(state, value, threshold)| AlarmInput {
        name: name.into(),
        state,
        value,
        value_at: None,
        threshold,
        since: None,
    })
}

/// Hourly, every 5 minutes, weekday mornings in Paris, 22:13 UTC (T0 is 22:13:20). (One
/// that cannot be read cannot be built: expressions and zones are parsed when read.)
fn scheduled_action() -> impl Strategy<Value = ScheduledAction> {
    let when = prop::sample::select(vec![
        ("0 * * * *", "UTC"),
        ("*/5 * * * *", "UTC"),
        ("0 8 * * 1-5", "Europe/Paris"),
        ("13 22 * * *", "UTC"),
    ]);
    let n = || prop::option::of(0u32..40);
    (when, n(), n(), n()).prop_map(|((cron, zone), min, max, desired)| ScheduledAction {
        name: "sched".into(),
        cron: cron.parse().unwrap(),
        timezone: zone.parse().unwrap(),
        min,
        max,
        desired,
    })
}

/// Hourly slots; some never seen (NaN); sometimes too little history.
fn load_profile() -> impl Strategy<Value = LoadProfile> {
    let slot = prop_oneof![4 => 0.0..600.0f64, 1 => Just(f64::NAN)];
    (prop::collection::vec(slot.clone(), 24), prop::collection::vec(slot, 168), 0.0..15.0f64).prop_map(
        |(daily, weekly, days_of_history)| LoadProfile {
            slot: Duration::from_secs(3600),
            daily,
            weekly,
            days_of_history,
        },
    )
}

fn predictive_spec() -> impl Strategy<Value = PredictiveSpec> {
    let mode = prop_oneof![Just(PredictiveMode::ForecastOnly), Just(PredictiveMode::ForecastAndScale)];
    (mode, 0.0..100.0f64, prop::option::of(0u64..3600)).prop_map(|(mode, target, lead)| PredictiveSpec {
        metric: RequestRate,
        target_per_instance: target,
        mode,
        lead: lead.map(Duration::from_secs),
    })
}

#[derive(Clone, Debug)]
struct Rules {
    step: Vec<StepRule>,
    simple: Vec<SimpleRule>,
    alarms: Vec<AlarmInput>,
    scheduled: Vec<ScheduledAction>,
    predictive: Option<PredictiveSpec>,
    profile: Option<LoadProfile>,
    last_tick: Option<i64>,
    /// Which rule made each recent activity (cycled over the activities).
    made_by: Vec<usize>,
}

fn rules() -> impl Strategy<Value = Rules> {
    (
        prop::collection::vec(step_rule(), 0..3),
        prop::collection::vec(simple_rule(), 0..2),
        (alarm_input(ALARMS[0]), alarm_input(ALARMS[1]), alarm_input(ALARMS[2])),
        prop::collection::vec(scheduled_action(), 0..3),
        prop::option::weighted(0.7, predictive_spec()),
        prop::option::weighted(0.8, load_profile()),
        prop::option::of(1i64..400),
        prop::collection::vec(0usize..8, 1..4),
    )
        .prop_map(|(step, simple, (a, b, c), scheduled, predictive, profile, last_tick, made_by)| {
            Rules { step, simple, alarms: vec![a, b, c], scheduled, predictive, profile, last_tick, made_by }
        })
}

/// `s` and `inputs` with every rule of `r` configured, and the recent activities
/// credited to the rules (for step warm-ups and simple cooldowns).
fn with_rules(mut s: GroupState, mut inputs: Inputs, r: &Rules) -> (GroupState, Inputs) {
    let mut kinds: Vec<Option<PolicyKind>> = vec![None];
    kinds.extend(r.step.iter().map(|rule| Some(PolicyKind::StepScaling { alarm: rule.alarm.clone() })));
    kinds.extend(r.simple.iter().map(|rule| Some(PolicyKind::SimpleScaling { alarm: rule.alarm.clone() })));
    for (i, activity) in s.recent_activities.iter_mut().enumerate() {
        activity.policy = kinds[r.made_by[i % r.made_by.len()] % kinds.len()].clone();
    }
    s.policy.step_scaling = r.step.clone();
    s.policy.simple_scaling = r.simple.clone();
    s.policy.scheduled = r.scheduled.clone();
    s.policy.predictive = r.predictive.clone();
    s.last_tick = r.last_tick.map(|ago| at(-ago));
    inputs.alarms = r.alarms.clone();
    inputs.load_profile = r.profile.clone();
    (s, inputs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn desired_is_always_within_the_effective_bounds_with_every_policy_kind(
        s in state(), w in world(), r in rules()
    ) {
        let (s, inputs) = with_rules(s, inputs(&w, at(0)), &r);
        let d = decide(&s, &inputs, at(0));
        let (min, max) = expected_bounds(&s);
        prop_assert_eq!((d.bounds.min, d.bounds.max), (min, max), "{}", d.reason);
        if let Some(v) = d.desired {
            prop_assert!(min <= v && v <= max, "{v} outside [{min}, {max}]: {}", d.reason);
        }
        if !full_pause(&s) {
            let v = d.resulting_desired();
            prop_assert!(min <= v && v <= max, "{v} outside [{min}, {max}]: {}", d.reason);
        }
    }

    #[test]
    fn identical_inputs_give_identical_decisions_with_every_policy_kind(
        s in state(), w in world(), r in rules()
    ) {
        let (s, inputs) = with_rules(s, inputs(&w, at(0)), &r);
        let first = decide(&s, &inputs, at(0));
        let second = decide(&s.clone(), &inputs.clone(), at(0));
        prop_assert_eq!(serde_json::to_string(&first).unwrap(), serde_json::to_string(&second).unwrap());
        let s2: GroupState = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        let i2: Inputs = toml::from_str(&toml::to_string(&inputs).unwrap()).unwrap();
        prop_assert_eq!(first, decide(&s2, &i2, at(0)));
    }

    #[test]
    fn rules_on_alarms_that_do_not_fire_change_nothing(s in state(), w in world(), r in rules()) {
        let (s, mut inputs) = with_rules(s, inputs(&w, at(0)), &r);
        for alarm in &mut inputs.alarms {
            if alarm.state == AlarmState::Firing {
                alarm.state = AlarmState::Pending;
            }
        }
        let mut without = s.clone();
        (without.policy.step_scaling, without.policy.simple_scaling) = (Vec::new(), Vec::new());
        let d = decide(&s, &inputs, at(0));
        prop_assert_eq!(d.desired, decide(&without, &inputs, at(0)).desired, "{}", d.reason);
    }

    #[test]
    fn a_forecast_only_prediction_never_changes_desired(s in state(), w in world(), r in rules()) {
        let (mut s, inputs) = with_rules(s, inputs(&w, at(0)), &r);
        let Some(predictive) = s.policy.predictive.as_mut() else { return Ok(()) };
        predictive.mode = PredictiveMode::ForecastOnly;
        let mut without = s.clone();
        without.policy.predictive = None;
        let d = decide(&s, &inputs, at(0));
        prop_assert_eq!(d.desired, decide(&without, &inputs, at(0)).desired, "{}", d.reason);
    }

    #[test]
    fn a_forecast_that_scales_never_lowers_the_decision(s in state(), w in world(), r in rules()) {
        let (mut s, inputs) = with_rules(s, inputs(&w, at(0)), &r);
        let Some(predictive) = s.policy.predictive.as_mut() else { return Ok(()) };
        predictive.mode = PredictiveMode::ForecastAndScale;
        let mut without = s.clone();
        without.policy.predictive = None;
        let d = decide(&s, &inputs, at(0));
        let below = decide(&without, &inputs, at(0)).resulting_desired();
        prop_assert!(d.resulting_desired() >= below, "{} < {below}: {}", d.resulting_desired(), d.reason);
    }
}
