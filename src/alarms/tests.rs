//! The state machine: PENDING → FIRING after the for-duration, resolve, INSUFFICIENT_DATA,
//! `ignore` keeping the state, NaN never breaching; and properties over random rules,
//! samples and previous states.

use std::time::Duration;

use proptest::prelude::*;

use super::seeds::{gpu_util_high, latency_p95_high, queue_high};
use super::*;
use crate::model::MetricKind;

const MIN: i64 = 60_000;

fn at_min(minute: i64) -> Timestamp {
    Timestamp::from_millis(minute * MIN)
}

/// One sample in the middle of each of the given minutes.
fn per_minute(first: i64, values: &[f64]) -> Vec<Sample> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Sample { at: Timestamp::from_millis((first + i as i64) * MIN + 30_000), value: *v })
        .collect()
}

fn rule(m: u32, n: u32, for_minutes: u64, missing_data: MissingData) -> AlarmRule {
    AlarmRule {
        severity: crate::model::Severity::default(),
        runbook: None,
        name: "q".into(),
        metric: MetricKind::QueueLength,
        statistic: Statistic::Average,
        comparison: Comparison::GreaterThan,
        threshold: 50.0,
        period: Duration::from_secs(60),
        datapoints_to_alarm: m,
        evaluation_periods: n,
        for_duration: Duration::from_secs(for_minutes * 60),
        missing_data,
        description: None,
    }
}

/// Evaluates once per minute boundary from `from` to `to` (inclusive) over all `samples`,
/// returning every status.
fn run(rule: &AlarmRule, samples: &[Sample], from: i64, to: i64) -> Vec<AlarmStatus> {
    let mut status = AlarmStatus::new(at_min(from));
    (from..=to)
        .map(|minute| {
            status = evaluate(rule, samples, &status, at_min(minute));
            status.clone()
        })
        .collect()
}

fn states(statuses: &[AlarmStatus]) -> Vec<AlarmState> {
    statuses.iter().map(|s| s.state).collect()
}

use AlarmState::{Firing as F, InsufficientData as I, Ok as K, Pending as P};

#[test]
fn a_met_condition_is_pending_until_it_has_held_for_the_for_duration() {
    // Queue above 50 from minute 10 on; 1 of 1 × 1 min, held 3 min.
    let samples = per_minute(10, &[80.0; 6]);
    let statuses = run(&rule(1, 1, 3, MissingData::Missing), &samples, 10, 15);
    // At 10 no complete minute has data; at 11 minute 10 breaches → PENDING since 10:00;
    // at 13 it has held for 3 min (minutes 10, 11, 12) → FIRING.
    assert_eq!(states(&statuses), vec![I, P, P, F, F, F]);
    assert_eq!(statuses[1].breaching_since, Some(at_min(10)));
    assert_eq!(statuses[3].transition, Some(Transition { from: P, to: F, at: at_min(13) }));
    assert!(statuses[3].transition.unwrap().is_fire());
}

#[test]
fn a_zero_for_duration_fires_at_the_first_met_evaluation() {
    let samples = per_minute(10, &[80.0]);
    let statuses = run(&rule(1, 1, 0, MissingData::Missing), &samples, 10, 11);
    assert_eq!(states(&statuses), vec![I, F]);
    assert_eq!(statuses[1].transition, Some(Transition { from: I, to: F, at: at_min(11) }));
}

#[test]
fn a_for_duration_within_one_period_fires_at_the_first_met_evaluation() {
    // The whole breaching minute is behind us: it has held for 60 s already.
    let samples = per_minute(10, &[80.0]);
    let statuses = run(&rule(1, 1, 1, MissingData::Missing), &samples, 10, 11);
    assert_eq!(states(&statuses), vec![I, F]);
}

#[test]
fn a_good_datapoint_while_pending_restarts_the_for_duration() {
    let samples = per_minute(10, &[80.0, 80.0, 10.0, 80.0, 80.0, 80.0]);
    let statuses = run(&rule(1, 1, 3, MissingData::Missing), &samples, 11, 16);
    assert_eq!(states(&statuses), vec![P, P, K, P, P, F]);
    assert_eq!(statuses[3].breaching_since, Some(at_min(13)));
    let pending_to_ok = statuses[2].transition.unwrap();
    assert!(!pending_to_ok.is_resolve() && !pending_to_ok.is_fire());
}

#[test]
fn firing_then_a_good_datapoint_is_a_resolve() {
    let samples = per_minute(10, &[80.0, 20.0]);
    let statuses = run(&rule(1, 1, 0, MissingData::Missing), &samples, 11, 12);
    assert_eq!(states(&statuses), vec![F, K]);
    let resolve = statuses[1].transition.unwrap();
    assert!(resolve.is_resolve());
    assert_eq!(resolve, Transition { from: F, to: K, at: at_min(12) });
    assert_eq!(statuses[1].breaching_since, None);
}

#[test]
fn a_kept_state_keeps_its_since_and_reports_no_transition() {
    let samples = per_minute(10, &[80.0, 90.0, 95.0]);
    let statuses = run(&rule(1, 1, 0, MissingData::Missing), &samples, 11, 13);
    assert_eq!(states(&statuses), vec![F, F, F]);
    assert!(statuses.iter().all(|s| s.since == at_min(11)));
    assert_eq!(statuses[2].transition, None);
    assert_eq!(statuses[2].value, Some(95.0));
}

#[test]
fn m_of_n_fires_on_enough_breaching_datapoints_in_the_window() {
    // 2 of 3: X 0 X fires; X 0 0 does not.
    let r = rule(2, 3, 0, MissingData::Missing);
    let fires = evaluate(&r, &per_minute(10, &[80.0, 10.0, 80.0]), &AlarmStatus::default(), at_min(13));
    assert_eq!(fires.state, F);
    let quiet = evaluate(&r, &per_minute(10, &[80.0, 10.0, 10.0]), &AlarmStatus::default(), at_min(13));
    assert_eq!(quiet.state, K);
}

#[test]
fn all_data_missing_under_missing_is_insufficient_data_and_not_a_resolve() {
    let samples = per_minute(10, &[80.0]);
    // Minute 10 falls out of the 1 + 2 lookback range at 14.
    let statuses = run(&rule(1, 1, 0, MissingData::Missing), &samples, 11, 14);
    assert_eq!(states(&statuses), vec![F, F, F, I]);
    let t = statuses[3].transition.unwrap();
    assert!(!t.is_resolve());
    assert_eq!(statuses[3].value, None);
}

#[test]
fn ignore_keeps_firing_when_the_data_stops() {
    let samples = per_minute(10, &[80.0]);
    let statuses = run(&rule(1, 1, 0, MissingData::Ignore), &samples, 11, 20);
    assert!(statuses.iter().all(|s| s.state == F), "{:?}", states(&statuses));
}

#[test]
fn ignore_keeps_pending_without_promoting_it_on_no_data() {
    // Minute 10 breaches, then nothing: it stands in until 13 (lookback), when it has held
    // 3 of the 5 minutes; from 14 on nothing is known, and PENDING stays PENDING.
    let samples = per_minute(10, &[80.0]);
    let statuses = run(&rule(1, 1, 5, MissingData::Ignore), &samples, 11, 20);
    assert!(statuses.iter().all(|s| s.state == P), "{:?}", states(&statuses));
    assert!(statuses.iter().all(|s| s.breaching_since == Some(at_min(10))));
}

#[test]
fn a_kept_state_drops_a_breach_start_it_should_not_carry() {
    // Found by the properties: a previous INSUFFICIENT_DATA handed in with a start of
    // breach kept it through `ignore`'s "retain".
    let previous = AlarmStatus { breaching_since: Some(at_min(3)), ..AlarmStatus::new(at_min(0)) };
    let status = evaluate(&rule(2, 2, 0, MissingData::Ignore), &[], &previous, at_min(10));
    assert_eq!((status.state, status.breaching_since), (I, None));
}

#[test]
fn breaching_treatment_fires_when_the_data_stops() {
    let statuses = run(&rule(1, 1, 0, MissingData::Breaching), &[], 10, 11);
    assert_eq!(states(&statuses), vec![F, F]);
}

#[test]
fn nan_samples_never_breach_whatever_the_comparison() {
    let samples = per_minute(10, &[f64::NAN; 5]);
    for comparison in [
        Comparison::GreaterThan,
        Comparison::GreaterThanOrEqual,
        Comparison::LessThan,
        Comparison::LessThanOrEqual,
    ] {
        for missing_data in [MissingData::Missing, MissingData::NotBreaching, MissingData::Ignore] {
            let r = AlarmRule { comparison, ..rule(1, 1, 0, missing_data) };
            let statuses = run(&r, &samples, 11, 15);
            assert!(
                statuses.iter().all(|s| s.state != F && s.value.is_none()),
                "{comparison:?} {missing_data:?}"
            );
        }
    }
}

#[test]
fn nan_among_real_samples_does_not_change_the_statistic() {
    let mut samples = per_minute(10, &[40.0]);
    samples.push(Sample { at: Timestamp::from_millis(10 * MIN + 40_000), value: f64::NAN });
    let status =
        evaluate(&rule(1, 1, 0, MissingData::Missing), &samples, &AlarmStatus::default(), at_min(11));
    assert_eq!((status.state, status.value), (K, Some(40.0)));
}

#[test]
fn the_incomplete_period_does_not_count() {
    // Minute 11 is breaching but still running at 11:59.
    let samples = per_minute(10, &[10.0, 99.0]);
    let status = evaluate(
        &rule(1, 1, 0, MissingData::Missing),
        &samples,
        &AlarmStatus::default(),
        at_min(12).minus(Duration::from_secs(1)),
    );
    assert_eq!(status.state, K);
}

#[test]
fn a_status_converts_to_the_policy_alarm_input() {
    let r = queue_high();
    let status = AlarmStatus {
        state: F,
        since: at_min(7),
        value: Some(127.0),
        value_at: Some(at_min(6)),
        breaching_since: Some(at_min(5)),
        transition: None,
    };
    assert_eq!(
        status.to_input(&r),
        AlarmInput {
            name: "queue-high".into(),
            state: F,
            value: Some(127.0),
            value_at: Some(at_min(6)),
            threshold: 50.0,
            since: Some(at_min(7))
        }
    );
}

#[test]
fn a_status_round_trips_through_json() {
    let samples = per_minute(10, &[80.0]);
    let status = evaluate(&queue_high(), &samples, &AlarmStatus::default(), at_min(11));
    let json = serde_json::to_string(&status).unwrap();
    assert!(json.contains("\"PENDING\""), "{json}");
    assert_eq!(serde_json::from_str::<AlarmStatus>(&json).unwrap(), status);
}

#[test]
fn queue_high_fires_after_two_minutes_above_fifty() {
    let samples = per_minute(10, &[127.0, 130.0, 20.0]);
    let statuses = run(&queue_high(), &samples, 10, 13);
    assert_eq!(states(&statuses), vec![I, P, F, K]);
    assert!(statuses[3].transition.unwrap().is_resolve());
}

#[test]
fn latency_alarm_fires_after_five_minutes_and_an_idle_group_is_ok() {
    let samples = per_minute(10, &[2.5; 5]);
    let statuses = run(&latency_p95_high(), &samples, 10, 20);
    // Breaching minutes 10..=14: PENDING at 11, FIRING at 15 (five minutes held). Then no
    // traffic, no percentile: the last real datapoints stand in while they are within the
    // lookback (as CloudWatch keeps re-evaluating the last datapoints after a metric
    // stops), then missing is not breaching → OK, a resolve.
    assert_eq!(states(&statuses), vec![K, P, P, P, P, F, F, F, K, K, K]);
    assert!(statuses[8].transition.unwrap().is_resolve());
}

#[test]
fn gpu_util_fires_on_two_of_two_five_minute_periods() {
    let r = gpu_util_high();
    let five = 5 * MIN;
    // One sample a minute: 0.9 over 10:00–20:00 (two whole periods), from minute 10.
    let samples = per_minute(10, &[0.9; 10]);
    let at = |ms: i64| Timestamp::from_millis(ms);
    let one_period = evaluate(&r, &samples, &AlarmStatus::default(), at(3 * five));
    assert_eq!(one_period.state, K, "only 10:00–15:00 is complete; 05:00–10:00 is missing");
    let two_periods = evaluate(&r, &samples, &one_period, at(4 * five));
    assert_eq!(two_periods.state, F);
}

#[test]
fn under_missing_m_counts_only_the_datapoints_present() {
    // CloudWatch's `missing` judges M of the real datapoints when fewer than N exist (its
    // table: 3 of 3 with only `X` present → ALARM). So a 2-of-2 rule fires on a single
    // breaching period after a gap; the seed GPU-util rule uses not_breaching to avoid it.
    let r = AlarmRule { missing_data: MissingData::Missing, ..gpu_util_high() };
    let samples = per_minute(10, &[0.9; 5]);
    let status = evaluate(&r, &samples, &AlarmStatus::default(), at_min(15));
    assert_eq!(status.state, F);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

const UNIT_MS: i64 = 10_000;
const NOW_MS: i64 = 1_000 * UNIT_MS;

fn any_state() -> impl Strategy<Value = AlarmState> {
    prop_oneof![Just(K), Just(P), Just(F), Just(I)]
}

fn any_treatment() -> impl Strategy<Value = MissingData> {
    prop_oneof![
        Just(MissingData::Missing),
        Just(MissingData::Ignore),
        Just(MissingData::Breaching),
        Just(MissingData::NotBreaching)
    ]
}

fn any_statistic() -> impl Strategy<Value = Statistic> {
    prop_oneof![
        Just(Statistic::Average),
        Just(Statistic::Maximum),
        Just(Statistic::Minimum),
        Just(Statistic::Sum),
        Just(Statistic::SampleCount),
        Just(Statistic::Last)
    ]
}

fn any_comparison() -> impl Strategy<Value = Comparison> {
    prop_oneof![
        Just(Comparison::GreaterThan),
        Just(Comparison::GreaterThanOrEqual),
        Just(Comparison::LessThan),
        Just(Comparison::LessThanOrEqual)
    ]
}

prop_compose! {
    fn any_rule()(
        n in 1u32..=5,
        m_seed in 0u32..5,
        period_units in 1u64..=4,
        for_units in 0u64..=12,
        threshold in -8i32..=8,
        statistic in any_statistic(),
        comparison in any_comparison(),
        missing_data in any_treatment(),
    ) -> AlarmRule {
        AlarmRule {
 severity: crate::model::Severity::default(),
 runbook: None,
            name: "p".into(),
            metric: MetricKind::GpuUtil,
            statistic,
            comparison,
            // Multiples of 0.25 are exact in binary: sums do not depend on the order.
            threshold: threshold as f64 * 0.25,
            period: Duration::from_millis(period_units * UNIT_MS as u64),
            datapoints_to_alarm: m_seed % n + 1,
            evaluation_periods: n,
            for_duration: Duration::from_millis(for_units * UNIT_MS as u64),
            missing_data,
            description: None,
        }
    }
}

prop_compose! {
    /// Samples around the evaluation range, at distinct instants (so `last` does not
    /// depend on the order), some NaN or infinite.
    fn any_samples()(points in prop::collection::btree_map(
        (NOW_MS - 40 * UNIT_MS)..(NOW_MS + 2 * UNIT_MS),
        prop_oneof![8 => (-12i32..=12).prop_map(|k| k as f64 * 0.25), 1 => Just(f64::NAN), 1 => Just(f64::INFINITY)],
        0..24,
    )) -> Vec<Sample> {
        points.into_iter().map(|(at, value)| Sample { at: Timestamp::from_millis(at), value }).collect()
    }
}

prop_compose! {
    fn any_previous()(
        state in any_state(),
        since in (NOW_MS - 60 * UNIT_MS)..=NOW_MS,
        breaching_back in prop::option::of(0i64..=60),
    ) -> AlarmStatus {
        let breaching_since = match state {
            P | F => Some(Timestamp::from_millis(NOW_MS - breaching_back.unwrap_or(0) * UNIT_MS)),
            _ => breaching_back.map(|b| Timestamp::from_millis(NOW_MS - b * UNIT_MS)),
        };
        AlarmStatus {
            state,
            since: Timestamp::from_millis(since),
            value: None,
            value_at: None,
            breaching_since,
            transition: None,
        }
    }
}

/// An independent statement of the condition: the datapoints the alarm decides on, as
/// "breaching" flags, built from scratch from the samples.
fn oracle_met(rule: &AlarmRule, samples: &[Sample], now: Timestamp) -> Option<bool> {
    let p = rule.period.as_millis() as i64;
    let n = rule.evaluation_periods as usize;
    let m = rule.datapoints_to_alarm as usize;
    let newest = now.as_millis().div_euclid(p) - 1;
    let range = (newest - (n as i64 + 1))..=newest;
    let flags: Vec<Option<bool>> = range
        .map(|index| {
            let mut vals: Vec<(i64, f64)> = samples
                .iter()
                .filter(|s| s.value.is_finite() && s.at.as_millis().div_euclid(p) == index)
                .map(|s| (s.at.as_millis(), s.value))
                .collect();
            if vals.is_empty() {
                return None;
            }
            vals.sort_by_key(|v| v.0);
            let xs: Vec<f64> = vals.iter().map(|v| v.1).collect();
            let stat = match rule.statistic {
                Statistic::Average => xs.iter().sum::<f64>() / xs.len() as f64,
                Statistic::Maximum => xs.iter().cloned().fold(f64::MIN, f64::max),
                Statistic::Minimum => xs.iter().cloned().fold(f64::MAX, f64::min),
                Statistic::Sum => xs.iter().sum(),
                Statistic::SampleCount => xs.len() as f64,
                Statistic::Last => *xs.last().unwrap(),
            };
            Some(rule.comparison.breaches(stat, rule.threshold))
        })
        .collect();
    let real: Vec<bool> = flags.iter().flatten().copied().collect();
    let mut decided: Vec<bool> = real.iter().rev().take(n).copied().collect();
    let fill = n - decided.len();
    match rule.missing_data {
        MissingData::Breaching => decided.extend(std::iter::repeat_n(true, fill)),
        MissingData::NotBreaching => decided.extend(std::iter::repeat_n(false, fill)),
        MissingData::Missing | MissingData::Ignore if decided.is_empty() => return None,
        // Missing datapoints are not considered: M of what is there.
        MissingData::Missing => {
            return Some(decided.iter().filter(|b| **b).count() >= m.min(decided.len()));
        }
        // Fewer than M real breaches: good data says OK; otherwise nothing is decided.
        MissingData::Ignore if decided.iter().filter(|b| **b).count() < m => {
            return decided.iter().any(|b| !b).then_some(false);
        }
        MissingData::Ignore => {}
    }
    Some(decided.iter().filter(|b| **b).count() >= m)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn evaluation_is_deterministic_and_independent_of_sample_order(
        rule in any_rule(), samples in any_samples(), previous in any_previous(), now_offset in 0i64..UNIT_MS,
    ) {
        let now = Timestamp::from_millis(NOW_MS + now_offset);
        let once = evaluate(&rule, &samples, &previous, now);
        prop_assert_eq!(&evaluate(&rule, &samples, &previous, now), &once);
        let reversed: Vec<Sample> = samples.iter().rev().copied().collect();
        prop_assert_eq!(&evaluate(&rule, &reversed, &previous, now), &once);
    }

    #[test]
    fn the_shortcut_evaluation_agrees_with_the_datapoints(
        rule in any_rule(), samples in any_samples(), now_offset in 0i64..UNIT_MS,
    ) {
        let now = Timestamp::from_millis(NOW_MS + now_offset);
        let points = window::datapoints(&rule, &samples, now);
        let newest = points.iter().rev().find(|d| d.value.is_some()).copied();
        prop_assert_eq!(window::evaluate_range(&rule, &samples, now), (window::condition(&rule, &points), newest));
    }

    #[test]
    fn sorted_chunks_evaluate_as_the_samples_do(
        rule in any_rule(), samples in any_samples(), previous in any_previous(), now_offset in 0i64..UNIT_MS,
        cuts in prop::collection::vec(0usize..24, 0..4),
    ) {
        let now = Timestamp::from_millis(NOW_MS + now_offset);
        // `any_samples` are in time order; cut them into chunks anywhere.
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(samples.len())).collect();
        cuts.extend([0, samples.len()]);
        cuts.sort_unstable();
        let chunks = cuts.windows(2).map(|w| &samples[w[0]..w[1]]);
        prop_assert_eq!(evaluate_sorted(&rule, chunks, &previous, now), evaluate(&rule, &samples, &previous, now));
    }

    #[test]
    fn only_samples_in_the_evaluation_range_matter(
        rule in any_rule(), samples in any_samples(), previous in any_previous(), now_offset in 0i64..UNIT_MS,
    ) {
        let now = Timestamp::from_millis(NOW_MS + now_offset);
        let range = window::evaluation_range(&rule, now);
        let inside: Vec<Sample> = samples.iter().filter(|s| range.contains(&s.at)).copied().collect();
        prop_assert_eq!(evaluate(&rule, &inside, &previous, now), evaluate(&rule, &samples, &previous, now));
    }

    #[test]
    fn all_missing_and_not_breaching_is_never_firing(
        rule in any_rule(), previous in any_previous(),
        nan_at in prop::collection::vec((NOW_MS - 40 * UNIT_MS)..NOW_MS, 0..10),
    ) {
        let rule = AlarmRule { missing_data: MissingData::NotBreaching, ..rule };
        let samples: Vec<Sample> =
            nan_at.iter().map(|at| Sample { at: Timestamp::from_millis(*at), value: f64::NAN }).collect();
        let status = evaluate(&rule, &samples, &previous, Timestamp::from_millis(NOW_MS));
        prop_assert_ne!(status.state, F);
        prop_assert_eq!(status.state, K);
    }

    #[test]
    fn firing_starts_only_when_m_of_n_breach_and_the_for_duration_has_passed(
        rule in any_rule(), samples in any_samples(), previous in any_previous(), now_offset in 0i64..UNIT_MS,
    ) {
        let now = Timestamp::from_millis(NOW_MS + now_offset);
        let status = evaluate(&rule, &samples, &previous, now);
        let met = oracle_met(&rule, &samples, now);
        if status.state == F && previous.state != F {
            prop_assert_eq!(met, Some(true));
            let since = status.breaching_since.unwrap();
            prop_assert!(now.since(since) >= rule.for_duration);
        }
        // And the rest of the machine agrees with the oracle.
        match (met, rule.missing_data) {
            (Some(true), _) => prop_assert!(matches!(status.state, P | F)),
            (Some(false), _) => prop_assert_eq!(status.state, K),
            (None, MissingData::Missing) => prop_assert_eq!(status.state, I),
            (None, _) => prop_assert_eq!(status.state, previous.state),
        }
        prop_assert_eq!(status.breaching_since.is_some(), matches!(status.state, P | F));
        prop_assert_eq!(status.transition.is_some(), status.state != previous.state);
    }
}
