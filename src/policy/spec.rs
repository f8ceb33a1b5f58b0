//! The policy's vocabulary: what a group's autoscaling policy is configured with
//! ([`PolicySpec`] and its parts), what each policy proposes ([`Proposal`]), and the small
//! records of the past the policies read ([`ScalingActivity`]; [`AlarmInput`], the alarms'
//! output, is a `model` type re-exported here).
//!
//! Plain data with serde, so the same types are written in config files, read by
//! `fleetdeck decide`, and logged in decision lines. Durations are human text ("5m").

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::model::AlarmInput;
use crate::model::{MetricKind, Timestamp, duration_text};
use crate::policy::schedule::{CronExpr, TimeZone};

/// Everything that decides a group's desired capacity. `PolicySpec::default()` is the
/// same as an empty `[groups.policy]` table (tolerance 0.1, default windows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Target tracking on utilization-like metrics; the largest proposal wins.
    #[serde(default)]
    pub target_tracking: Vec<TargetTracking>,
    /// Relative dead band around each target (same as the Kubernetes HPA: 0.1).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Latency may block scale-in, never vote for it.
    #[serde(default)]
    pub latency_guard: Option<LatencyGuard>,
    /// AWS-style step scaling on alarms.
    #[serde(default)]
    pub step_scaling: Vec<StepRule>,
    /// AWS-style simple scaling on alarms, with a cooldown.
    #[serde(default)]
    pub simple_scaling: Vec<SimpleRule>,
    #[serde(default)]
    pub scheduled: Vec<ScheduledAction>,
    #[serde(default)]
    pub predictive: Option<PredictiveSpec>,
    #[serde(default)]
    pub stabilization: Stabilization,
    /// Largest change allowed per period (the HPA's scale-up policies); none = unlimited.
    #[serde(default)]
    pub max_step: Option<MaxStep>,
    /// Scale-out stops where the fleet's hourly cost would exceed this.
    #[serde(default)]
    pub hourly_budget_usd: Option<f64>,
}

pub fn default_tolerance() -> f64 {
    0.1
}

impl Default for PolicySpec {
    fn default() -> Self {
        PolicySpec {
            target_tracking: Vec::new(),
            tolerance: default_tolerance(),
            latency_guard: None,
            step_scaling: Vec::new(),
            simple_scaling: Vec::new(),
            scheduled: Vec::new(),
            predictive: None,
            stabilization: Stabilization::default(),
            max_step: None,
            hourly_budget_usd: None,
        }
    }
}

/// Keep `metric` near `target`: proposal = `ceil(max(ready, 1) × value / target)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetTracking {
    pub metric: MetricKind,
    /// In the metric's unit (fractions 0–1 for utilizations), or per instance when
    /// `per_instance`.
    pub target: f64,
    /// The metric is a group total (queue length, concurrency) to be divided by
    /// `max(ready, 1)` before comparing with the target.
    #[serde(default)]
    pub per_instance: bool,
    /// AWS-style: act only on the verdict of two alarms on the metric, as an AWS
    /// target-tracking policy does with the alarms it creates. None: every tick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<TargetAlarms>,
}

/// The alarms that gate a target: scale out only while `scale_out` is FIRING and in only
/// while `scale_in` is, with the metric read from that alarm's newest datapoint (for AWS,
/// the 1-minute average) rather than the newest sample. No tolerance applies: the alarms'
/// M-of-N datapoints are the dead band. AWS's own pair is "above the target for 3 of 3
/// one-minute datapoints" and "below it for 15 of 15".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetAlarms {
    pub scale_out: String,
    pub scale_in: String,
}

/// Blocks scale-in while `metric` is above `block_scale_in_above × slo`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyGuard {
    #[serde(default = "default_latency_metric")]
    pub metric: MetricKind,
    #[serde(with = "duration_text")]
    pub slo: Duration,
    /// Fraction of the SLO above which scale-in is blocked (default 0.8).
    #[serde(default = "default_block_fraction")]
    pub block_scale_in_above: f64,
}

fn default_latency_metric() -> MetricKind {
    MetricKind::LatencyP95
}

fn default_block_fraction() -> f64 {
    0.8
}

/// How an adjustment is read (AWS `AdjustmentType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentType {
    ChangeInCapacity,
    ExactCapacity,
    PercentChangeInCapacity,
}

/// One step, with bounds relative to the alarm threshold (AWS
/// `MetricIntervalLowerBound` / `UpperBound`; a missing bound is infinite). Above the
/// threshold a step covers `lower ≤ metric − threshold < upper`; below it
/// `lower < metric − threshold ≤ upper`, as AWS documents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepAdjustment {
    #[serde(default)]
    pub lower: Option<f64>,
    #[serde(default)]
    pub upper: Option<f64>,
    /// Instances, exact capacity, or percent, per the rule's adjustment type; negative
    /// scales in.
    pub adjustment: f64,
}

/// AWS step scaling on one alarm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRule {
    /// The alarm (by name) whose breach drives this rule.
    pub alarm: String,
    pub adjustment_type: AdjustmentType,
    pub steps: Vec<StepAdjustment>,
    /// For PercentChangeInCapacity: change at least this many instances.
    #[serde(default)]
    pub min_adjustment_magnitude: Option<u32>,
    /// Instance warm-up: while earlier steps warm, only the difference is applied.
    /// Default: the group's maximum warm-up.
    #[serde(default, with = "duration_text::option")]
    pub warmup: Option<Duration>,
}

/// AWS simple scaling: one adjustment when the alarm fires, then a cooldown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpleRule {
    pub alarm: String,
    pub adjustment_type: AdjustmentType,
    pub adjustment: f64,
    #[serde(default)]
    pub min_adjustment_magnitude: Option<u32>,
    /// Default 300 s (the AWS default cooldown).
    #[serde(default = "default_cooldown", with = "duration_text")]
    pub cooldown: Duration,
}

fn default_cooldown() -> Duration {
    Duration::from_secs(300)
}

/// A scheduled action: at each cron occurrence (in `timezone`) set the given bounds or
/// desired capacity; they stay in force until the next action changes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledAction {
    pub name: String,
    /// Cron expression, 5 fields (minute hour day-of-month month day-of-week); parsed
    /// when read, so a spec that exists has one that evaluates.
    pub cron: CronExpr,
    /// IANA time zone, e.g. "Europe/Paris"; default UTC.
    #[serde(default = "TimeZone::utc")]
    pub timezone: TimeZone,
    #[serde(default)]
    pub min: Option<u32>,
    #[serde(default)]
    pub max: Option<u32>,
    #[serde(default)]
    pub desired: Option<u32>,
}

/// Whether predictive scaling acts or only shows its forecast.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictiveMode {
    #[default]
    ForecastOnly,
    ForecastAndScale,
}

/// Seasonal forecast of a load metric, turned into capacity one warm-up ahead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictiveSpec {
    /// The load metric forecast (default request_rate).
    #[serde(default = "default_predictive_metric")]
    pub metric: MetricKind,
    /// Load one instance should carry at the forecast peak (e.g. requests/s per instance).
    pub target_per_instance: f64,
    #[serde(default)]
    pub mode: PredictiveMode,
    /// How far ahead to look; default the group's maximum warm-up.
    #[serde(default, with = "duration_text::option")]
    pub lead: Option<Duration>,
}

fn default_predictive_metric() -> MetricKind {
    MetricKind::RequestRate
}

/// Load profiles computed by the engine from history and passed in: the mean of the
/// load metric per slot of the day and per slot of the week.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadProfile {
    /// Slot width, e.g. 5 minutes.
    #[serde(with = "duration_text")]
    pub slot: Duration,
    /// `86_400 / slot` values, slot 0 starting at 00:00 UTC; NaN where no data.
    #[serde(default)]
    pub daily: Vec<f64>,
    /// `7 × 86_400 / slot` values, slot 0 starting Monday 00:00 UTC; NaN where no data.
    #[serde(default)]
    pub weekly: Vec<f64>,
    /// Days of history the profiles were computed from (predictive needs ≥ 7).
    #[serde(default)]
    pub days_of_history: f64,
}

/// Stabilization windows: the highest recommendation within the window wins
/// (Kubernetes HPA `behavior`; defaults scale-up 0 s, scale-down 300 s).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stabilization {
    #[serde(default, with = "duration_text")]
    pub scale_up: Duration,
    #[serde(default = "default_scale_down_window", with = "duration_text")]
    pub scale_down: Duration,
}

fn default_scale_down_window() -> Duration {
    Duration::from_secs(300)
}

impl Default for Stabilization {
    fn default() -> Self {
        Stabilization { scale_up: Duration::ZERO, scale_down: default_scale_down_window() }
    }
}

/// The largest change per period: the larger of `instances` and `percent` of the
/// current capacity (the HPA's default scale-up: 4 pods or 100 % per 15 s, whichever is
/// more).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxStep {
    pub instances: u32,
    pub percent: f64,
    #[serde(with = "duration_text")]
    pub period: Duration,
}

/// Which policy a proposal comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyKind {
    TargetTracking { metric: MetricKind },
    LatencyGuard,
    StepScaling { alarm: String },
    SimpleScaling { alarm: String },
    Scheduled { action: String },
    Predictive,
}

/// What one policy would set desired to, and why in words. `desired: None` means the
/// policy has no opinion this tick (inside tolerance, alarm not firing, no data …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub policy: PolicyKind,
    pub desired: Option<u32>,
    /// Whether it may lower desired. Latency and predictive proposals never do.
    pub may_scale_in: bool,
    pub reason: String,
}

/// Why desired changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityCause {
    Policy,
    Operator,
    Scheduled,
}

/// A past change of desired capacity, newest last in the lists that hold them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingActivity {
    pub at: Timestamp,
    pub from: u32,
    pub to: u32,
    pub cause: ActivityCause,
    /// The policy that made it (for cooldowns and step warm-up accounting).
    #[serde(default)]
    pub policy: Option<PolicyKind>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_reads_from_toml_with_defaults() {
        let spec: PolicySpec = toml::from_str(
            r#"
            target_tracking = [{ metric = "gpu_util", target = 0.7 }, { metric = "queue_length", target = 5, per_instance = true }]
            latency_guard = { slo = "2s" }
            step_scaling = [{ alarm = "queue-high", adjustment_type = "change_in_capacity", steps = [{ lower = 0, upper = 50, adjustment = 1 }, { lower = 50, adjustment = 3 }] }]
            "#,
        )
        .unwrap();
        assert_eq!(spec.tolerance, 0.1);
        assert_eq!(
            spec.stabilization,
            Stabilization { scale_up: Duration::ZERO, scale_down: Duration::from_secs(300) }
        );
        assert_eq!(spec.latency_guard.unwrap().block_scale_in_above, 0.8);
        assert!(spec.target_tracking[1].per_instance);
        assert_eq!(spec.step_scaling[0].steps[1].upper, None);
    }

    #[test]
    fn the_default_policy_is_an_empty_table() {
        assert_eq!(PolicySpec::default(), toml::from_str::<PolicySpec>("").unwrap());
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_refused() {
        assert!(toml::from_str::<PolicySpec>("tolerence = 0.2").is_err());
        let err = toml::from_str::<PolicySpec>("latency_guard = { slo = \"soon\" }").unwrap_err();
        assert!(err.to_string().contains("bad duration `soon`"), "{err}");
    }

    #[test]
    fn durations_are_written_as_text() {
        let text = toml::to_string(&Stabilization::default()).unwrap();
        assert!(text.contains("scale_down = \"5m\""), "{text}");
    }
}
