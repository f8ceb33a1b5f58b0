use std::time::Duration;

use super::{at, temp_db};
use crate::model::{MetricKind, Timestamp};
use crate::policy::predictive::build_load_profile;
use crate::store::{HISTORY_RETENTION, MinuteAggregate, Store};

/// Monday 2026-11-23 00:00 UTC.
const MONDAY: i64 = 1_795_392_000;
const HOUR: Duration = Duration::from_secs(3600);

fn minute(n: i64, mean: f64, max: f64) -> MinuteAggregate {
    MinuteAggregate { minute: at(MONDAY + n * 60), mean, max }
}

#[test]
fn minutes_load_back_oldest_first_from_the_given_start() {
    let store = Store::open_in_memory().unwrap();
    let metric = MetricKind::GpuUtil;
    store
        .record_minutes("a", &metric, &[minute(2, 0.3, 0.4), minute(0, 0.1, 0.2), minute(1, 0.2, 0.3)])
        .unwrap();
    store.record_minutes("a", &MetricKind::QueueLength, &[minute(1, 9.0, 9.0)]).unwrap();
    store.record_minutes("b", &metric, &[minute(1, 7.0, 7.0)]).unwrap();
    let loaded = store.load_minutes("a", &metric, at(MONDAY + 60)).unwrap();
    assert_eq!(loaded, vec![minute(1, 0.2, 0.3), minute(2, 0.3, 0.4)]);
}

#[test]
fn recording_a_minute_again_takes_its_mean_and_keeps_the_larger_max() {
    let store = Store::open_in_memory().unwrap();
    let metric = MetricKind::LatencyP95;
    store.record_minutes("a", &metric, &[minute(0, 1.0, 2.0)]).unwrap();
    store.record_minutes("a", &metric, &[minute(0, 1.5, 3.0)]).unwrap();
    assert_eq!(store.load_minutes("a", &metric, at(0)).unwrap(), vec![minute(0, 1.5, 3.0)]);
    // A restart inside the minute writes it again from fewer samples: the spike before
    // the restart stays, and a missing max never replaces one.
    store.record_minutes("a", &metric, &[minute(0, 0.5, 0.6)]).unwrap();
    store.record_minutes("a", &metric, &[minute(0, 0.5, f64::NAN)]).unwrap();
    assert_eq!(store.load_minutes("a", &metric, at(0)).unwrap(), vec![minute(0, 0.5, 3.0)]);
}

#[test]
fn filling_minutes_writes_only_those_missing_and_keeps_the_recorded_ones() {
    let store = Store::open_in_memory().unwrap();
    let metric = MetricKind::RequestRate;
    store.record_minutes("a", &metric, &[minute(1, 5.0, 8.0)]).unwrap();
    let history =
        [minute(0, 4.0, 4.0), minute(1, 4.5, 4.5), minute(2, f64::NAN, f64::NAN), minute(3, 6.0, 6.0)];
    let written = store.fill_minutes_batch(&[("a", &metric, &history)]).unwrap();
    assert_eq!(written, 2, "minutes 0 and 3: 1 is held, 2 is a gap");
    assert_eq!(
        store.load_minutes("a", &metric, at(0)).unwrap(),
        vec![minute(0, 4.0, 4.0), minute(1, 5.0, 8.0), minute(3, 6.0, 6.0)]
    );
}

#[test]
fn a_time_inside_a_minute_is_stored_as_the_minute_start() {
    let store = Store::open_in_memory().unwrap();
    let inside = MinuteAggregate {
        minute: Timestamp::from_millis((MONDAY + 60) * 1000 + 59_999),
        ..minute(0, 1.0, 1.0)
    };
    store.record_minutes("a", &MetricKind::GpuUtil, &[inside]).unwrap();
    assert_eq!(store.load_minutes("a", &MetricKind::GpuUtil, at(0)).unwrap(), vec![minute(1, 1.0, 1.0)]);
}

#[test]
fn gap_minutes_are_not_stored_and_a_missing_max_reads_as_nan() {
    let store = Store::open_in_memory().unwrap();
    let written = store
        .record_minutes("a", &MetricKind::GpuUtil, &[minute(0, f64::NAN, f64::NAN), minute(1, 0.5, f64::NAN)])
        .unwrap();
    assert_eq!(written, 1);
    let loaded = store.load_minutes("a", &MetricKind::GpuUtil, at(0)).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!((loaded[0].minute, loaded[0].mean), (at(MONDAY + 60), 0.5));
    assert!(loaded[0].max.is_nan());
}

#[test]
fn custom_metrics_are_kept_apart_by_name() {
    let store = Store::open_in_memory().unwrap();
    let custom = MetricKind::Custom("gpu_util".into());
    store.record_minutes("a", &custom, &[minute(0, 5.0, 5.0)]).unwrap();
    assert!(store.load_minutes("a", &MetricKind::GpuUtil, at(0)).unwrap().is_empty());
    assert_eq!(store.load_minutes("a", &custom, at(0)).unwrap().len(), 1);
}

#[test]
fn prune_history_deletes_minutes_before_the_cutoff() {
    let store = Store::open_in_memory().unwrap();
    let points: Vec<_> = (0..10).map(|n| minute(n, n as f64, n as f64)).collect();
    store.record_minutes("a", &MetricKind::GpuUtil, &points).unwrap();
    store.record_minutes("b", &MetricKind::GpuUtil, &points).unwrap();
    assert_eq!(store.prune_history(at(MONDAY + 4 * 60)).unwrap(), 8);
    let left = store.load_minutes("a", &MetricKind::GpuUtil, at(0)).unwrap();
    assert_eq!(left.first().map(|m| m.minute), Some(at(MONDAY + 4 * 60)));
    assert_eq!(left.len(), 6);
}

#[test]
fn history_survives_a_reopen() {
    let (_dir, path) = temp_db();
    Store::open(&path).unwrap().record_minutes("a", &MetricKind::GpuUtil, &[minute(0, 0.5, 0.9)]).unwrap();
    let loaded = Store::open(&path).unwrap().load_minutes("a", &MetricKind::GpuUtil, at(0)).unwrap();
    assert_eq!(loaded, vec![minute(0, 0.5, 0.9)]);
}

/// Eight days from a Monday: the hour of the day plus 100 × the day of the week, ±1
/// around that on alternate minutes (so a slot's mean is exact).
fn eight_days() -> Vec<MinuteAggregate> {
    (0..8 * 24 * 60)
        .map(|n| {
            let (day, hour) = ((n / (24 * 60)) % 7, (n / 60) % 24);
            let wiggle = if n % 2 == 0 { 1.0 } else { -1.0 };
            let mean = (hour + 100 * day) as f64 + wiggle;
            minute(n, mean, mean + 5.0)
        })
        .collect()
}

#[test]
fn the_profile_minutes_are_the_groups_means_in_the_retention_window_before_now() {
    let store = Store::open_in_memory().unwrap();
    let metric = MetricKind::RequestRate;
    let minutes = eight_days();
    store.record_minutes("a", &metric, &minutes).unwrap();
    // Noise that must not count: another group, a minute past `now`, one before retention.
    store.record_minutes("b", &metric, &[minute(0, 1e6, 1e6)]).unwrap();
    let now = at(MONDAY + 8 * 86_400);
    store.record_minutes("a", &metric, &[MinuteAggregate { minute: now, mean: 1e6, max: 1e6 }]).unwrap();
    let too_old = now.minus(HISTORY_RETENTION).minus(Duration::from_secs(60));
    store.record_minutes("a", &metric, &[MinuteAggregate { minute: too_old, mean: 1e6, max: 1e6 }]).unwrap();

    let points = store.profile_minutes("a", &metric, now).unwrap();

    let expected: Vec<_> = minutes.iter().map(|m| (m.minute, m.mean)).collect();
    assert_eq!(points, expected, "the means of group a in [now - retention, now), oldest first");
    // What the engine builds from them: Monday appears twice in eight days, every other
    // weekday once, so the daily 09:00 slot averages day index 21/8.
    let profile = build_load_profile(&points, HOUR).unwrap();
    assert_eq!(profile.days_of_history, 8.0);
    assert_eq!(profile.daily[9], 9.0 + 100.0 * 21.0 / 8.0);
    assert_eq!(profile.weekly[24 + 9], 109.0, "Tuesday 09:00");
}

#[test]
fn no_history_gives_no_profile_minutes() {
    let store = Store::open_in_memory().unwrap();
    assert!(store.profile_minutes("a", &MetricKind::GpuUtil, at(MONDAY)).unwrap().is_empty());
}
