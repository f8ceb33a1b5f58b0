//! Edge cases of DESIGN.md, one behaviour per test.

use std::time::Duration;

use super::*;
use crate::model::MetricKind::{GpuUtil, LatencyP95, QueueLength, RequestRate};
use crate::policy::decision::{Block, BoundSource, Problem};
use crate::policy::state::{Hold, Pause, PauseMode, Recommendation};
use crate::policy::{Decision, decide};

/// Run `ticks` decisions 15 s apart from `start`, feeding each back as the engine does,
/// with the same metric values (fresh each tick). Returns every decision.
fn run(state: &mut GroupState, values: &[(MetricKind, f64)], start: i64, ticks: usize) -> Vec<Decision> {
    (0..ticks)
        .map(|i| {
            let now = at(start + 15 * i as i64);
            let d = decide(state, &fresh(now, values), now);
            state.apply(&d);
            d
        })
        .collect()
}

#[test]
fn scales_out_when_utilization_is_above_target_and_says_why() {
    let d = decide(&group(gpu_policy(), 4, 4, 0), &fresh(at(0), &[(GpuUtil, 0.93)]), at(0));
    assert_eq!(d.desired, Some(6));
    assert_eq!(d.reason, "scale out 4→6: gpu_util 0.93 > target 0.70 (needs 6)");
}

#[test]
fn no_change_inside_the_tolerance() {
    let d = decide(&group(gpu_policy(), 4, 4, 0), &fresh(at(0), &[(GpuUtil, 0.76)]), at(0));
    assert_eq!(d.desired, None);
    assert_eq!(d.reason, "no change at 4: gpu_util 0.76 within 10 % of target 0.70");
}

#[test]
fn warming_instances_count_so_a_need_is_asked_once() {
    // ready 4 at twice the target needs 8; 4 more are already warming.
    let d = decide(&group(gpu_policy(), 8, 4, 4), &fresh(at(0), &[(GpuUtil, 1.4)]), at(0));
    assert_eq!(d.desired, None, "{}", d.reason);
}

#[test]
fn a_metric_above_target_never_lowers_desired_while_instances_warm() {
    // 4 ready at 1.05 need 6 < 8 asked: wait for the warming ones, do not cancel them.
    let d = decide(&group(gpu_policy(), 8, 4, 4), &fresh(at(0), &[(GpuUtil, 1.05)]), at(0));
    assert_eq!(d.desired, None, "{}", d.reason);
    assert!(d.reason.contains("8 already asked for"), "{}", d.reason);
}

#[test]
fn no_ready_instance_with_requests_scales_out_to_one() {
    let mut state = group(gpu_policy(), 0, 0, 0);
    state.min = 0;
    let d = decide(&state, &fresh(at(0), &[(RequestRate, 3.0)]), at(0));
    assert_eq!(d.desired, Some(1), "{}", d.reason);
    assert!(d.reason.contains("demand with no instance ready or warming"), "{}", d.reason);
}

#[test]
fn no_ready_instance_with_a_queue_scales_out_by_the_queue() {
    let mut state = group(full_policy(), 0, 0, 0);
    state.min = 0;
    let d = decide(&state, &fresh(at(0), &[(RequestRate, 2.0), (QueueLength, 12.0)]), at(0));
    // max(ready, 1) = 1 instance carries 12 queued at a target of 5 each: needs 3.
    assert_eq!(d.desired, Some(3), "{}", d.reason);
}

#[test]
fn an_idle_group_scales_in_to_min_after_the_scale_down_window() {
    let mut state = group(full_policy(), 6, 6, 0);
    state.min = 2;
    let idle = [(RequestRate, 0.0), (LatencyP95, f64::NAN)];
    let ds = run(&mut state, &idle, 0, 22);
    // A first look seeds the window with current: nothing moves for 300 s.
    assert!(ds[..20].iter().all(|d| d.desired.is_none()), "{:#?}", ds[19].reason);
    assert!(ds[0].reason.contains("scale-down window 5m: highest recommendation 6"), "{}", ds[0].reason);
    assert_eq!(ds[20].desired, Some(2), "{}", ds[20].reason);
    assert_eq!(state.capacity.desired, 2);
}

#[test]
fn idle_means_a_fresh_zero_request_rate_not_a_missing_one() {
    let mut state = group(full_policy(), 6, 6, 0);
    state.recent_recommendations = vec![Recommendation { at: at(-400), desired: 6 }];
    let d = decide(&state, &fresh(at(0), &[(LatencyP95, f64::NAN)]), at(0));
    assert_eq!(d.desired, None);
    assert!(d.blocked.iter().any(|b| matches!(b, Block::Data { .. })), "{:?}", d.blocked);
    assert!(d.reason.contains("gpu_util missing"), "{}", d.reason);
}

#[test]
fn a_stale_metric_blocks_scale_in_and_is_named() {
    let state = group(full_policy(), 6, 6, 0);
    let mut inputs = fresh(at(0), &[(GpuUtil, 0.1), (RequestRate, 5.0), (LatencyP95, 0.3)]);
    inputs.metrics.push(MetricInput::new(QueueLength, at(-120), 0.0));
    let d = decide(&state, &inputs, at(0));
    assert_eq!(d.desired, None);
    let Some(Block::Data { metrics }) = d.blocked.first() else { panic!("{:?}", d.blocked) };
    assert_eq!(metrics[0].metric, QueueLength);
    assert_eq!(metrics[0].problem, Problem::Stale { age: Duration::from_secs(120) });
    assert!(d.reason.contains("queue_length stale (last sample 2m ago)"), "{}", d.reason);
    // An age is said to the second, as a person would.
    let odd = crate::policy::decision::MetricProblem {
        metric: QueueLength,
        problem: Problem::Stale { age: Duration::from_millis(3_006) },
    };
    assert_eq!(crate::policy::words::problem(&odd), "queue_length stale (last sample 3s ago)");
}

#[test]
fn a_stale_metric_does_not_stop_scale_out_on_the_others() {
    let state = group(full_policy(), 4, 4, 0);
    let mut inputs = fresh(at(0), &[(GpuUtil, 0.95), (RequestRate, 5.0)]);
    inputs.metrics.push(MetricInput::new(QueueLength, at(-120), 0.0));
    assert_eq!(decide(&state, &inputs, at(0)).desired, Some(6));
}

#[test]
fn latency_above_the_guard_blocks_scale_in() {
    let state = group(full_policy(), 6, 6, 0);
    let inputs = fresh(at(0), &[(GpuUtil, 0.1), (QueueLength, 0.0), (RequestRate, 5.0), (LatencyP95, 1.7)]);
    let d = decide(&state, &inputs, at(0));
    assert_eq!(d.desired, None);
    assert!(d.reason.contains("no scale-in: latency_p95 1.70s > 1.60s"), "{}", d.reason);
}

#[test]
fn latency_missing_under_load_blocks_scale_in() {
    let state = group(full_policy(), 6, 6, 0);
    let inputs = fresh(at(0), &[(GpuUtil, 0.1), (QueueLength, 0.0), (RequestRate, 5.0)]);
    let d = decide(&state, &inputs, at(0));
    assert!(d.reason.contains("latency_p95 missing"), "{}", d.reason);
}

#[test]
fn latency_alone_never_scales_out_or_in() {
    let spec = PolicySpec { target_tracking: vec![], ..full_policy() };
    let state = group(spec, 6, 6, 0);
    for latency in [0.01, 5.0] {
        let d = decide(&state, &fresh(at(0), &[(LatencyP95, latency), (RequestRate, 5.0)]), at(0));
        assert_eq!(d.desired, None, "{}", d.reason);
    }
}

#[test]
fn a_stalled_scale_out_is_reported_and_not_stacked() {
    let mut state = group(full_policy(), 8, 4, 0);
    state.scale_out_pending_since = Some(at(-400));
    // 60 queued over 4 ready at 5 each needs 12 > 8: still no further increase.
    let d = decide(&state, &fresh(at(0), &[(GpuUtil, 0.7), (QueueLength, 60.0), (RequestRate, 9.0)]), at(0));
    assert_eq!(d.desired, None, "{}", d.reason);
    let stalled = d.stalled.expect("stalled");
    assert_eq!((stalled.desired, stalled.ready_plus_warming, stalled.since), (8, 4, at(-400)));
    assert!(d.reason.contains("scale-out stalled since"), "{}", d.reason);
    assert_eq!(d.state_updates.scale_out_pending_since, Some(at(-400)));
}

#[test]
fn a_scale_out_waiting_less_than_the_warm_up_is_not_stalled() {
    let mut state = group(full_policy(), 8, 4, 0);
    state.scale_out_pending_since = Some(at(-200));
    let d = decide(&state, &fresh(at(0), &[(GpuUtil, 0.7), (QueueLength, 60.0), (RequestRate, 9.0)]), at(0));
    assert_eq!((d.stalled, d.desired), (None, Some(12)));
}

fn held(beyond_max: bool) -> GroupState {
    let mut state = group(gpu_policy(), 4, 4, 0);
    state.hold = Some(Hold { desired: 25, until: at(600), beyond_max, by: "ana".into() });
    state
}

#[test]
fn a_hold_beyond_max_confirmed_raises_max_for_the_hold() {
    let d = decide(&held(true), &fresh(at(0), &[(GpuUtil, 0.7)]), at(0));
    assert_eq!(d.desired, Some(25));
    assert_eq!((d.bounds.max, d.bounds.max_from.clone()), (25, BoundSource::Hold { by: "ana".into() }));
}

#[test]
fn a_hold_beyond_max_unconfirmed_stops_at_max() {
    let d = decide(&held(false), &fresh(at(0), &[(GpuUtil, 0.7)]), at(0));
    assert_eq!(d.desired, Some(20));
    assert!(d.reason.starts_with("scale out 4→20: forced by ana to 25, held until "), "{}", d.reason);
    assert!(d.reason.contains("capped at max 20"), "{}", d.reason);
}

#[test]
fn after_a_hold_expires_the_scale_down_window_starts_from_the_held_value() {
    let mut state = held(true);
    let ds = run(&mut state, &[(GpuUtil, 0.1)], 0, 60);
    let at_secs = |secs: usize| &ds[secs / 15];
    assert_eq!(at_secs(0).desired, Some(25));
    assert!(at_secs(585).desired.is_none(), "{}", at_secs(585).reason);
    // Expired at 600: the group's max again, then 300 s of window from the last held tick.
    assert_eq!(at_secs(600).desired, Some(20), "{}", at_secs(600).reason);
    assert!(at_secs(870).desired.is_none(), "{}", at_secs(870).reason);
    assert_eq!(at_secs(885).desired, Some(1), "{}", at_secs(885).reason);
}

#[test]
fn a_full_pause_blocks_every_change_and_names_who() {
    // A group that scales out at 0.95 and in at 0.2 (a recommendation of 2 already in the
    // scale-down window), unpaused: the controls.
    let mut state = group(gpu_policy(), 4, 4, 0);
    state.recent_recommendations = vec![Recommendation { at: at(-100), desired: 2 }];
    let hot = fresh(at(0), &[(GpuUtil, 0.95)]);
    let cold = fresh(at(0), &[(GpuUtil, 0.2)]);
    assert_eq!(decide(&state, &hot, at(0)).desired, Some(6));
    assert_eq!(decide(&state, &cold, at(0)).desired, Some(2));
    state.pause = Some(Pause {
        mode: PauseMode::Full,
        by: "ana".into(),
        until: Some(at(0).plus(Duration::from_secs(3600 * 16 + 16 * 60 + 40))),
        reason: "INC-123".into(),
    });
    let d = decide(&state, &hot, at(0));
    assert_eq!(d.desired, None);
    assert!(
        d.reason.starts_with("blocked: paused by ana until 14:30 UTC (INC-123) — stays at 4; "),
        "{}",
        d.reason
    );
    let d = decide(&state, &cold, at(0));
    assert_eq!(d.desired, None, "{}", d.reason);
    assert!(d.reason.starts_with("blocked: paused by ana"), "{}", d.reason);
}

#[test]
fn a_scale_in_only_pause_lets_scale_out_through() {
    let mut state = group(gpu_policy(), 4, 4, 0);
    state.recent_recommendations = vec![Recommendation { at: at(-100), desired: 2 }];
    let hot = fresh(at(0), &[(GpuUtil, 0.95)]);
    let cold = fresh(at(0), &[(GpuUtil, 0.2)]);
    // The control: unpaused, the cold group scales in.
    assert_eq!(decide(&state, &cold, at(0)).desired, Some(2));
    state.pause =
        Some(Pause { mode: PauseMode::ScaleInOnly, by: "ana".into(), until: None, reason: String::new() });
    assert_eq!(decide(&state, &hot, at(0)).desired, Some(6));
    let d = decide(&state, &cold, at(0));
    assert_eq!(d.desired, None);
    assert!(d.reason.contains("scale-in paused by ana"), "{}", d.reason);
    // And the scale-out it lets through is one a full pause blocks.
    state.pause.as_mut().unwrap().mode = PauseMode::Full;
    assert_eq!(decide(&state, &hot, at(0)).desired, None);
}

#[test]
fn an_expired_pause_is_ignored() {
    let mut state = group(gpu_policy(), 4, 4, 0);
    let hot = fresh(at(0), &[(GpuUtil, 0.95)]);
    // The control: the same pause a second from its end still blocks the scale-out.
    state.pause =
        Some(Pause { mode: PauseMode::Full, by: "ana".into(), until: Some(at(1)), reason: String::new() });
    assert_eq!(decide(&state, &hot, at(0)).desired, None);
    state.pause.as_mut().unwrap().until = Some(at(-1));
    assert_eq!(decide(&state, &hot, at(0)).desired, Some(6));
}

#[test]
fn the_budget_caps_scale_out_and_says_so() {
    let mut state = group(gpu_policy(), 4, 4, 0);
    state.policy.hourly_budget_usd = Some(200.0); // 200 / 32.77 pays for 6
    let d = decide(&state, &fresh(at(0), &[(GpuUtil, 1.4)]), at(0));
    assert_eq!(d.desired, Some(6), "{}", d.reason);
    assert!(d.reason.contains("budget $200/h pays for 6"), "{}", d.reason);
}

#[test]
fn the_budget_never_forces_scale_in() {
    let mut state = group(gpu_policy(), 8, 8, 0);
    state.policy.hourly_budget_usd = Some(200.0);
    assert_eq!(decide(&state, &fresh(at(0), &[(GpuUtil, 0.7)]), at(0)).desired, None);
}

#[test]
fn a_nan_value_round_trips_through_json() {
    let inputs = fresh(at(0), &[(LatencyP95, f64::NAN)]);
    let json = serde_json::to_string(&inputs).unwrap();
    assert!(json.contains("\"NaN\""), "{json}");
    let back: Inputs = serde_json::from_str(&json).unwrap();
    assert!(back.metrics[0].value.is_nan());
}

#[test]
fn a_hand_written_toml_input_decides() {
    #[derive(serde::Deserialize)]
    struct File {
        group: GroupState,
        inputs: Inputs,
    }
    let file: File = toml::from_str(
        r#"
        [group]
        name = "llama-70b"
        min = 1
        max = 10
        capacity = { desired = 4, ready = 4, warming = 0, failed = 0, observed_at = 0 }
        policy = { target_tracking = [{ metric = "gpu_util", target = 0.7 }] }

        [inputs]
        stale_after = "45s"
        metrics = [{ kind = "gpu_util", at = 0, value = 0.93 }, { kind = "latency_p95", at = 0, value = "NaN" }]
        "#,
    )
    .unwrap();
    let d = decide(&file.group, &file.inputs, Timestamp::from_millis(10_000));
    assert_eq!(d.desired, Some(6), "{}", d.reason);
    let line = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<Decision>(&line).unwrap(), d);
}

#[test]
fn unknown_keys_in_inputs_are_refused() {
    assert!(toml::from_str::<Inputs>("stale_afterr = \"1m\"").is_err());
}
