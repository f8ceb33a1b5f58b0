//! The detail pane of the selected group: capacity, cost and backend health in words,
//! and charts over time (x = seconds relative to the snapshot; the parts are in
//! [`super::chart`]): latency p50/p95/p99 with the SLO line; beside it capacity (desired,
//! ready, warming; each change of desired marked; predictive scaling's forecast dotted,
//! one lead time into the future); GPU utilization with GPU memory (or KV-cache for vLLM
//! groups); queue. Under the charts, the 24 h minute history: the span held
//! (`history 14:02–16:40 UTC (158 min)`, minutes from before a restart included) and a
//! sparkline a metric.
//!
//! Degrades by size: the history's sparklines go first, then the capacity chart (below
//! 60 columns beside latency), the GPU and queue charts, the history's line and the
//! latency chart (no charts below 80 columns, where the history's span follows the
//! facts); the facts last, and a failing backend heads them.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Dataset, GraphType, Paragraph, Widget, Wrap};

use crate::model::{AlarmState, MetricKind, Serving, Timestamp};
use crate::protocol::ControlKind;
use crate::protocol::{ForecastView, GroupSnapshot, Snapshot};

use super::app::App;
use super::chart::{
    Series, Trace, chart, chart_points, chart_title, count_top, datasets_of, distinguish, dotted, headroom,
    nice_window_secs,
};
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
            let from = alarm.source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
            spans.push(Span::styled(format!("{}{from} {mark} ", alarm.name), style));
        }
        if spans.is_empty() {
            let rules = group.alarms.iter().filter(|a| a.source.is_none()).count();
            spans.push(Span::styled(format!("{rules} rules, none firing"), theme.ok));
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
    // Triton reports a mean by default, percentiles only with its latency summaries on.
    if group.series(&MetricKind::LatencyMean).is_some() {
        let mut mean = vec![value(MetricKind::LatencyMean)];
        if group.series(&MetricKind::LatencyP95).is_none() {
            mean.push(Span::styled("  Triton: no percentiles", theme.muted));
        }
        lines.push(fact("mean", mean));
    }
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

/// The newest value of `kind`, formatted.
fn now_of(group: &GroupSnapshot, kind: &MetricKind, format: impl Fn(f64) -> String) -> Option<String> {
    group.latest(kind).map(|s| format(s.value))
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
    fn a_group_with_a_mean_latency_and_no_percentiles_says_why() {
        let mut app = fixture_app();
        app.detail_open = true;
        app.selected = 1;
        let mut fleet = (*app.snapshot).clone();
        let vision = &mut fleet.groups[1];
        let mut mean = vision.series(&MetricKind::LatencyP95).unwrap().clone();
        mean.kind = MetricKind::LatencyMean;
        vision.series.retain(|s| {
            !matches!(s.kind, MetricKind::LatencyP50 | MetricKind::LatencyP95 | MetricKind::LatencyP99)
        });
        vision.series.push(mean);
        app.snapshot = std::sync::Arc::new(fleet);
        let screen = screen_text(&app, 160, 50);
        assert!(screen.contains("mean      310ms  Triton: no percentiles"), "{screen}");
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
}
