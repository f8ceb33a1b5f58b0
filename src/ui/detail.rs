//! The detail pane of the selected group: capacity, cost and backend health in words,
//! and charts over time (x = seconds relative to the snapshot): latency p50/p95/p99 with
//! the SLO line; beside it capacity (desired, ready, warming; each change of desired
//! marked; predictive scaling's forecast dotted, one lead time into the future); GPU
//! utilization with GPU memory (or KV-cache for vLLM groups); queue. Under the charts, the 24 h minute history: the span held (`history 14:02–16:40 UTC
//! (158 min)`, minutes from before a restart included) and a sparkline a metric.
//!
//! Degrades by size: the history's sparklines go first, then the capacity chart (below
//! 60 columns beside latency), the GPU and queue charts,
//! the history's line and the latency chart (no charts below 80 columns, where the
//! history's span follows the facts); the facts last, and a failing backend heads them.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Widget, Wrap};

use crate::model::{AlarmState, MetricKind, Serving, Timestamp, format_duration};
use crate::protocol::ControlKind;
use crate::protocol::{ForecastView, GroupSnapshot, SeriesSnapshot, Snapshot};

use super::app::App;
use super::fleet::{METRICS, health_line, reading_style, sparkline_scale};
use super::format;
use super::keymap::{Action, Context};
use super::metrics::{self, Metric};
use super::sparkline::minute_sparkline;
use super::theme::Theme;

/// Below this inner height the charts are dropped and only the facts remain.
const MIN_CHART_HEIGHT: u16 = 6;
/// Charts are drawn to the right of the facts from this inner width; narrower panes
/// show the facts alone.
const CHARTS_FROM_WIDTH: u16 = 80;
const FACTS_WIDTH: u16 = 40;
const LABEL_WIDTH: usize = 10;
/// What the history's sparklines span, newest on the right: the minutes the engine keeps.
const HISTORY_SPAN: Duration = Duration::from_secs(24 * 3600);
/// The history's span in words, then a sparkline a metric.
const HISTORY_ROWS: u16 = 1 + METRICS.len() as u16;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let Some(group) = app.selected_group() else { return };
    let theme = &app.theme;
    let serving = match group.spec.serving {
        Serving::Vllm => "vLLM",
        Serving::Generic => "generic",
    };
    let title = format!(" {} · {} · {serving} ", group.spec.name, group.spec.instance_type);
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border)
        .title(Span::styled(title, theme.title))
        .title(Line::styled(closing_hint(app), theme.muted).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.is_empty() {
        return;
    }
    let mut lines = facts(group, &app.snapshot, app);
    if inner.width < CHARTS_FROM_WIDTH || inner.height < MIN_CHART_HEIGHT {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<LABEL_WIDTH$}", "history"), theme.label),
            Span::raw(history_span(group)),
        ]));
        Paragraph::new(lines).wrap(Wrap { trim: false }).render(inner, buf);
        return;
    }
    let [facts_area, charts_area] =
        Layout::horizontal([Constraint::Length(FACTS_WIDTH), Constraint::Fill(1)]).spacing(2).areas(inner);
    Paragraph::new(lines).wrap(Wrap { trim: false }).render(facts_area, buf);
    render_charts(group, &app.snapshot, theme, charts_area, buf);
}

/// The span of minute history the group's series hold, in words:
/// `history 14:02–16:40 UTC (158 min)`.
fn history_span(group: &GroupSnapshot) -> String {
    let spans = group.series.iter().filter_map(|s| s.minutes.span());
    match spans.reduce(|(a, b), (c, d)| (a.min(c), b.max(d))) {
        Some((from, to)) => {
            format!("{} ({} min)", format::utc_span(from, to), to.since(from).as_secs() / 60)
        }
        None => "none yet".into(),
    }
}

/// The history's span, then per metric a sparkline of its minute *maxima* over the last
/// [`HISTORY_SPAN`] (the table's rule: a spike must not be averaged away), scaled as the
/// table's sparklines are.
fn render_history(group: &GroupSnapshot, snapshot: &Snapshot, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let label = |text: &str| Span::styled(format!("{text:<LABEL_WIDTH$}"), theme.label);
    let mut lines = vec![Line::from(vec![
        label("history"),
        Span::raw(history_span(group)),
        Span::styled(" · 24 h of minute maxima", theme.muted),
    ])];
    let width = usize::from(area.width).saturating_sub(LABEL_WIDTH);
    for metric in METRICS {
        let kind = metric.kind(group);
        let name = match metric {
            Metric::GpuUtil => "gpu util",
            Metric::Memory if kind == MetricKind::KvCacheUsage => "kv-cache",
            Metric::Memory => "gpu mem",
            Metric::LatencyP95 => "p95",
            Metric::Queue => "queue",
        };
        let spark = group.series(&kind).map_or_else(
            || " ".repeat(width),
            |s| {
                minute_sparkline(
                    &s.minutes,
                    snapshot.taken_at,
                    HISTORY_SPAN,
                    width,
                    sparkline_scale(metric, group),
                )
            },
        );
        lines.push(Line::from(vec![label(name), Span::styled(spark, theme.sparkline)]));
    }
    Paragraph::new(lines).render(area, buf);
}

/// The group in words, one fact a line; a failing backend comes first.
fn facts<'a>(group: &'a GroupSnapshot, snapshot: &Snapshot, app: &App) -> Vec<Line<'a>> {
    let theme = &app.theme;
    let label = |text: &str| Span::styled(format!("{text:<LABEL_WIDTH$}"), theme.label);
    let fact = |name: &str, spans: Vec<Span<'a>>| {
        let mut line = vec![label(name)];
        line.extend(spans);
        Line::from(line)
    };
    let reading = |metric: Metric| {
        let r = metrics::reading(group, metric, &app.thresholds);
        Span::styled(r.text(), reading_style(&r, theme))
    };
    let value = |kind: MetricKind| {
        let series = group.series(&kind);
        let text = match series.and_then(|s| s.points.last()) {
            Some(p) => metrics::value_text(&kind, p.value),
            None => format::NO_VALUE.to_string(),
        };
        if series.is_some_and(|s| s.stale) {
            Span::styled(format!("{}{text}", metrics::STALE_MARK), theme.stale)
        } else {
            Span::styled(text, theme.base)
        }
    };
    let mut failing = Vec::new();
    let mut healthy = Vec::new();
    for (name, health) in [("source", &group.source), ("actuator", &group.actuator)] {
        match health_line(name, health, snapshot) {
            Some(text) => {
                let detail = text.strip_prefix(&format!("{name}: ")).unwrap_or(&text).to_string();
                failing.push(fact(name, vec![Span::styled(format!("x failing: {detail}"), theme.error)]));
            }
            None => healthy.push(fact(name, vec![Span::styled("ok", theme.ok)])),
        }
    }
    let mut lines = failing;
    match group.capacity {
        Some(c) => {
            lines.push(fact(
                "capacity",
                vec![Span::raw(format!("{} ready · {} warming", c.ready, c.warming))],
            ));
            lines.push(fact("", vec![Span::raw(format!("{} desired · {} failed", c.desired, c.failed))]));
        }
        None => lines.push(fact("capacity", vec![Span::styled("not observed yet", theme.muted)])),
    }
    lines.push(fact("bounds", vec![Span::raw(format!("min {} · max {}", group.spec.min, group.spec.max))]));
    if let Some(decision) = &group.decision {
        // Shadow decisions are what the autoscaler would do; say so before the verb.
        let text = match (decision.shadow, decision.desired) {
            (true, Some(_)) => format!("would {}", decision.reason),
            _ => decision.reason.clone(),
        };
        let style = if decision.desired.is_some() { theme.warn } else { theme.base };
        lines.push(fact("decision", vec![Span::styled(text, style)]));
    }
    for control in &group.controls {
        let style = match control.kind {
            ControlKind::Shadow | ControlKind::Silence => theme.muted,
            ControlKind::Pause | ControlKind::Hold | ControlKind::Breaker => theme.warn,
        };
        lines.push(fact("control", vec![Span::styled(control.text.clone(), style)]));
    }
    for warning in &group.warnings {
        lines.push(fact("warning", vec![Span::styled(warning.clone(), theme.warn)]));
    }
    if let Some(lease) = group.lease.as_ref().filter(|l| !l.ours) {
        let text = format!("automation and paging owned by {}: this console observes", lease.holder);
        lines.push(fact("lease", vec![Span::styled(text, theme.warn)]));
    }
    if !group.alarms.is_empty() {
        let mut spans = Vec::new();
        for alarm in
            group.alarms.iter().filter(|a| matches!(a.state, AlarmState::Firing | AlarmState::Pending))
        {
            let (mark, style) = match alarm.state {
                AlarmState::Firing => ("FIRING", theme.error),
                _ => ("pending", theme.warn),
            };
            spans.push(Span::styled(format!("{} {mark} ", alarm.name), style));
        }
        if spans.is_empty() {
            spans.push(Span::styled(format!("{} rules, none firing", group.alarms.len()), theme.ok));
        }
        lines.push(fact("alarms", spans));
        // Firing during a scale-out's warm-up: evaluated and shown, its page held back
        // until the warm-up ends (UTC, to the second: warm-ups are minutes long).
        for alarm in group.alarms.iter().filter(|a| a.state == AlarmState::Firing) {
            if let Some(until) = alarm.held_until {
                let to = until.to_rfc3339().get(11..19).unwrap_or_default().to_string();
                let text = format!("{} held to {to}", alarm.name);
                lines.push(fact("paging", vec![Span::styled(text, theme.muted)]));
            }
        }
    }
    let running = group.capacity.map_or(0, |c| c.pending_total());
    lines.push(fact(
        "cost",
        vec![
            Span::raw(format::usd_per_hour(metrics::hourly_cost_usd(group))),
            Span::styled(format!(" ({running} × {})", format::usd(group.spec.hourly_cost_usd)), theme.muted),
        ],
    ));
    lines.push(fact("p50", vec![value(MetricKind::LatencyP50)]));
    let mut p95 = vec![reading(Metric::LatencyP95)];
    if let Some(slo) = group.spec.slo_p95 {
        p95.push(Span::styled(format!("  slo {}", format::seconds(slo.as_secs_f64())), theme.muted));
    }
    lines.push(fact("p95", p95));
    lines.push(fact("p99", vec![value(MetricKind::LatencyP99)]));
    lines.push(fact("gpu util", vec![reading(Metric::GpuUtil)]));
    match group.spec.serving {
        Serving::Vllm => {
            lines.push(fact("kv-cache", vec![reading(Metric::Memory)]));
            lines.push(fact(
                "gpu mem",
                vec![value(MetricKind::GpuMem), Span::styled("  preallocated by vLLM", theme.muted)],
            ));
        }
        Serving::Generic => lines.push(fact("gpu mem", vec![reading(Metric::Memory)])),
    }
    lines.push(fact("queue", vec![reading(Metric::Queue)]));
    lines.push(fact("requests", vec![value(MetricKind::RequestRate)]));
    lines.extend(healthy);
    lines
}

/// Points of a series as (seconds relative to `now`, value × `scale`), skipping
/// non-finite values (a chart cannot place them).
fn chart_points(series: Option<&SeriesSnapshot>, now: Timestamp, scale: f64) -> Vec<(f64, f64)> {
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
fn nice_window_secs(span_secs: f64) -> f64 {
    const STEPS: [f64; 12] =
        [30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0];
    STEPS.into_iter().find(|&s| s >= span_secs).unwrap_or_else(|| (span_secs / 86400.0).ceil() * 86400.0)
}

/// How a chart line is drawn. Lines are told apart by colour; where a chart's lines do
/// not all differ in colour (`NO_COLOR`, a theme or a 16-colour terminal that gives two
/// lines one colour; charts ignore bold and dim) they differ in shape too: see
/// [`distinguish`]. A limit is always a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trace {
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
    fn marker(self) -> Marker {
        match self {
            Trace::Fine => Marker::Braille,
            Trace::Dots => Marker::Dot,
            Trace::Heavy => Marker::HalfBlock,
            Trace::Specks => Marker::Custom('·'),
            Trace::Rule => Marker::Custom('─'),
        }
    }

    /// The glyph before the line's name in the chart's title: its key.
    fn glyph(self) -> &'static str {
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
struct Series<'a> {
    name: String,
    now: Option<String>,
    points: &'a [(f64, f64)],
    style: Style,
    trace: Trace,
}

impl<'a> Series<'a> {
    fn dataset(&self) -> Dataset<'a> {
        Dataset::default()
            .marker(self.trace.marker())
            .graph_type(GraphType::Line)
            .style(self.style)
            .data(self.points)
    }

    /// `⠤p95 2.40s ` (or `⠤p95 ` without the value) in the line's style.
    fn key(&self, with_value: bool) -> Span<'static> {
        let value = self.now.as_ref().filter(|_| with_value).map_or(String::new(), |v| format!(" {v}"));
        Span::styled(format!("{}{}{value} ", self.trace.glyph(), self.name), self.style)
    }
}

/// Each series keeps its shape only if colour alone cannot tell the chart's lines
/// apart; otherwise all are fine braille lines but rules.
fn distinguish(series: &mut [Series]) {
    let colours: Vec<_> = series.iter().filter(|s| s.trace != Trace::Rule).map(|s| s.style.fg).collect();
    let distinct = colours.iter().enumerate().all(|(i, c)| c.is_some() && !colours[..i].contains(c));
    if distinct {
        for s in series.iter_mut().filter(|s| s.trace != Trace::Rule) {
            s.trace = Trace::Fine;
        }
    }
}

fn datasets_of<'a>(series: &[Series<'a>]) -> Vec<Dataset<'a>> {
    series.iter().map(Series::dataset).collect()
}

/// A chart's title: its name, then each line's key with its value now, as far as
/// `width` allows (the name goes first, then the values); `extra` keys follow.
fn chart_title(
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

/// The newest value of `kind`, formatted.
fn now_of(group: &GroupSnapshot, kind: &MetricKind, format: impl Fn(f64) -> String) -> Option<String> {
    group.latest(kind).map(|s| format(s.value))
}

/// A time axis from `x_min` (negative) to `x_max` (now, or past it): "-5m … now", or
/// "-5m … +5m" with its middle where it falls; the middle label is left out when the
/// graph is too narrow for three whole labels.
fn time_axis<'a>(x_min: f64, x_max: f64, graph_width: u16, theme: &Theme) -> Axis<'a> {
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
fn headroom(top: f64) -> f64 {
    if top.is_finite() && top > 0.0 { (top * 1.15).min(f64::MAX) } else { 1.0 }
}

/// A count axis's top, 15 % above `top`, rounded so the middle label is a whole number
/// too (2, 4 … 10, then 12, 16, 20, 30 … × 10ⁿ): never "0 0 1".
fn count_top(top: f64) -> f64 {
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
fn chart<'a>(
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

fn series_name(group: &GroupSnapshot, kind: &MetricKind, name: &str) -> String {
    if group.series(kind).is_some_and(|s| s.stale) {
        format!("{}{name} (stale)", metrics::STALE_MARK)
    } else {
        name.to_string()
    }
}

fn render_charts(group: &GroupSnapshot, snapshot: &Snapshot, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let now = snapshot.taken_at;
    let oldest = group.series.iter().filter_map(|s| s.points.first()).map(|p| p.at).min().unwrap_or(now);
    let x_min = -nice_window_secs(now.since(oldest).max(snapshot.poll_interval).as_secs_f64());
    // The history's sparklines come after both rows of charts, its line in words first.
    let history_rows = match area.height {
        h if h >= 2 * MIN_CHART_HEIGHT + 2 + HISTORY_ROWS => HISTORY_ROWS,
        h if h > MIN_CHART_HEIGHT => 1,
        _ => 0,
    };
    let two_rows = area.height >= 2 * MIN_CHART_HEIGHT + 2 + history_rows;
    let (latency_area, lower, history_area) = if two_rows {
        let [top, bottom, history] = Layout::vertical([
            Constraint::Percentage(50),
            Constraint::Fill(1),
            Constraint::Length(history_rows),
        ])
        .areas(area);
        (top, Some(bottom), history)
    } else {
        let [top, history] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(history_rows)]).areas(area);
        (top, None, history)
    };
    render_history(group, snapshot, theme, history_area, buf);

    // Capacity beside latency when both stay readable; else latency alone.
    let (latency_area, capacity_area) = if latency_area.width >= 2 * CAPACITY_CHART_MIN_WIDTH {
        let [latency, capacity] = Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)])
            .spacing(2)
            .areas(latency_area);
        (latency, Some(capacity))
    } else {
        (latency_area, None)
    };
    render_latency(group, now, x_min, theme, latency_area, buf);
    if let Some(area) = capacity_area {
        render_capacity(group, now, x_min, theme, area, buf);
    }

    let Some(lower) = lower else { return };
    let [gpu_area, queue_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).spacing(2).areas(lower);
    let memory_kind = metrics::memory_kind(group);
    let util = chart_points(group.series(&MetricKind::GpuUtil), now, 100.0);
    let memory = chart_points(group.series(&memory_kind), now, 100.0);
    let memory_name = if memory_kind == MetricKind::KvCacheUsage { "kv-cache" } else { "gpu mem" };
    let mut gpu = [
        Series {
            name: series_name(group, &MetricKind::GpuUtil, "util"),
            now: now_of(group, &MetricKind::GpuUtil, format::percent),
            points: &util,
            style: theme.chart_gpu_util,
            trace: Trace::Fine,
        },
        Series {
            name: series_name(group, &memory_kind, memory_name),
            now: now_of(group, &memory_kind, format::percent),
            points: &memory,
            style: theme.chart_memory,
            trace: Trace::Dots,
        },
    ];
    distinguish(&mut gpu);
    let percent = |v: f64| format!("{v:.0}%");
    let title = chart_title("gpu", &gpu, Vec::new(), gpu_area.width, theme);
    chart(datasets_of(&gpu), title, (x_min, 0.0), 100.0, percent, gpu_area.width, theme)
        .render(gpu_area, buf);

    let points = chart_points(group.series(&MetricKind::QueueLength), now, 1.0);
    let queue = [Series {
        name: series_name(group, &MetricKind::QueueLength, "queued"),
        now: now_of(group, &MetricKind::QueueLength, format::count),
        points: &points,
        style: theme.chart_queue,
        trace: Trace::Fine,
    }];
    let top = count_top(points.iter().map(|p| p.1).fold(0.0, f64::max));
    let title = chart_title("queue", &queue, Vec::new(), queue_area.width, theme);
    chart(datasets_of(&queue), title, (x_min, 0.0), top, format::count, queue_area.width, theme)
        .render(queue_area, buf);
}

/// Latency p50, p95 and p99 with the SLO as a flat rule; p95, which the SLO judges,
/// drawn last so it stays on top.
fn render_latency(
    group: &GroupSnapshot,
    now: Timestamp,
    x_min: f64,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let p50 = chart_points(group.series(&MetricKind::LatencyP50), now, 1.0);
    let p95 = chart_points(group.series(&MetricKind::LatencyP95), now, 1.0);
    let p99 = chart_points(group.series(&MetricKind::LatencyP99), now, 1.0);
    let slo = group.spec.slo_p95.map(|d| d.as_secs_f64());
    let slo_line: Vec<(f64, f64)> = slo.map(|s| vec![(x_min, s), (0.0, s)]).unwrap_or_default();
    let top =
        [&p50, &p95, &p99].iter().flat_map(|v| v.iter().map(|p| p.1)).fold(slo.unwrap_or(0.0), f64::max);
    let line = |kind: MetricKind, name: &str, points, style, trace| Series {
        name: series_name(group, &kind, name),
        now: now_of(group, &kind, format::seconds),
        points,
        style,
        trace,
    };
    let mut series = vec![
        line(MetricKind::LatencyP50, "p50", &p50, theme.chart_p50, Trace::Specks),
        line(MetricKind::LatencyP95, "p95", &p95, theme.chart_p95, Trace::Fine),
        line(MetricKind::LatencyP99, "p99", &p99, theme.chart_p99, Trace::Dots),
    ];
    if let Some(s) = slo {
        series.push(Series {
            name: "slo".into(),
            now: Some(format::seconds(s)),
            points: &slo_line,
            style: theme.chart_slo,
            trace: Trace::Rule,
        });
    }
    distinguish(&mut series);
    let title = chart_title("latency", &series, Vec::new(), area.width, theme);
    // Drawn in this order: the rule, p99, p50, then p95 over them.
    let order = [3, 2, 0, 1];
    let drawn: Vec<Dataset> = order.iter().filter_map(|&i| series.get(i)).map(Series::dataset).collect();
    chart(drawn, title, (x_min, 0.0), headroom(top), format::seconds, area.width, theme).render(area, buf);
}

/// Narrowest capacity chart drawn beside the latency chart.
const CAPACITY_CHART_MIN_WIDTH: u16 = 30;

/// Desired, ready and warming instances over the charts' window; each change of desired
/// marked by a thin vertical line; and, with predictive scaling, its forecast of the
/// instances needed, dotted, on to one lead time ahead (the x axis then runs past now).
/// Keyed by its title like every chart, with each line's value now.
fn render_capacity(
    group: &GroupSnapshot,
    now: Timestamp,
    x_min: f64,
    theme: &Theme,
    area: Rect,
    buf: &mut Buffer,
) {
    let desired = chart_points(group.series(&MetricKind::DesiredCapacity), now, 1.0);
    let ready = chart_points(group.series(&MetricKind::ReadyCapacity), now, 1.0);
    let warming = chart_points(group.series(&MetricKind::WarmingCapacity), now, 1.0);
    let secs = |t: Timestamp| t.as_millis().saturating_sub(now.as_millis()) as f64 / 1000.0;
    let x_max = group.forecast.as_ref().map_or(0.0, |f| secs(f.until).max(0.0));
    // Dots two columns apart along the forecast's steps.
    let spacing = (x_max - x_min) / f64::from(area.width.max(2)) * 2.0;
    let forecast = dotted(&forecast_steps(group, now, x_min), spacing);
    let top = [&desired, &ready, &warming, &forecast]
        .iter()
        .flat_map(|v| v.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let y_max = count_top(top);
    // A braille column at each change of desired, from 0 to the top.
    let steps = u32::from(area.height.max(2)) * 4;
    let events: Vec<(f64, f64)> = desired
        .windows(2)
        .filter(|w| w[1].1 != w[0].1)
        .flat_map(|w| (0..=steps).map(move |i| (w[1].0, y_max * f64::from(i) / f64::from(steps))))
        .collect();
    let count = |v: f64| format!("{v:.0}");
    // Named as in the table's rdy/wrm/des column.
    let line = |kind: MetricKind, name: &str, points, style, trace| Series {
        name: name.into(),
        now: Some(now_of(group, &kind, count).unwrap_or_else(|| format::NO_VALUE.into())),
        points,
        style,
        trace,
    };
    // Events and the forecast first, so the capacity lines draw over them; warming,
    // ready, then desired on top.
    let mut lines = [
        line(MetricKind::DesiredCapacity, "des", &desired, theme.chart_desired, Trace::Fine),
        line(MetricKind::ReadyCapacity, "rdy", &ready, theme.chart_ready, Trace::Heavy),
        line(MetricKind::WarmingCapacity, "wrm", &warming, theme.chart_warming, Trace::Specks),
    ];
    distinguish(&mut lines);
    let scatter = |points, marker, style| {
        Dataset::default().marker(marker).graph_type(GraphType::Scatter).style(style).data(points)
    };
    let mut datasets = vec![
        scatter(&events, Marker::Braille, theme.chart_event),
        scatter(&forecast, Marker::Dot, theme.chart_forecast),
    ];
    datasets.extend(lines.iter().rev().map(Series::dataset));
    let mut extra = Vec::new();
    if let Some(view) = &group.forecast {
        // What the policy asks for: the peak of the slots from now to one lead ahead.
        let slot = forecast_slot_secs(view);
        let ahead = view.points.iter().filter(|(at, _)| secs(*at) + slot > 0.0 && secs(*at) <= x_max);
        let ahead = ahead.map(|(_, n)| *n).max();
        let ahead = ahead.map_or(format::NO_VALUE.to_string(), |n| n.to_string());
        extra.push(Span::styled(format!("•fcst {ahead} "), theme.chart_forecast));
    }
    if !events.is_empty() {
        extra.push(Span::styled("│scaled", theme.chart_event));
    }
    let title = chart_title("capacity", &lines, extra, area.width, theme);
    chart(datasets, title, (x_min, x_max), y_max, count, area.width, theme).render(area, buf);
}

/// Points along a polyline, about `spacing` apart in x (vertical stretches get one dot at
/// each end): the dots of a dotted line.
fn dotted(line: &[(f64, f64)], spacing: f64) -> Vec<(f64, f64)> {
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

/// Predictive scaling's forecast as steps, a slot at a time: (seconds from `now`,
/// instances), from `x_min` on.
fn forecast_steps(group: &GroupSnapshot, now: Timestamp, x_min: f64) -> Vec<(f64, f64)> {
    let Some(view) = &group.forecast else { return Vec::new() };
    let secs = |t: Timestamp| t.as_millis().saturating_sub(now.as_millis()) as f64 / 1000.0;
    let slot = forecast_slot_secs(view);
    view.points
        .iter()
        .flat_map(|&(at, n)| [(secs(at), f64::from(n)), (secs(at) + slot, f64::from(n))])
        .map(|(x, y)| (x.clamp(x_min, secs(view.until).max(x_min)), y))
        .collect()
}

/// The forecast's slot width in seconds (0 with fewer than two slots).
fn forecast_slot_secs(view: &ForecastView) -> f64 {
    match view.points.as_slice() {
        [a, b, ..] => b.0.since(a.0).as_secs_f64(),
        _ => 0.0,
    }
}

/// " enter closes " with the active keymap's key for closing the pane.
fn closing_hint(app: &App) -> String {
    if app.war_room.is_some() {
        return String::new(); // no key but quit is heard there
    }
    let keys = app.keymap.keys_for(Context::Normal, Action::ToggleDetail);
    keys.first().map_or_else(String::new, |key| format!(" {key} closes "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::tests::{fixture_app, screen_text};

    #[test]
    fn the_capacity_chart_names_its_lines_and_runs_one_lead_past_now_with_a_forecast() {
        let mut app = fixture_app();
        app.detail_open = true;
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("⠤des 8 ⠤rdy 4 ⠤wrm 2 •fcst 9 │scaled"), "{screen}");
        assert!(screen.contains("+2m30s"), "the x axis runs one lead ahead: {screen}");
        // Without predictive scaling: no forecast, and the axis ends now.
        let mut fleet = (*app.snapshot).clone();
        fleet.groups[0].forecast = None;
        app.snapshot = std::sync::Arc::new(fleet);
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("⠤des 8 ⠤rdy 4 ⠤wrm 2 │scaled") && !screen.contains("fcst"), "{screen}");
        assert!(!screen.contains("+2m30s"), "{screen}");
    }

    #[test]
    fn a_group_that_never_scaled_has_no_event_marks() {
        let mut app = fixture_app();
        app.detail_open = true;
        app.selected = 1; // vision: 3 throughout
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("⠤des 3 ⠤rdy 3 ⠤wrm 0"), "{screen}");
        assert!(!screen.contains("scaled"), "{screen}");
    }

    /// Whether a chart of the detail pane (its graph rows, not its title) has `glyph`.
    fn drawn_with(screen: &str, glyphs: &str) -> bool {
        let graph_row = |l: &&str| l.contains('│') && !l.contains("slo") && !l.contains("queued");
        let charts =
            screen.lines().skip_while(|l| !l.contains("─slo")).take_while(|l| !l.contains("history "));
        charts.filter(graph_row).any(|l| l.chars().skip(42).any(|c| glyphs.contains(c)))
    }

    #[test]
    fn without_colour_each_line_of_a_chart_has_its_own_shape_and_the_title_keys_it() {
        let mut app = fixture_app();
        app.detail_open = true;
        app.theme = Theme::monochrome();
        let screen = screen_text(&app, 120, 40);
        for key in
            ["·p50", "⠤p95", "•p99", "─slo", "⠤des 8", "▄rdy 4", "·wrm 2", "⠤util 95%", "•kv-cache 72%"]
        {
            assert!(screen.contains(key), "{key}: {screen}");
        }
        for glyphs in ["·", "•", "▀▄█", "─"] {
            assert!(drawn_with(&screen, glyphs), "a line drawn with {glyphs}: {screen}");
        }
        // In colour the lines differ by colour: all fine braille, keyed in their colours.
        app.theme = Theme::dark();
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("⠤p50 ⠤p95 ⠤p99 ─slo"), "{screen}");
        assert!(!drawn_with(&screen, "▀▄█"), "{screen}");
        // Where two lines share a colour, they differ in shape again.
        app.theme.chart_p99 = app.theme.chart_p50;
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("·p50 ⠤p95 •p99 ─slo"), "{screen}");
    }

    #[test]
    fn no_legend_box_covers_the_data() {
        let mut app = fixture_app();
        app.detail_open = true;
        let screen = screen_text(&app, 120, 40);
        assert!(!screen.contains('┌') && !screen.contains('┐'), "{screen}");
    }

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
    fn time_labels_are_whole_at_80_columns_and_a_long_window() {
        let mut app = fixture_app();
        app.detail_open = true;
        // A 15-minute window: the snapshot taken ten minutes after the fixture's points.
        let mut fleet = (*app.snapshot).clone();
        fleet.taken_at = Timestamp::from_millis(fleet.taken_at.as_millis() + 10 * 60 * 1000);
        app.snapshot = std::sync::Arc::new(fleet);
        // llm-chat, and embeddings with its empty queue (one-digit count labels).
        for (selected, width, height) in [(0, 80, 24), (0, 80, 40), (0, 100, 30), (0, 120, 40), (2, 120, 40)]
        {
            app.selected = selected;
            let screen = screen_text(&app, width, height);
            let axes: Vec<String> = screen
                .lines()
                .map(|l| l.chars().skip(40).collect::<String>())
                .filter(|right| right.trim_start().starts_with("-15m"))
                .collect();
            assert!(!axes.is_empty(), "{width}×{height}: {screen}");
            for word in axes.iter().flat_map(|a| a.split_whitespace()) {
                assert!(
                    word == "now" || word.starts_with(['-', '+']) && word.ends_with(['m', 's']),
                    "{width}×{height}: a cut label {word:?} in {axes:?}\n{screen}"
                );
            }
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
