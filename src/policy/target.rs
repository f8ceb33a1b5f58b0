//! Reading this tick's metrics (fresh, stale, missing, invalid; idle or in demand) and the
//! two metric policies of the core: target tracking and the latency guard.
//!
//! Target tracking is the Kubernetes HPA formula
//! (<https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details>):
//! `needs = ceil(max(ready, 1) × value / target)`, no change inside the tolerance. Only
//! ready instances are counted: the metrics of warming instances are not used (DESIGN.md),
//! which is also what the HPA gets by counting not-yet-ready pods at 0 % on scale-up.
//!
//! Missing data, mapped from the HPA's per-pod rule ("assume 100 % of the target for a
//! scale-down, 0 % for a scale-up") to whole metrics: an unusable metric has no opinion
//! (it adds nothing to a scale-out, like 0 %) and stops every scale-in (like 100 %, which
//! never votes below current). Idle is not missing: with a fresh request rate of exactly
//! 0 (and no queue), a utilization metric that is absent or NaN because nothing runs is
//! read as 0, and an unusable latency does not block.
//!
//! Partial coverage, the HPA's per-pod rule itself (`calcPlainMetricReplicas` in the
//! HPA's replica calculator): when a value covers k of the n ready instances, the n − k
//! without a metric count as exactly at the target on a scale-in and as using nothing on
//! a scale-out; if that brings the ratio inside the tolerance or turns the direction, the
//! group holds. 2 of 4 instances at 10 % with a 50 % target needs 3, never 1.

use crate::model::AlarmState;
use crate::model::Timestamp;
use crate::model::{Capacity, MetricKind};
use crate::policy::decision::{MetricProblem, Problem};
use crate::policy::spec::{AlarmInput, LatencyGuard, PolicyKind, Proposal, TargetAlarms, TargetTracking};
use crate::policy::state::{Inputs, MetricInput};
use crate::policy::words;

/// This tick's metrics, judged once.
pub struct Readings<'a> {
    inputs: &'a Inputs,
    now: Timestamp,
    /// Request rate is a fresh 0 and no queue is reported waiting.
    pub idle: bool,
    /// Request rate or queue length is a fresh positive number.
    pub demand: bool,
}

impl<'a> Readings<'a> {
    pub fn new(inputs: &'a Inputs, now: Timestamp) -> Self {
        let mut r = Readings { inputs, now, idle: false, demand: false };
        let rate = r.read(&MetricKind::RequestRate);
        let queue = r.read(&MetricKind::QueueLength);
        r.demand = matches!(rate, Ok(v) if v > 0.0) || matches!(queue, Ok(v) if v > 0.0);
        r.idle = rate == Ok(0.0) && matches!(queue, Ok(0.0) | Err(Problem::Missing));
        r
    }

    /// The newest sample of `kind` (the first listed on a tie, so the result never
    /// depends on anything but the input).
    fn latest(&self, kind: &MetricKind) -> Option<&'a MetricInput> {
        let mut best: Option<&MetricInput> = None;
        for m in self.inputs.metrics.iter().filter(|m| &m.kind == kind) {
            if best.is_none_or(|b| m.at > b.at) {
                best = Some(m);
            }
        }
        best
    }

    /// How many instances the newest sample of `kind` covers, where its source said.
    pub fn instances(&self, kind: &MetricKind) -> Option<u32> {
        self.latest(kind).and_then(|m| m.instances)
    }

    /// A usable value, or why not. Stale is the one definition of DESIGN.md: the newest
    /// sample is older than `stale_after` at `now`.
    pub fn read(&self, kind: &MetricKind) -> Result<f64, Problem> {
        let m = self.latest(kind).ok_or(Problem::Missing)?;
        let age = self.now.since(m.at);
        if age > self.inputs.stale_after {
            Err(Problem::Stale { age })
        } else if !m.value.is_finite() || m.value < 0.0 {
            Err(Problem::Invalid)
        } else {
            Ok(m.value)
        }
    }
}

/// A target-tracking proposal; `Err` names the metric that could not be used.
pub fn target_proposal(
    tt: &TargetTracking,
    tolerance: f64,
    readings: &Readings,
    alarms: &[AlarmInput],
    last_change: Option<Timestamp>,
    capacity: &Capacity,
) -> (Proposal, Option<MetricProblem>) {
    let policy = PolicyKind::TargetTracking { metric: tt.metric.clone() };
    let current = capacity.desired;
    let name = &tt.metric;
    let unusable = |problem: Problem| {
        let p = MetricProblem { metric: tt.metric.clone(), problem };
        let reason = format!("{}: no opinion, no scale-in", words::problem(&p));
        (Proposal { policy: policy.clone(), desired: None, may_scale_in: true, reason }, Some(p))
    };
    if !(tt.target.is_finite() && tt.target > 0.0) {
        return unusable(Problem::BadTarget);
    }
    if let Some(gate) = &tt.alarms {
        return gated_proposal(tt, gate, alarms, last_change, capacity, policy);
    }
    let (value, idle_note) = match readings.read(&tt.metric) {
        Ok(v) => (v, ""),
        Err(Problem::Missing | Problem::Invalid) if readings.idle => (0.0, " (nothing runs: request_rate 0)"),
        Err(problem) => return unusable(problem),
    };
    let instances = capacity.ready.max(1);
    // Instances the value covers: all unless the source said fewer (an idle group's 0 is
    // everyone's). None of them is no value at all.
    let covered = match readings.instances(&tt.metric) {
        Some(k) if idle_note.is_empty() => k.min(instances),
        _ => instances,
    };
    if covered == 0 {
        return unusable(Problem::Missing);
    }
    let (per, shown) = if tt.per_instance {
        let per = value / f64::from(covered);
        (per, format!("{name} {} ({} per instance)", words::value(name, value), words::number(per)))
    } else {
        (value, format!("{name} {}{idle_note}", words::value(name, value)))
    };
    let shown =
        if covered < instances { format!("{shown} from {covered} of {instances} instances") } else { shown };
    let target = words::value(name, tt.target);
    let ratio = per / tt.target;
    // Same dead band as the HPA: |ratio − 1| ≤ tolerance → no change. The edge is
    // inclusive in decimal, not in binary: 110 / 100 − 1 is 0.10000000000000009.
    let within = |ratio: f64| (ratio - 1.0).abs() <= tolerance + 1e-9;
    if within(ratio) {
        let reason = format!("{shown} within {} % of target {target}", words::number(tolerance * 100.0));
        return (Proposal { policy, desired: Some(current), may_scale_in: true, reason }, None);
    }
    let (ratio, note) = if covered < instances {
        let missing = instances - covered;
        let (fill, as_what) = if ratio < 1.0 { (1.0, "at target") } else { (0.0, "using nothing") };
        let filled = (ratio * f64::from(covered) + fill * f64::from(missing)) / f64::from(instances);
        let note = format!("; the {missing} without a metric count as {as_what}");
        if within(filled) || (ratio < 1.0) != (filled < 1.0) {
            let why = if within(filled) {
                format!("within {} % of target", words::number(tolerance * 100.0))
            } else {
                "below target".to_string()
            };
            let reason = format!(
                "{shown} {} target {target}{note}, which is {why}: holds {current}",
                if ratio < 1.0 { "<" } else { ">" },
            );
            return (Proposal { policy, desired: Some(current), may_scale_in: true, reason }, None);
        }
        (filled, note)
    } else {
        (ratio, String::new())
    };
    let needs = ceil_count(f64::from(instances) * ratio);
    let (desired, reason) = if ratio > 1.0 {
        // Above target never votes to lower desired: instances already asked for (warming,
        // or being replaced) will take the load, so a need for +k is asked once.
        if needs > current {
            (needs, format!("{shown} > target {target} (needs {needs}{note})"))
        } else {
            (current, format!("{shown} > target {target} (needs {needs}; {current} already asked for{note})"))
        }
    } else if needs > current && covered < instances {
        // The HPA's last guard: filling in the missing never turns a scale-in into growth.
        (current, format!("{shown} < target {target} (needs {needs}{note}): holds {current}"))
    } else {
        (needs, format!("{shown} < target {target} (needs {needs}{note})"))
    };
    (Proposal { policy, desired: Some(desired), may_scale_in: true, reason }, None)
}

/// Target tracking gated by alarms (AWS): the scale-out alarm FIRING → the formula on its
/// datapoint, never below current; else the scale-in alarm FIRING → the formula on its
/// datapoint, never above current; else hold. A datapoint whose period began at or
/// before the last change of desired capacity is not acted on (it was measured, at least
/// in part, on the capacity before, and acting on it again would repeat the change): as
/// with AWS, a change waits for a datapoint of the fleet it made. A gate alarm that is
/// missing or firing without a value has no opinion and stops scale-in, like an unusable
/// metric.
fn gated_proposal(
    tt: &TargetTracking,
    gate: &TargetAlarms,
    alarms: &[AlarmInput],
    last_change: Option<Timestamp>,
    capacity: &Capacity,
    policy: PolicyKind,
) -> (Proposal, Option<MetricProblem>) {
    let current = capacity.desired;
    let instances = f64::from(capacity.ready.max(1));
    let name = &tt.metric;
    let target = words::value(name, tt.target);
    let find = |alarm: &str| alarms.iter().find(|a| a.name == alarm);
    let firing = |alarm: Option<&AlarmInput>| alarm.is_some_and(|a| a.state == AlarmState::Firing);
    let (out, inward) = (find(&gate.scale_out), find(&gate.scale_in));
    let (alarm, up) = if firing(out) {
        (out, true)
    } else if firing(inward) {
        (inward, false)
    } else {
        let state = |a: Option<&AlarmInput>| a.map_or("missing", |a| words::alarm_state(a.state));
        let reason = format!(
            "alarm `{}` {}, `{}` {}: holds {current}",
            gate.scale_out,
            state(out),
            gate.scale_in,
            state(inward)
        );
        let known = out.is_some() && inward.is_some();
        return (Proposal { policy, desired: Some(current), may_scale_in: known, reason }, None);
    };
    let alarm = alarm.expect("a firing alarm was found");
    let Some(value) = alarm.value.filter(|v| v.is_finite() && *v >= 0.0) else {
        let reason = format!("alarm `{}` firing without a usable value: no opinion, no scale-in", alarm.name);
        return (Proposal { policy, desired: None, may_scale_in: false, reason }, None);
    };
    if let (Some(start), Some(change)) = (alarm.value_at, last_change)
        && start <= change
    {
        let reason = format!(
            "alarm `{}` firing on a datapoint from {}, before the last change at {}: holds {current}",
            alarm.name,
            words::clock(start),
            words::clock(change)
        );
        return (Proposal { policy, desired: Some(current), may_scale_in: true, reason }, None);
    }
    let per = if tt.per_instance { value / instances } else { value };
    let needs = ceil_count(instances * per / tt.target);
    let shown = format!("alarm `{}` firing: {name} {}", alarm.name, words::value(name, value));
    let (desired, reason) = match (up, needs) {
        (true, n) if n > current => (n, format!("{shown} > target {target} (needs {n})")),
        (true, n) => (current, format!("{shown} > target {target} (needs {n}; {current} already asked for)")),
        (false, n) if n < current => (n, format!("{shown} < target {target} (needs {n})")),
        (false, n) => (current, format!("{shown} < target {target} (needs {n}): holds {current}")),
    };
    (Proposal { policy, desired: Some(desired), may_scale_in: true, reason }, None)
}

/// `ceil`, forgiving float noise just above an integer (5 × 0.84 / 0.7 is
/// 6.000000000000001, which must need 6, not 7), saturating at `u32::MAX`.
pub fn ceil_count(x: f64) -> u32 {
    let nearest = x.round();
    let x = if (x - nearest).abs() < 1e-9 * nearest.abs().max(1.0) { nearest } else { x };
    x.ceil().clamp(0.0, f64::from(u32::MAX)) as u32
}

/// What the latency guard says about scale-in.
#[derive(Clone, Debug, PartialEq)]
pub enum LatencyVerdict {
    Clear,
    Above { value_secs: f64, limit_secs: f64 },
    Unusable(MetricProblem),
}

/// The latency guard: never a vote (`desired: None`, `may_scale_in: false`), only a
/// verdict on scale-in. Latency scales out through step rules on alarms, not here.
pub fn latency_guard(guard: &LatencyGuard, readings: &Readings) -> (Proposal, LatencyVerdict) {
    let name = &guard.metric;
    let limit_secs = guard.slo.as_secs_f64() * guard.block_scale_in_above;
    let limit = words::value(name, limit_secs);
    let frac = words::number(guard.block_scale_in_above);
    let (verdict, reason) = match readings.read(name) {
        Ok(v) if v > limit_secs => (
            LatencyVerdict::Above { value_secs: v, limit_secs },
            format!("{name} {} > {limit} ({frac} × SLO): blocks scale-in", words::value(name, v)),
        ),
        Ok(v) => (
            LatencyVerdict::Clear,
            format!("{name} {} ≤ {limit} ({frac} × SLO): scale-in allowed", words::value(name, v)),
        ),
        // No requests, no percentile: an idle group may still scale in (DESIGN.md).
        Err(_) if readings.idle => {
            (LatencyVerdict::Clear, format!("{name} undefined while idle: scale-in allowed"))
        }
        Err(problem) => {
            let p = MetricProblem { metric: name.clone(), problem };
            let reason = format!("{}: blocks scale-in", words::problem(&p));
            (LatencyVerdict::Unusable(p), reason)
        }
    };
    (Proposal { policy: PolicyKind::LatencyGuard, desired: None, may_scale_in: false, reason }, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_count_forgives_float_noise_only() {
        assert_eq!(ceil_count(5.0 * 0.84 / 0.7), 6);
        assert_eq!(ceil_count(6.01), 7);
        assert_eq!(ceil_count(0.0), 0);
        assert_eq!(ceil_count(1e20), u32::MAX);
    }
}
