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

use std::ops::RangeInclusive;

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
    Timestamp::from_millis(now.as_millis().div_euclid(p).saturating_sub(1).saturating_mul(p))
}

/// The evaluation range at `now` (N + [`LOOKBACK_PERIODS`] complete periods ending
/// before the period that contains `now`), from the first millisecond of its oldest
/// period to the last of its newest, saturated to what a [`Timestamp`] can hold: no
/// sample outside it is data. Callers with time-sorted samples pass only these.
pub fn evaluation_range(rule: &AlarmRule, now: Timestamp) -> RangeInclusive<Timestamp> {
    let range = Range::new(rule, now);
    let clamp = |ms: i128| Timestamp::from_millis(ms.clamp(i64::MIN.into(), i64::MAX.into()) as i64);
    clamp(range.start_ms)..=clamp(range.end_ms - 1)
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
    let range = Range::new(rule, now);
    let mut buckets = vec![Bucket::default(); range.periods];
    range.fill(samples, &mut buckets);
    buckets
        .iter()
        .enumerate()
        .map(|(i, b)| Datapoint { start: range.period_start(i), value: b.statistic(rule.statistic) })
        .collect()
}

/// What [`condition`] says of [`datapoints`], and the newest datapoint with a value,
/// without building either.
pub fn evaluate_range<'a>(
    rule: &AlarmRule,
    samples: impl IntoIterator<Item = &'a Sample>,
    now: Timestamp,
) -> (Condition, Option<Datapoint>) {
    evaluate_with(rule, now, |range, buckets| range.fill(samples, buckets))
}

/// [`evaluate_range`] of samples in time order (oldest first, ties kept in input order),
/// given as slices, as history holds them: each period's run of samples is found by
/// binary search and summarised in a loop of its own. The same answer, faster: the
/// engine evaluates every rule of every group every tick.
pub fn evaluate_sorted_range<'a>(
    rule: &AlarmRule,
    chunks: impl IntoIterator<Item = &'a [Sample]>,
    now: Timestamp,
) -> (Condition, Option<Datapoint>) {
    evaluate_with(rule, now, |range, buckets| range.summarise_sorted(rule.statistic, chunks, buckets))
}

/// The condition and the newest datapoint with a value, once `fill` has summarised the
/// samples into the range's buckets.
fn evaluate_with(
    rule: &AlarmRule,
    now: Timestamp,
    fill: impl FnOnce(&Range, &mut [Bucket]),
) -> (Condition, Option<Datapoint>) {
    // Most rules look at a handful of periods: keep their buckets on the stack.
    const ON_STACK: usize = 8;
    let range = Range::new(rule, now);
    let mut small = [Bucket::default(); ON_STACK];
    let mut large = Vec::new();
    let buckets = if range.periods <= ON_STACK {
        &mut small[..range.periods]
    } else {
        large.resize(range.periods, Bucket::default());
        &mut large[..]
    };
    fill(&range, buckets);
    let values = buckets.iter().map(|b| b.statistic(rule.statistic));
    let newest = values
        .clone()
        .enumerate()
        .rev()
        .find_map(|(i, v)| v.map(|v| Datapoint { start: range.period_start(i), value: Some(v) }));
    let flags = values.map(|v| v.map(|v| rule.comparison.breaches(v, rule.threshold)));
    (m_of_n_over(datapoints_to_alarm(rule), evaluation_periods(rule), flags, rule.missing_data), newest)
}

/// The periods of the evaluation range, in milliseconds since the epoch; `i128` so that
/// no period boundary overflows, whatever `now` and the period.
struct Range {
    period_ms: i128,
    periods: usize,
    start_ms: i128,
    /// One past the last millisecond of the newest complete period.
    end_ms: i128,
}

impl Range {
    fn new(rule: &AlarmRule, now: Timestamp) -> Self {
        let p = period_ms(rule);
        let periods = (evaluation_periods(rule) + LOOKBACK_PERIODS) as i64;
        let newest = now.as_millis().div_euclid(p) - 1;
        let oldest = newest - (periods - 1);
        let p = i128::from(p);
        Range {
            period_ms: p,
            periods: periods as usize,
            start_ms: i128::from(oldest) * p,
            end_ms: (i128::from(newest) + 1) * p,
        }
    }

    fn period_start(&self, i: usize) -> Timestamp {
        let ms = self.start_ms + i as i128 * self.period_ms;
        Timestamp::from_millis(ms.clamp(i64::MIN.into(), i64::MAX.into()) as i64)
    }

    /// Summarises the samples in the range, in time order as slices, into their periods'
    /// buckets for `statistic`: a loop of its own for each, doing only what that
    /// statistic needs.
    fn summarise_sorted<'a>(
        &self,
        statistic: Statistic,
        chunks: impl IntoIterator<Item = &'a [Sample]>,
        buckets: &mut [Bucket],
    ) {
        match statistic {
            Statistic::Average | Statistic::Sum => self.fill_sorted(chunks, buckets, Bucket::add_to_sum),
            Statistic::Maximum => self.fill_sorted(chunks, buckets, Bucket::add_to_max),
            Statistic::Minimum => self.fill_sorted(chunks, buckets, Bucket::add_to_min),
            Statistic::SampleCount => self.fill_sorted(chunks, buckets, |_, _| {}),
            Statistic::Last => self.fill_sorted(chunks, buckets, Bucket::add_to_last),
        }
    }

    /// [`fill`](Self::fill) for samples in time order, as slices, with `add` for one
    /// statistic: the range and each period's run are found by binary search, and a run
    /// is summarised in a plain loop over a copy of its bucket, which stays in registers.
    fn fill_sorted<'a>(
        &self,
        chunks: impl IntoIterator<Item = &'a [Sample]>,
        buckets: &mut [Bucket],
        add: impl Fn(&mut Bucket, &Sample),
    ) {
        let ms = |s: &Sample| i128::from(s.at.as_millis());
        for chunk in chunks {
            let mut rest = match chunk.first() {
                Some(first) if ms(first) < self.start_ms => {
                    &chunk[chunk.partition_point(|s| ms(s) < self.start_ms)..]
                }
                _ => chunk,
            };
            while let Some(first) = rest.first().filter(|s| ms(s) < self.end_ms) {
                let index = ((ms(first) - self.start_ms) / self.period_ms) as usize;
                let to = self.start_ms + (index as i128 + 1) * self.period_ms;
                let (run, after) = rest.split_at(rest.partition_point(|s| ms(s) < to));
                let mut bucket = buckets[index];
                for sample in run.iter().filter(|s| s.value.is_finite()) {
                    bucket.count += 1;
                    add(&mut bucket, sample);
                }
                buckets[index] = bucket;
                rest = after;
            }
        }
    }

    /// Adds each finite sample in the range, in any order, to its period's bucket.
    fn fill<'a>(&self, samples: impl IntoIterator<Item = &'a Sample>, buckets: &mut [Bucket]) {
        for sample in samples {
            let at = i128::from(sample.at.as_millis());
            if sample.value.is_finite() && (self.start_ms..self.end_ms).contains(&at) {
                let bucket = &mut buckets[((at - self.start_ms) / self.period_ms) as usize];
                bucket.count += 1;
                bucket.add(sample);
            }
        }
    }
}

/// One period's samples, summarised: `count` always, the other fields for the statistic
/// asked for (all of them when samples come in any order).
#[derive(Clone, Copy, Debug)]
struct Bucket {
    count: u32,
    sum: f64,
    min: f64,
    max: f64,
    /// The value of the sample with the latest timestamp, and that timestamp.
    last: f64,
    last_at: i64,
}

impl Default for Bucket {
    /// Empty: the first (finite) sample is the minimum, the maximum and the last.
    fn default() -> Self {
        Bucket {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: f64::NAN,
            last_at: i64::MIN,
        }
    }
}

// Samples are finite here: plain comparisons, no NaN handling.
impl Bucket {
    /// For every statistic at once.
    fn add(&mut self, s: &Sample) {
        self.add_to_sum(s);
        self.add_to_min(s);
        self.add_to_max(s);
        self.add_to_last(s);
    }

    fn add_to_sum(&mut self, s: &Sample) {
        self.sum += s.value;
    }

    fn add_to_min(&mut self, s: &Sample) {
        if s.value < self.min {
            self.min = s.value;
        }
    }

    fn add_to_max(&mut self, s: &Sample) {
        if s.value > self.max {
            self.max = s.value;
        }
    }

    fn add_to_last(&mut self, s: &Sample) {
        // Ties on the timestamp go to the later sample in the input.
        if s.at.as_millis() >= self.last_at {
            (self.last, self.last_at) = (s.value, s.at.as_millis());
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
            Statistic::Last => self.last,
        };
        // A sum of huge finite values can overflow; such a datapoint is not data either.
        value.is_finite().then_some(value)
    }
}

/// Whether the rule's condition holds over the evaluation range (`datapoints` oldest
/// first, as [`datapoints`] returns them).
pub fn condition(rule: &AlarmRule, datapoints: &[Datapoint]) -> Condition {
    let flags = datapoints.iter().map(|d| d.value.map(|v| rule.comparison.breaches(v, rule.threshold)));
    m_of_n_over(datapoints_to_alarm(rule), evaluation_periods(rule), flags, rule.missing_data)
}

/// M of N over the evaluation range, following the three cases of "How alarm state is
/// evaluated when data is missing"
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsData.html#alarms-evaluating-missing-data>).
/// `range` holds each period's breach (`Some(true)`), good datapoint (`Some(false)`) or
/// missing datapoint (`None`), oldest first.
pub fn m_of_n(m: u32, n: u32, range: &[Option<bool>], treatment: MissingData) -> Condition {
    m_of_n_over(m, n, range.iter().copied(), treatment)
}

/// [`m_of_n`] over an iterator, so that callers need not collect the flags.
fn m_of_n_over(
    m: u32,
    n: u32,
    range: impl DoubleEndedIterator<Item = Option<bool>> + Clone,
    treatment: MissingData,
) -> Condition {
    let present = range.clone().flatten().count();
    let n = n as usize;
    let verdict = |met: bool| if met { Condition::Met } else { Condition::NotMet };

    // 1 and 2. Enough real datapoints in the range (recent or from farther back): the
    // newest N real ones are evaluated and the treatment of missing data is not used.
    if present >= n {
        let breaching = range.rev().flatten().take(n).filter(|b| *b).count();
        return verdict(breaching >= m as usize);
    }

    // 3. Fewer real datapoints than N: all of them are used, and the N − present missing
    // ones are filled according to the treatment.
    let breaching = range.flatten().filter(|b| *b).count();
    let fill = n - present;
    match treatment {
        MissingData::Breaching => verdict(breaching + fill >= m as usize),
        MissingData::NotBreaching => verdict(breaching >= m as usize),
        // Nothing real in the whole range: no data, or (ignore) keep the current state.
        MissingData::Missing if present == 0 => Condition::Insufficient,
        MissingData::Ignore if present == 0 => Condition::Undecided,
        // Missing datapoints are not considered: the alarm is judged on the real ones,
        // and M cannot ask for more of them than exist. This reproduces the page's
        // tables (3 of 3 with only `X` present → ALARM; 2 of 3 with `0 X` → OK).
        MissingData::Missing => verdict(breaching >= (m as usize).min(present)),
        // `ignore` ("the current alarm state is maintained") never raises the alarm on
        // fewer than M real breaching datapoints: when every real datapoint breaches but
        // they are too few, the state is kept; a good datapoint among them is enough for
        // OK. This reproduces the page's rows (`- - X - -` → retain; `- - - - 0` → OK).
        MissingData::Ignore => {
            if breaching >= m as usize {
                Condition::Met
            } else if breaching == present {
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
            severity: crate::model::Severity::default(),
            runbook: None,
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
    fn the_oldest_representable_now_has_a_period_and_no_overflow() {
        let oldest = newest_complete_period(&rule(Statistic::Average, 1), Timestamp::from_millis(i64::MIN));
        assert!(oldest.as_millis() <= i64::MIN + 60_000, "{oldest:?}");
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
