//! What an alarm rule says: which metric, which statistic per period, how it compares with
//! the threshold, how many datapoints must breach (M of N), for how long, and what a
//! missing datapoint means. Plain data with serde, written in config files.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{MetricKind, Severity, duration_text};

/// The most evaluation periods a rule may have: a day of 1-minute datapoints (CloudWatch
/// limits an alarm's evaluation to one day as well).
pub const MAX_EVALUATION_PERIODS: u32 = 1440;

/// A threshold rule over one metric of one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRule {
    pub name: String,
    pub metric: MetricKind,
    pub statistic: Statistic,
    pub comparison: Comparison,
    pub threshold: f64,
    /// Width of one datapoint; periods are aligned to multiples of it from the epoch.
    #[serde(with = "duration_text")]
    pub period: Duration,
    /// M: how many of the last N datapoints must breach.
    pub datapoints_to_alarm: u32,
    /// N: how many datapoints are evaluated.
    pub evaluation_periods: u32,
    /// How long the M-of-N condition must hold before PENDING becomes FIRING.
    #[serde(default, with = "duration_text")]
    pub for_duration: Duration,
    #[serde(default)]
    pub missing_data: MissingData,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How urgent its page is (default `error`): PagerDuty's severity, and where a Slack
    /// notifier with channels by severity posts it.
    #[serde(default)]
    pub severity: Severity,
    /// A runbook for its responder, linked from its page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
}

/// How the samples of one period become its datapoint (CloudWatch's statistics, plus the
/// newest sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    Average,
    Maximum,
    Minimum,
    Sum,
    SampleCount,
    /// The sample with the latest timestamp in the period.
    Last,
}

/// How a datapoint is compared with the threshold: `datapoint OP threshold` breaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    #[serde(alias = ">")]
    GreaterThan,
    #[serde(alias = ">=")]
    GreaterThanOrEqual,
    #[serde(alias = "<")]
    LessThan,
    #[serde(alias = "<=")]
    LessThanOrEqual,
}

impl Comparison {
    /// Whether `value` breaches `threshold`. NaN never breaches (every comparison with
    /// NaN is false).
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThan => value > threshold,
            Comparison::GreaterThanOrEqual => value >= threshold,
            Comparison::LessThan => value < threshold,
            Comparison::LessThanOrEqual => value <= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::GreaterThan => ">",
            Comparison::GreaterThanOrEqual => ">=",
            Comparison::LessThan => "<",
            Comparison::LessThanOrEqual => "<=",
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// What a period without data means (CloudWatch's `TreatMissingData`; the camelCase
/// `notBreaching` is accepted too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingData {
    /// Not considered; all missing → INSUFFICIENT_DATA.
    #[default]
    Missing,
    /// The current state is kept when the data present cannot decide.
    Ignore,
    /// A missing datapoint counts as breaching.
    Breaching,
    /// A missing datapoint counts as good.
    #[serde(alias = "notBreaching")]
    NotBreaching,
}

/// A rule that cannot be evaluated as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AlarmRuleError {
    #[error("alarm `{0}`: period must be longer than 0")]
    ZeroPeriod(String),
    #[error("alarm `{name}`: evaluation_periods must be 1..={max}, got {got}")]
    EvaluationPeriods { name: String, got: u32, max: u32 },
    #[error("alarm `{name}`: datapoints_to_alarm must be 1..=evaluation_periods ({n}), got {m}")]
    DatapointsToAlarm { name: String, m: u32, n: u32 },
    #[error("alarm `{0}`: threshold must be a finite number")]
    Threshold(String),
}

impl AlarmRule {
    /// Checks what serde cannot: M and N in range, a non-zero period, a finite threshold.
    /// [`evaluate`](super::evaluate) never panics on an invalid rule (it clamps), but its
    /// answer is only meaningful for a valid one.
    pub fn validate(&self) -> Result<(), AlarmRuleError> {
        let name = || self.name.clone();
        if self.period.is_zero() {
            return Err(AlarmRuleError::ZeroPeriod(name()));
        }
        let n = self.evaluation_periods;
        if n == 0 || n > MAX_EVALUATION_PERIODS {
            return Err(AlarmRuleError::EvaluationPeriods {
                name: name(),
                got: n,
                max: MAX_EVALUATION_PERIODS,
            });
        }
        let m = self.datapoints_to_alarm;
        if m == 0 || m > n {
            return Err(AlarmRuleError::DatapointsToAlarm { name: name(), m, n });
        }
        if !self.threshold.is_finite() {
            return Err(AlarmRuleError::Threshold(name()));
        }
        Ok(())
    }

    /// `"latency_p95 average > 2 for 1 of 1 × 1m, held 5m"`: the rule in one line, for
    /// the UI and notifications.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} {} {} {} for {} of {} × {}",
            self.metric,
            serde_plain_name(self.statistic),
            self.comparison,
            self.threshold,
            self.datapoints_to_alarm,
            self.evaluation_periods,
            crate::model::format_duration(self.period),
        );
        if !self.for_duration.is_zero() {
            s.push_str(&format!(", held {}", crate::model::format_duration(self.for_duration)));
        }
        s
    }
}

fn serde_plain_name(statistic: Statistic) -> &'static str {
    match statistic {
        Statistic::Average => "average",
        Statistic::Maximum => "maximum",
        Statistic::Minimum => "minimum",
        Statistic::Sum => "sum",
        Statistic::SampleCount => "sample_count",
        Statistic::Last => "last",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AlarmRule, toml::de::Error> {
        toml::from_str(text)
    }

    const MINIMAL: &str = r#"
        name = "queue-high"
        metric = "queue_length"
        statistic = "average"
        comparison = "greater_than"
        threshold = 50
        period = "1m"
        datapoints_to_alarm = 1
        evaluation_periods = 1
    "#;

    #[test]
    fn a_rule_reads_from_toml_with_defaults() {
        let rule = parse(MINIMAL).unwrap();
        assert_eq!(rule.period, Duration::from_secs(60));
        assert_eq!(rule.for_duration, Duration::ZERO);
        assert_eq!(rule.missing_data, MissingData::Missing);
        assert_eq!(rule.description, None);
        assert_eq!(rule.validate(), Ok(()));
    }

    #[test]
    fn comparison_symbols_and_cloudwatch_spelling_are_accepted() {
        let rule = parse(&MINIMAL.replace("\"greater_than\"", "\">=\"")).unwrap();
        assert_eq!(rule.comparison, Comparison::GreaterThanOrEqual);
        let text = format!("{MINIMAL}\nmissing_data = \"notBreaching\"");
        assert_eq!(parse(&text).unwrap().missing_data, MissingData::NotBreaching);
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_refused() {
        assert!(parse(&format!("{MINIMAL}\nfor = \"5m\"")).is_err());
        let err = parse(&MINIMAL.replace("\"1m\"", "\"a while\"")).unwrap_err();
        assert!(err.to_string().contains("bad duration `a while`"), "{err}");
    }

    #[test]
    fn a_rule_round_trips_through_toml_with_durations_as_text() {
        let mut rule = parse(MINIMAL).unwrap();
        rule.for_duration = Duration::from_secs(120);
        rule.description = Some("scale-out trigger".into());
        let text = toml::to_string(&rule).unwrap();
        assert!(text.contains("for_duration = \"2m\""), "{text}");
        assert_eq!(parse(&text).unwrap(), rule);
    }

    #[test]
    fn validation_names_the_rule_and_the_bad_field() {
        let ok = parse(MINIMAL).unwrap();
        let zero_period = AlarmRule { period: Duration::ZERO, ..ok.clone() };
        assert_eq!(zero_period.validate(), Err(AlarmRuleError::ZeroPeriod("queue-high".into())));
        let m_above_n = AlarmRule { datapoints_to_alarm: 3, evaluation_periods: 2, ..ok.clone() };
        assert!(m_above_n.validate().unwrap_err().to_string().contains("datapoints_to_alarm"));
        let no_periods = AlarmRule { evaluation_periods: 0, ..ok.clone() };
        assert!(matches!(no_periods.validate(), Err(AlarmRuleError::EvaluationPeriods { .. })));
        let nan = AlarmRule { threshold: f64::NAN, ..ok };
        assert_eq!(nan.validate(), Err(AlarmRuleError::Threshold("queue-high".into())));
    }

    #[test]
    fn a_summary_says_the_rule_in_one_line() {
        let mut rule = parse(MINIMAL).unwrap();
        assert_eq!(rule.summary(), "queue_length average > 50 for 1 of 1 × 1m");
        rule.for_duration = Duration::from_secs(120);
        assert_eq!(rule.summary(), "queue_length average > 50 for 1 of 1 × 1m, held 2m");
    }

    #[test]
    fn nan_never_breaches_any_comparison() {
        for c in [
            Comparison::GreaterThan,
            Comparison::GreaterThanOrEqual,
            Comparison::LessThan,
            Comparison::LessThanOrEqual,
        ] {
            assert!(!c.breaches(f64::NAN, 1.0), "{c}");
            assert!(!c.breaches(1.0, f64::NAN), "{c}");
        }
    }

    #[test]
    fn equality_breaches_only_the_inclusive_comparisons() {
        assert!(!Comparison::GreaterThan.breaches(2.0, 2.0));
        assert!(Comparison::GreaterThanOrEqual.breaches(2.0, 2.0));
        assert!(!Comparison::LessThan.breaches(2.0, 2.0));
        assert!(Comparison::LessThanOrEqual.breaches(2.0, 2.0));
    }
}
