//! The detail pane's chart parts: how a line is drawn and keyed, the axes, the window.
//!
//! Lines are told apart by colour, and by shape where colour cannot ([`distinguish`]); a
//! chart's title is its key ([`chart_title`]), so no legend box covers the data.

use std::time::Duration;

use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType};

use crate::model::{Timestamp, format_duration};
use crate::protocol::SeriesSnapshot;

use super::theme::Theme;

/// Points of a series as (seconds relative to `now`, value × `scale`), skipping
/// non-finite values (a chart cannot place them).
pub(super) fn chart_points(series: Option<&SeriesSnapshot>, now: Timestamp, scale: f64) -> Vec<(f64, f64)> {
    series
        .map(|s| {
            s.points
                .iter()
                .filter(|p| p.value.is_finite())
                .map(|p| (p.at.as_millis().saturating_sub(now.as_millis()) as f64 / 1000.0, p.value * scale))
                .collect()
        })
        .unwrap_or_default()
}

/// The chart's time window: the data's span rounded up to a step people read at a
/// glance (`-5m` rather than `-4m57s`).
pub(super) fn nice_window_secs(span_secs: f64) -> f64 {
    const STEPS: [f64; 12] =
        [30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0];
    STEPS.into_iter().find(|&s| s >= span_secs).unwrap_or_else(|| (span_secs / 86400.0).ceil() * 86400.0)
}

/// How a chart line is drawn. Lines are told apart by colour; where a chart's lines do
/// not all differ in colour (`NO_COLOR`, a theme or a 16-colour terminal that gives two
/// lines one colour; charts ignore bold and dim) they differ in shape too: see
/// [`distinguish`]. A limit is always a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Trace {
    /// A thin braille line: the chart's main series.
    Fine,
    /// A dot in each cell the line passes.
    Dots,
    /// A half-block line, heavier than the rest.
    Heavy,
    /// A small dot in each cell the line passes, lighter than [`Trace::Dots`].
    Specks,
    /// A flat rule: a limit such as the SLO.
    Rule,
}

impl Trace {
    pub(super) fn marker(self) -> Marker {
        match self {
            Trace::Fine => Marker::Braille,
            Trace::Dots => Marker::Dot,
            Trace::Heavy => Marker::HalfBlock,
            Trace::Specks => Marker::Custom('·'),
            Trace::Rule => Marker::Custom('─'),
        }
    }

    /// The glyph before the line's name in the chart's title: its key.
    pub(super) fn glyph(self) -> &'static str {
        match self {
            Trace::Fine => "⠤",
            Trace::Dots => "•",
            Trace::Heavy => "▄",
            Trace::Specks => "·",
            Trace::Rule => "─",
        }
    }
}

/// One line of a chart: named, with its value now, in the chart's title (no legend box
/// covers the data); drawn from its points.
pub(super) struct Series<'a> {
    pub name: String,
    pub now: Option<String>,
    pub points: &'a [(f64, f64)],
    pub style: Style,
    pub trace: Trace,
}

impl<'a> Series<'a> {
    pub(super) fn dataset(&self) -> Dataset<'a> {
        Dataset::default()
            .marker(self.trace.marker())
            .graph_type(GraphType::Line)
            .style(self.style)
            .data(self.points)
    }

    /// `⠤p95 2.40s ` (or `⠤p95 ` without the value) in the line's style.
    pub(super) fn key(&self, with_value: bool) -> Span<'static> {
        let value = self.now.as_ref().filter(|_| with_value).map_or(String::new(), |v| format!(" {v}"));
        Span::styled(format!("{}{}{value} ", self.trace.glyph(), self.name), self.style)
    }
}

/// Each series keeps its shape only if colour alone cannot tell the chart's lines
/// apart; otherwise all are fine braille lines but rules.
pub(super) fn distinguish(series: &mut [Series]) {
    let colours: Vec<_> = series.iter().filter(|s| s.trace != Trace::Rule).map(|s| s.style.fg).collect();
    let distinct = colours.iter().enumerate().all(|(i, c)| c.is_some() && !colours[..i].contains(c));
    if distinct {
        for s in series.iter_mut().filter(|s| s.trace != Trace::Rule) {
            s.trace = Trace::Fine;
        }
    }
}

pub(super) fn datasets_of<'a>(series: &[Series<'a>]) -> Vec<Dataset<'a>> {
    series.iter().map(Series::dataset).collect()
}

/// A chart's title: its name, then each line's key with its value now, as far as
/// `width` allows (the name goes first, then the values); `extra` keys follow.
pub(super) fn chart_title(
    name: &str,
    series: &[Series],
    extra: Vec<Span<'static>>,
    width: u16,
    theme: &Theme,
) -> Line<'static> {
    let build = |with_name: bool, with_values: bool| {
        let mut spans: Vec<Span<'static>> = Vec::new();
        if with_name {
            spans.push(Span::styled(format!("{name} "), theme.title));
        }
        spans.extend(series.iter().map(|s| s.key(with_values)));
        spans.extend(extra.iter().cloned());
        Line::from(spans)
    };
    [(true, true), (false, true), (false, false)]
        .into_iter()
        .map(|(n, v)| build(n, v))
        .find(|line| line.width() <= usize::from(width))
        .unwrap_or_else(|| build(false, false))
}

/// A time axis from `x_min` (negative) to `x_max` (now, or past it): "-5m … now", or
/// "-5m … +5m" with its middle where it falls; the middle label is left out when the
/// graph is too narrow for three whole labels.
pub(super) fn time_axis<'a>(x_min: f64, x_max: f64, graph_width: u16, theme: &Theme) -> Axis<'a> {
    let label = |secs: f64| match secs {
        s if s.abs() < 0.5 => "now".to_string(),
        s if s < 0.0 => format!("-{}", format_duration(Duration::try_from_secs_f64(-s).unwrap_or_default())),
        s => format!("+{}", format_duration(Duration::try_from_secs_f64(s).unwrap_or_default())),
    };
    let mut labels = vec![label(x_min), label((x_min + x_max) / 2.0), label(x_max)];
    // Each label but the first gets a third of the graph, one column kept blank.
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    if usize::from(graph_width / 3) < widest + 1 {
        labels.remove(1);
    }
    Axis::default().bounds([x_min, x_max]).style(theme.chart_axis).labels(labels)
}

/// A y bound 15 % above the highest point, finite and positive whatever the data.
pub(super) fn headroom(top: f64) -> f64 {
    if top.is_finite() && top > 0.0 { (top * 1.15).min(f64::MAX) } else { 1.0 }
}

/// A count axis's top, 15 % above `top`, rounded so the middle label is a whole number
/// too (2, 4 … 10, then 12, 16, 20, 30 … × 10ⁿ): never "0 0 1".
pub(super) fn count_top(top: f64) -> f64 {
    let want = headroom(top);
    if want <= 10.0 {
        return (want / 2.0).ceil().max(1.0) * 2.0;
    }
    const MANTISSAS: [f64; 9] = [1.2, 1.6, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0];
    let scale = 10f64.powf(want.log10().floor());
    MANTISSAS.iter().map(|m| m * scale).find(|&v| v >= want).unwrap_or(want)
}

/// A chart of `datasets` under `title`, its y axis from 0 to `y_max` labelled by
/// `label`, its x axis over `[x_min, x_max]` seconds from now.
pub(super) fn chart<'a>(
    datasets: Vec<Dataset<'a>>,
    title: Line<'a>,
    (x_min, x_max): (f64, f64),
    y_max: f64,
    label: impl Fn(f64) -> String,
    width: u16,
    theme: &Theme,
) -> Chart<'a> {
    let y_labels = [label(0.0), label(y_max / 2.0), label(y_max)];
    let y_width = y_labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let graph_width = width.saturating_sub(u16::try_from(y_width).unwrap_or(u16::MAX) + 1);
    Chart::new(datasets)
        .block(Block::new().title(title))
        .x_axis(time_axis(x_min, x_max, graph_width, theme))
        .y_axis(Axis::default().bounds([0.0, y_max]).style(theme.chart_axis).labels(y_labels))
        .legend_position(None)
}

/// Points along a polyline, about `spacing` apart in x (vertical stretches get one dot at
/// each end): the dots of a dotted line.
pub(super) fn dotted(line: &[(f64, f64)], spacing: f64) -> Vec<(f64, f64)> {
    let mut dots = Vec::new();
    let Some(&(mut next_x, _)) = line.first() else { return dots };
    for pair in line.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        while spacing > 0.0 && next_x <= x1 && x1 > x0 {
            let f = (next_x - x0) / (x1 - x0);
            dots.push((next_x, y0 + (y1 - y0) * f));
            next_x += spacing;
        }
    }
    dots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_axes_have_a_whole_middle_and_headroom() {
        assert_eq!(count_top(0.0), 2.0, "an empty queue reads 0 1 2, not 0 0 1");
        assert_eq!(count_top(1.0), 2.0);
        assert_eq!(count_top(9.0), 12.0);
        assert_eq!(count_top(37.0), 50.0);
        assert_eq!(count_top(1800.0), 3000.0);
        for top in [0.3, 3.0, 7.7, 11.0, 99.0, 123.0, 4567.0, 1e9] {
            let max = count_top(top);
            assert!(max >= top * 1.15, "{top}: {max}");
            assert_eq!((max / 2.0).fract(), 0.0, "{top}: the middle {} is whole", max / 2.0);
            assert!(max <= (top * 1.15 * 1.5).max(2.0), "{top}: {max} wastes the height");
        }
    }

    #[test]
    fn dotted_lines_have_evenly_spaced_dots_on_the_line() {
        let line = [(0.0, 1.0), (10.0, 1.0), (10.0, 3.0), (20.0, 3.0)];
        let dots = dotted(&line, 2.5);
        let xs: Vec<f64> = dots.iter().map(|d| d.0).collect();
        assert_eq!(xs, [0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0]);
        assert!(dots.iter().all(|&(x, y)| if x < 10.0 { y == 1.0 } else { y == 1.0 || y == 3.0 }));
        assert_eq!(dots.last(), Some(&(20.0, 3.0)));
        assert!(dotted(&line, 0.0).is_empty() && dotted(&[], 1.0).is_empty());
    }
}
