//! From samples to datapoints, and from datapoints to whether the M-of-N condition holds,
//! with CloudWatch's treatment of missing data:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsData.html#alarms-evaluating-missing-data>
//!
//! Periods are aligned to multiples of the rule's period from the epoch, as CloudWatch
//! aligns them. Only *complete* periods are datapoints: the period containing `now` is
//! still filling (its average or sum would change), so it is left out, as CloudWatch
//! evaluates complete periods only. A period with no finite sample is *missing*.
//!
//! The evaluation range is N + [`LOOKBACK_PERIODS`] periods: like CloudWatch, when some
//! of the newest N datapoints are missing we look further back for real ones before
//! filling with the missing-data treatment. The page's example retrieves 5 datapoints for
//! N = 3; CloudWatch's real range depends on the period and resolution, and we use N + 2
//! for every rule (the simplification: a fixed range rather than CloudWatch's own).

use crate::model::{Sample, Timestamp};

use super::rule::{AlarmRule, MAX_EVALUATION_PERIODS, MissingData, Statistic};

/// Periods looked at beyond the N evaluated ones, to find real datapoints when recent
/// ones are missing (the documented example: N = 3, range 5).
pub const LOOKBACK_PERIODS: u32 = 2;

/// One complete period and its statistic; `value: None` when the period had no data.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Datapoint {
    pub start: Timestamp,
    pub value: Option<f64>,
}

/// What the datapoints say about the rule's condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// At least M of the N evaluated datapoints breach.
    Met,
    NotMet,
    /// Every datapoint in the range is missing and missing data is treated as missing.
    Insufficient,
    /// `ignore`: the data present cannot decide; the alarm keeps its state.
    Undecided,
}

/// The rule's period in milliseconds, at least 1 (an invalid zero period cannot panic).
pub(crate) fn period_ms(rule: &AlarmRule) -> i64 {
    (rule.period.as_millis().min(i64::MAX as u128) as i64).max(1)
}

/// N, clamped to 1..=[`MAX_EVALUATION_PERIODS`].
pub(crate) fn evaluation_periods(rule: &AlarmRule) -> u32 {
    rule.evaluation_periods.clamp(1, MAX_EVALUATION_PERIODS)
}

/// M, clamped to 1..=N.
pub(crate) fn datapoints_to_alarm(rule: &AlarmRule) -> u32 {
    rule.datapoints_to_alarm.clamp(1, evaluation_periods(rule))
}

/// Start of the newest complete period at `now`: the period containing `now` is
/// incomplete, so this is the one before it.
pub fn newest_complete_period(rule: &AlarmRule, now: Timestamp) -> Timestamp {
    let p = period_ms(rule);
    Timestamp::from_millis((now.as_millis().div_euclid(p) - 1).saturating_mul(p))
}

/// The datapoints of the evaluation range (N + [`LOOKBACK_PERIODS`] complete periods
/// ending before the period that contains `now`), oldest first. Samples may come in any
/// order; non-finite values (NaN, ±∞) are not data, and samples in the incomplete or a
/// future period are left out.
pub fn datapoints<'a>(
    rule: &AlarmRule,
    samples: impl IntoIterator<Item = &'a Sample>,
    now: Timestamp,
) -> Vec<Datapoint> {
    let p = period_ms(rule);
    let range = (evaluation_periods(rule) + LOOKBACK_PERIODS) as i64;
    let newest = now.as_millis().div_euclid(p) - 1;
    let oldest = newest - (range - 1);
    let mut buckets = vec![Bucket::default(); range as usize];
    for sample in samples {
        let index = sample.at.as_millis().div_euclid(p);
        if sample.value.is_finite() && (oldest..=newest).contains(&index) {
            buckets[(index - oldest) as usize].add(sample);
        }
    }
    buckets
        .iter()
        .enumerate()
        .map(|(i, b)| Datapoint {
            start: Timestamp::from_millis((oldest + i as i64).saturating_mul(p)),
            value: b.statistic(rule.statistic),
        })
        .collect()
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    count: u32,
    sum: f64,
    min: f64,
    max: f64,
    last: Option<Sample>,
}

impl Bucket {
    fn add(&mut self, s: &Sample) {
        if self.count == 0 {
            (self.min, self.max) = (s.value, s.value);
        }
        self.count += 1;
        self.sum += s.value;
        self.min = self.min.min(s.value);
        self.max = self.max.max(s.value);
        // Ties on the timestamp go to the later sample in the input.
        if self.last.is_none_or(|l| s.at >= l.at) {
            self.last = Some(*s);
        }
    }

    fn statistic(&self, statistic: Statistic) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let value = match statistic {
            Statistic::Average => self.sum / self.count as f64,
            Statistic::Maximum => self.max,
            Statistic::Minimum => self.min,
            Statistic::Sum => self.sum,
            Statistic::SampleCount => self.count as f64,
            Statistic::Last => self.last.map_or(f64::NAN, |s| s.value),
        };
        // A sum of huge finite values can overflow; such a datapoint is not data either.
        value.is_finite().then_some(value)
    }
}

/// Whether the rule's condition holds over the evaluation range (`datapoints` oldest
/// first, as [`datapoints`] returns them).
pub fn condition(rule: &AlarmRule, datapoints: &[Datapoint]) -> Condition {
    let flags: Vec<Option<bool>> =
        datapoints.iter().map(|d| d.value.map(|v| rule.comparison.breaches(v, rule.threshold))).collect();
    m_of_n(datapoints_to_alarm(rule), evaluation_periods(rule), &flags, rule.missing_data)
}

/// M of N over the evaluation range, following the three cases of "How alarm state is
/// evaluated when data is missing"
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsData.html#alarms-evaluating-missing-data>).
/// `range` holds each period's breach (`Some(true)`), good datapoint (`Some(false)`) or
/// missing datapoint (`None`), oldest first.
pub fn m_of_n(m: u32, n: u32, range: &[Option<bool>], treatment: MissingData) -> Condition {
    let present: Vec<bool> = range.iter().flatten().copied().collect();
    let n = n as usize;
    let verdict = |met: bool| if met { Condition::Met } else { Condition::NotMet };

    // 1 and 2. Enough real datapoints in the range (recent or from farther back): the
    // newest N real ones are evaluated and the treatment of missing data is not used.
    if present.len() >= n {
        let breaching = present[present.len() - n..].iter().filter(|b| **b).count();
        return verdict(breaching >= m as usize);
    }

    // 3. Fewer real datapoints than N: all of them are used, and the N − present missing
    // ones are filled according to the treatment.
    let breaching = present.iter().filter(|b| **b).count();
    let fill = n - present.len();
    match treatment {
        MissingData::Breaching => verdict(breaching + fill >= m as usize),
        MissingData::NotBreaching => verdict(breaching >= m as usize),
        // Nothing real in the whole range: no data, or (ignore) keep the current state.
        MissingData::Missing if present.is_empty() => Condition::Insufficient,
        MissingData::Ignore if present.is_empty() => Condition::Undecided,
        // Missing datapoints are not considered: the alarm is judged on the real ones,
        // and M cannot ask for more of them than exist. This reproduces the page's
        // tables (3 of 3 with only `X` present → ALARM; 2 of 3 with `0 X` → OK).
        MissingData::Missing => verdict(breaching >= (m as usize).min(present.len())),
        // `ignore` ("the current alarm state is maintained") never raises the alarm on
        // fewer than M real breaching datapoints: when every real datapoint breaches but
        // they are too few, the state is kept; a good datapoint among them is enough for
        // OK. This reproduces the page's rows (`- - X - -` → retain; `- - - - 0` → OK).
        MissingData::Ignore => {
            if breaching >= m as usize {
                Condition::Met
            } else if breaching == present.len() {
                Condition::Undecided
            } else {
                Condition::NotMet
            }
        }
    }
}

#[cfg(test)]
#[path = "cloudwatch_table_tests.rs"]
mod cloudwatch_table_tests;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::alarms::rule::Comparison;
    use crate::model::MetricKind;

    fn rule(statistic: Statistic, n: u32) -> AlarmRule {
        AlarmRule {
            name: "t".into(),
            metric: MetricKind::QueueLength,
            statistic,
            comparison: Comparison::GreaterThan,
            threshold: 10.0,
            period: Duration::from_secs(60),
            datapoints_to_alarm: n,
            evaluation_periods: n,
            for_duration: Duration::ZERO,
            missing_data: MissingData::Missing,
            description: None,
        }
    }

    fn s(secs: i64, value: f64) -> Sample {
        Sample { at: Timestamp::from_millis(secs * 1000), value }
    }

    fn values(points: &[Datapoint]) -> Vec<Option<f64>> {
        points.iter().map(|d| d.value).collect()
    }

    #[test]
    fn the_period_containing_now_is_not_a_datapoint() {
        // now = 10:30 into minute 10: minute 10 is incomplete; minutes 7..=9 are the range
        // of N = 1 (1 + 2 lookback).
        let now = Timestamp::from_millis(630_000);
        let points =
            datapoints(&rule(Statistic::Maximum, 1), &[s(590, 1.0), s(600, 99.0), s(629, 98.0)], now);
        assert_eq!(points.len(), 3);
        assert_eq!(points[2].start, Timestamp::from_millis(540_000));
        assert_eq!(values(&points), vec![None, None, Some(1.0)]);
    }

    #[test]
    fn now_on_a_boundary_completes_the_period_before_it() {
        let now = Timestamp::from_millis(600_000);
        assert_eq!(
            newest_complete_period(&rule(Statistic::Average, 1), now),
            Timestamp::from_millis(540_000)
        );
        let points = datapoints(&rule(Statistic::Average, 1), &[s(599, 5.0), s(600, 7.0)], now);
        assert_eq!(values(&points), vec![None, None, Some(5.0)]);
    }

    #[test]
    fn samples_older_than_the_range_are_left_out() {
        let now = Timestamp::from_millis(600_000);
        // N = 1: range is minutes 7, 8, 9 (420 s ..600 s).
        let points = datapoints(&rule(Statistic::Sum, 1), &[s(419, 100.0), s(420, 1.0)], now);
        assert_eq!(values(&points), vec![Some(1.0), None, None]);
    }

    #[test]
    fn each_statistic_summarises_its_period() {
        let now = Timestamp::from_millis(120_000);
        // Out of order on purpose: `last` goes by timestamp, not by position.
        let samples = [s(60, 4.0), s(100, 1.0), s(70, 7.0)];
        let stat = |st| datapoints(&rule(st, 1), &samples, now)[2].value;
        assert_eq!(stat(Statistic::Average), Some(4.0));
        assert_eq!(stat(Statistic::Maximum), Some(7.0));
        assert_eq!(stat(Statistic::Minimum), Some(1.0));
        assert_eq!(stat(Statistic::Sum), Some(12.0));
        assert_eq!(stat(Statistic::SampleCount), Some(3.0));
        assert_eq!(stat(Statistic::Last), Some(1.0));
    }

    #[test]
    fn nan_and_infinite_samples_are_missing_not_data() {
        let now = Timestamp::from_millis(120_000);
        let points = datapoints(
            &rule(Statistic::SampleCount, 1),
            &[s(60, f64::NAN), s(61, f64::INFINITY), s(62, 3.0), s(0, f64::NAN)],
            now,
        );
        assert_eq!(values(&points), vec![None, None, Some(1.0)]);
    }

    #[test]
    fn an_empty_period_has_no_sample_count_rather_than_zero() {
        let now = Timestamp::from_millis(120_000);
        let points = datapoints(&rule(Statistic::SampleCount, 1), &[], now);
        assert_eq!(values(&points), vec![None, None, None]);
    }

    #[test]
    fn periods_before_the_epoch_are_aligned_too() {
        let now = Timestamp::from_millis(-30_000);
        let points = datapoints(&rule(Statistic::Last, 1), &[s(-61, 2.0), s(-60, 3.0)], now);
        assert_eq!(points[2].start, Timestamp::from_millis(-120_000));
        assert_eq!(values(&points), vec![None, None, Some(2.0)]);
    }

    #[test]
    fn a_zero_period_or_absurd_n_does_not_panic() {
        let mut r = rule(Statistic::Average, 1);
        r.period = Duration::ZERO;
        r.evaluation_periods = u32::MAX;
        r.datapoints_to_alarm = 0;
        let points = datapoints(&r, &[s(0, 1.0)], Timestamp::from_millis(5));
        assert_eq!(points.len(), (MAX_EVALUATION_PERIODS + LOOKBACK_PERIODS) as usize);
        let _ = condition(&r, &points);
    }

    #[test]
    fn an_overflowing_sum_is_missing() {
        let now = Timestamp::from_millis(120_000);
        let points = datapoints(&rule(Statistic::Sum, 1), &[s(60, f64::MAX), s(61, f64::MAX)], now);
        assert_eq!(points[2].value, None);
    }
}
