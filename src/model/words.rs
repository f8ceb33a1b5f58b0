//! How fleetdeck writes numbers, metric values, times of day and alarm states in words:
//! short, unit-bearing, the same everywhere — in the policy's reasons and on the console
//! ("gpu_util 0.93", "latency_p95 1.90s", "until 14:30 UTC"). Pure functions of model
//! types; no clock (a time is passed in).

use crate::model::{AlarmState, MetricKind, Timestamp, Unit};

/// A metric value in its unit.
pub fn value(kind: &MetricKind, v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    match kind.unit() {
        Unit::Fraction => format!("{v:.2}"),
        Unit::Seconds if v < 1.0 => format!("{:.0}ms", v * 1000.0),
        Unit::Seconds => format!("{v:.2}s"),
        Unit::PerSecond => format!("{}/s", number(v)),
        Unit::Count | Unit::Unknown => number(v),
    }
}

/// Integers without decimals, others with up to two.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Wall-clock time of day in UTC, "14:30 UTC" (seconds shown only when not zero).
pub fn clock(t: Timestamp) -> String {
    let secs_of_day = t.as_millis().div_euclid(1000).rem_euclid(86_400);
    let (h, m, s) = (secs_of_day / 3600, secs_of_day % 3600 / 60, secs_of_day % 60);
    if s == 0 { format!("{h:02}:{m:02} UTC") } else { format!("{h:02}:{m:02}:{s:02} UTC") }
}

/// An alarm's state as CloudWatch spells it.
pub fn alarm_state(state: AlarmState) -> &'static str {
    match state {
        AlarmState::Ok => "OK",
        AlarmState::Pending => "PENDING",
        AlarmState::Firing => "FIRING",
        AlarmState::InsufficientData => "INSUFFICIENT_DATA",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_shows_utc_time_of_day() {
        assert_eq!(clock(Timestamp::from_millis((14 * 3600 + 30 * 60) * 1000)), "14:30 UTC");
        assert_eq!(clock(Timestamp::from_millis(86_400_000 + 5_000)), "00:00:05 UTC");
    }

    #[test]
    fn values_carry_their_unit() {
        assert_eq!(value(&MetricKind::GpuUtil, 0.934), "0.93");
        assert_eq!(value(&MetricKind::LatencyP95, 0.25), "250ms");
        assert_eq!(value(&MetricKind::LatencyP95, 1.9), "1.90s");
        assert_eq!(value(&MetricKind::RequestRate, 3.25), "3.25/s");
        assert_eq!(value(&MetricKind::QueueLength, 12.0), "12");
    }
}
