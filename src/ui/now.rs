//! The "what is wrong now" line under the header: present only while something is badly
//! wrong, it says what in one line, worst first — open breakers (automation is frozen or
//! limited: why), firing alarms (with their value), then readings far past their limit
//! that no firing alarm already names. What does not fit ends in "+N more"; the alarms
//! view (`2`) and each group's sub-lines have the rest.
//!
//! While every figure on screen is old (the daemon is gone, the engine stopped), the
//! line says "LAST KNOWN" instead of "NOW": it is what was wrong when the data was taken.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::model::words;
use crate::protocol::{ControlKind, Snapshot};

use super::app::App;
use super::fleet::METRICS;
use super::metrics::{self, Metric, Severity, Thresholds};

const SEPARATOR: &str = " · ";

/// What is badly wrong in the fleet, worst first, each in a few words.
pub fn items(snapshot: &Snapshot, thresholds: &Thresholds) -> Vec<String> {
    let mut breakers = Vec::new();
    let mut firing = Vec::new();
    let mut far = Vec::new();
    for group in &snapshot.groups {
        let name = &group.spec.name;
        for control in group.controls.iter().filter(|c| c.kind == ControlKind::Breaker) {
            // "breaker <kind> open (<what freezes>): <cause>; resets when …": the cause
            // alone, which is what the header's BREAKER OPEN does not say; the rest is in
            // the group's sub-line.
            let text = control.text.split(';').next().unwrap_or(&control.text);
            let cause = text.split_once(": ").map_or(text, |(_, cause)| cause);
            breakers.push(format!("{name} BREAKER OPEN: {cause}"));
        }
        for alarm in group.firing() {
            let value = match (alarm.value, &alarm.metric) {
                (Some(v), Some(kind)) => format!(" at {}", metrics::value_text(kind, v)),
                (Some(v), None) => format!(" at {}", words::number(v)),
                (None, _) => String::new(),
            };
            firing.push(format!("{name} {} FIRING{value}", alarm.name));
        }
        for metric in METRICS {
            let reading = metrics::reading(group, metric, thresholds);
            let (Severity::FarOver, Some(value), Some(limit)) =
                (reading.severity, reading.value, metric.threshold(group, thresholds))
            else {
                continue;
            };
            let value_text = metrics::value_text(&reading.kind, value);
            let limit_text = metrics::value_text(&reading.kind, limit);
            let against = match metric {
                Metric::LatencyP95 => format!("{}× the {limit_text} SLO", ratio(value, limit)),
                _ => format!("limit {limit_text}"),
            };
            far.push(format!("{name} {} {value_text} ({against})", label(metric, &reading.kind)));
        }
    }
    breakers.into_iter().chain(firing).chain(far).collect()
}

/// "30" for 61 s against 2 s; one decimal under 10 ("2.1").
fn ratio(value: f64, limit: f64) -> String {
    let r = value / limit;
    if r < 10.0 { format!("{r:.1}") } else { format!("{r:.0}") }
}

fn label(metric: Metric, kind: &crate::model::MetricKind) -> &'static str {
    match metric {
        Metric::GpuUtil => "gpu",
        Metric::Memory if *kind == crate::model::MetricKind::KvCacheUsage => "kv-cache",
        Metric::Memory => "gpu memory",
        Metric::LatencyP95 => "p95",
        Metric::Queue => "queue",
    }
}

/// Draws the line of `items` (from [`items`]; the line is shown only when there are some).
pub fn render(app: &App, items: &[String], area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let area = Rect { height: 1, ..area };
    let theme = &app.theme;
    let badge = if app.old.is_some() { " LAST KNOWN " } else { " NOW " };
    let width = usize::from(area.width);
    let used = Span::raw(badge).width() + 1;
    let text = fit_items(items, width.saturating_sub(used));
    let line =
        Line::from(vec![Span::styled(badge, theme.firing), Span::raw(" "), Span::styled(text, theme.severe)]);
    super::fleet::fit(line, area.width).render(area, buf);
}

/// As many items as fit in `width`, then "+N more" for the rest; the first item is cut
/// (with an ellipsis) rather than dropped.
fn fit_items(items: &[String], width: usize) -> String {
    let more = |n: usize| format!("{SEPARATOR}+{n} more");
    let w = |s: &str| Span::raw(s).width();
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        let left = items.len() - i - 1;
        let candidate = if out.is_empty() { item.clone() } else { format!("{out}{SEPARATOR}{item}") };
        let tail = if left > 0 { w(&more(left)) } else { 0 };
        if w(&candidate) + tail <= width {
            out = candidate;
            continue;
        }
        let rest = more(items.len() - i);
        if out.is_empty() {
            // Not even the worst fits whole: cut it, keep the count of the others.
            let tail = if left > 0 { more(left) } else { String::new() };
            if w(&tail) >= width {
                return super::fleet::truncate(item, width as u16);
            }
            let room = width - w(&tail);
            return format!("{}{tail}", super::fleet::truncate(item, room as u16));
        }
        return format!("{out}{rest}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::MetricKind;
    use crate::ui::fixtures;
    use crate::ui::tests::{fixture_app, screen_text};

    #[test]
    fn the_line_names_open_breakers_then_firing_alarms_then_far_over_readings() {
        let mut fleet = fixtures::fleet();
        // A p95 of 61 s against llm-chat's 2 s SLO (issue 15, point 5).
        let chat = fleet.groups.iter_mut().find(|g| g.spec.name == "llm-chat").unwrap();
        chat.spec.slo_p95 = Some(Duration::from_secs(2));
        let p95 = chat.series.iter_mut().find(|s| s.kind == MetricKind::LatencyP95).unwrap();
        let mut points: Vec<_> = p95.points.iter().cloned().collect();
        points.last_mut().unwrap().value = 61.0;
        p95.points = points.into();
        let got = items(&fleet, &Thresholds::default());
        assert_eq!(
            got,
            [
                "vision BREAKER OPEN: 3 actuator calls in a row failed",
                "llm-chat queue-high FIRING at 37",
                "llm-chat gpu 95% (limit 90%)",
                "llm-chat p95 61.0s (30× the 2.00s SLO)",
            ],
        );
    }

    #[test]
    fn nothing_badly_wrong_no_line() {
        let mut fleet = fixtures::fleet();
        for group in &mut fleet.groups {
            group.controls.retain(|c| c.kind != ControlKind::Breaker);
            group.alarms.clear();
            group.series.retain(|s| s.kind != MetricKind::GpuUtil);
        }
        assert_eq!(items(&fleet, &Thresholds::default()), Vec::<String>::new());
    }

    #[test]
    fn what_does_not_fit_is_counted() {
        let items: Vec<String> = ["vision: breaker open", "llm-chat queue-high FIRING at 37", "x p95 9s"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            fit_items(&items, 200),
            "vision: breaker open · llm-chat queue-high FIRING at 37 · x p95 9s"
        );
        assert_eq!(fit_items(&items, 40), "vision: breaker open · +2 more");
        // The worst is cut before it is dropped.
        assert_eq!(fit_items(&items, 18), "vision:… · +2 more");
        assert_eq!(fit_items(&items, 0), "");
    }

    #[test]
    fn the_line_sits_under_the_header_and_says_when_its_data_is_old() {
        let mut app = fixture_app();
        let text = screen_text(&app, 120, 30);
        let second = text.lines().nth(1).unwrap();
        assert!(
            second.starts_with(" NOW  vision BREAKER OPEN: 3 actuator calls in a row failed · llm-chat"),
            "{text}"
        );
        assert!(second.contains("+1 more"), "{second}");
        app.old = Some("the daemon is gone".into());
        let text = screen_text(&app, 120, 30);
        assert!(text.lines().nth(1).unwrap().starts_with(" LAST KNOWN  vision BREAKER OPEN"), "{text}");
        // Tiny terminals keep their group rows instead.
        let text = screen_text(&app, 40, 6);
        assert!(!text.contains("NOW") && !text.contains("LAST KNOWN"), "{text}");
    }
}
