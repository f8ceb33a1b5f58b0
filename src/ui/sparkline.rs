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
pub fn sparkline(points: &[Sample], width: usize, scale: Scale) -> String {
    if width == 0 {
        return String::new();
    }
    let recent = &points[points.len().saturating_sub(WINDOW_POINTS)..];
    let chars = recent.len().min(width);
    let bucket_max = |i: usize| {
        // Bucket i covers recent[i·n/chars .. (i+1)·n/chars]: every point in exactly one.
        let (from, to) = (i * recent.len() / chars, (i + 1) * recent.len() / chars);
        recent[from..to]
            .iter()
            .map(|p| p.value)
            .filter(|v| v.is_finite())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    let buckets: Vec<Option<f64>> = (0..chars).map(bucket_max).collect();
    let top = match scale {
        Scale::Fraction => 1.0,
        Scale::ZeroToMax { floor } => buckets.iter().flatten().fold(floor, |a, &b| a.max(b)),
    };
    let mut out = String::with_capacity(width * 3);
    out.extend(std::iter::repeat_n(' ', width - chars));
    for bucket in buckets {
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
}
