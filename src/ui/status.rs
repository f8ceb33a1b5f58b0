//! The bottom line: the `:` command line while typing; otherwise the newest status (a
//! command's reply, a parse error, an engine event), else what the layout had to hide
//! (the selected group's failing backend, the detail pane), else key hints from the
//! keymap.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::app::{App, Mode, StatusKind, View};
use super::fleet::health_line;
use super::keymap::{Action, Context};
use super::order::Filter;

/// What the layout could not show, so the status line can say it instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hidden {
    pub health_lines: bool,
    pub detail: bool,
}

/// Draws the bottom line; returns where the terminal cursor belongs (command line only).
pub fn render(app: &App, hidden: Hidden, area: Rect, buf: &mut Buffer) -> Option<Position> {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return None;
    }
    let area = Rect { height: 1, ..area };
    let theme = &app.theme;
    let prompt = match &app.mode {
        Mode::CommandLine(text) => Some((':', text)),
        Mode::Filter(text) => Some(('/', text)),
        _ => None,
    };
    if let Some((sigil, text)) = prompt {
        // Keep the end of a long line (where the typing happens) in view.
        let full = format!("{sigil}{text}");
        let fit = usize::from(area.width.saturating_sub(1));
        let chars: Vec<char> = full.chars().collect();
        let shown: String = chars[chars.len().saturating_sub(fit)..].iter().collect();
        let cursor_x = area.x.saturating_add(Span::raw(shown.as_str()).width() as u16);
        Line::styled(shown, theme.command_line).render(area, buf);
        if sigil == '/' && Filter::new(text).is_literal() {
            // Said at the right, where it does not cover the typing.
            let hint = Line::from(Span::styled("not a regex: matched as text ", theme.muted)).right_aligned();
            if usize::from(cursor_x - area.x) + hint.width() + 2 <= usize::from(area.width) {
                hint.render(area, buf);
            }
        }
        return Some(Position { x: cursor_x.min(area.right().saturating_sub(1)), y: area.y });
    }
    let line = if app.war_room.is_some() {
        war_room_line(app)
    } else if let Some(status) = &app.status {
        let style = match status.kind {
            StatusKind::Info => theme.status,
            StatusKind::Ok => theme.status_ok,
            StatusKind::Error => theme.status_error,
        };
        Line::styled(status.text.clone(), style)
    } else if let Some(failure) = hidden.health_lines.then(|| selected_failure(app)).flatten() {
        Line::from(vec![Span::styled("x ", theme.error), Span::styled(failure, theme.error)])
    } else if hidden.detail {
        Line::styled("detail pane needs a larger terminal", theme.muted)
    } else {
        hints(app, area.width)
    };
    line.render(area, buf);
    None
}

/// The war-room screen's bottom line: which group is shown and why, and how to leave.
fn war_room_line(app: &App) -> Line<'static> {
    let theme = &app.theme;
    let firing = super::app::firing_rows(app);
    let shown = app.selected_group().map_or("—".to_string(), |g| g.spec.name.clone());
    let why = match firing.iter().position(|&i| i == app.selected) {
        Some(at) => format!("{shown}: {} of {} groups with alarms firing", at + 1, firing.len()),
        None if firing.is_empty() => format!("{shown}: no alarm firing anywhere"),
        None => shown,
    };
    let quit =
        app.keymap.keys_for(Context::Normal, Action::Quit).first().map_or("q".into(), |k| k.to_string());
    Line::from(vec![
        Span::styled(" WAR ROOM ", theme.header_title),
        Span::styled(format!(" {why} · read-only · "), theme.status),
        Span::styled(quit, theme.help_key),
        Span::styled(" quits", theme.muted),
    ])
}

fn selected_failure(app: &App) -> Option<String> {
    let group = app.selected_group()?;
    let failures: Vec<String> = [("source", &group.source), ("actuator", &group.actuator)]
        .into_iter()
        .filter_map(|(name, health)| health_line(name, health, &app.snapshot))
        .collect();
    (!failures.is_empty()).then(|| format!("{}: {}", group.spec.name, failures.join(" · ")))
}

/// The current view's keys, as many as fit whole (the list is in order of importance:
/// help and quit first).
fn hints(app: &App, width: u16) -> Line<'static> {
    let theme = &app.theme;
    let mut spans = Vec::new();
    let keys: &[(Action, &str)] = match app.view {
        View::Fleet => &[
            (Action::Help, "help"),
            (Action::Quit, "quit"),
            (Action::CommandLine, "command"),
            (Action::Filter, "filter"),
            (Action::ToggleDetail, "detail"),
            (Action::Pause, "pause"),
            (Action::Scale, "scale"),
            (Action::ViewAlarms, "alarms"),
            (Action::ViewDecisions, "decisions"),
        ],
        View::Alarms => &[
            (Action::Help, "help"),
            (Action::Quit, "quit"),
            (Action::Filter, "filter"),
            (Action::ViewFleet, "fleet"),
            (Action::ViewDecisions, "decisions"),
            (Action::ViewDiagnostics, "log"),
            (Action::CommandLine, "command"),
        ],
        View::Diagnostics => &[
            (Action::Help, "help"),
            (Action::Quit, "quit"),
            (Action::ViewFleet, "fleet"),
            (Action::ViewAlarms, "alarms"),
            (Action::ViewDecisions, "decisions"),
            (Action::CommandLine, "command"),
        ],
        View::Decisions => &[
            (Action::Help, "help"),
            (Action::Quit, "quit"),
            (Action::ToggleDetail, "expand"),
            (Action::ActionsOnly, "actions only"),
            (Action::Filter, "filter"),
            (Action::ViewFleet, "fleet"),
            (Action::ViewAlarms, "alarms"),
        ],
    };
    let mut used = 0;
    for &(action, what) in keys {
        let Some(key) = app.keymap.keys_for(Context::Normal, action).first().map(|k| k.to_string()) else {
            continue;
        };
        let gap = if spans.is_empty() { "" } else { "  " };
        let hint_width = gap.len() + Span::raw(format!("{key} {what}")).width();
        if used + hint_width > usize::from(width) {
            continue;
        }
        used += hint_width;
        if !gap.is_empty() {
            spans.push(Span::styled(gap, theme.muted));
        }
        spans.push(Span::styled(key, theme.help_key));
        spans.push(Span::styled(format!(" {what}"), theme.muted));
    }
    Line::from(spans)
}
