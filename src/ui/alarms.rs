//! The alarms view: every alarm rule of the groups the table lists (the `/` filter
//! applies), firing first, then pending, then the rest; each with its state spelled out
//! (colour only reinforces it), how long it has been so, its latest value, its rule, and
//! whether its page is silenced or held back behind a warm-up. A metric source's own
//! alerts (Prometheus's rules, where the source reads them) are listed among them, marked
//! `from SOURCE` where the paging goes: fleetdeck never pages them.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::model::AlarmState;
use crate::protocol::{AlarmView, ControlKind, GroupSnapshot};

use super::app::App;
use super::format;
use super::theme::Theme;

/// One row of the view.
pub struct AlarmRow<'a> {
    pub group: &'a GroupSnapshot,
    pub alarm: &'a AlarmView,
}

/// The rows, most urgent first: FIRING, PENDING, INSUFFICIENT_DATA, OK; within a state
/// the longest-standing first, then by group and alarm name.
pub fn rows(app: &App) -> Vec<AlarmRow<'_>> {
    let mut rows: Vec<AlarmRow<'_>> = app
        .rows()
        .into_iter()
        .map(|i| &app.snapshot.groups[i])
        .flat_map(|group| group.alarms.iter().map(move |alarm| AlarmRow { group, alarm }))
        .collect();
    let rank = |state: AlarmState| match state {
        AlarmState::Firing => 0,
        AlarmState::Pending => 1,
        AlarmState::InsufficientData => 2,
        AlarmState::Ok => 3,
    };
    rows.sort_by(|a, b| {
        (rank(a.alarm.state), a.alarm.since, &a.group.spec.name, &a.alarm.name).cmp(&(
            rank(b.alarm.state),
            b.alarm.since,
            &b.group.spec.name,
            &b.alarm.name,
        ))
    });
    rows
}

fn state_text(state: AlarmState) -> &'static str {
    match state {
        AlarmState::Firing => "FIRING",
        AlarmState::Pending => "pending",
        AlarmState::InsufficientData => "no data",
        AlarmState::Ok => "ok",
    }
}

fn state_style(state: AlarmState, theme: &Theme) -> Style {
    match state {
        AlarmState::Firing => theme.error,
        AlarmState::Pending => theme.warn,
        AlarmState::InsufficientData => theme.stale,
        AlarmState::Ok => theme.ok,
    }
}

/// Whether its page goes out: silenced with the group, held behind a warm-up, or not;
/// a source's own alert is never fleetdeck's to page (`from prom`).
fn paging(row: &AlarmRow<'_>) -> String {
    if let Some(source) = &row.alarm.source {
        format!("from {source}")
    } else if row.group.controls.iter().any(|c| c.kind == ControlKind::Silence) {
        "silenced".to_string()
    } else if let Some(until) = row.alarm.held_until {
        format!("held to {}", crate::model::words::clock(until))
    } else {
        String::new()
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let rows = rows(app);
    if rows.is_empty() {
        Line::styled("no alarm rules on the groups shown", theme.muted).render(area, buf);
        return;
    }
    let now = app.snapshot.taken_at;
    let name_width = rows.iter().map(|r| r.group.spec.name.chars().count()).max().unwrap_or(5).max(5);
    let alarm_width = rows.iter().map(|r| r.alarm.name.chars().count()).max().unwrap_or(5).max(5);
    let heading = format!(
        "{:<8} {:<name_width$} {:<alarm_width$} {:>8} {:>9}  {:<14} rule",
        "state", "group", "alarm", "for", "value", "paging"
    );
    Line::styled(super::fleet::truncate(&heading, area.width), theme.table_header)
        .render(Rect { height: 1, ..area }, buf);
    let shown = usize::from(area.height.saturating_sub(1));
    let more = rows.len().saturating_sub(shown);
    let fits = if more > 0 { shown.saturating_sub(1) } else { shown };
    for (i, row) in rows.iter().take(fits).enumerate() {
        let alarm = row.alarm;
        let value = alarm.value.map_or("—".to_string(), crate::model::words::number);
        let cells = format!(
            " {:<name_width$} {:<alarm_width$} {:>8} {:>9}  {:<14} {}",
            row.group.spec.name,
            alarm.name,
            format::age(now.since(alarm.since)),
            value,
            paging(row),
            alarm.summary
        );
        let state = format!("{:<7}", state_text(alarm.state));
        let line = Line::from(vec![
            Span::styled(state, state_style(alarm.state, theme)),
            Span::styled(cells, theme.base),
        ]);
        let y = area.y + 1 + i as u16;
        super::fleet::fit(line, area.width).render(Rect { y, height: 1, ..area }, buf);
    }
    if more > 0 {
        let y = area.y + 1 + fits as u16;
        let text = format!("… {} more (filter with /)", rows.len() - fits);
        Line::styled(text, theme.muted).render(Rect { y, height: 1, ..area }, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::tests::{fixture_app, screen_text};

    #[test]
    fn firing_alarms_come_first_with_their_state_spelled_out() {
        let mut app = fixture_app();
        app.view = crate::ui::app::View::Alarms;
        let rows = rows(&app);
        assert!(!rows.is_empty());
        assert_eq!(rows[0].alarm.state, AlarmState::Firing);
        let ranks: Vec<AlarmState> = rows.iter().map(|r| r.alarm.state).collect();
        let firing_done = ranks.iter().position(|s| *s != AlarmState::Firing).unwrap_or(ranks.len());
        assert!(ranks[firing_done..].iter().all(|s| *s != AlarmState::Firing), "{ranks:?}");
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("FIRING") && screen.contains("queue-high"), "{screen}");
        assert!(screen.contains("queue_length average > 50"), "{screen}");
    }

    #[test]
    fn the_filter_applies_and_a_tiny_screen_says_how_many_more() {
        let mut app = fixture_app();
        app.view = crate::ui::app::View::Alarms;
        app.filter = "vision".into();
        assert!(rows(&app).iter().all(|r| r.group.spec.name == "vision"));
        app.filter.clear();
        // Five alarms on llm-chat; a 5-row screen has room for the heading and two.
        let mut fleet = (*app.snapshot).clone();
        let alarm = fleet.groups[0].alarms[0].clone();
        for n in 0..3 {
            fleet.groups[0].alarms.push(AlarmView { name: format!("extra-{n}"), ..alarm.clone() });
        }
        app.snapshot = std::sync::Arc::new(fleet);
        let total = rows(&app).len();
        assert!(total >= 5, "{total}");
        let screen = screen_text(&app, 60, 5);
        assert!(screen.contains(&format!("… {} more (filter with /)", total - 1)), "{screen}");
    }

    #[test]
    fn a_sources_own_alert_is_listed_among_the_alarms_and_marked_as_not_paged_here() {
        let mut app = fixture_app();
        app.view = crate::ui::app::View::Alarms;
        let mut fleet = (*app.snapshot).clone();
        let since = fleet.taken_at.minus(std::time::Duration::from_secs(600));
        fleet.groups[0].alarms.push(AlarmView {
            name: "VllmQueueBacklog".into(),
            state: AlarmState::Firing,
            since,
            value: Some(42.0),
            summary: "llm-chat has a backlog".into(),
            metric: None,
            held_until: None,
            source: Some("prom".into()),
        });
        app.snapshot = std::sync::Arc::new(fleet);
        let screen = screen_text(&app, 140, 40);
        let row = screen.lines().find(|l| l.contains("VllmQueueBacklog")).unwrap_or_default();
        assert!(
            row.contains("FIRING") && row.contains("from prom") && row.contains("llm-chat has a backlog"),
            "{row}"
        );
        assert!(row.contains("10m"), "how long: {row}");
    }
}
