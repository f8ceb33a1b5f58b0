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
use crate::policy::state::{GroupState, Inputs, Pause, PauseMode, Recommendation, StateUpdates};
use crate::policy::step::{simple_proposal, step_proposal};
use crate::policy::target::{LatencyVerdict, Readings, latency_guard, target_proposal};

/// Decide one group's desired capacity at `now`.
pub fn decide(state: &GroupState, inputs: &Inputs, now: Timestamp) -> Decision {
    let current = state.capacity.desired;
    let readings = Readings::new(inputs, now);

    // 1–2. Proposals, then the recommendation.
    let gathered = gather(state, inputs, &readings, now);
    let mut problems = gathered.data_problems();
    let mut trail = Trail { clamps: Vec::new(), blocked: gathered.blocked.clone() };
    let (recommendation, driver) = recommend(&gathered, state, readings.demand, &mut trail);

    // 3–4. Operator state, damping, limits.
    let hold = state.hold.as_ref().filter(|h| h.is_active(now));
    let pause = state.pause.as_ref().filter(|p| p.is_active(now));
    let bounds = effective_bounds((state.min, state.max, state.hard_cap()), &gathered.schedule, hold);
    let stalled = stall(state, now);
    let (window_history, seeded) = scale_down_window(state, now);
    let v = if let Some(block) = frozen(state, inputs, pause, now, &mut problems) {
        trail.blocked.insert(0, block);
        current
    } else if let Some(hold) = hold {
        trail
            .blocked
            .insert(0, Block::Held { desired: hold.desired, by: hold.by.clone(), until: hold.until });
        let mut v = recommendation;
        cut(&mut v, hold.desired, ClampBy::Hold { by: hold.by.clone() }, &mut trail.clamps);
        within_bounds(&mut v, &bounds, &mut trail.clamps);
        v
    } else {
        let limits = Limits {
            state,
            now,
            schedule: &gathered.schedule,
            window_history: &window_history,
            stalled: stalled.as_ref(),
            pause,
            bounds: &bounds,
        };
        damp(recommendation, &limits, &mut trail)
    };

    // What the scale-down window remembers: a held or scheduled value counts as
    // recommended, so normal rules resume after it without an instant scale-in.
    let mut remembered = if seeded { recommendation.max(current) } else { recommendation };
    if let Some(hold) = hold.filter(|_| pause.is_none_or(|p| p.mode != PauseMode::Full)) {
        remembered = remembered.max(hold.desired);
    }
    if let Some((n, _)) = &gathered.schedule.desired {
        remembered = remembered.max(*n);
    }
    let pending = state.capacity.pending_total();
    let since = match state.scale_out_pending_since {
        Some(since) if current > pending => since,
        _ => now,
    };
    let state_updates = StateUpdates {
        recommendation: Recommendation { at: now, desired: remembered },
        scale_out_pending_since: (v > pending).then_some(since),
        retain: retention(state),
    };
    let Trail { clamps, blocked } = trail;
    let proposals = gathered.proposals;
    let desired = (v != current).then_some(v);
    let driver = driver.map(|i| &proposals[i]);
    let reason = reason::sentence(current, desired, driver, &proposals, &clamps, &blocked);
    let credited = desired.and_then(|_| credit(driver, current, &clamps));
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
        problems,
        stalled,
        state_updates,
        reason,
        driver: credited,
    }
}

/// Step 1's result: every policy's proposal and what its data lacked.
struct Gathered {
    proposals: Vec<Proposal>,
    /// `acting[i]` is false for a proposal that is shown only.
    acting: Vec<bool>,
    /// Target-tracking metrics that could not be used.
    problems: Vec<MetricProblem>,
    latency: LatencyVerdict,
    schedule: ScheduledEffect,
    /// A schedule that could not be evaluated.
    blocked: Vec<Block>,
}

impl Gathered {
    fn propose(&mut self, proposal: Proposal, acting: bool) {
        self.proposals.push(proposal);
        self.acting.push(acting);
    }

    /// The acting proposals that name a desired, by index.
    fn votes(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.proposals
            .iter()
            .zip(&self.acting)
            .enumerate()
            .filter(|(_, (_, acting))| **acting)
            .filter_map(|(i, (p, _))| Some((i, p.desired?)))
    }

    /// Every metric that could not be used, the latency guard's included.
    fn data_problems(&self) -> Vec<MetricProblem> {
        let mut problems = self.problems.clone();
        if let LatencyVerdict::Unusable(problem) = &self.latency {
            problems.push(problem.clone());
        }
        problems
    }
}

/// Step 1: target tracking, the latency guard, step and simple rules, predictive, and the
/// schedule, in that order.
fn gather(state: &GroupState, inputs: &Inputs, readings: &Readings, now: Timestamp) -> Gathered {
    let spec = &state.policy;
    let capacity = &state.capacity;
    let history = &state.recent_activities;
    let mut g = Gathered {
        proposals: Vec::new(),
        acting: Vec::new(),
        problems: Vec::new(),
        latency: LatencyVerdict::Clear,
        schedule: ScheduledEffect::default(),
        blocked: Vec::new(),
    };
    let last_change = history.iter().map(|a| a.at).max();
    for tt in &spec.target_tracking {
        let (proposal, problem) =
            target_proposal(tt, spec.tolerance, readings, &inputs.alarms, last_change, capacity);
        g.problems.extend(problem);
        g.propose(proposal, true);
    }
    if let Some(guard) = &spec.latency_guard {
        let (proposal, verdict) = latency_guard(guard, readings);
        g.latency = verdict;
        g.propose(proposal, false);
    }
    for rule in &spec.step_scaling {
        let alarm = inputs.alarms.iter().find(|a| a.name == rule.alarm);
        g.propose(step_proposal(rule, alarm, capacity, history, state.max_warmup, now), true);
    }
    for rule in &spec.simple_scaling {
        let alarm = inputs.alarms.iter().find(|a| a.name == rule.alarm);
        g.propose(simple_proposal(rule, alarm, capacity, history, now), true);
    }
    if let Some(predictive) = &spec.predictive {
        let mut proposal =
            predictive_proposal(predictive, inputs.load_profile.as_ref(), capacity, state.max_warmup, now);
        // Never scales in by itself, whatever it returns (DESIGN.md).
        proposal.may_scale_in = false;
        g.propose(proposal, predictive.mode == PredictiveMode::ForecastAndScale);
    }
    if !spec.scheduled.is_empty() {
        g.schedule = scheduled_effect(&spec.scheduled, state.last_tick, now).unwrap_or_else(|e| {
            g.blocked.push(Block::Schedule { message: e.to_string() });
            ScheduledEffect::default()
        });
    }
    if let Some((n, action)) = g.schedule.desired.clone() {
        let proposal = Proposal {
            policy: PolicyKind::Scheduled { action: action.clone() },
            desired: Some(n),
            may_scale_in: true,
            reason: format!("scheduled action `{action}` sets desired {n}"),
        };
        // Applied after stabilization, not combined with the metric policies.
        g.propose(proposal, false);
    }
    g
}

/// Step 2: the recommendation and the proposal that drove it (by index). Records a cold
/// start's clamp and what blocks a scale-in.
fn recommend(g: &Gathered, state: &GroupState, demand: bool, trail: &mut Trail) -> (u32, Option<usize>) {
    let current = state.capacity.desired;
    if let Some((i, n)) = largest(g.votes().filter(|(_, n)| *n > current)) {
        return (n, Some(i));
    }
    if demand && current == 0 {
        // Demand and nothing asked for: the formula has no ready instance to scale from.
        trail.clamps.push(Clamp { from: 0, to: 1, by: ClampBy::ColdStart });
        return (1, None);
    }
    let highest_in = g.votes().filter(|(i, _)| g.proposals[*i].may_scale_in).map(|(_, n)| n).max();
    let wants_in = match highest_in {
        Some(highest) => highest < current,
        None => !g.problems.is_empty(),
    };
    if !wants_in {
        return (current, None);
    }
    let mut in_blocks = Vec::new();
    let problems = g.data_problems();
    if !problems.is_empty() {
        in_blocks.push(Block::Data { metrics: problems });
    }
    if let (Some(guard), LatencyVerdict::Above { value_secs, limit_secs }) =
        (&state.policy.latency_guard, &g.latency)
    {
        let (value_secs, limit_secs) = (*value_secs, *limit_secs);
        in_blocks.push(Block::Latency { metric: guard.metric.clone(), value_secs, limit_secs });
    }
    // Floors (predictive) bound the scale-in: the binding proposal is the highest.
    let decided = match largest(g.votes()) {
        Some((i, n)) if in_blocks.is_empty() && n < current => (n, Some(i)),
        Some((i, _)) => (current, Some(i)),
        None => (current, None),
    };
    trail.blocked.extend(in_blocks);
    decided
}

/// The largest vote; on a tie the first listed, so the reason is stable.
fn largest(votes: impl Iterator<Item = (usize, u32)>) -> Option<(usize, u32)> {
    votes.fold(None, |best, (i, n)| if best.is_none_or(|(_, b)| n > b) { Some((i, n)) } else { best })
}

/// What moved the value on its way to desired, and what stopped it.
struct Trail {
    clamps: Vec<Clamp>,
    blocked: Vec<Block>,
}

/// The scale-down window's recommendations, and whether current was added to them: a
/// first look (nothing recorded within the window) counts current as recommended now, as
/// the HPA seeds its window with the current replicas, so a controller that has not
/// watched for a whole window does not scale in at once.
fn scale_down_window(state: &GroupState, now: Timestamp) -> (Vec<Recommendation>, bool) {
    let down = state.policy.stabilization.scale_down;
    let cutoff = now.minus(down);
    let seeded =
        !down.is_zero() && !state.recent_recommendations.iter().any(|r| r.at > cutoff && r.at <= now);
    let mut history = state.recent_recommendations.clone();
    if seeded {
        history.push(Recommendation { at: now, desired: state.capacity.desired });
    }
    (history, seeded)
}

/// Step 3's first half: what allows no change at all — capacity older than the actuator's
/// staleness limit (not knowing what is there now, neither a policy nor a hold may change
/// it; the breaker's stale-data trip counts it like any stale input), or a full pause.
fn frozen(
    state: &GroupState,
    inputs: &Inputs,
    pause: Option<&Pause>,
    now: Timestamp,
    problems: &mut Vec<MetricProblem>,
) -> Option<Block> {
    let observed_at = state.capacity.observed_at;
    let age = now.since(observed_at);
    if inputs.capacity_stale_after.is_some_and(|limit| age > limit) {
        problems.push(MetricProblem { metric: MetricKind::DesiredCapacity, problem: Problem::Stale { age } });
        return Some(Block::CapacityUnknown { observed_at, age });
    }
    let pause = pause.filter(|p| p.mode == PauseMode::Full)?;
    Some(Block::Paused { by: pause.by.clone(), until: pause.until, reason: pause.reason.clone() })
}

/// What step 4 reads besides the recommendation.
struct Limits<'a> {
    state: &'a GroupState,
    now: Timestamp,
    schedule: &'a ScheduledEffect,
    window_history: &'a [Recommendation],
    stalled: Option<&'a Stalled>,
    /// An active scale-in-only pause (a full one stopped at step 3).
    pause: Option<&'a Pause>,
    bounds: &'a Bounds,
}

/// Step 4: stabilization windows → a scheduled desired that fired (exact; raised only by
/// a scale-out need) → max step → stalled scale-out → budget → scale-in-only pause →
/// effective [min, max].
fn damp(recommendation: u32, limits: &Limits, trail: &mut Trail) -> u32 {
    let Limits { state, now, .. } = *limits;
    let spec = &state.policy;
    let current = state.capacity.desired;
    let clamps = &mut trail.clamps;
    let mut v = recommendation;
    let (to, block) = stabilize(v, current, limits.window_history, &spec.stabilization, now);
    let window = if to < v { ClampBy::ScaleUpWindow } else { ClampBy::ScaleDownWindow };
    cut(&mut v, to, window, clamps);
    trail.blocked.extend(block.map(|b| within_bounds_block(b, limits.bounds)));
    if let Some((n, action)) = &limits.schedule.desired {
        let to = if v > current { v.max(*n) } else { *n };
        cut(&mut v, to, ClampBy::ScheduledDesired { action: action.clone() }, clamps);
    } else if let Some(step) = &spec.max_step {
        let (to, block) = limit_step(v, current, step, &state.recent_activities, now);
        cut(&mut v, to, ClampBy::MaxStep, clamps);
        trail.blocked.extend(block);
    }
    if let Some(s) = limits.stalled.filter(|_| v > current) {
        cut(&mut v, current, ClampBy::Stalled, clamps);
        trail.blocked.push(Block::Stalled { since: s.since });
    }
    if let Some(cap) = budget_cap(spec.hourly_budget_usd, state.hourly_cost_usd)
        && v > current
        && v > cap
    {
        cut(&mut v, cap.max(current), ClampBy::Budget, clamps);
        let hourly_budget_usd = spec.hourly_budget_usd.unwrap_or_default();
        trail.blocked.push(Block::Budget { hourly_budget_usd, max_instances: cap });
    }
    if let Some(pause) = limits.pause.filter(|_| v < current) {
        cut(&mut v, current, ClampBy::ScaleInPaused, clamps);
        let block =
            Block::ScaleInPaused { by: pause.by.clone(), until: pause.until, reason: pause.reason.clone() };
        trail.blocked.insert(0, block);
    }
    within_bounds(&mut v, limits.bounds, clamps);
    v
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
/// A window's figure as the bounds would let it stand: "highest recommendation 20" for
/// max 20, not the 1,438 a runaway metric asked for (the expansion's way from the
/// recommendation to desired keeps the unclamped figure).
fn within_bounds_block(block: Block, bounds: &Bounds) -> Block {
    let clamp = |n: u32| {
        let within = n.max(bounds.min).min(bounds.max.max(bounds.min));
        (within, (within != n).then_some(n))
    };
    match block {
        Block::ScaleDownWindow { window, highest, .. } => {
            let (highest, unclamped) = clamp(highest);
            Block::ScaleDownWindow { window, highest, unclamped }
        }
        Block::ScaleUpWindow { window, lowest, .. } => {
            let (lowest, unclamped) = clamp(lowest);
            Block::ScaleUpWindow { window, lowest, unclamped }
        }
        other => other,
    }
}

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
