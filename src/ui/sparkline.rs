//! Inline sparklines: a series' recent points as a few block characters (`▁▂▃▅▇`) that
//! fit in a table cell. ratatui's `Sparkline` widget wants a whole area of its own, so
//! this builds a plain string the cell renders as a span.
//!
//! A cell is a handful of characters, so each character summarises a bucket of points
//! (the last [`WINDOW_POINTS`] split evenly): two minutes at the demo's 1 s polls, half
//! an hour at 15 s. A bucket shows its *maximum*: on call, the spike matters more than
//! the average that hides it.

use std::time::Duration;

use crate::model::{Sample, Timestamp};
use crate::series::SharedMinutes;

const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// How a sparkline maps values to heights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// 0–1 is the full height: a utilization at 50 % draws half-high whatever its peers.
    Fraction,
    /// 0 to the largest point shown, but never less than `floor`: latencies and queues
    /// have no natural ceiling, and without a floor a queue wobbling between 0 and 1
    /// would draw as full bars.
    ZeroToMax { floor: f64 },
}

/// How many of the newest points a sparkline summarises.
pub const WINDOW_POINTS: usize = 120;

/// The newest [`WINDOW_POINTS`] points as `width` block characters, newest on the
/// right, each the maximum of its bucket; a series with fewer points than `width` draws
/// one point a character, padded on the left so sparklines line up. A bucket with no
/// finite point draws as a space.
pub fn sparkline<'a, I>(points: I, width: usize, scale: Scale) -> String
where
    I: IntoIterator<Item = &'a Sample>,
    I::IntoIter: ExactSizeIterator,
{
    let points = points.into_iter();
    let n = points.len().min(WINDOW_POINTS);
    let chars = n.min(width);
    if chars == 0 {
        return " ".repeat(width);
    }
    let mut buckets = vec![None; chars];
    // Bucket b holds the window's points b·n/chars .. (b+1)·n/chars: every point in
    // exactly one.
    let end_of = |b: usize| (b + 1) * n / chars;
    let (mut b, mut end) = (0, end_of(0));
    let older = points.len() - n;
    for (j, point) in points.skip(older).enumerate() {
        while j >= end {
            b += 1;
            end = end_of(b);
        }
        add_max(&mut buckets[b], point.value);
    }
    draw(&buckets, width, scale)
}

/// `minutes` as `width` block characters over the `span` before `end`, newest on the
/// right: each character the highest minute maximum of its share of the span, a space
/// where no minute was held. Time, not the minutes held, sets the scale, so a short
/// history draws short, at the right.
pub fn minute_sparkline(
    minutes: &SharedMinutes,
    end: Timestamp,
    span: Duration,
    width: usize,
    scale: Scale,
) -> String {
    if width == 0 {
        return String::new();
    }
    let mut buckets = vec![None; width];
    let span_ms = i128::try_from(span.as_millis()).unwrap_or(i128::MAX).max(1);
    let (start, end) = (i128::from(end.as_millis()) - span_ms, i128::from(end.as_millis()));
    // Bucket b holds the minutes from b·span/width into the span (rounded up to the
    // millisecond) to where b + 1 starts. Walked from the newest, a bucket's start is
    // worked out only when the walk reaches it.
    let first = |b: usize| start + (b as i128 * span_ms + width as i128 - 1) / width as i128;
    let (mut b, mut from) = (width - 1, first(width - 1));
    for (at, point) in minutes.iter().rev() {
        let at = i128::from(at.as_millis());
        if at < start {
            break;
        }
        if at >= end {
            continue;
        }
        while at < from {
            b -= 1;
            from = first(b);
        }
        add_max(&mut buckets[b], f64::from(point.max));
    }
    draw(&buckets, width, scale)
}

/// Raises `bucket` to `value`; non-finite values are not data.
fn add_max(bucket: &mut Option<f64>, value: f64) {
    if value.is_finite() {
        *bucket = Some(bucket.map_or(value, |m| m.max(value)));
    }
}

/// One character a bucket, right-aligned in `width`.
fn draw(buckets: &[Option<f64>], width: usize, scale: Scale) -> String {
    let top = match scale {
        Scale::Fraction => 1.0,
        Scale::ZeroToMax { floor } => buckets.iter().flatten().fold(floor, |a, &b| a.max(b)),
    };
    let mut out = String::with_capacity(width * 3);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(buckets.len())));
    for bucket in buckets.iter().take(width) {
        match bucket {
            None => out.push(' '),
            Some(v) => {
                let level = if top > 0.0 { (v / top * 7.0).round().clamp(0.0, 7.0) as usize } else { 0 };
                out.push(LEVELS[level]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::MinutePoint;

    fn samples(values: &[f64]) -> Vec<Sample> {
        values.iter().enumerate().map(|(i, &value)| Sample { at: Timestamp(i as i64), value }).collect()
    }

    #[test]
    fn fractions_use_the_full_zero_to_one_range() {
        assert_eq!(sparkline(&samples(&[0.0, 0.5, 1.0, 2.0]), 4, Scale::Fraction), "▁▅██");
    }

    #[test]
    fn open_ended_values_scale_to_the_largest_shown() {
        assert_eq!(sparkline(&samples(&[1.0, 2.0, 4.0]), 3, Scale::ZeroToMax { floor: 0.0 }), "▃▅█");
    }

    #[test]
    fn a_floor_keeps_small_values_small() {
        assert_eq!(sparkline(&samples(&[0.0, 0.5, 1.0]), 3, Scale::ZeroToMax { floor: 7.0 }), "▁▂▂");
    }

    #[test]
    fn each_character_shows_the_maximum_of_its_bucket() {
        let values = [1.0, 8.0, 1.0, 1.0, 1.0, 1.0, 4.0, 1.0];
        assert_eq!(sparkline(&samples(&values), 4, Scale::ZeroToMax { floor: 0.0 }), "█▂▂▅");
    }

    #[test]
    fn only_the_newest_window_is_summarised() {
        let mut values = vec![100.0; 50];
        values.extend(std::iter::repeat_n(1.0, WINDOW_POINTS));
        assert_eq!(sparkline(&samples(&values), 2, Scale::ZeroToMax { floor: 0.0 }), "██");
    }

    #[test]
    fn short_and_empty_series_are_padded_left() {
        assert_eq!(sparkline(&samples(&[0.0, 0.0]), 4, Scale::ZeroToMax { floor: 0.0 }), "  ▁▁");
        assert_eq!(sparkline(&[], 3, Scale::Fraction), "   ");
        assert_eq!(sparkline(&samples(&[1.0]), 0, Scale::Fraction), "");
    }

    #[test]
    fn nan_points_leave_a_gap() {
        assert_eq!(sparkline(&samples(&[1.0, f64::NAN, 1.0]), 3, Scale::Fraction), "█ █");
    }

    #[test]
    fn a_shared_series_draws_as_its_points_would() {
        let values: Vec<f64> = (0..500).map(|i| (i % 17) as f64 / 16.0).collect();
        let mut buffer = crate::series::ChunkedBuffer::new(300);
        for s in samples(&values) {
            buffer.push(s);
        }
        let flat = samples(&values[200..]);
        assert_eq!(sparkline(buffer.seq(), 7, Scale::Fraction), sparkline(&flat, 7, Scale::Fraction));
    }

    fn minutes(values: &[f32]) -> SharedMinutes {
        let points = values.iter().map(|&v| MinutePoint { mean: v / 2.0, max: v }).collect();
        SharedMinutes::new(Timestamp(0), points)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn minutes_are_placed_by_time_with_the_newest_on_the_right() {
        // Four hours in four characters; two minutes held, in the second and last hours.
        let mut values = vec![f32::NAN; 240];
        values[70] = 0.5;
        values[239] = 1.0;
        assert_eq!(
            minute_sparkline(&minutes(&values), Timestamp(4 * 3_600_000), 4 * HOUR, 4, Scale::Fraction),
            " ▅ █"
        );
    }

    #[test]
    fn minutes_older_than_the_span_and_gaps_are_left_out() {
        let values = [1.0, f32::NAN, 0.0];
        let end = Timestamp(3 * 60_000);
        let span = Duration::from_secs(120);
        assert_eq!(minute_sparkline(&minutes(&values), end, span, 2, Scale::Fraction), " ▁");
        assert_eq!(minute_sparkline(&minutes(&values), end, span, 0, Scale::Fraction), "");
        assert_eq!(minute_sparkline(&SharedMinutes::default(), end, span, 3, Scale::Fraction), "   ");
    }

    #[test]
    fn a_minute_shows_its_maximum_not_its_mean() {
        // Means 0.2 and 0.4 would draw as "▂▄".
        let minutes = minutes(&[0.4, 0.8]);
        assert_eq!(minute_sparkline(&minutes, Timestamp(120_000), HOUR / 30, 2, Scale::Fraction), "▄▇");
    }
}
