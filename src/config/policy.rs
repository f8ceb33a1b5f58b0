//! Checks of a group's `[groups.policy]` and `[[groups.alarms]]` beyond what serde
//! enforces: targets, fractions and periods in range, step intervals as AWS requires,
//! alarm names that exist — so a policy that would divide by zero or never act is
//! refused at load time with the key that is wrong.
//! The tables' shapes are the policy's and alarms' own types, read by serde (unknown
//! keys are errors; cron expressions and time zones are parsed there, once, so a bad one
//! is reported at its value).

use super::locate::KeyPath;
use super::validate::{Invalid, non_negative, positive_duration};
use crate::alarms::AlarmRule;
use crate::policy::{PolicySpec, step};

pub(super) fn alarms(rules: &[AlarmRule], at: &KeyPath) -> Result<(), Invalid> {
    for (i, rule) in rules.iter().enumerate() {
        rule.validate().map_err(|err| Invalid::new(at.index(i), err.to_string()))?;
        if rules[..i].iter().any(|r| r.name == rule.name) {
            return Err(Invalid::new(
                at.index(i).key("name"),
                format!("alarm `{}` is defined twice in this group", rule.name),
            ));
        }
    }
    Ok(())
}

/// The alarm a rule refers to must be one of the group's.
fn known_alarm(alarm: &str, alarms: &[AlarmRule], path: KeyPath) -> Result<(), Invalid> {
    if alarms.iter().any(|a| a.name == alarm) {
        return Ok(());
    }
    let names: Vec<&str> = alarms.iter().map(|a| a.name.as_str()).collect();
    let known =
        if names.is_empty() { "the group has no [[groups.alarms]]".to_string() } else { names.join(", ") };
    Err(Invalid::new(path, format!("no alarm named `{alarm}` in this group ({known})")))
}

pub(super) fn policy(spec: &PolicySpec, alarms: &[AlarmRule], at: &KeyPath) -> Result<(), Invalid> {
    for (i, target) in spec.target_tracking.iter().enumerate() {
        let path = at.key("target_tracking").index(i).key("target");
        if !(target.target.is_finite() && target.target > 0.0) {
            return Err(Invalid::new(path, format!("a target must be a number > 0, got {}", target.target)));
        }
        if let Some(gate) = &target.alarms {
            let path = at.key("target_tracking").index(i).key("alarms");
            known_alarm(&gate.scale_out, alarms, path.key("scale_out"))?;
            known_alarm(&gate.scale_in, alarms, path.key("scale_in"))?;
        }
    }
    if !(0.0..1.0).contains(&spec.tolerance) {
        return Err(Invalid::new(
            at.key("tolerance"),
            format!("tolerance is a fraction from 0 to below 1 (default 0.1), got {}", spec.tolerance),
        ));
    }
    if let Some(guard) = &spec.latency_guard {
        let path = at.key("latency_guard");
        positive_duration(&path.key("slo"), guard.slo)?;
        let fraction = guard.block_scale_in_above;
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(Invalid::new(
                path.key("block_scale_in_above"),
                format!("a fraction of the SLO above 0 and at most 1 (default 0.8), got {fraction}"),
            ));
        }
    }
    for (i, rule) in spec.step_scaling.iter().enumerate() {
        let path = at.key("step_scaling").index(i);
        known_alarm(&rule.alarm, alarms, path.key("alarm"))?;
        step::validate_steps(&rule.steps).map_err(|message| Invalid::new(path.key("steps"), message))?;
    }
    for (i, rule) in spec.simple_scaling.iter().enumerate() {
        let path = at.key("simple_scaling").index(i);
        known_alarm(&rule.alarm, alarms, path.key("alarm"))?;
        if !rule.adjustment.is_finite() {
            return Err(Invalid::new(path.key("adjustment"), "the adjustment must be a number".to_string()));
        }
    }
    if let Some(predictive) = &spec.predictive {
        let value = predictive.target_per_instance;
        if !(value.is_finite() && value > 0.0) {
            return Err(Invalid::new(
                at.key("predictive").key("target_per_instance"),
                format!("expected the load one instance carries, a number > 0, got {value}"),
            ));
        }
    }
    if let Some(max_step) = &spec.max_step {
        let path = at.key("max_step");
        positive_duration(&path.key("period"), max_step.period)?;
        non_negative(&path.key("percent"), max_step.percent)?;
        if max_step.instances == 0 && max_step.percent <= 0.0 {
            return Err(Invalid::new(
                path.key("instances"),
                "max_step allows no change at all: set instances ≥ 1 or percent > 0".to_string(),
            ));
        }
    }
    if let Some(budget) = spec.hourly_budget_usd {
        non_negative(&at.key("hourly_budget_usd"), budget)?;
    }
    Ok(())
}
