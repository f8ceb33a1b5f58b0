//! Predictive scaling on a generated two-week trace with a weekly pattern.

use super::*;
use crate::model::MetricKind;

const MINUTE_MS: i64 = 60_000;
/// Monday 2024-01-01 00:00 UTC.
const MONDAY: i64 = 1_704_067_200_000;
const LEAD: Duration = Duration::from_secs(15 * 60);
const SLOT: Duration = Duration::from_secs(5 * 60);

fn t(day: i64, hour: i64, minute: i64) -> Timestamp {
    Timestamp::from_millis(MONDAY + day * DAY_MS + (hour * 60 + minute) * MINUTE_MS)
}

/// Requests per second: 40 at night and all weekend; on weekdays 240 from 09:00 to
/// 18:00 (a sharp morning ramp). Per-minute noise that averages out within each
/// 5-minute slot, so the slot means are exact.
fn load(at: Timestamp) -> f64 {
    let minutes = (at.as_millis() - MONDAY).div_euclid(MINUTE_MS);
    let day_of_week = minutes.div_euclid(24 * 60).rem_euclid(7);
    let minute_of_day = minutes.rem_euclid(24 * 60);
    let busy = day_of_week < 5 && (9 * 60..18 * 60).contains(&minute_of_day);
    let noise = [3.0, -3.0, 2.0, -2.0, 0.0][minutes.rem_euclid(5) as usize];
    if busy { 240.0 + noise } else { 40.0 + noise }
}

/// One point a minute for `days` days from Monday 2024-01-01.
fn trace(days: i64) -> Vec<(Timestamp, f64)> {
    (0..days * 24 * 60)
        .map(|m| Timestamp::from_millis(MONDAY + m * MINUTE_MS))
        .map(|at| (at, load(at)))
        .collect()
}

fn spec() -> PredictiveSpec {
    PredictiveSpec {
        metric: MetricKind::RequestRate,
        target_per_instance: 30.0,
        mode: PredictiveMode::ForecastOnly,
        lead: Some(LEAD),
    }
}

fn capacity(desired: u32) -> Capacity {
    Capacity { desired, ready: desired, warming: 0, failed: 0, observed_at: Timestamp::default() }
}

fn propose(profile: &LoadProfile, now: Timestamp) -> Proposal {
    predictive_proposal(&spec(), Some(profile), &capacity(2), Duration::from_secs(300), now)
}

#[test]
fn the_ramp_capacity_is_proposed_one_lead_before_the_weekday_ramp() {
    // Profile of weeks 1–2, forecasting Monday of week 3 (day 14): 240/s ÷ 30 → 8 from
    // 09:00, so from 08:45 with a 15-minute lead; 40/s → 2 before that.
    let profile = build_load_profile(&trace(14), SLOT).unwrap();
    let cases = [
        ("well before the ramp", t(14, 6, 0), 2),
        ("one slot before ramp − lead", t(14, 8, 40), 2),
        ("at ramp − lead", t(14, 8, 45), 8),
        ("during the ramp", t(14, 12, 0), 8),
        ("after the evening drop", t(14, 18, 0), 2),
        ("Wednesday at ramp − lead", t(16, 8, 45), 8),
    ];
    for (what, now, want) in cases {
        let proposal = propose(&profile, now);
        assert_eq!(proposal.desired, Some(want), "{what}: {}", proposal.reason);
    }
}

#[test]
fn the_default_lead_applies_when_the_spec_has_none() {
    let profile = build_load_profile(&trace(14), SLOT).unwrap();
    let spec = PredictiveSpec { lead: None, ..spec() };
    let at =
        |now| predictive_proposal(&spec, Some(&profile), &capacity(2), Duration::from_secs(30 * 60), now);
    assert_eq!(at(t(14, 8, 30)).desired, Some(8));
    assert_eq!(at(t(14, 8, 25)).desired, Some(2));
}

#[test]
fn weekend_mornings_follow_the_weekly_profile_not_the_daily_mean() {
    // The daily mean at 10:00 is (5 × 240 + 2 × 40) / 7 ≈ 183/s → 7 instances; the weekly
    // slot knows Saturday is quiet.
    let profile = build_load_profile(&trace(14), SLOT).unwrap();
    let saturday = propose(&profile, t(19, 10, 0));
    assert_eq!(saturday.desired, Some(2), "{}", saturday.reason);
}

#[test]
fn an_unseen_weekly_slot_falls_back_to_the_daily_profile() {
    // With no weekly data at all, Monday noon gets the daily mean:
    // (10 × 240 + 4 × 40) / 14 ≈ 183/s → 7 instances.
    let mut profile = build_load_profile(&trace(14), SLOT).unwrap();
    profile.weekly.fill(f64::NAN);
    let proposal = propose(&profile, t(14, 12, 0));
    assert_eq!(proposal.desired, Some(7), "{}", proposal.reason);
    assert!(proposal.reason.contains("(daily slot 12:00)"), "{}", proposal.reason);
}

#[test]
fn with_less_than_seven_days_of_history_there_is_no_opinion() {
    let profile = build_load_profile(&trace(6), SLOT).unwrap();
    assert_eq!(profile.days_of_history, 6.0);
    let proposal = propose(&profile, t(14, 8, 45));
    assert_eq!(proposal.desired, None);
    assert!(proposal.reason.contains("needs 7 days of history, has 6.0"), "{}", proposal.reason);
    let none = predictive_proposal(&spec(), None, &capacity(2), LEAD, t(14, 8, 45));
    assert!(none.desired.is_none() && none.reason.contains("no load profile"), "{}", none.reason);
}

#[test]
fn it_never_claims_it_may_scale_in() {
    // Every 5 minutes over a week, with a fleet larger than any forecast needs.
    let profile = build_load_profile(&trace(14), SLOT).unwrap();
    for step in 0..7 * 24 * 12 {
        let now = Timestamp::from_millis(t(14, 0, 0).as_millis() + step * 5 * MINUTE_MS);
        let proposal = predictive_proposal(&spec(), Some(&profile), &capacity(20), LEAD, now);
        assert!(proposal.desired.is_some_and(|d| d < 20));
        assert!(!proposal.may_scale_in, "{}", proposal.reason);
    }
}

#[test]
fn the_reason_states_the_forecast_its_slot_and_the_mode() {
    let profile = build_load_profile(&trace(14), SLOT).unwrap();
    let proposal = propose(&profile, t(14, 8, 50));
    assert_eq!(
        proposal.reason,
        "predictive (forecast only): forecast request_rate 240/s at 09:00 UTC (weekly slot Mon 09:00) → 8 instances \
         at 30 per instance (peak of the next 15m; now 2)"
    );
}

#[test]
fn a_profile_is_the_mean_per_slot_with_nan_where_no_data() {
    let points = [
        (t(0, 9, 0), 10.0),
        (t(0, 9, 4), 20.0),
        (t(7, 9, 1), 60.0),
        (t(1, 9, 2), f64::NAN),
        (t(1, 9, 3), 30.0),
    ];
    let profile = build_load_profile(&points, SLOT).unwrap();
    let nine = 9 * 12;
    assert_eq!(profile.daily[nine], (10.0 + 20.0 + 60.0 + 30.0) / 4.0);
    assert_eq!(profile.weekly[nine], 30.0, "Mondays: 10, 20, 60");
    assert_eq!(profile.weekly[288 + nine], 30.0, "Tuesday: 30, NaN skipped");
    assert!(profile.daily[nine + 1].is_nan() && profile.weekly[2 * 288 + nine].is_nan());
    assert_eq!((profile.daily.len(), profile.weekly.len()), (288, 2016));
    assert_eq!(profile.days_of_history, (7.0 * 288.0 + 1.0) / 288.0);
}

#[test]
fn a_slot_that_does_not_divide_a_day_is_refused() {
    for slot in [Duration::ZERO, Duration::from_secs(7 * 60), Duration::from_micros(1500)] {
        assert_eq!(build_load_profile(&[], slot), Err(ProfileSlotError(slot)));
    }
}

#[test]
fn the_forecast_capacity_follows_the_weekday_ramp_slot_by_slot() {
    let profile = build_load_profile(&trace(14), SLOT).unwrap();
    let curve = forecast_capacity(&spec(), Some(&profile), t(14, 8, 50), t(14, 9, 10));
    let expected =
        [(t(14, 8, 50), 2), (t(14, 8, 55), 2), (t(14, 9, 0), 8), (t(14, 9, 5), 8), (t(14, 9, 10), 8)];
    assert_eq!(curve, expected);
    // The proposal asks, one lead ahead, for the curve's peak.
    let proposal = propose(&profile, t(14, 8, 50));
    assert_eq!(proposal.desired, curve.iter().map(|(_, n)| *n).max());
    // No forecast where the policy would have no opinion.
    let young = build_load_profile(&trace(3), SLOT).unwrap();
    assert!(forecast_capacity(&spec(), Some(&young), t(3, 8, 0), t(3, 10, 0)).is_empty());
    assert!(forecast_capacity(&spec(), None, t(14, 8, 0), t(14, 10, 0)).is_empty());
}
