//! Numbers as humans read them: fractions as `73%`, seconds as `850ms` / `1.25s`, counts
//! as `12` / `1.2k`, rates as `42/s`, money as `$12.34/h`, spans of time as
//! `14:02–16:40 UTC`. Non-finite values (a NaN percentile of an idle group) print as `–`,
//! never as `NaN`.

use std::time::Duration;

use crate::model::Timestamp;

/// What a missing or undefined value prints as.
pub const NO_VALUE: &str = "–";

/// A fraction 0–1 as a whole percentage.
pub fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return NO_VALUE.into();
    }
    format!("{:.0}%", fraction * 100.0)
}

/// Seconds with the unit that keeps three significant digits readable.
pub fn seconds(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return NO_VALUE.into();
    }
    if secs < 0.000_5 {
        "0ms".into()
    } else if secs < 1.0 {
        format!("{:.0}ms", secs * 1000.0)
    } else if secs < 10.0 {
        format!("{secs:.2}s")
    } else if secs < 100.0 {
        format!("{secs:.1}s")
    } else {
        format!("{secs:.0}s")
    }
}

/// A count, abbreviated past a thousand.
pub fn count(n: f64) -> String {
    if !n.is_finite() {
        return NO_VALUE.into();
    }
    let abs = n.abs();
    if abs < 1000.0 {
        format!("{n:.0}")
    } else if abs < 1_000_000.0 {
        format!("{:.1}k", n / 1000.0)
    } else {
        format!("{:.1}M", n / 1_000_000.0)
    }
}

/// A per-second rate with its unit, e.g. `42.5 req/s`.
pub fn rate(per_second: f64, unit: &str) -> String {
    if !per_second.is_finite() {
        return NO_VALUE.into();
    }
    if per_second < 10.0 {
        format!("{per_second:.1} {unit}/s")
    } else {
        format!("{} {unit}/s", count(per_second))
    }
}

/// Dollars, cents shown below a thousand.
pub fn usd(amount: f64) -> String {
    if !amount.is_finite() {
        return NO_VALUE.into();
    }
    if amount < 1000.0 { format!("${amount:.2}") } else { format!("${amount:.0}") }
}

/// Dollars per hour, e.g. `$12.34/h`.
pub fn usd_per_hour(amount: f64) -> String {
    format!("{}/h", usd(amount))
}

/// A short age or wait: `4s`, `1m05s`, `2h03m`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// A span of UTC time to the minute, `14:02–16:40 UTC`; with the days,
/// `12-31 21:22–01-01 00:40 UTC`, when it does not start and end on the same one.
pub fn utc_span(from: Timestamp, to: Timestamp) -> String {
    // RFC 3339, `2026-01-01T00:00:00Z`: the day is at 5..10, the time to the minute at 11..16.
    fn day(t: &str) -> &str {
        t.get(5..10).unwrap_or_default()
    }
    fn time(t: &str) -> &str {
        t.get(11..16).unwrap_or_default()
    }
    let (from, to) = (from.to_rfc3339(), to.to_rfc3339());
    if from.get(..10) == to.get(..10) {
        format!("{}–{} UTC", time(&from), time(&to))
    } else {
        format!("{} {}–{} {} UTC", day(&from), time(&from), day(&to), time(&to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_humans_write_them() {
        assert_eq!(percent(0.734), "73%");
        assert_eq!(percent(f64::NAN), "–");
        assert_eq!(seconds(0.85), "850ms");
        assert_eq!(seconds(1.234), "1.23s");
        assert_eq!(seconds(12.34), "12.3s");
        assert_eq!(seconds(f64::NAN), "–");
        assert_eq!(count(12.0), "12");
        assert_eq!(count(1234.0), "1.2k");
        assert_eq!(rate(42.0, "req"), "42 req/s");
        assert_eq!(rate(4.25, "req"), "4.2 req/s");
        assert_eq!(usd_per_hour(12.345), "$12.35/h");
        assert_eq!(usd_per_hour(1234.5), "$1234/h");
        assert_eq!(age(Duration::from_secs(65)), "1m05s");
        assert_eq!(age(Duration::from_secs(4)), "4s");
    }

    #[test]
    fn spans_of_time_name_the_days_only_across_midnight() {
        let at = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
        assert_eq!(utc_span(at("2026-01-01T14:02:00Z"), at("2026-01-01T16:40:00Z")), "14:02–16:40 UTC");
        assert_eq!(
            utc_span(at("2025-12-31T21:22:00Z"), at("2026-01-01T00:00:00Z")),
            "12-31 21:22–01-01 00:00 UTC"
        );
    }
}
