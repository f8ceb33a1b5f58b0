//! The decision log view: every change of desired the autoscaler decided, and each
//! decision that holds a group for a new reason ([`DecisionEntry`], protocol 1.3), newest
//! first.
//!
//! Each row is one entry: when, which group, what it did (▲ out, ▼ in, ■ blocked,
//! · no change, a shadow change as "would …"), how long it stood (until the group's next
//! entry, or "now") and its reason. Operators' actions and the circuit breaker's trips
//! and closes are rows too (◆, protocol 1.7: `by` set), with who did it: the timeline of
//! who did what. They stand for no decision, so they neither stand nor end a decision's
//! standing. The `/` filter keeps the groups it matches (as in the fleet table); "actions
//! only" keeps the entries that change desired and the ◆ rows. The selected entry
//! expands (enter) to what it read, each policy's proposal, the cuts on the way from the
//! recommendation to desired, the bounds and what blocked it.
//!
//! The console keeps the newest [`CAPACITY`] entries it has received; the selection stays
//! on its entry as new ones arrive, unless it is on the newest, which it then follows.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::model::Timestamp;
use crate::protocol::DecisionEntry;

use super::app::App;
use super::fleet::fit;
use super::format;
use super::theme::{Theme, highlight};

/// Entries a console keeps (the oldest go first).
pub const CAPACITY: usize = 2_000;

/// The entries received and how they are browsed.
#[derive(Clone, Debug, Default)]
pub struct DecisionLog {
    entries: VecDeque<Arc<DecisionEntry>>,
    /// The id of `entries[0]`: ids count every entry ever received, so one still names
    /// the same entry after older ones are dropped.
    first_id: u64,
    /// The selected entry; None: the newest shown, following new entries.
    pub cursor: Option<u64>,
    /// The selected entry is shown in full.
    pub expanded: bool,
    /// Only entries that change desired.
    pub actions_only: bool,
}

/// One row of the view.
pub struct Row<'a> {
    pub id: u64,
    pub entry: &'a DecisionEntry,
    /// When the group's next decision replaced it; None: it stands now (or it is an
    /// operator's or the breaker's entry, which stands for no decision).
    pub until: Option<Timestamp>,
}

impl DecisionLog {
    pub fn push(&mut self, entry: DecisionEntry) {
        if self.entries.len() == CAPACITY {
            self.entries.pop_front();
            self.first_id += 1;
        }
        self.entries.push_back(Arc::new(entry));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries `keep` accepts (by group name), newest first, each with when it
    /// stopped standing; "actions only" applies.
    pub fn rows(&self, keep: impl Fn(&str) -> bool) -> Vec<Row<'_>> {
        let mut next_at: BTreeMap<&str, Timestamp> = BTreeMap::new();
        let mut rows = Vec::new();
        for (i, entry) in self.entries.iter().enumerate().rev() {
            let until = if entry.is_operator_or_breaker() {
                None
            } else {
                next_at.insert(entry.group.as_str(), entry.at)
            };
            if keep(&entry.group) && (!self.actions_only || did_something(entry)) {
                rows.push(Row { id: self.first_id + i as u64, entry, until });
            }
        }
        rows
    }

    /// Where the selection is among `rows` (the first row when it is not among them).
    pub fn selected(&self, rows: &[Row<'_>]) -> usize {
        self.cursor.and_then(|id| rows.iter().position(|r| r.id == id)).unwrap_or(0)
    }

    /// The cursor `by` rows away (clamped at the ends); on the first row, None: it
    /// follows the newest entry.
    pub fn cursor_after(&self, rows: &[Row<'_>], by: isize) -> Option<u64> {
        let last = rows.len().checked_sub(1)?;
        let to = self.selected(rows).saturating_add_signed(by).min(last);
        (to > 0).then(|| rows[to].id)
    }
}

/// The view's rows for the console's filter.
pub fn rows(app: &App) -> Vec<Row<'_>> {
    let filter = super::order::Filter::new(app.active_filter());
    app.decisions.rows(|group| match app.snapshot.group(group) {
        Some(g) => filter.matches(g),
        None => filter.matches_name(group),
    })
}

/// Whether the entry changed desired or is an operator's or the breaker's action: what
/// "actions only" keeps and the list shows unmuted.
fn did_something(entry: &DecisionEntry) -> bool {
    entry.is_action() || entry.is_operator_or_breaker()
}

/// What the entry did, in a few columns: the symbol says it without colour.
fn outcome(entry: &DecisionEntry, theme: &Theme) -> (String, Style) {
    if entry.is_operator_or_breaker() {
        return (format!("◆ {}", entry.current), theme.label);
    }
    match entry.desired {
        Some(to) if to > entry.current => {
            (format!("▲ {}→{to}", entry.current), if entry.shadow { theme.warn } else { theme.ok })
        }
        Some(to) => (format!("▼ {}→{to}", entry.current), if entry.shadow { theme.warn } else { theme.ok }),
        None if !entry.blocked.is_empty() => (format!("■ {}", entry.current), theme.warn),
        None => (format!("· {}", entry.current), theme.muted),
    }
}

/// "14:02:11": the engine clock's time of day, UTC.
fn time_of_day(at: Timestamp) -> String {
    at.to_rfc3339().get(11..19).unwrap_or_default().to_string()
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let rows = rows(app);
    let mut title = format!(" decisions: {} of {}", rows.len(), app.decisions.len());
    if app.decisions.actions_only {
        title.push_str(" · actions only");
    }
    if !app.active_filter().trim().is_empty() {
        title.push_str(&format!(" · groups matching \"{}\"", app.active_filter().trim()));
    }
    title.push(' ');
    Line::from(vec![Span::styled(title, theme.title)]).render(Rect { height: 1, ..area }, buf);
    let body = Rect { y: area.y + 1, height: area.height.saturating_sub(1), ..area };
    if rows.is_empty() {
        let text = if app.decisions.is_empty() {
            "no decision yet: the first comes with the first tick that sees capacity"
        } else {
            "no entry matches (esc clears the filter)"
        };
        Line::styled(text, theme.muted).render(body, buf);
        return;
    }
    let selected = app.decisions.selected(&rows);
    // The list keeps at least 5 rows; the expanded entry takes the rest, up to two thirds.
    let (list, detail) = if app.decisions.expanded && body.height >= 12 {
        let detail_height = (body.height * 2 / 3).min(body.height - 5);
        let list = Rect { height: body.height - detail_height, ..body };
        (list, Some(Rect { y: list.bottom(), height: detail_height, ..body }))
    } else {
        (body, None)
    };
    render_list(app, &rows, selected, list, buf);
    if let Some(area) = detail {
        render_entry(&rows[selected], app.snapshot.taken_at, theme, area, buf);
    }
}

fn render_list(app: &App, rows: &[Row<'_>], selected: usize, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let height = usize::from(area.height);
    if height == 0 {
        return;
    }
    let first = selected.saturating_sub(height - 1);
    let group_width = rows.iter().map(|r| r.entry.group.chars().count()).max().unwrap_or(5).clamp(5, 24);
    let now = app.snapshot.taken_at;
    for (i, row) in rows.iter().enumerate().skip(first).take(height) {
        let entry = row.entry;
        let (what, what_style) = outcome(entry, theme);
        let stood = format::age(row.until.unwrap_or(now).since(entry.at));
        let stood = match (entry.is_operator_or_breaker(), row.until) {
            (true, _) => String::new(),
            (false, None) => format!("{stood}+"),
            (false, Some(_)) => stood,
        };
        let line = Line::from(vec![
            Span::styled(format!("{} ", time_of_day(entry.at)), theme.label),
            Span::styled(
                format!("{:<group_width$} ", super::fleet::truncate(&entry.group, group_width as u16)),
                theme.base,
            ),
            Span::styled(format!("{what:<9} "), what_style),
            Span::styled(format!("{stood:>7}  "), theme.muted),
            Span::styled(entry.reason_line(), if did_something(entry) { theme.base } else { theme.muted }),
        ]);
        let y = area.y + (i - first) as u16;
        let line_area = Rect { y, height: 1, ..area };
        fit(line, area.width).render(line_area, buf);
        if i == selected {
            highlight(buf, line_area, theme.selected);
        }
    }
}

/// The selected entry in full.
fn render_entry(row: &Row<'_>, now: Timestamp, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let entry = row.entry;
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border)
        .title(Span::styled(format!(" {} at {} ", entry.group, entry.at.to_rfc3339()), theme.title));
    let inner = block.inner(area);
    block.render(area, buf);
    Paragraph::new(entry_lines(row, now, theme, inner.width)).render(inner, buf);
}

/// Width of the field names' column of an expanded entry.
const LABEL_WIDTH: usize = 12;

/// The lines of an expanded entry, `width` columns wide: outcome, reason, how long it
/// stood, what it read, the proposals, the way to desired, what blocked it. Long values
/// wrap under themselves, clear of the field names.
pub fn entry_lines(row: &Row<'_>, now: Timestamp, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let entry = row.entry;
    let room = usize::from(width).saturating_sub(LABEL_WIDTH).max(20);
    let mut lines = Vec::new();
    let mut field = |name: &str, text: String, style: Style| {
        for (i, part) in wrap(&text, room).into_iter().enumerate() {
            let label = if i == 0 { name } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("{label:<LABEL_WIDTH$}"), theme.label),
                Span::styled(part, style),
            ]));
        }
    };
    if let Some(by) = &entry.by {
        field("outcome", format!("desired stays at {}", entry.current), outcome(entry, theme).1);
        field("by", by.clone(), theme.base);
        field("what", entry.reason.clone(), theme.base);
        let bounds = format!("min {} · max {}", entry.min.0, entry.max.0);
        field("bounds", bounds, theme.base);
        return lines;
    }
    let acted = match (entry.desired, entry.shadow, &entry.not_acted) {
        (None, _, _) => format!("kept desired at {}", entry.current),
        (Some(to), false, _) => format!("set desired {} → {to}", entry.current),
        (Some(to), true, Some(why)) => {
            format!("would set desired {} → {to}; not acted on: {why}", entry.current)
        }
        (Some(to), true, None) => format!("would set desired {} → {to} (shadow mode)", entry.current),
    };
    field("outcome", acted, outcome(entry, theme).1);
    field("reason", entry.reason.clone(), theme.base);
    let stood = match row.until {
        Some(until) => format!("until {} ({})", time_of_day(until), format::age(until.since(entry.at))),
        None => format!("still in force ({} so far)", format::age(now.since(entry.at))),
    };
    field("stood", stood, theme.base);
    let read: Vec<String> = entry
        .inputs
        .iter()
        .map(|m| {
            let value = crate::model::words::value(&m.kind, m.value);
            format!("{} {value} ({} old)", m.kind, format::age(entry.at.since(m.at)))
        })
        .collect();
    let read = if read.is_empty() { "no metric".to_string() } else { read.join(" · ") };
    field("read", read, theme.base);
    for (i, alarm) in entry.alarms.iter().enumerate() {
        field(if i == 0 { "alarms" } else { "" }, alarm.clone(), theme.base);
    }
    let policy_width = entry.proposals.iter().map(|p| p.policy.chars().count()).max().unwrap_or(0);
    if entry.proposals.is_empty() {
        field("proposals", "no policy configured".into(), theme.muted);
    }
    for (i, p) in entry.proposals.iter().enumerate() {
        let desired = p.desired.map_or(format::NO_VALUE.to_string(), |d| d.to_string());
        let style = if p.desired.is_some() { theme.base } else { theme.muted };
        let text = format!("{:<policy_width$} {desired:>4}  {}", p.policy, p.reason);
        field(if i == 0 { "proposals" } else { "" }, text, style);
    }
    let mut way = format!("recommendation {}", entry.recommendation);
    for clamp in &entry.clamps {
        way.push_str(&format!(" → {} ({})", clamp.to, clamp.by));
    }
    way.push_str(&format!(" ⇒ desired {}", entry.desired.unwrap_or(entry.current)));
    field("way", way, theme.base);
    let bounds = format!("min {} ({}) · max {} ({})", entry.min.0, entry.min.1, entry.max.0, entry.max.1);
    field("bounds", bounds, theme.base);
    for (i, block) in entry.blocked.iter().enumerate() {
        field(if i == 0 { "blocked" } else { "" }, block.clone(), theme.warn);
    }
    lines
}

/// `text` in lines of at most `width` columns, broken at spaces (a word longer than a
/// line is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("at least one line");
        let used = Span::raw(line.as_str()).width();
        let wanted = Span::raw(word).width();
        if used > 0 && used + 1 + wanted > width {
            lines.push(word.to_string());
        } else {
            if used > 0 {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::app::{Msg, View, update};
    use crate::ui::fixtures;
    use crate::ui::tests::{fixture_app, screen_text};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn log_app() -> App {
        let mut app = fixture_app();
        app.view = View::Decisions;
        app
    }

    fn reasons(rows: &[Row<'_>]) -> Vec<String> {
        rows.iter().map(|r| r.entry.reason.clone()).collect()
    }

    #[test]
    fn rows_are_newest_first_and_each_stands_until_its_groups_next_entry() {
        let app = log_app();
        let rows = rows(&app);
        let entries = fixtures::decisions();
        assert_eq!(rows.len(), entries.len());
        assert!(rows.windows(2).all(|w| w[0].entry.at >= w[1].entry.at));
        // vision: 23:30 scale-out, 23:35 no change, 23:59:19 the breaker trips, 23:59:20
        // no change; the first stood 5m. The trip is no decision: it ends none.
        let vision: Vec<&Row<'_>> = rows.iter().filter(|r| r.entry.group == "vision").collect();
        assert_eq!(vision[0].until, None, "the newest stands now");
        assert_eq!(vision[1].entry.by.as_deref(), Some("circuit breaker"));
        assert_eq!(vision[1].until, None, "the breaker's entry stands for no decision");
        assert_eq!(vision[2].until, Some(vision[0].entry.at));
        assert_eq!(vision[3].until, Some(vision[2].entry.at));
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("23:30:00 vision     ▲ 2→3       5m00s  scale out 2→3"), "{screen}");
        assert!(screen.contains("■ 2") && screen.contains("· 3") && screen.contains("▼ 8→6"), "{screen}");
        assert!(
            screen.contains("23:59:19 vision     ◆ 3                breaker tripped: all scaling frozen"),
            "{screen}"
        );
        assert!(screen.contains("embeddings ◆ 2                scale-in paused by ana for 30m"), "{screen}");
    }

    #[test]
    fn shadow_changes_read_would_and_say_why_they_were_not_acted_on() {
        let screen = screen_text(&log_app(), 160, 40);
        assert!(screen.contains("would scale out 8→10: gpu_util 0.95"), "{screen}");
        assert!(
            screen.contains("would scale out 2→3: request_rate 120/s > target 50/s (needs 3) — observing: automation owned by engine-b"),
            "{screen}"
        );
        assert!(!screen.contains("would scale in 8→6"), "acted on: {screen}");
        assert!(!screen.contains("would no change"), "{screen}");
    }

    #[test]
    fn the_filter_and_actions_only_narrow_the_log() {
        let mut app = log_app();
        app.filter = "VISION".into();
        assert!(rows(&app).iter().all(|r| r.entry.group == "vision"));
        assert_eq!(rows(&app).len(), 4);
        // Instance types match as in the fleet table (embeddings runs on g5.xlarge).
        app.filter = "g5.xlarge".into();
        assert!(rows(&app).iter().all(|r| r.entry.group == "embeddings"), "{:?}", reasons(&rows(&app)));
        app.filter.clear();
        update(&mut app, key(KeyCode::Char('a')));
        assert!(app.decisions.actions_only);
        let actions = rows(&app);
        // Changes of desired, and who did what (the operator's pause, the breaker's trip).
        assert_eq!(actions.len(), 6, "{:?}", reasons(&actions));
        assert!(actions.iter().all(|r| r.entry.is_action() || r.entry.by.is_some()));
        assert_eq!(actions.iter().filter(|r| r.entry.by.is_some()).count(), 2);
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("decisions: 6 of 9 · actions only"), "{screen}");
        update(&mut app, key(KeyCode::Char('a')));
        assert_eq!(rows(&app).len(), 9);
    }

    #[test]
    fn the_selection_moves_expands_and_stays_on_its_entry_as_new_ones_arrive() {
        let mut app = log_app();
        for _ in 0..3 {
            update(&mut app, key(KeyCode::Char('j')));
        }
        let picked = rows(&app)[app.decisions.selected(&rows(&app))].entry.reason.clone();
        assert!(picked.starts_with("would scale out 2→3") || picked.starts_with("scale out 2→3"), "{picked}");
        update(&mut app, key(KeyCode::Enter));
        assert!(app.decisions.expanded);
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("not acted on: observing: automation owned by engine-b"), "{screen}");
        // A new entry arrives: the selection stays on the entry it was on.
        let mut newer = fixtures::decisions().pop().unwrap();
        newer.at = newer.at.plus(std::time::Duration::from_secs(5));
        newer.reason = "no change at 10: newest".into();
        update(&mut app, Msg::Engine(crate::protocol::Event::Decided(Box::new(newer.clone()))));
        let rows_now = rows(&app);
        assert_eq!(rows_now[app.decisions.selected(&rows_now)].entry.reason, picked);
        // Back to the top: the selection follows the newest again.
        update(&mut app, key(KeyCode::Char('g')));
        newer.reason = "no change at 10: newer still".into();
        update(&mut app, Msg::Engine(crate::protocol::Event::Decided(Box::new(newer))));
        let rows_now = rows(&app);
        assert_eq!(rows_now[app.decisions.selected(&rows_now)].entry.reason, "no change at 10: newer still");
        // esc folds the entry before anything else.
        update(&mut app, key(KeyCode::Esc));
        assert!(!app.decisions.expanded);
        assert_eq!(app.view, View::Decisions);
    }

    #[test]
    fn an_operators_entry_expands_to_who_did_what() {
        let mut app = log_app();
        let at = rows(&app).iter().position(|r| r.entry.by.as_deref() == Some("ana")).unwrap();
        for _ in 0..at {
            update(&mut app, key(KeyCode::Char('j')));
        }
        update(&mut app, key(KeyCode::Enter));
        let screen = screen_text(&app, 120, 40);
        assert!(screen.contains("outcome     desired stays at 2"), "{screen}");
        assert!(screen.contains("by          ana"), "{screen}");
        assert!(
            screen.contains("what        scale-in paused by ana for 30m (until 00:30 UTC): INC-123"),
            "{screen}"
        );
        assert!(!screen.contains("proposals"), "an action has no proposals: {screen}");
    }

    #[test]
    fn an_entry_arriving_while_an_error_is_shown_is_still_kept() {
        let mut app = log_app();
        update(
            &mut app,
            Msg::Reply {
                command: "pause llm-chat".into(),
                reply: crate::protocol::Reply::Refused { reason: "read-only".into() },
            },
        );
        let before = app.decisions.len();
        let entry = fixtures::decisions().remove(0);
        update(&mut app, Msg::Engine(crate::protocol::Event::Decided(Box::new(entry))));
        assert_eq!(app.decisions.len(), before + 1);
    }

    #[test]
    fn the_oldest_entries_go_first_and_ids_keep_naming_the_same_entry() {
        let mut log = DecisionLog::default();
        let template = fixtures::decisions().remove(0);
        for n in 0..CAPACITY + 10 {
            log.push(DecisionEntry { reason: format!("entry {n}"), ..template.clone() });
        }
        assert_eq!(log.len(), CAPACITY);
        let rows = log.rows(|_| true);
        assert_eq!(rows[0].entry.reason, format!("entry {}", CAPACITY + 9));
        assert_eq!(rows.last().unwrap().entry.reason, "entry 10");
        let cursor = log.cursor_after(&rows, 3);
        let selected_reason = rows[3].entry.reason.clone();
        log.cursor = cursor;
        let id = cursor.expect("off the top");
        log.push(DecisionEntry { reason: "one more".into(), ..template });
        let rows = log.rows(|_| true);
        assert_eq!(log.cursor, Some(id));
        assert_eq!(rows[log.selected(&rows)].entry.reason, selected_reason);
    }

    #[test]
    fn expanded_entries_wrap_under_their_values_and_name_every_part() {
        let entries = fixtures::decisions();
        let entry = entries.iter().find(|e| !e.blocked.is_empty() && !e.clamps.is_empty()).unwrap();
        let row = Row { id: 0, entry, until: None };
        let theme = crate::ui::theme::Theme::dark();
        let lines = entry_lines(&row, fixtures::TAKEN_AT, &theme, 50);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert!(text.iter().all(|l| Span::raw(l.as_str()).width() <= 50), "{text:#?}");
        for label in ["outcome", "reason", "stood", "read", "proposals", "way", "bounds", "blocked"] {
            assert!(text.iter().any(|l| l.starts_with(label)), "{label}: {text:#?}");
        }
        // Continuations are indented under the value, not under the field names.
        let reason_at = text.iter().position(|l| l.starts_with("reason")).unwrap();
        assert!(text[reason_at + 1].starts_with(&" ".repeat(LABEL_WIDTH)), "{text:#?}");
        let flat =
            text.iter().map(|l| l.get(LABEL_WIDTH..).unwrap_or_default()).collect::<Vec<_>>().join(" ");
        assert!(flat.contains("recommendation 4 → 3 (max step) ⇒ desired 3"), "{text:#?}");
        assert!(flat.contains("max step: at most 1 within 5m"), "{text:#?}");
    }
}
