//! How the policy writes problems, policies and limits in reasons. Numbers, values and
//! times are written by [`crate::model::words`] (re-exported here), which the console
//! shares, so a value reads the same in a reason and on screen.

use std::time::Duration;

use crate::model::format_duration;
pub use crate::model::words::{alarm_state, clock, number, value};
use crate::policy::decision::{BoundSource, ClampBy, MetricProblem, Problem};
use crate::policy::spec::PolicyKind;

/// "gpu_util missing", "gpu_util stale (last sample 2m ago)", "gpu_util NaN". An age is
/// said to the second ("3s ago", not "3s6ms ago").
pub fn problem(p: &MetricProblem) -> String {
    let name = &p.metric;
    match &p.problem {
        Problem::Missing => format!("{name} missing"),
        Problem::Stale { age } => {
            format!("{name} stale (last sample {} ago)", format_duration(Duration::from_secs(age.as_secs())))
        }
        Problem::Invalid => format!("{name} not a valid number"),
        Problem::BadTarget => format!("{name} target is not a positive number"),
    }
}

/// Problems joined with ", ".
pub fn problems(ps: &[MetricProblem]) -> String {
    ps.iter().map(problem).collect::<Vec<_>>().join(", ")
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
