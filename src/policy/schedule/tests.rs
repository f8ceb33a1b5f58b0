//! Scheduled actions: DST, weekdays, persistence of bounds, one-tick desired, and the
//! expressions and zones refused when read.
//! Semantics follow AWS scheduled scaling ("Scheduled scaling for Amazon EC2 Auto Scaling",
//! <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-scheduled-scaling.html>):
//! min/max/desired are set at the occurrence, in the action's time zone.

use super::*;

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::from_millis(DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp_millis())
}

fn action(name: &str, cron: &str, zone: &str) -> ScheduledAction {
    ScheduledAction {
        name: name.into(),
        cron: CronExpr::parse(cron).unwrap(),
        timezone: TimeZone::parse(zone).unwrap(),
        min: None,
        max: None,
        desired: None,
    }
}

fn desired_action(name: &str, cron: &str, zone: &str, desired: u32) -> ScheduledAction {
    ScheduledAction { desired: Some(desired), ..action(name, cron, zone) }
}

fn fired(actions: &[ScheduledAction], last_tick: &str, now: &str) -> Option<(u32, String)> {
    scheduled_effect(actions, Some(at(last_tick)), at(now)).unwrap().desired
}

#[test]
fn a_daily_paris_action_follows_the_wall_clock_across_both_dst_changes() {
    // 08:00 Europe/Paris is 07:00 UTC in winter (CET) and 06:00 UTC in summer (CEST);
    // the clocks change on 2025-03-30 and 2025-10-26.
    let actions = [desired_action("morning", "0 8 * * *", "Europe/Paris", 6)];
    let cases = [
        ("winter, the day before the change", "2025-03-29T06:59:50Z", "2025-03-29T07:00:00Z", true),
        ("the spring change day, 08:00 CEST", "2025-03-30T05:59:50Z", "2025-03-30T06:00:00Z", true),
        (
            "the spring change day, 09:00 CEST is not 08:00",
            "2025-03-30T06:59:50Z",
            "2025-03-30T07:00:00Z",
            false,
        ),
        ("summer", "2025-07-01T05:59:50Z", "2025-07-01T06:00:00Z", true),
        (
            "the autumn change day, 07:00 CET is not 08:00",
            "2025-10-26T05:59:50Z",
            "2025-10-26T06:00:00Z",
            false,
        ),
        ("the autumn change day, 08:00 CET", "2025-10-26T06:59:50Z", "2025-10-26T07:00:00Z", true),
    ];
    for (what, last_tick, now, want) in cases {
        assert_eq!(fired(&actions, last_tick, now).is_some(), want, "{what}");
    }
}

#[test]
fn a_time_skipped_by_the_spring_change_fires_right_after_the_gap() {
    // 02:30 does not exist in Paris on 2025-03-30 (02:00 CET → 03:00 CEST); croner runs
    // it at the first instant after the gap, 03:00 CEST = 01:00 UTC.
    let actions = [desired_action("night", "30 2 * * *", "Europe/Paris", 1)];
    assert!(fired(&actions, "2025-03-30T00:59:50Z", "2025-03-30T01:00:00Z").is_some());
    assert!(fired(&actions, "2025-03-30T00:00:00Z", "2025-03-30T00:59:59Z").is_none());
}

#[test]
fn a_weekday_action_does_not_fire_on_the_weekend() {
    let actions = [desired_action("weekday-morning", "0 8 * * 1-5", "UTC", 8)];
    // 2025-03-28 is a Friday, 03-29 and 03-30 the weekend, 03-31 a Monday.
    assert!(fired(&actions, "2025-03-28T07:59:00Z", "2025-03-28T08:00:00Z").is_some());
    assert!(fired(&actions, "2025-03-29T07:59:00Z", "2025-03-29T08:00:00Z").is_none());
    assert!(fired(&actions, "2025-03-30T07:59:00Z", "2025-03-30T08:00:00Z").is_none());
    assert!(fired(&actions, "2025-03-31T07:59:00Z", "2025-03-31T08:00:00Z").is_some());
}

#[test]
fn min_and_max_stay_in_force_until_another_action_changes_them() {
    let day = ScheduledAction { min: Some(4), max: Some(20), ..action("day", "0 8 * * 1-5", "UTC") };
    let night = ScheduledAction { min: Some(1), ..action("night", "0 20 * * *", "UTC") };
    let actions = [day, night];
    let effect = |now: &str| scheduled_effect(&actions, None, at(now)).unwrap();
    let noon = effect("2025-03-28T12:00:00Z");
    assert_eq!(noon.min, Some((4, "day".into())));
    assert_eq!(noon.max, Some((20, "day".into())));
    let evening = effect("2025-03-28T22:00:00Z");
    assert_eq!(evening.min, Some((1, "night".into())));
    // Nothing changes max at night: the day's max holds over the weekend.
    let sunday = effect("2025-03-30T12:00:00Z");
    assert_eq!((sunday.min, sunday.max), (Some((1, "night".into())), Some((20, "day".into()))));
    assert_eq!(sunday.desired, None);
}

#[test]
fn desired_is_set_only_in_the_tick_that_contains_the_occurrence() {
    let actions = [desired_action("ramp", "0 8 * * *", "UTC", 10)];
    assert_eq!(fired(&actions, "2025-03-28T07:59:50Z", "2025-03-28T08:00:00Z"), Some((10, "ramp".into())));
    assert_eq!(fired(&actions, "2025-03-28T08:00:00Z", "2025-03-28T08:00:10Z"), None);
    assert_eq!(
        fired(&actions, "2025-03-28T07:59:00Z", "2025-03-28T08:00:00.500Z"),
        Some((10, "ramp".into()))
    );
    // A tick that was delayed still catches the occurrence it spans.
    assert_eq!(fired(&actions, "2025-03-28T07:55:00Z", "2025-03-28T08:04:00Z"), Some((10, "ramp".into())));
}

#[test]
fn without_a_previous_tick_no_desired_is_set() {
    // The first tick establishes bounds only; it does not replay a past occurrence.
    let actions = [desired_action("ramp", "0 8 * * *", "UTC", 10)];
    let effect = scheduled_effect(&actions, None, at("2025-03-28T08:00:00Z")).unwrap();
    assert_eq!(effect.desired, None);
}

#[test]
fn a_previous_tick_after_now_sets_no_desired() {
    let actions = [desired_action("ramp", "0 8 * * *", "UTC", 10)];
    assert_eq!(fired(&actions, "2025-03-28T09:00:00Z", "2025-03-28T08:00:00Z"), None);
}

#[test]
fn of_two_actions_at_the_same_instant_the_later_listed_wins() {
    let first = ScheduledAction { min: Some(2), desired: Some(3), ..action("first", "0 8 * * *", "UTC") };
    let second = ScheduledAction { min: Some(5), desired: Some(6), ..action("second", "0 8 * * *", "UTC") };
    let effect =
        scheduled_effect(&[first, second], Some(at("2025-03-28T07:59:00Z")), at("2025-03-28T08:00:00Z"));
    let effect = effect.unwrap();
    assert_eq!(effect.min, Some((5, "second".into())));
    assert_eq!(effect.desired, Some((6, "second".into())));
}

#[test]
fn the_most_recent_occurrence_wins_whatever_the_listing_order() {
    let late = ScheduledAction { min: Some(3), ..action("late", "0 9 * * *", "UTC") };
    let early = ScheduledAction { min: Some(7), ..action("early", "0 8 * * *", "UTC") };
    let effect = scheduled_effect(&[late, early], None, at("2025-03-28T10:00:00Z")).unwrap();
    assert_eq!(effect.min, Some((3, "late".into())));
}

#[test]
fn an_occurrence_older_than_the_lookback_no_longer_bounds_the_group() {
    let monthly = ScheduledAction { min: Some(3), ..action("monthly", "0 0 1 * *", "UTC") };
    let yearly = ScheduledAction { max: Some(9), ..action("new-year", "0 0 1 1 *", "UTC") };
    let effect = scheduled_effect(&[monthly, yearly], None, at("2025-07-20T00:00:00Z")).unwrap();
    assert_eq!(effect.min, Some((3, "monthly".into())));
    assert_eq!(effect.max, None);
}

#[test]
fn a_bad_cron_expression_is_refused_when_read() {
    for cron in ["0 8 * *", "61 8 * * *", "0 0 8 * * *", "every morning", ""] {
        let err = CronExpr::parse(cron).unwrap_err();
        assert_eq!(err.text, cron);
        assert!(err.to_string().starts_with(&format!("bad cron expression `{cron}`: ")), "{err}");
        assert!(err.to_string().ends_with("(expected 5 fields: minute hour day-of-month month day-of-week)"));
    }
}

#[test]
fn a_number_out_of_range_names_its_field() {
    for (cron, said) in [
        ("61 25 * * *", "minute 61 is outside 0–59"),
        ("0 25 * * *", "hour 25 is outside 0–23"),
        ("0 8 0 * *", "day-of-month 0 is outside 1–31"),
        ("0 8 * 1-13 *", "month 13 is outside 1–12"),
        ("0 8 * * 1,9", "day-of-week 9 is outside 0–7"),
    ] {
        let err = CronExpr::parse(cron).unwrap_err();
        assert_eq!(err.message, said, "{cron}");
    }
    // Steps count in the field's units: */90 is a step, not a minute.
    assert_eq!(out_of_range("*/90 * * * *"), None);
}

#[test]
fn a_bad_time_zone_is_refused_when_read() {
    let err = TimeZone::parse("Europe/Pariss").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown time zone `Europe/Pariss` (expected an IANA name such as Europe/Paris)"
    );
}

#[test]
fn an_action_reads_back_as_the_text_it_was_written_in() {
    let json = r#"{"name":"morning","cron":"0 8 * * 1-5","timezone":"Europe/Paris","min":4,"max":null,"desired":null}"#;
    let action: ScheduledAction = serde_json::from_str(json).unwrap();
    assert_eq!((action.cron.as_str(), action.timezone.as_str()), ("0 8 * * 1-5", "Europe/Paris"));
    assert_eq!(serde_json::to_string(&action).unwrap(), json);
    // The zone defaults to UTC; a bad expression or zone is a deserialisation error.
    let utc: ScheduledAction = toml::from_str("name = \"n\"\ncron = \"0 8 * * *\"").unwrap();
    assert_eq!(utc.timezone, TimeZone::utc());
    let err = toml::from_str::<ScheduledAction>("name = \"n\"\ncron = \"61 8 * * *\"").unwrap_err();
    assert!(err.to_string().contains("bad cron expression `61 8 * * *`"), "{err}");
    let err =
        toml::from_str::<ScheduledAction>("name = \"n\"\ncron = \"0 8 * * *\"\ntimezone = \"Mars/Olympus\"")
            .unwrap_err();
    assert!(err.to_string().contains("unknown time zone `Mars/Olympus`"), "{err}");
}

#[test]
fn the_next_occurrence_is_in_the_actions_time_zone() {
    let morning = action("morning", "0 8 * * *", "Europe/Paris");
    assert_eq!(next_occurrence(&morning, at("2025-03-29T12:00:00Z")), Some(at("2025-03-30T06:00:00Z")));
}

#[test]
fn a_time_repeated_by_the_autumn_change_fires_once_at_its_first_instant() {
    // 02:30 happens twice in Paris on 2025-10-26: 00:30 UTC (CEST) and 01:30 UTC (CET).
    let actions = [desired_action("night", "30 2 * * *", "Europe/Paris", 1)];
    assert!(fired(&actions, "2025-10-26T00:29:50Z", "2025-10-26T00:30:00Z").is_some());
    assert!(fired(&actions, "2025-10-26T01:29:50Z", "2025-10-26T01:30:00Z").is_none());
}
