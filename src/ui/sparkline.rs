//! Inline sparklines: a series' recent points as a few block characters (`▁▂▃▅▇`) that
//! fit in a table cell. ratatui's `Sparkline` widget wants a whole area of its own, so
//! this builds a plain string the cell renders as a span.

use crate::model::Sample;

const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// How a sparkline maps values to heights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// 0–1 is the full height: a utilization at 50 % draws half-high whatever its peers.
    Fraction,
    /// 0 to the largest point shown: latencies and queues have no natural ceiling.
    ZeroToMax,
}

/// The newest `width` points as block characters, newest on the right; shorter series
/// are padded on the left so sparklines line up. Non-finite points draw as a space.
pub fn sparkline(points: &[Sample], width: usize, scale: Scale) -> String {
    let recent = &points[points.len().saturating_sub(width)..];
    let top = match scale {
        Scale::Fraction => 1.0,
        Scale::ZeroToMax => recent.iter().map(|p| p.value).filter(|v| v.is_finite()).fold(0.0_f64, f64::max),
    };
    let mut out = String::with_capacity(width * 3);
    out.extend(std::iter::repeat_n(' ', width - recent.len()));
    for point in recent {
        let v = point.value;
        if !v.is_finite() {
            out.push(' ');
            continue;
        }
        let level = if top > 0.0 { (v / top * 7.0).round().clamp(0.0, 7.0) as usize } else { 0 };
        out.push(LEVELS[level]);
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
        assert_eq!(sparkline(&samples(&[100.0, 1.0, 2.0, 4.0]), 3, Scale::ZeroToMax), "▃▅█");
    }

    #[test]
    fn short_and_empty_series_are_padded_left() {
        assert_eq!(sparkline(&samples(&[0.0, 0.0]), 4, Scale::ZeroToMax), "  ▁▁");
        assert_eq!(sparkline(&[], 3, Scale::Fraction), "   ");
        assert_eq!(sparkline(&samples(&[1.0]), 0, Scale::Fraction), "");
    }

    #[test]
    fn nan_points_leave_a_gap() {
        assert_eq!(sparkline(&samples(&[1.0, f64::NAN, 1.0]), 3, Scale::Fraction), "█ █");
    }
}
