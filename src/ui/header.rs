//! The top bar: product name, READ-ONLY, ENGINE STOPPED and BREAKER badges, stale-series
//! count, a notifier that cannot send, alarms firing, who holds the leases, data age, group count (and the filter),
//! fleet cost per hour and per 1,000 requests, and tick number. When the terminal is
//! narrow, segments go least urgent first (tick, cost, group count, product name); the
//! badges and the freshness of the data stay to the end.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::protocol::LinkState;

use super::app::{self, App};
use super::format;
use super::metrics;
use super::order::Sort;

const SEPARATOR: &str = " · ";

struct Segment {
    text: String,
    style: Style,
    /// 0 is kept longest.
    priority: u8,
}

fn segments(app: &App) -> Vec<Segment> {
    let theme = &app.theme;
    let snapshot = &app.snapshot;
    let mut out = vec![Segment { text: "fleetdeck".into(), style: theme.header_title, priority: 2 }];
    // The engine's word counts too: it refuses commands whatever this console was told.
    if app.readonly || snapshot.readonly {
        out.push(Segment { text: " READ-ONLY ".into(), style: theme.badge_readonly, priority: 0 });
    }
    match &app.link {
        // Short, so it always fits: the error itself is on the status line.
        Some(LinkState::Disconnected { retry_at, .. }) => {
            let text = format!(" DISCONNECTED · retry {} ", crate::model::words::clock(*retry_at));
            out.push(Segment { text, style: theme.badge_alert, priority: 0 });
        }
        Some(LinkState::Connecting) => {
            out.push(Segment { text: " CONNECTING ".into(), style: theme.badge_alert, priority: 0 });
        }
        Some(LinkState::Connected { engine }) => {
            out.push(Segment { text: format!("attached to {engine}"), style: theme.header, priority: 3 });
        }
        None => {}
    }
    if app.engine_stopped {
        out.push(Segment { text: " ENGINE STOPPED ".into(), style: theme.badge_alert, priority: 0 });
    }
    let stale = metrics::stale_series(snapshot);
    if stale > 0 {
        let text = format!(" {}{stale} stale series ", metrics::STALE_MARK);
        out.push(Segment { text, style: theme.badge_alert, priority: 1 });
    }
    let tripped = snapshot
        .groups
        .iter()
        .filter(|g| g.controls.iter().any(|c| c.kind == crate::protocol::ControlKind::Breaker))
        .count();
    if tripped > 0 {
        let text = format!(" {tripped} BREAKER OPEN ");
        out.push(Segment { text, style: theme.badge_alert, priority: 0 });
    }
    if let Some(text) = metrics::lease_summary(snapshot, app.link.is_some()) {
        // What is on screen is old: who holds the lease now is not known.
        let text = if app.old.is_some() { "lease: unknown".to_string() } else { text };
        out.push(Segment { text, style: theme.header, priority: 4 });
    }
    // A notifier that cannot send: pages and updates are not reaching anyone.
    for notifier in snapshot.notifiers.iter().filter(|n| n.failing.is_some()) {
        let text = format!(" {} NOT SENDING ({} waiting) ", notifier.name, notifier.waiting);
        out.push(Segment { text, style: theme.badge_alert, priority: 0 });
    }
    let firing: usize = snapshot.groups.iter().map(|g| g.firing().count()).sum();
    if firing > 0 {
        let noun = if firing == 1 { "alarm" } else { "alarms" };
        let text = format!(" {firing} {noun} FIRING ");
        out.push(Segment { text, style: theme.badge_alert, priority: 0 });
    }
    let (age_text, age_style) = match app::data_age(app) {
        Some(age) if age > snapshot.stale_after => (
            format!("data as of {} ago{}", format::age(age), metrics::OVER_MARK),
            theme.header.patch(theme.warn),
        ),
        Some(age) => (format!("data as of {} ago", format::age(age)), theme.header),
        None => ("no data yet".to_string(), theme.header),
    };
    out.push(Segment { text: age_text, style: age_style, priority: 1 });
    let groups = snapshot.groups.len();
    let noun = if groups == 1 { "group" } else { "groups" };
    let filter = app.active_filter();
    if filter.is_empty() {
        out.push(Segment { text: format!("{groups} {noun}"), style: theme.header, priority: 3 });
    } else {
        let shown = app.rows().len();
        let text = format!("/{filter}: {shown} of {groups} {noun}");
        out.push(Segment { text, style: theme.header_title, priority: 2 });
    }
    if app.sort != Sort::default() {
        out.push(Segment { text: format!("sort: {}", app.sort.label()), style: theme.header, priority: 2 });
    }
    out.push(Segment {
        text: format::usd_per_hour(metrics::fleet_hourly_cost_usd(snapshot)),
        style: theme.header,
        priority: 3,
    });
    if let Some(per_1k) = metrics::cost_per_1k_requests(snapshot) {
        let text = format!("{}/1k req", format::usd(per_1k));
        out.push(Segment { text, style: theme.header, priority: 5 });
    }
    out.push(Segment { text: format!("tick {}", snapshot.seq), style: theme.header, priority: 4 });
    out
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let area = Rect { height: 1, ..area };
    buf.set_style(area, app.theme.header);
    let all = segments(app);
    // Keep the most urgent segments that fit, then draw them in their natural order.
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by_key(|&i| all[i].priority);
    // Every kept segment costs its separator; the first one's pays for the leading space.
    let separator_width = Span::raw(SEPARATOR).width();
    let budget = usize::from(area.width).saturating_sub(1) + separator_width;
    let mut keep = vec![false; all.len()];
    let mut used = 0;
    for i in order {
        let w = Span::raw(all[i].text.as_str()).width() + separator_width;
        if used + w <= budget {
            keep[i] = true;
            used += w;
        }
    }
    let mut spans = vec![Span::raw(" ")];
    for segment in all.into_iter().zip(keep).filter_map(|(s, k)| k.then_some(s)) {
        if spans.len() > 1 {
            spans.push(Span::styled(SEPARATOR, app.theme.header));
        }
        spans.push(Span::styled(segment.text, segment.style));
    }
    Line::from(spans).style(app.theme.header).render(area, buf);
}

#[cfg(test)]
mod link_tests {
    use crate::protocol::LinkState;
    use crate::ui::tests::{fixture_app, screen_text};

    #[test]
    fn an_attached_console_says_whether_its_daemon_is_there() {
        let mut app = fixture_app();
        app.link = Some(LinkState::Connected { engine: "fleetdeck@ops-1:42".into() });
        let top = screen_text(&app, 200, 10).lines().next().unwrap().to_string();
        assert!(top.contains("attached to fleetdeck@ops-1:42"), "{top}");
        let retry_at = crate::ui::fixtures::TAKEN_AT.plus(std::time::Duration::from_secs(4));
        app.link =
            Some(LinkState::Disconnected { error: "the daemon closed the connection".into(), retry_at });
        let top = screen_text(&app, 140, 10).lines().next().unwrap().to_string();
        assert!(top.contains("DISCONNECTED · retry 00:00:04 UTC"), "{top}");
        // However long the error, the badge fits an 80-column header.
        let error =
            "cannot reach a fleetdeck daemon at /a/very/long/path/to/the/fleet.sock: refused".repeat(3);
        app.link = Some(LinkState::Disconnected { error, retry_at });
        let top = screen_text(&app, 80, 10).lines().next().unwrap().to_string();
        assert!(top.contains("DISCONNECTED"), "{top}");
    }
}

#[cfg(test)]
mod notifier_tests {
    use crate::protocol::{NotifierFailure, NotifierView};
    use crate::ui::tests::{fixture_app, screen_text};

    #[test]
    fn a_notifier_that_cannot_send_is_a_badge_that_stays_on_a_narrow_screen() {
        let mut app = fixture_app();
        let top = screen_text(&app, 200, 10).lines().next().unwrap().to_string();
        assert!(!top.contains("NOT SENDING"), "{top}");
        let mut fleet = (*app.snapshot).clone();
        let failing = NotifierFailure {
            at: crate::ui::fixtures::TAKEN_AT,
            error: "PagerDuty https://events.pagerduty.com (pd): HTTP 500".into(),
        };
        fleet.notifiers = vec![
            NotifierView { name: "pd".into(), waiting: 3, failing: Some(failing), ..NotifierView::default() },
            NotifierView { name: "team".into(), sent: 9, ..NotifierView::default() },
        ];
        app.snapshot = std::sync::Arc::new(fleet);
        let top = screen_text(&app, 80, 10).lines().next().unwrap().to_string();
        assert!(top.contains("pd NOT SENDING (3 waiting)") && !top.contains("team"), "{top}");
    }
}
