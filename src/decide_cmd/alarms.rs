//! `[[alarms]]` in a decide file: alarm rules with their datapoints, evaluated as the
//! engine evaluates them, so "would this alarm fire, and what would the autoscaler then
//! do?" is one command, and CloudWatch's missing-data rules (M of N, for-duration,
//! `missing` / `ignore` / `breaching` / `not_breaching`) can be tried case by case.
//!
//! The datapoints are the rule's per-period statistic, one per period, oldest first, the
//! last being the newest complete period at `now` (the one before the period that holds
//! `now`); `"-"` is a period without data. The alarm starts in `previous` (default
//! INSUFFICIENT_DATA, as a new alarm does) before the first datapoint and is evaluated at
//! each period's end and at `now`, as a ticking engine would see it — also at the instant
//! a PENDING alarm's for-duration runs out, so `ignore` keeps what a tick there would
//! have seen. The evaluation itself is [`alarms::next_status`] of [`window::condition`]:
//! the module the engine runs, only fed datapoints instead of samples.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::alarms::{self, AlarmRule, AlarmStatus, Datapoint, Transition, window};
use crate::model::{AlarmState, Timestamp};

/// The most datapoints one alarm may be given: a week of one-minute periods.
pub const MAX_DATAPOINTS: usize = 7 * 24 * 60;

/// One alarm rule and the datapoints it is evaluated on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AlarmCaseText", into = "AlarmCaseText")]
pub struct AlarmCase {
    /// The rule, the same table as `[[groups.alarms]]` in the config.
    pub rule: AlarmRule,
    /// One statistic per period, oldest first, the last the newest complete period at
    /// `now`; `None` is a period without data.
    pub datapoints: Vec<Option<f64>>,
    /// The alarm's state before the first datapoint.
    pub previous: AlarmState,
}

/// [`AlarmCase`] as written; checked into one by `TryFrom`, so a mistake is reported
/// where the table is (line and column).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlarmCaseText {
    #[serde(deserialize_with = "valid_rule")]
    rule: AlarmRule,
    #[serde(default, with = "datapoint_values")]
    datapoints: Vec<Option<f64>>,
    #[serde(default)]
    previous: AlarmState,
}

impl TryFrom<AlarmCaseText> for AlarmCase {
    type Error = String;

    fn try_from(text: AlarmCaseText) -> Result<Self, String> {
        // Both are checked as they are read, where the error can name their place; this
        // holds for values built in code too.
        text.rule.validate().map_err(|err| err.to_string())?;
        if text.datapoints.len() > MAX_DATAPOINTS {
            return Err(format!("more than {MAX_DATAPOINTS} datapoints (a week of one-minute periods)"));
        }
        Ok(AlarmCase { rule: text.rule, datapoints: text.datapoints, previous: text.previous })
    }
}

/// A rule that [`AlarmRule::validate`] accepts (M and N in range, a period, a finite
/// threshold), refused where the rule table is written.
fn valid_rule<'de, D: Deserializer<'de>>(d: D) -> Result<AlarmRule, D::Error> {
    let rule = AlarmRule::deserialize(d)?;
    rule.validate().map_err(de::Error::custom)?;
    Ok(rule)
}

impl From<AlarmCase> for AlarmCaseText {
    fn from(case: AlarmCase) -> Self {
        AlarmCaseText { rule: case.rule, datapoints: case.datapoints, previous: case.previous }
    }
}

/// An alarm after its evaluation at `now`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluatedAlarm {
    pub case: AlarmCase,
    pub status: AlarmStatus,
    /// The start of the last datapoint's period: the newest complete period at `now`.
    pub newest_period: Timestamp,
    /// Every change of state on the way, oldest first.
    pub transitions: Vec<Transition>,
}

/// Evaluates the case at `now`, from its first datapoint on.
pub fn evaluate(case: &AlarmCase, now: Timestamp) -> EvaluatedAlarm {
    let rule = &case.rule;
    let periods = Periods::new(case, now);
    let mut status =
        AlarmStatus { state: case.previous, ..AlarmStatus::new(periods.instant(periods.first_ms)) };
    let mut transitions = Vec::new();
    let mut step = |status: &mut AlarmStatus, at_ms: i128| {
        let at = periods.instant(at_ms);
        let range = periods.range_at(at);
        let condition = window::condition(rule, &range);
        let newest = range.iter().rev().find(|d| d.value.is_some()).copied();
        *status = alarms::next_status(rule, condition, newest, status, at);
        transitions.extend(status.transition);
    };
    // The end of each given period (the last one's is the start of the period holding
    // `now`), then `now` itself.
    let count = case.datapoints.len() as i128;
    let ends = (1..=count).map(|i| periods.first_ms + i * periods.period_ms);
    let mut last_ms = None;
    for at_ms in ends.chain(std::iter::once(i128::from(now.as_millis()))) {
        if last_ms.is_some_and(|last| at_ms <= last) {
            continue;
        }
        // A PENDING alarm whose for-duration runs out before this instant: a tick then
        // would have seen it fire, on the same datapoints.
        if let (AlarmState::Pending, Some(since), Some(last)) =
            (status.state, status.breaching_since, last_ms)
        {
            let fires_at = i128::from(since.as_millis()) + rule.for_duration.as_millis() as i128;
            if fires_at > last && fires_at < at_ms {
                step(&mut status, fires_at);
            }
        }
        step(&mut status, at_ms);
        last_ms = Some(at_ms);
    }
    let newest_period = window::newest_complete_period(rule, now);
    EvaluatedAlarm { case: case.clone(), status, newest_period, transitions }
}

/// Where the given datapoints fall: aligned to the rule's period from the epoch, as
/// CloudWatch aligns them, the last one the newest complete period at `now`. In `i128`
/// milliseconds, so no instant of any period overflows.
struct Periods<'a> {
    case: &'a AlarmCase,
    period_ms: i128,
    /// The start of the first datapoint's period.
    first_ms: i128,
}

impl<'a> Periods<'a> {
    fn new(case: &'a AlarmCase, now: Timestamp) -> Self {
        let period_ms = i128::from(window::period_ms(&case.rule));
        let newest_ms = i128::from(window::newest_complete_period(&case.rule, now).as_millis());
        let first_ms = newest_ms - (case.datapoints.len() as i128 - 1).max(0) * period_ms;
        Periods { case, period_ms, first_ms }
    }

    /// An instant as a [`Timestamp`], saturated to what one holds.
    fn instant(&self, ms: i128) -> Timestamp {
        Timestamp::from_millis(ms.clamp(i64::MIN.into(), i64::MAX.into()) as i64)
    }

    /// The statistic of the period starting at `start_ms`; non-finite values are no data,
    /// as the alarms module reads NaN samples.
    fn value(&self, start_ms: i128) -> Option<f64> {
        let offset = start_ms - self.first_ms;
        if offset < 0 || offset % self.period_ms != 0 {
            return None;
        }
        let index = usize::try_from(offset / self.period_ms).ok()?;
        self.case.datapoints.get(index).copied().flatten().filter(|v| v.is_finite())
    }

    /// The evaluation range at `at`, oldest first, as [`window::datapoints`] would build
    /// it from samples.
    fn range_at(&self, at: Timestamp) -> Vec<Datapoint> {
        let rule = &self.case.rule;
        let newest = i128::from(window::newest_complete_period(rule, at).as_millis());
        let count = window::evaluation_periods(rule) + window::LOOKBACK_PERIODS;
        (0..i128::from(count))
            .rev()
            .map(|back| {
                let start = newest - back * self.period_ms;
                Datapoint { start: self.instant(start), value: self.value(start) }
            })
            .collect()
    }
}

/// Datapoints as written: numbers, and `"-"` (or JSON's `null`) for a period without data.
mod datapoint_values {
    use super::*;

    pub fn serialize<S: Serializer>(values: &[Option<f64>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(values.len()))?;
        for value in values {
            match value {
                Some(v) if v.is_finite() => seq.serialize_element(v)?,
                _ => seq.serialize_element("-")?,
            }
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Option<f64>>, D::Error> {
        d.deserialize_seq(ValuesVisitor)
    }

    struct ValuesVisitor;

    impl<'de> Visitor<'de> for ValuesVisitor {
        type Value = Vec<Option<f64>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of datapoints: numbers, and \"-\" for a period without data")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut values = Vec::new();
            while let Some(Value(value)) = seq.next_element()? {
                if values.len() == MAX_DATAPOINTS {
                    return Err(de::Error::custom(format!(
                        "more than {MAX_DATAPOINTS} datapoints (a week of one-minute periods)"
                    )));
                }
                values.push(value);
            }
            Ok(values)
        }
    }

    /// One datapoint.
    struct Value(Option<f64>);

    impl<'de> Deserialize<'de> for Value {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ValueVisitor)
        }
    }

    struct ValueVisitor;

    impl Visitor<'_> for ValueVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number, or \"-\" for a period without data")
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            Ok(Value(v.is_finite().then_some(v)))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
            Ok(Value(Some(v as f64)))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
            Ok(Value(Some(v as f64)))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
            if v == "-" {
                Ok(Value(None))
            } else {
                Err(E::custom(format!("bad datapoint `{v}`: a number, or \"-\" for a period without data")))
            }
        }

        fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
            Ok(Value(None))
        }

        fn visit_none<E: de::Error>(self) -> Result<Value, E> {
            Ok(Value(None))
        }
    }
}

#[cfg(test)]
mod tests;
