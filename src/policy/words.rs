//! How the policy writes numbers, times and problems in reasons: short, unit-bearing, the
//! same everywhere ("gpu_util 0.93", "latency_p95 1.9s", "until 14:30 UTC").

use crate::model::{AlarmState, MetricKind, Timestamp, Unit, format_duration};
use crate::policy::decision::{BoundSource, ClampBy, MetricProblem, Problem};
use crate::policy::spec::PolicyKind;

/// A metric value in its unit.
pub fn value(kind: &MetricKind, v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    match kind.unit() {
        Unit::Fraction => format!("{v:.2}"),
        Unit::Seconds if v < 1.0 => format!("{:.0}ms", v * 1000.0),
        Unit::Seconds => format!("{v:.2}s"),
        Unit::PerSecond => format!("{}/s", number(v)),
        Unit::Count | Unit::Unknown => number(v),
    }
}

/// Integers without decimals, others with up to two.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Wall-clock time of day in UTC, "14:30 UTC" (seconds shown only when not zero).
pub fn clock(t: Timestamp) -> String {
    let secs_of_day = t.as_millis().div_euclid(1000).rem_euclid(86_400);
    let (h, m, s) = (secs_of_day / 3600, secs_of_day % 3600 / 60, secs_of_day % 60);
    if s == 0 { format!("{h:02}:{m:02} UTC") } else { format!("{h:02}:{m:02}:{s:02} UTC") }
}

/// "gpu_util missing", "gpu_util stale (last sample 2m ago)", "gpu_util NaN".
pub fn problem(p: &MetricProblem) -> String {
    let name = &p.metric;
    match &p.problem {
        Problem::Missing => format!("{name} missing"),
        Problem::Stale { age } => format!("{name} stale (last sample {} ago)", format_duration(*age)),
        Problem::Invalid => format!("{name} not a valid number"),
        Problem::BadTarget => format!("{name} target is not a positive number"),
    }
}

/// Problems joined with ", ".
pub fn problems(ps: &[MetricProblem]) -> String {
    ps.iter().map(problem).collect::<Vec<_>>().join(", ")
}

/// An alarm's state as CloudWatch spells it.
pub fn alarm_state(state: AlarmState) -> &'static str {
    match state {
        AlarmState::Ok => "OK",
        AlarmState::Pending => "PENDING",
        AlarmState::Firing => "FIRING",
        AlarmState::InsufficientData => "INSUFFICIENT_DATA",
    }
}

/// A policy by name: "target tracking gpu_util", "step scaling on queue-high".
pub fn policy_name(kind: &PolicyKind) -> String {
    match kind {
        PolicyKind::TargetTracking { metric } => format!("target tracking {metric}"),
        PolicyKind::LatencyGuard => "latency guard".to_string(),
        PolicyKind::StepScaling { alarm } => format!("step scaling on {alarm}"),
        PolicyKind::SimpleScaling { alarm } => format!("simple scaling on {alarm}"),
        PolicyKind::Scheduled { action } => format!("scheduled {action}"),
        PolicyKind::Predictive => "predictive".to_string(),
    }
}

/// What cut a recommendation: "max step", "hold by ana".
pub fn clamp_name(by: &ClampBy) -> String {
    match by {
        ClampBy::ColdStart => "cold start (at least 1 with demand)".to_string(),
        ClampBy::ScaleDownWindow => "scale-down window".to_string(),
        ClampBy::ScaleUpWindow => "scale-up window".to_string(),
        ClampBy::MaxStep => "max step".to_string(),
        ClampBy::Budget => "budget".to_string(),
        ClampBy::ScaleInPaused => "scale-in pause".to_string(),
        ClampBy::Stalled => "stalled scale-out".to_string(),
        ClampBy::ScheduledDesired { action } => format!("scheduled action {action}"),
        ClampBy::Hold { by } => format!("hold by {by}"),
        ClampBy::Min => "min".to_string(),
        ClampBy::Max => "max".to_string(),
    }
}

/// Where a bound comes from: "group", "scheduled peak", "hold by ana".
pub fn bound_source(source: &BoundSource) -> String {
    match source {
        BoundSource::Group => "group".to_string(),
        BoundSource::Scheduled { action } => format!("scheduled {action}"),
        BoundSource::Hold { by } => format!("hold by {by}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_shows_utc_time_of_day() {
        assert_eq!(clock(Timestamp::from_millis((14 * 3600 + 30 * 60) * 1000)), "14:30 UTC");
        assert_eq!(clock(Timestamp::from_millis(86_400_000 + 5_000)), "00:00:05 UTC");
    }

    #[test]
    fn values_carry_their_unit() {
        assert_eq!(value(&MetricKind::GpuUtil, 0.934), "0.93");
        assert_eq!(value(&MetricKind::LatencyP95, 0.25), "250ms");
        assert_eq!(value(&MetricKind::LatencyP95, 1.9), "1.90s");
        assert_eq!(value(&MetricKind::RequestRate, 3.25), "3.25/s");
        assert_eq!(value(&MetricKind::QueueLength, 12.0), "12");
    }
}
