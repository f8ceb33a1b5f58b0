//! `decide`: one group, one tick. Gathers every policy's proposal, combines them into a
//! recommendation, then takes it through operator state, damping and limits, in this
//! order (DESIGN.md, "Autoscaling semantics" and "Circuit breaker and operator actions"):
//!
//! 1. proposals: target tracking, latency guard, step and simple rules, predictive, and
//!    the schedule;
//! 2. recommendation: the largest scale-out proposal; else a scale-in only when every
//!    scale-in-capable proposal is below current and nothing scale-in relies on is
//!    unusable or over its guard (the recommendation then stays at current);
//! 3. capacity older than the actuator's staleness limit, or a full pause: no change at
//!    all. A hold: its value, within bounds (it bypasses stabilization, step limits and
//!    the budget, as a force-scale must);
//! 4. otherwise: stabilization windows → a scheduled desired that fired (exact; raised
//!    only by a scale-out need) → max step → stalled scale-out → budget → scale-in-only
//!    pause → effective [min, max].
//!
//! Pure: no clock, no I/O; identical inputs give identical decisions.

use std::time::Duration;

use crate::model::{MetricKind, Timestamp};
use crate::policy::bounds::{budget_cap, effective_bounds};
use crate::policy::decision::{Block, Bounds, Clamp, ClampBy, Decision, MetricProblem, Problem, Stalled};
use crate::policy::predictive::predictive_proposal;
use crate::policy::reason;
use crate::policy::schedule::{ScheduledEffect, scheduled_effect};
use crate::policy::spec::{PolicyKind, PredictiveMode, Proposal};
use crate::policy::stabilize::{limit_step, stabilize};
use crate::policy::state::{GroupState, Inputs, PauseMode, Recommendation, StateUpdates};
use crate::policy::step::{simple_proposal, step_proposal};
use crate::policy::target::{LatencyVerdict, Readings, latency_guard, target_proposal};

/// Decide one group's desired capacity at `now`.
pub fn decide(state: &GroupState, inputs: &Inputs, now: Timestamp) -> Decision {
    let spec = &state.policy;
    let capacity = &state.capacity;
    let current = capacity.desired;
    let readings = Readings::new(inputs, now);

    // 1. Proposals. `acting[i]` is false for a proposal that is shown only.
    let mut proposals: Vec<Proposal> = Vec::new();
    let mut acting: Vec<bool> = Vec::new();
    let mut problems = Vec::new();
    let last_change = state.recent_activities.iter().map(|a| a.at).max();
    for tt in &spec.target_tracking {
        let (proposal, problem) =
            target_proposal(tt, spec.tolerance, &readings, &inputs.alarms, last_change, capacity);
        problems.extend(problem);
        proposals.push(proposal);
        acting.push(true);
    }
    let mut latency = LatencyVerdict::Clear;
    if let Some(guard) = &spec.latency_guard {
        let (proposal, verdict) = latency_guard(guard, &readings);
        latency = verdict;
        proposals.push(proposal);
        acting.push(false);
    }
    let mut data_problems = problems.clone();
    if let LatencyVerdict::Unusable(problem) = &latency {
        data_problems.push(problem.clone());
    }
    let history = &state.recent_activities;
    for rule in &spec.step_scaling {
        let alarm = inputs.alarms.iter().find(|a| a.name == rule.alarm);
        proposals.push(step_proposal(rule, alarm, capacity, history, state.max_warmup, now));
        acting.push(true);
    }
    for rule in &spec.simple_scaling {
        let alarm = inputs.alarms.iter().find(|a| a.name == rule.alarm);
        proposals.push(simple_proposal(rule, alarm, capacity, history, now));
        acting.push(true);
    }
    if let Some(predictive) = &spec.predictive {
        let mut proposal =
            predictive_proposal(predictive, inputs.load_profile.as_ref(), capacity, state.max_warmup, now);
        // Never scales in by itself, whatever it returns (DESIGN.md).
        proposal.may_scale_in = false;
        proposals.push(proposal);
        acting.push(predictive.mode == PredictiveMode::ForecastAndScale);
    }
    let mut blocked = Vec::new();
    let schedule = if spec.scheduled.is_empty() {
        ScheduledEffect::default()
    } else {
        scheduled_effect(&spec.scheduled, state.last_tick, now).unwrap_or_else(|e| {
            blocked.push(Block::Schedule { message: e.to_string() });
            ScheduledEffect::default()
        })
    };
    if let Some((n, action)) = &schedule.desired {
        proposals.push(Proposal {
            policy: PolicyKind::Scheduled { action: action.clone() },
            desired: Some(*n),
            may_scale_in: true,
            reason: format!("scheduled action `{action}` sets desired {n}"),
        });
        // Applied after stabilization, not combined with the metric policies.
        acting.push(false);
    }

    // 2. Recommendation.
    let votes = || {
        proposals.iter().enumerate().filter(|(i, _)| acting[*i]).filter_map(|(i, p)| Some((i, p.desired?)))
    };
    let mut clamps = Vec::new();
    let mut recommendation = current;
    let mut driver: Option<usize> = None;
    // The largest scale-out wins; on a tie the first listed, so the reason is stable.
    let scale_out = votes().filter(|(_, n)| *n > current).fold(None, |best: Option<(usize, u32)>, (i, n)| {
        if best.is_none_or(|(_, b)| n > b) { Some((i, n)) } else { best }
    });
    if let Some((i, n)) = scale_out {
        (recommendation, driver) = (n, Some(i));
    } else if readings.demand && current == 0 {
        // Demand and nothing asked for: the formula has no ready instance to scale from.
        recommendation = 1;
        clamps.push(Clamp { from: 0, to: 1, by: ClampBy::ColdStart });
    } else {
        let highest_in = votes().filter(|(i, _)| proposals[*i].may_scale_in).map(|(_, n)| n).max();
        let wants_in = match highest_in {
            Some(highest) => highest < current,
            None => !problems.is_empty(),
        };
        if wants_in {
            let mut in_blocks = Vec::new();
            if let LatencyVerdict::Unusable(problem) = &latency {
                problems.push(problem.clone());
            }
            if !problems.is_empty() {
                in_blocks.push(Block::Data { metrics: problems.clone() });
            }
            if let (Some(guard), LatencyVerdict::Above { value_secs, limit_secs }) =
                (&spec.latency_guard, &latency)
            {
                let (value_secs, limit_secs) = (*value_secs, *limit_secs);
                in_blocks.push(Block::Latency { metric: guard.metric.clone(), value_secs, limit_secs });
            }
            // Floors (predictive) bound the scale-in: the binding proposal is the highest.
            let binding =
                votes().fold(
                    None,
                    |best: Option<(usize, u32)>, (i, n)| {
                        if best.is_none_or(|(_, b)| n > b) { Some((i, n)) } else { best }
                    },
                );
            match binding {
                Some((i, n)) if in_blocks.is_empty() && n < current => {
                    (recommendation, driver) = (n, Some(i))
                }
                Some((i, _)) => driver = Some(i),
                None => {}
            }
            blocked.extend(in_blocks);
        }
    }

    // 3–4. Operator state, damping, limits.
    let hold = state.hold.as_ref().filter(|h| h.is_active(now));
    let pause = state.pause.as_ref().filter(|p| p.is_active(now));
    let bounds = effective_bounds(state.min, state.max, &schedule, hold);
    let stalled = stall(state, now);
    // A first look (nothing recorded within the scale-down window) counts current as
    // recommended now, as the HPA seeds its window with the current replicas: a
    // controller that has not watched for a whole window does not scale in at once.
    let down = spec.stabilization.scale_down;
    let cutoff = now.minus(down);
    let seeded =
        !down.is_zero() && !state.recent_recommendations.iter().any(|r| r.at > cutoff && r.at <= now);
    let mut window_history = state.recent_recommendations.clone();
    if seeded {
        window_history.push(Recommendation { at: now, desired: current });
    }
    let mut v = recommendation;
    let capacity_age = now.since(capacity.observed_at);
    let capacity_unknown = inputs.capacity_stale_after.is_some_and(|limit| capacity_age > limit);
    if capacity_unknown {
        // What is there now is not known: neither a policy nor a hold may change it. The
        // breaker's stale-data trip counts it like any stale input.
        blocked.insert(0, Block::CapacityUnknown { observed_at: capacity.observed_at, age: capacity_age });
        data_problems.push(MetricProblem {
            metric: MetricKind::DesiredCapacity,
            problem: Problem::Stale { age: capacity_age },
        });
        v = current;
    } else if let Some(pause) = pause.filter(|p| p.mode == PauseMode::Full) {
        blocked.insert(
            0,
            Block::Paused { by: pause.by.clone(), until: pause.until, reason: pause.reason.clone() },
        );
        v = current;
    } else if let Some(hold) = hold {
        blocked.insert(0, Block::Held { desired: hold.desired, by: hold.by.clone(), until: hold.until });
        cut(&mut v, hold.desired, ClampBy::Hold { by: hold.by.clone() }, &mut clamps);
        within_bounds(&mut v, &bounds, &mut clamps);
    } else {
        let (to, block) = stabilize(v, current, &window_history, &spec.stabilization, now);
        let window = if to < v { ClampBy::ScaleUpWindow } else { ClampBy::ScaleDownWindow };
        cut(&mut v, to, window, &mut clamps);
        blocked.extend(block);
        if let Some((n, action)) = &schedule.desired {
            let to = if v > current { v.max(*n) } else { *n };
            cut(&mut v, to, ClampBy::ScheduledDesired { action: action.clone() }, &mut clamps);
        } else if let Some(step) = &spec.max_step {
            let (to, block) = limit_step(v, current, step, history, now);
            cut(&mut v, to, ClampBy::MaxStep, &mut clamps);
            blocked.extend(block);
        }
        if let Some(s) = stalled.as_ref().filter(|_| v > current) {
            cut(&mut v, current, ClampBy::Stalled, &mut clamps);
            blocked.push(Block::Stalled { since: s.since });
        }
        if let Some(cap) = budget_cap(spec.hourly_budget_usd, state.hourly_cost_usd)
            && v > current
            && v > cap
        {
            cut(&mut v, cap.max(current), ClampBy::Budget, &mut clamps);
            let hourly_budget_usd = spec.hourly_budget_usd.unwrap_or_default();
            blocked.push(Block::Budget { hourly_budget_usd, max_instances: cap });
        }
        if let Some(pause) = pause.filter(|_| v < current) {
            cut(&mut v, current, ClampBy::ScaleInPaused, &mut clamps);
            blocked.insert(
                0,
                Block::ScaleInPaused {
                    by: pause.by.clone(),
                    until: pause.until,
                    reason: pause.reason.clone(),
                },
            );
        }
        within_bounds(&mut v, &bounds, &mut clamps);
    }

    // What the scale-down window remembers: a held or scheduled value counts as
    // recommended, so normal rules resume after it without an instant scale-in.
    let mut remembered = if seeded { recommendation.max(current) } else { recommendation };
    if let Some(hold) = hold.filter(|_| pause.is_none_or(|p| p.mode != PauseMode::Full)) {
        remembered = remembered.max(hold.desired);
    }
    if let Some((n, _)) = &schedule.desired {
        remembered = remembered.max(*n);
    }
    let pending = capacity.pending_total();
    let since = match state.scale_out_pending_since {
        Some(since) if current > pending => since,
        _ => now,
    };
    let scale_out_pending_since = (v > pending).then_some(since);
    let state_updates = StateUpdates {
        recommendation: Recommendation { at: now, desired: remembered },
        scale_out_pending_since,
        retain: retention(state),
    };
    let desired = (v != current).then_some(v);
    let reason =
        reason::sentence(current, desired, driver.map(|i| &proposals[i]), &proposals, &clamps, &blocked);
    let credited = desired.and_then(|_| credit(driver.map(|i| &proposals[i]), current, &clamps));
    Decision {
        at: now,
        group: state.name.clone(),
        current,
        desired,
        recommendation,
        proposals,
        bounds,
        clamps,
        blocked,
        problems: data_problems,
        stalled,
        state_updates,
        reason,
        driver: credited,
    }
}

/// Which policy a change is credited to: a scheduled desired that set the value, else
/// the proposal that drove the recommendation — unless a hold or the bounds alone moved
/// desired, which no policy's cooldown should count.
fn credit(driver: Option<&Proposal>, current: u32, clamps: &[Clamp]) -> Option<PolicyKind> {
    if clamps.iter().any(|c| matches!(c.by, ClampBy::Hold { .. })) {
        return None;
    }
    match clamps.last() {
        Some(Clamp { by: ClampBy::ScheduledDesired { action }, .. }) => {
            Some(PolicyKind::Scheduled { action: action.clone() })
        }
        Some(c) if c.from == current && matches!(c.by, ClampBy::Min | ClampBy::Max) => None,
        _ => driver.map(|p| p.policy.clone()),
    }
}

/// Move `v` to `to`, recording the cut when it changes anything.
fn cut(v: &mut u32, to: u32, by: ClampBy, clamps: &mut Vec<Clamp>) {
    if to != *v {
        clamps.push(Clamp { from: *v, to, by });
        *v = to;
    }
}

/// Raise to min, then cap at max (bounds always hold: `min ≤ max`).
fn within_bounds(v: &mut u32, bounds: &Bounds, clamps: &mut Vec<Clamp>) {
    let (lo, hi) = ((*v).max(bounds.min), (*v).max(bounds.min).min(bounds.max));
    cut(v, lo, ClampBy::Min, clamps);
    cut(v, hi, ClampBy::Max, clamps);
}

/// Desired has exceeded ready + warming for longer than the maximum warm-up (DESIGN.md:
/// e.g. no GPU capacity in the zone).
fn stall(state: &GroupState, now: Timestamp) -> Option<Stalled> {
    let capacity = &state.capacity;
    let pending = capacity.pending_total();
    let since = state.scale_out_pending_since?;
    let waiting = now.since(since);
    (capacity.desired > pending && waiting > state.max_warmup).then_some(Stalled {
        since,
        waiting,
        desired: capacity.desired,
        ready_plus_warming: pending,
    })
}

/// How far back any rule looks: stabilization windows, the step period, cooldowns and
/// warm-ups (step rules count activities within their warm-up).
fn retention(state: &GroupState) -> Duration {
    let spec = &state.policy;
    let mut longest = state.max_warmup.max(spec.stabilization.scale_up).max(spec.stabilization.scale_down);
    longest = longest.max(spec.max_step.as_ref().map_or(Duration::ZERO, |s| s.period));
    for rule in &spec.simple_scaling {
        longest = longest.max(rule.cooldown);
    }
    for rule in &spec.step_scaling {
        longest = longest.max(rule.warmup.unwrap_or_default());
    }
    longest
}
