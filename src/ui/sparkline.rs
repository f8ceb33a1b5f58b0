//! Inline sparklines: a series' recent points as a few block characters (`▁▂▃▅▇`) that
//! fit in a table cell. ratatui's `Sparkline` widget wants a whole area of its own, so
//! this builds a plain string the cell renders as a span.
//!
//! A cell is a handful of characters, so each character summarises a bucket of points
//! (the last [`WINDOW_POINTS`] split evenly): two minutes at the demo's 1 s polls, half
//! an hour at 15 s. A bucket shows its *maximum*: on call, the spike matters more than
//! the average that hides it.

use crate::model::Sample;

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
    use crate::model::Timestamp;

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
}
