//! AWS step and simple scaling on alarms, as documented in "Step and simple scaling
//! policies for Amazon EC2 Auto Scaling"
//! (<https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html>).
//!
//! Each function turns one rule, its alarm, the observed [`Capacity`] and the recent
//! [`ScalingActivity`] history into one [`Proposal`]. Pure: no clock (`now` is passed in),
//! no I/O, and no clamping to the group's min/max (the core `decide` clamps).
//!
//! The rules implemented, all from that page:
//! - A rule acts only while its alarm is FIRING. The breach is `value − threshold`; the
//!   step whose interval holds it applies. Above the threshold an interval is
//!   `[lower, upper)`, below it `(lower, upper]` ("If the metric value is above the breach
//!   threshold, the lower bound is inclusive and the upper bound is exclusive. If the
//!   metric value is below the breach threshold, the lower bound is exclusive and the upper
//!   bound is inclusive."). At exactly the threshold `[lower, upper)` is tried first.
//! - Steps may not overlap or leave gaps; a negative lower bound needs a step with no
//!   lower bound, a positive upper bound a step with no upper bound. A rule that breaks
//!   this is refused (no opinion, the reason says why).
//! - Current capacity. Scaling out, instances still warming are not counted ("While
//!   scaling out, we do not consider instances that are warming up as part of the current
//!   capacity"): current = `min(ready, desired − added)` where `added` is what this rule
//!   added within its warm-up (from `history`). The result is `max(desired, current + n)`,
//!   so a breach that lands in the same step again adds nothing, and a larger step adds
//!   only the difference (the page's 60 → 62 → 70 example: desired 11, then 13). Scaling
//!   in, instances still present count (ready, including ones terminating), the result is
//!   `min(desired, current + n)`, and no scale-in starts while instances are warming ("A
//!   scale-in activity can't start while a scale-out activity is in progress").
//! - Percent changes round as the page says (see [`round_percent_change`]), then are raised
//!   to `min_adjustment_magnitude` (also when the group is empty, so +50 % of 0 with a
//!   minimum of 1 launches one instance).
//! - Simple scaling makes one adjustment, then waits `cooldown` after the last activity
//!   this rule caused before acting again.

use std::fmt::Write as _;
use std::time::Duration;

use crate::model::{AlarmState, Capacity, Timestamp};
use crate::policy::spec::{
    AdjustmentType, AlarmInput, PolicyKind, Proposal, ScalingActivity, SimpleRule, StepAdjustment, StepRule,
};
use crate::policy::words;

#[cfg(test)]
mod tests;

/// Step scaling (AWS semantics) for one rule: `alarm` is the rule's alarm (None if it
/// does not exist); `history` the group's recent activities, oldest first;
/// `default_warmup` applies when the rule has none.
pub fn step_proposal(
    rule: &StepRule,
    alarm: Option<&AlarmInput>,
    capacity: &Capacity,
    history: &[ScalingActivity],
    default_warmup: Duration,
    now: Timestamp,
) -> Proposal {
    let policy = PolicyKind::StepScaling { alarm: rule.alarm.clone() };
    if let Err(why) = validate_steps(&rule.steps).and_then(|()| validate_adjustments(rule)) {
        return no_opinion(policy, format!("step rule on `{}` refused: {why}", rule.alarm));
    }
    let (alarm, value) = match firing_value(&rule.alarm, alarm) {
        Ok(firing) => firing,
        Err(why) => return no_opinion(policy, why),
    };
    let breach = value - alarm.threshold;
    let Some(step) = find_step(&rule.steps, breach) else {
        return no_opinion(
            policy,
            format!("{}: no step holds a breach of {}", describe(alarm, value), num(breach)),
        );
    };
    let warmup = rule.warmup.unwrap_or(default_warmup);
    let added = added_within(history, &policy, warmup, now);
    let mut reason = format!(
        "{}: step {} {}",
        describe(alarm, value),
        interval_text(step),
        adjustment_text(rule.adjustment_type, step.adjustment)
    );
    let applied = apply(
        rule.adjustment_type,
        step.adjustment,
        rule.min_adjustment_magnitude,
        capacity,
        added,
        &mut reason,
    );
    Proposal { policy, desired: applied.desired, may_scale_in: applied.may_scale_in, reason }
}

/// Simple scaling (AWS semantics) for one rule, with its cooldown.
pub fn simple_proposal(
    rule: &SimpleRule,
    alarm: Option<&AlarmInput>,
    capacity: &Capacity,
    history: &[ScalingActivity],
    now: Timestamp,
) -> Proposal {
    let policy = PolicyKind::SimpleScaling { alarm: rule.alarm.clone() };
    if let Err(why) = validate_adjustment(rule.adjustment_type, rule.adjustment) {
        return no_opinion(policy, format!("simple rule on `{}` refused: {why}", rule.alarm));
    }
    let (alarm, value) = match firing_value(&rule.alarm, alarm) {
        Ok(firing) => firing,
        Err(why) => return no_opinion(policy, why),
    };
    // "after a scaling activity is started, the policy must wait for [...] the cooldown
    // period to expire before responding to additional alarms" (same page).
    let last = history.iter().rev().find(|a| a.policy.as_ref() == Some(&policy) && a.at <= now);
    if let Some(last) = last {
        let until = last.at.plus(rule.cooldown);
        if now < until {
            return no_opinion(
                policy,
                format!(
                    "{}: cooldown until {} (scaled {} → {} at {})",
                    describe(alarm, value),
                    utc_text(until),
                    last.from,
                    last.to,
                    utc_text(last.at)
                ),
            );
        }
    }
    let mut reason = format!(
        "{}: simple rule {}",
        describe(alarm, value),
        adjustment_text(rule.adjustment_type, rule.adjustment)
    );
    let applied =
        apply(rule.adjustment_type, rule.adjustment, rule.min_adjustment_magnitude, capacity, 0, &mut reason);
    Proposal { policy, desired: applied.desired, may_scale_in: applied.may_scale_in, reason }
}

/// AWS rounding of a `PercentChangeInCapacity` result that is not a whole number: "Values
/// greater than 1 are rounded down. Values between 0 and 1 are rounded to 1. Values
/// between 0 and -1 are rounded to -1. Values less than -1 are rounded up." — that is,
/// toward zero, except that a non-zero change is never rounded away.
pub fn round_percent_change(raw: f64) -> i64 {
    if raw > 0.0 && raw < 1.0 {
        1
    } else if raw < 0.0 && raw > -1.0 {
        -1
    } else {
        raw.trunc() as i64
    }
}

/// The instances a percent adjustment changes: `current × percent / 100`, rounded by
/// [`round_percent_change`], then raised to `min_magnitude` (in the direction of
/// `percent`) when smaller.
pub fn percent_change(current: u32, percent: f64, min_magnitude: Option<u32>) -> i64 {
    // Multiply before dividing: whole results stay exact in f64 (30 % of 10 is 3, not 2.99…).
    let change = round_percent_change(f64::from(current) * percent / 100.0);
    match min_magnitude {
        Some(min) if percent != 0.0 && change.unsigned_abs() < u64::from(min) => {
            i64::from(min) * percent.signum() as i64
        }
        _ => change,
    }
}

/// Checks the AWS constraints on a rule's step intervals.
pub fn validate_steps(steps: &[StepAdjustment]) -> Result<(), String> {
    if steps.is_empty() {
        return Err("it has no steps".into());
    }
    for step in steps {
        for bound in [step.lower, step.upper].into_iter().flatten() {
            if !bound.is_finite() {
                return Err(format!("step {} has a bound that is not a finite number", interval_text(step)));
            }
        }
        match (step.lower, step.upper) {
            (None, None) => return Err("a step has neither a lower nor an upper bound".into()),
            (Some(lower), Some(upper)) if lower >= upper => {
                return Err(format!("step {} is empty: lower bound not below upper", interval_text(step)));
            }
            _ => {}
        }
    }
    let mut sorted: Vec<&StepAdjustment> = steps.iter().collect();
    sorted.sort_by(|a, b| lower_of(a).total_cmp(&lower_of(b)));
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let end = a.upper.unwrap_or(f64::INFINITY);
        let start = lower_of(b);
        if end < start {
            return Err(format!("steps leave a gap between {} and {}", num(end), num(start)));
        }
        if end > start {
            return Err(format!("steps {} and {} overlap", interval_text(a), interval_text(b)));
        }
    }
    let (first, last) = (sorted[0], sorted[sorted.len() - 1]);
    if first.lower.is_some_and(|lower| lower < 0.0) {
        return Err("a negative lower bound needs a step with no lower bound (−∞)".into());
    }
    if last.upper.is_some_and(|upper| upper > 0.0) {
        return Err("a positive upper bound needs a step with no upper bound (+∞)".into());
    }
    Ok(())
}

fn validate_adjustments(rule: &StepRule) -> Result<(), String> {
    rule.steps.iter().try_for_each(|step| validate_adjustment(rule.adjustment_type, step.adjustment))
}

fn validate_adjustment(kind: AdjustmentType, adjustment: f64) -> Result<(), String> {
    if !adjustment.is_finite() {
        return Err(format!("adjustment {adjustment} is not a finite number"));
    }
    match kind {
        AdjustmentType::ChangeInCapacity | AdjustmentType::ExactCapacity if adjustment.fract() != 0.0 => {
            Err(format!("adjustment {} is not a whole number of instances", num(adjustment)))
        }
        AdjustmentType::ExactCapacity if adjustment < 0.0 => {
            Err(format!("exact capacity {} is negative", num(adjustment)))
        }
        _ => Ok(()),
    }
}

fn lower_of(step: &StepAdjustment) -> f64 {
    step.lower.unwrap_or(f64::NEG_INFINITY)
}

/// The step holding `breach`, with the page's inclusive/exclusive rule.
fn find_step(steps: &[StepAdjustment], breach: f64) -> Option<&StepAdjustment> {
    let above = |s: &&StepAdjustment| lower_of(s) <= breach && breach < s.upper.unwrap_or(f64::INFINITY);
    let below = |s: &&StepAdjustment| lower_of(s) < breach && breach <= s.upper.unwrap_or(f64::INFINITY);
    if breach >= 0.0 {
        steps.iter().find(above).or_else(|| if breach == 0.0 { steps.iter().find(below) } else { None })
    } else {
        steps.iter().find(below)
    }
}

/// The alarm and its value when it is FIRING with a usable value; otherwise why not.
fn firing_value<'a>(name: &str, alarm: Option<&'a AlarmInput>) -> Result<(&'a AlarmInput, f64), String> {
    let Some(alarm) = alarm else {
        return Err(format!("alarm `{name}` does not exist"));
    };
    if alarm.state != AlarmState::Firing {
        return Err(format!("alarm `{name}` is {}, not firing", words::alarm_state(alarm.state)));
    }
    match alarm.value {
        Some(value) if value.is_finite() => Ok((alarm, value)),
        _ => Err(format!("alarm `{name}` is firing without a usable value")),
    }
}

/// Instances this rule added within `warmup` before `now` (still warming, for AWS).
fn added_within(history: &[ScalingActivity], policy: &PolicyKind, warmup: Duration, now: Timestamp) -> u32 {
    history
        .iter()
        .filter(|a| a.policy.as_ref() == Some(policy) && a.at <= now && now.since(a.at) < warmup)
        .map(|a| a.to.saturating_sub(a.from))
        .fold(0, u32::saturating_add)
}

struct Applied {
    desired: Option<u32>,
    may_scale_in: bool,
}

/// Applies one adjustment with the current-capacity rules in the module doc, appending
/// the arithmetic to `reason`.
fn apply(
    kind: AdjustmentType,
    adjustment: f64,
    min_magnitude: Option<u32>,
    capacity: &Capacity,
    added_warming: u32,
    reason: &mut String,
) -> Applied {
    let desired = capacity.desired;
    let current_out = capacity.ready.min(desired.saturating_sub(added_warming));
    let current_in = capacity.ready;
    let change = match kind {
        AdjustmentType::ExactCapacity => {
            let exact = adjustment as u32;
            if exact < desired && capacity.warming > 0 {
                return wait_for_warmup(capacity, reason);
            }
            let _ = write!(reason, " → desired {exact}");
            return Applied { desired: Some(exact), may_scale_in: exact < desired };
        }
        AdjustmentType::ChangeInCapacity => adjustment as i64,
        AdjustmentType::PercentChangeInCapacity => {
            let current = if adjustment > 0.0 { current_out } else { current_in };
            let change = percent_change(current, adjustment, min_magnitude);
            let raw = f64::from(current) * adjustment / 100.0;
            let _ = write!(reason, " of {current} = {} → {change:+}", num(raw));
            change
        }
    };
    if change == 0 {
        reason.push_str(": no change");
        return Applied { desired: None, may_scale_in: false };
    }
    if change > 0 {
        let target = clamp_u32(i64::from(current_out).saturating_add(change));
        let _ = write!(reason, "; current capacity {current_out}");
        if current_out < desired {
            let _ = write!(reason, " (desired {desired}, warming not counted)");
        }
        if target <= desired {
            let _ = write!(reason, " → {target}, desired already {desired}");
        } else {
            let _ = write!(reason, " → desired {target}");
        }
        Applied { desired: Some(target.max(desired)), may_scale_in: false }
    } else {
        if capacity.warming > 0 {
            return wait_for_warmup(capacity, reason);
        }
        let target = clamp_u32(i64::from(current_in).saturating_add(change));
        let _ = write!(reason, "; current capacity {current_in} → ");
        if target >= desired {
            let _ = write!(reason, "{target}, desired already {desired}");
        } else {
            let _ = write!(reason, "desired {target}");
        }
        Applied { desired: Some(target.min(desired)), may_scale_in: true }
    }
}

fn wait_for_warmup(capacity: &Capacity, reason: &mut String) -> Applied {
    let _ = write!(reason, "; scale-in waits while {} instance(s) warm up", capacity.warming);
    Applied { desired: None, may_scale_in: false }
}

fn no_opinion(policy: PolicyKind, reason: String) -> Proposal {
    Proposal { policy, desired: None, may_scale_in: false, reason }
}

fn clamp_u32(n: i64) -> u32 {
    n.clamp(0, i64::from(u32::MAX)) as u32
}

fn describe(alarm: &AlarmInput, value: f64) -> String {
    format!("alarm `{}` firing at {} (threshold {})", alarm.name, num(value), num(alarm.threshold))
}

fn interval_text(step: &StepAdjustment) -> String {
    let lower = step.lower.map_or("−∞".to_string(), num);
    let upper = step.upper.map_or("+∞".to_string(), num);
    format!("{lower} to {upper}")
}

fn adjustment_text(kind: AdjustmentType, adjustment: f64) -> String {
    match kind {
        AdjustmentType::ChangeInCapacity => format!("changes capacity by {adjustment:+}"),
        AdjustmentType::ExactCapacity => format!("sets capacity to {}", num(adjustment)),
        AdjustmentType::PercentChangeInCapacity => format!("changes capacity by {}%", num(adjustment)),
    }
}

/// A number as people write it: at most two decimals, no trailing zeros.
fn num(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `2025-03-30T08:05:00Z`, or the raw milliseconds if out of chrono's range.
fn utc_text(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.as_millis())
        .map_or_else(|| format!("{} ms", at.as_millis()), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}
