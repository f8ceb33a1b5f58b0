//! The fleet table: one row per group with capacity, bounds, the four watched metrics
//! (value + inline sparkline), and cost; from [`DECISION_FROM_WIDTH`] columns a trailing
//! column with the last decision's reason (a shadow decision to change capacity reads
//! "would …"); narrower terminals leave it to the detail pane.
//!
//! Three marks open every row and are never dropped: selection (`>`), health (`x` a
//! backend failing, `~` a stale series) and automation state — what constrains the
//! autoscaler, the most constraining one when several apply (see [`state_marks`]):
//! `B` breaker tripped, `P` paused, `H` held, `L` observing (another engine holds the
//! lease), `S` shadow mode.
//!
//! Under a row, one line per failing backend (error style), then one per pause, hold,
//! breaker trip or foreign lease (warn style), each in words. Shadow mode gets no line:
//! it is a mode, not an incident, and its mark is enough.
//! Tables shorter than [`COMPACT_BELOW_HEIGHT`] drop these lines; the marks stay.
//!
//! Degrades by width in a fixed order so the most urgent facts stay longest: first the
//! decision column goes, then the sparklines shrink then go, then gaps narrow, then
//! columns drop (bounds, cost, memory, queue, GPU, capacity, p95), and last the name is
//! truncated. Drawn cell by cell rather than with ratatui's `Table` because the lines
//! under a row must span the whole row.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::protocol::{BackendHealth, ControlKind, DecisionView, GroupSnapshot, Snapshot};

use super::app::App;
use super::format;
use super::metrics::{self, Metric, Reading, Severity};
use super::order::SortKey;
use super::sparkline::{Scale, sparkline};

/// Queue lengths below this draw as low bars, not full ones.
const QUEUE_SPARKLINE_FLOOR: f64 = 10.0;
use super::theme::{Theme, highlight};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Name,
    Capacity,
    Bounds,
    Metric(Metric),
    Cost,
    /// Never in [`COLUMNS`]: added by [`plan`] only on wide terminals.
    Decision,
}

/// Left to right.
const COLUMNS: [Column; 8] = [
    Column::Name,
    Column::Capacity,
    Column::Bounds,
    Column::Metric(Metric::GpuUtil),
    Column::Metric(Metric::Memory),
    Column::Metric(Metric::LatencyP95),
    Column::Metric(Metric::Queue),
    Column::Cost,
];

/// Least urgent first: what goes when the terminal is narrow.
const DROP_ORDER: [Column; 7] = [
    Column::Bounds,
    Column::Cost,
    Column::Metric(Metric::Memory),
    Column::Metric(Metric::Queue),
    Column::Metric(Metric::GpuUtil),
    Column::Capacity,
    Column::Metric(Metric::LatencyP95),
];

/// Sparkline widths and column gaps tried before any column is dropped.
const ROOMY: [(u16, u16); 4] = [(10, 2), (6, 2), (0, 2), (0, 1)];
/// The selection, health and state marks and a space, before the name.
const MARKS_WIDTH: u16 = 4;
/// Names shrink to this before a column is dropped for them.
const NAME_MIN: u16 = 8;
/// The decision column needs a wide terminal: below this the detail pane has it.
pub const DECISION_FROM_WIDTH: u16 = 160;
/// Narrower than this a reason is too cut to read; the column is left out.
const DECISION_MIN_WIDTH: u16 = 20;

/// What constrains a group's automation. Declared most constraining first: a row's
/// mark is the first that applies (its lines under the row spell out all of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AutomationState {
    /// A circuit-breaker trip freezes some or all automated changes until it resets.
    Breaker,
    /// An operator paused automation (fully or scale-in only).
    Paused,
    /// An operator holds the desired count.
    Held,
    /// Another engine holds the lease: this one only observes.
    Observing,
    /// Decisions are made and shown, not acted on.
    Shadow,
    /// Notifications are muted (alarms are still evaluated and shown).
    Silenced,
}

impl AutomationState {
    pub const ALL: [AutomationState; 6] = [
        AutomationState::Breaker,
        AutomationState::Paused,
        AutomationState::Held,
        AutomationState::Observing,
        AutomationState::Shadow,
        AutomationState::Silenced,
    ];

    pub fn mark(self) -> &'static str {
        match self {
            AutomationState::Breaker => "B",
            AutomationState::Paused => "P",
            AutomationState::Held => "H",
            AutomationState::Observing => "L",
            AutomationState::Shadow => "S",
            AutomationState::Silenced => "M",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            AutomationState::Breaker => {
                "a circuit breaker tripped; the line under the row says what resets it"
            }
            AutomationState::Paused => "automation paused by an operator (fully or scale-in only)",
            AutomationState::Held => "desired capacity held by an operator",
            AutomationState::Observing => "observing: another engine holds the lease, acts and pages",
            AutomationState::Shadow => "shadow mode: decisions are shown, not acted on",
            AutomationState::Silenced => "muted: pages are silenced, alarms are still evaluated",
        }
    }

    /// Every state that applies to `group`, most constraining first.
    pub fn of(group: &GroupSnapshot) -> Vec<AutomationState> {
        let mut states: Vec<AutomationState> = group
            .controls
            .iter()
            .map(|c| match c.kind {
                ControlKind::Breaker => AutomationState::Breaker,
                ControlKind::Pause => AutomationState::Paused,
                ControlKind::Hold => AutomationState::Held,
                ControlKind::Shadow => AutomationState::Shadow,
                ControlKind::Silence => AutomationState::Silenced,
            })
            .collect();
        if group.lease.as_ref().is_some_and(|l| !l.ours) {
            states.push(AutomationState::Observing);
        }
        states.sort();
        states.dedup();
        states
    }
}

/// The state marks and what they mean, most constraining first, for a legend.
pub fn state_marks() -> [(&'static str, &'static str); 6] {
    AutomationState::ALL.map(|s| (s.mark(), s.description()))
}

impl Column {
    fn heading(self) -> &'static str {
        match self {
            Column::Name => "group",
            Column::Capacity => "rdy/wrm/des",
            Column::Bounds => "min-max",
            Column::Metric(Metric::GpuUtil) => "gpu",
            Column::Metric(Metric::Memory) => "mem/kv",
            Column::Metric(Metric::LatencyP95) => "p95",
            Column::Metric(Metric::Queue) => "queue",
            Column::Cost => "$/h",
            Column::Decision => "decision",
        }
    }

    fn metric_index(metric: Metric) -> usize {
        match metric {
            Metric::GpuUtil => 0,
            Metric::Memory => 1,
            Metric::LatencyP95 => 2,
            Metric::Queue => 3,
        }
    }
}

/// The metric columns, in order.
pub const METRICS: [Metric; 4] = [Metric::GpuUtil, Metric::Memory, Metric::LatencyP95, Metric::Queue];

/// One group's cells as text, computed once per frame.
struct RowText<'a> {
    group: &'a GroupSnapshot,
    capacity: String,
    bounds: String,
    readings: [Reading<'a>; 4],
    values: [String; 4],
    cost: String,
    failing: Vec<String>,
    /// The most constraining [`AutomationState`], if any.
    state: Option<AutomationState>,
    /// Pauses, holds, breaker trips and a foreign lease, in words.
    constraints: Vec<String>,
    decision: Option<String>,
}

fn row_text<'a>(group: &'a GroupSnapshot, snapshot: &Snapshot, app: &App) -> RowText<'a> {
    let readings = METRICS.map(|m| metrics::reading(group, m, &app.thresholds));
    let values = [0, 1, 2, 3].map(|i| readings[i].text());
    let capacity = match group.capacity {
        Some(c) => format!("{}/{}/{}", c.ready, c.warming, c.desired),
        None => format!("?/?/{}", group.spec.desired),
    };
    let failing = [("source", &group.source), ("actuator", &group.actuator)]
        .into_iter()
        .filter_map(|(name, health)| health_line(name, health, snapshot))
        .collect();
    RowText {
        group,
        capacity,
        bounds: format!("{}-{}", group.spec.min, group.spec.max),
        readings,
        values,
        cost: format::usd(metrics::hourly_cost_usd(group)),
        failing,
        state: AutomationState::of(group).first().copied(),
        constraints: constraint_lines(group),
        decision: group.decision.as_ref().map(decision_text),
    }
}

/// One line per pause, hold, breaker trip, foreign lease and target warning, in the engine's words
/// ("paused (scale-in only) by ana until …: INC-123"). Shadow mode has none: it is a
/// mode, not an incident.
pub fn constraint_lines(group: &GroupSnapshot) -> Vec<String> {
    // Every control, shadow mode too: the row's one mark shows only the most constraining
    // state, and a group paused and in shadow mode is both (issue 15, point 4).
    let mut lines: Vec<String> = group.controls.iter().map(|c| one_line(&c.text)).collect();
    if let Some(lease) = group.lease.as_ref().filter(|l| !l.ours) {
        lines.push(one_line(&format!(
            "observing: {} on {} holds the lease, acts and pages",
            lease.holder, lease.host
        )));
    }
    lines.extend(group.warnings.iter().map(|w| one_line(&format!("warning: {w}"))));
    lines
}

/// The decision's reason; a shadow decision that would change capacity reads "would …"
/// (as in the detail pane: "would no change" is not English).
pub fn decision_text(decision: &DecisionView) -> String {
    let reason = one_line(&decision.reason);
    if decision.shadow && decision.desired.is_some() { format!("would {reason}") } else { reason }
}

/// Engine text on one table line: a newline or tab inside it would tear the row.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `actuator: SetDesiredCapacity: rate exceeded · attempt 3 · retry in 4s`, or `None` when
/// the backend is healthy.
pub fn health_line(backend: &str, health: &BackendHealth, snapshot: &Snapshot) -> Option<String> {
    match health {
        BackendHealth::Ok => None,
        BackendHealth::Failing { error, attempts, retry_at, .. } => {
            let retry = if *retry_at > snapshot.taken_at {
                format!("retry in {}", format::age(retry_at.since(snapshot.taken_at)))
            } else {
                "retrying now".to_string()
            };
            Some(format!("{backend}: {error} · attempt {attempts} · {retry}"))
        }
    }
}

/// Widths chosen for this frame.
struct Plan {
    columns: Vec<(Column, u16)>,
    sparkline: u16,
    gap: u16,
}

fn plan(rows: &[RowText<'_>], width: u16) -> Plan {
    let text_width = |s: &str| width_of(s).min(u16::MAX as usize) as u16;
    let natural = |column: Column, sparkline: u16| -> u16 {
        let values = rows.iter().map(|r| match column {
            Column::Name => text_width(&r.group.spec.name),
            Column::Capacity => text_width(&r.capacity),
            Column::Bounds => text_width(&r.bounds),
            Column::Metric(m) => text_width(&r.values[Column::metric_index(m)]),
            Column::Cost => text_width(&r.cost),
            Column::Decision => r.decision.as_deref().map_or(0, text_width),
        });
        let value = values.max().unwrap_or(0).max(text_width(column.heading()));
        match column {
            Column::Metric(_) if sparkline > 0 => value + 1 + sparkline,
            _ => value,
        }
    };
    let total = |columns: &[(Column, u16)], gap: u16| -> u16 {
        let cells: u16 = columns.iter().map(|(_, w)| *w).fold(0, u16::saturating_add);
        let gaps = gap.saturating_mul(columns.len().saturating_sub(1) as u16);
        MARKS_WIDTH.saturating_add(cells).saturating_add(gaps)
    };
    for (sparkline, gap) in ROOMY {
        let columns: Vec<(Column, u16)> = COLUMNS.iter().map(|&c| (c, natural(c, sparkline))).collect();
        if total(&columns, gap) <= width {
            let mut columns = columns;
            // The decision column takes what is left on a wide terminal, up to its
            // natural width; the metric columns keep their full sparklines first.
            let spare = width.saturating_sub(total(&columns, gap)).saturating_sub(gap);
            if width >= DECISION_FROM_WIDTH
                && spare >= DECISION_MIN_WIDTH
                && rows.iter().any(|r| r.decision.is_some())
            {
                columns.push((Column::Decision, spare.min(natural(Column::Decision, 0))));
            }
            return Plan { columns, sparkline, gap };
        }
    }
    // Too narrow for everything: let the name shrink, then drop columns.
    let name_natural = natural(Column::Name, 0);
    let name_min = name_natural.min(NAME_MIN);
    let mut columns: Vec<(Column, u16)> =
        COLUMNS.iter().map(|&c| (c, if c == Column::Name { name_min } else { natural(c, 0) })).collect();
    for dropped in DROP_ORDER {
        if total(&columns, 1) <= width {
            break;
        }
        columns.retain(|(c, _)| *c != dropped);
    }
    // Whatever is left over goes back to the name, up to its natural width; when even
    // the name alone does not fit, it is cut to what does.
    let spare = width.saturating_sub(total(&columns, 1));
    let over = total(&columns, 1).saturating_sub(width);
    if let Some((_, w)) = columns.iter_mut().find(|(c, _)| *c == Column::Name) {
        *w = w.saturating_add(spare).min(name_natural).saturating_sub(over);
    }
    Plan { columns, sparkline: 0, gap: 1 }
}

/// The lines the whole table needs: heading, rows, failing-backend and constraint lines.
pub fn height_needed(snapshot: &Snapshot) -> u16 {
    let lines: usize = snapshot
        .groups
        .iter()
        .map(|g| {
            1 + usize::from(g.source != BackendHealth::Ok)
                + usize::from(g.actuator != BackendHealth::Ok)
                + constraint_lines(g).len()
        })
        .sum();
    (lines + 1).min(u16::MAX as usize) as u16
}

/// Tables shorter than this, unless everything fits, drop the heading and the lines
/// under the rows (the `x` and state marks stay, and the status line spells out the
/// selected group's failure).
pub const COMPACT_BELOW_HEIGHT: u16 = 6;

/// Whether the table shows its heading and failing-backend lines in `area`.
pub fn shows_health_lines(snapshot: &Snapshot, area: Rect) -> bool {
    area.height >= COMPACT_BELOW_HEIGHT.min(height_needed(snapshot))
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let snapshot = &app.snapshot;
    if snapshot.groups.is_empty() {
        let text = if app.engine_stopped {
            "no groups: the engine stopped"
        } else {
            "waiting for the first snapshot…"
        };
        Line::styled(text, theme.muted).render(area, buf);
        return;
    }
    let order = app.rows();
    if order.is_empty() {
        let text = format!("no group matches /{} (esc clears the filter)", app.active_filter());
        Line::styled(text, theme.muted).render(area, buf);
        return;
    }
    let table = TableLayout::new(app, &order, area);
    let mut y = area.y;
    if table.roomy {
        render_heading(&table.plan, theme, Rect { y, height: 1, ..area }, buf);
        y += 1;
    }
    for (index, row) in table.rows.iter().enumerate().skip(table.first) {
        if y >= area.bottom() {
            break;
        }
        let row_area = Rect { y, height: 1, ..area };
        render_row(row, index == table.selected, &table.plan, theme, row_area, buf);
        y += 1;
        if table.roomy {
            let under = row.failing.iter().map(|l| (l, theme.error));
            let under = under.chain(row.constraints.iter().map(|l| (l, theme.warn)));
            for (line, style) in under {
                if y >= area.bottom() {
                    break;
                }
                render_under(line, style, Rect { y, height: 1, ..area }, buf);
                y += 1;
            }
        }
    }
}

/// Where the table's rows go in `area`: the text of each, the column plan, whether the
/// heading and the lines under rows fit, and the first row drawn (so the selected one is
/// on screen).
struct TableLayout<'a> {
    rows: Vec<RowText<'a>>,
    heights: Vec<u16>,
    selected: usize,
    plan: Plan,
    roomy: bool,
    first: usize,
}

impl<'a> TableLayout<'a> {
    fn new(app: &'a App, order: &[usize], area: Rect) -> Self {
        let snapshot = &app.snapshot;
        let rows: Vec<RowText<'a>> =
            order.iter().map(|&i| row_text(&snapshot.groups[i], snapshot, app)).collect();
        let selected = order.iter().position(|&i| i == app.selected).unwrap_or(0);
        let plan = plan(&rows, area.width);
        let roomy = shows_health_lines(snapshot, area);
        let body_height = area.height.saturating_sub(u16::from(roomy));
        let heights: Vec<u16> = rows
            .iter()
            .map(|r| {
                let under = if roomy { r.failing.len() + r.constraints.len() } else { 0 };
                (1 + under).min(usize::from(u16::MAX)) as u16
            })
            .collect();
        let first = first_visible(&heights, selected, body_height);
        TableLayout { rows, heights, selected, plan, roomy, first }
    }
}

/// The group (index into the snapshot's groups) whose row, or a line under it, is drawn
/// at screen row `y` of a table in `area`; None for the heading or empty space.
pub fn row_at(app: &App, area: Rect, y: u16) -> Option<usize> {
    let order = app.rows();
    if order.is_empty() || !(area.y..area.bottom()).contains(&y) {
        return None;
    }
    let table = TableLayout::new(app, &order, area);
    let mut top = area.y + u16::from(table.roomy);
    for (index, height) in table.heights.iter().enumerate().skip(table.first) {
        if (top..top.saturating_add(*height)).contains(&y) {
            return Some(order[index]);
        }
        top = top.saturating_add(*height);
    }
    None
}

/// The sort key of the column heading at (`x`, `y`) of a table in `area`, for a click:
/// group, gpu, p95, queue and $/h sort; the other columns have no key.
pub fn sort_key_at(app: &App, area: Rect, x: u16, y: u16) -> Option<SortKey> {
    let order = app.rows();
    let table = TableLayout::new(app, &order, area);
    if !table.roomy || y != area.y {
        return None;
    }
    let mut left = area.x.saturating_add(MARKS_WIDTH);
    for (i, (column, width)) in table.plan.columns.iter().enumerate() {
        if i > 0 {
            left = left.saturating_add(table.plan.gap);
        }
        if (left..left.saturating_add(*width)).contains(&x) {
            return match column {
                Column::Name => Some(SortKey::Name),
                Column::Metric(Metric::GpuUtil) => Some(SortKey::GpuUtil),
                Column::Metric(Metric::LatencyP95) => Some(SortKey::LatencyP95),
                Column::Metric(Metric::Queue) => Some(SortKey::Queue),
                Column::Cost => Some(SortKey::Cost),
                _ => None,
            };
        }
        left = left.saturating_add(*width);
    }
    None
}

/// "└ …" under a row, indented past the marks, cut with `…` at the edge.
fn render_under(text: &str, style: Style, area: Rect, buf: &mut Buffer) {
    let indent = MARKS_WIDTH.min(area.width);
    let text = truncate(&format!("└ {text}"), area.width - indent);
    Line::from(vec![Span::raw(" ".repeat(usize::from(indent))), Span::styled(text, style)]).render(area, buf);
}

/// The first row to draw so the selected row (and its lines under it) is on screen, with
/// as many rows above it as fit.
fn first_visible(heights: &[u16], selected: usize, body_height: u16) -> usize {
    if heights.is_empty() {
        return 0;
    }
    let mut first = selected.min(heights.len() - 1);
    let mut used = heights[first];
    while first > 0 && used.saturating_add(heights[first - 1]) <= body_height {
        first -= 1;
        used = used.saturating_add(heights[first]);
    }
    first
}

fn render_heading(plan: &Plan, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let mut spans = vec![Span::raw(" ".repeat(usize::from(MARKS_WIDTH)))];
    for (i, (column, width)) in plan.columns.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" ".repeat(usize::from(plan.gap))));
        }
        let heading = column.heading();
        let text = match column {
            Column::Name | Column::Decision => pad_right(heading, *width),
            Column::Metric(_) if plan.sparkline > 0 => {
                pad_right(&pad_left(heading, width.saturating_sub(plan.sparkline + 1)), *width)
            }
            _ => pad_left(heading, *width),
        };
        spans.push(Span::styled(text, theme.table_header));
    }
    Line::from(spans).render(area, buf);
}

fn render_row(row: &RowText<'_>, selected: bool, plan: &Plan, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let group = row.group;
    let failing = !row.failing.is_empty();
    let (health_mark, health_style) = if failing {
        ("x", theme.error)
    } else if group.any_stale() {
        (metrics::STALE_MARK, theme.stale)
    } else {
        (" ", theme.base)
    };
    let (state_mark, state_style) = match row.state {
        None => (" ", theme.base),
        Some(AutomationState::Shadow) => (AutomationState::Shadow.mark(), theme.muted),
        Some(state) => (state.mark(), theme.warn),
    };
    let mut spans = vec![
        Span::styled(if selected { ">" } else { " " }, theme.base),
        Span::styled(health_mark, health_style),
        Span::styled(state_mark, state_style),
        Span::raw(" "),
    ];
    for (i, (column, width)) in plan.columns.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" ".repeat(usize::from(plan.gap))));
        }
        match column {
            Column::Name => spans.push(Span::styled(
                pad_right(&truncate(&group.spec.name, *width), *width),
                if failing { theme.error } else { theme.base },
            )),
            Column::Capacity => spans.push(Span::styled(pad_left(&row.capacity, *width), theme.base)),
            Column::Bounds => spans.push(Span::styled(pad_left(&row.bounds, *width), theme.muted)),
            Column::Cost => spans.push(Span::styled(pad_left(&row.cost, *width), theme.base)),
            Column::Decision => {
                let (text, style) = match (&row.decision, &group.decision) {
                    (Some(text), Some(d)) if d.desired.is_some() => (text.as_str(), theme.warn),
                    (Some(text), _) => (text.as_str(), theme.base),
                    (None, _) => (format::NO_VALUE, theme.muted),
                };
                spans.push(Span::styled(pad_right(&truncate(text, *width), *width), style));
            }
            Column::Metric(metric) => {
                let i = Column::metric_index(*metric);
                let reading = &row.readings[i];
                let value_width =
                    if plan.sparkline > 0 { width.saturating_sub(plan.sparkline + 1) } else { *width };
                spans
                    .push(Span::styled(pad_left(&row.values[i], value_width), reading_style(reading, theme)));
                if plan.sparkline > 0 {
                    let points = reading.series.map(|s| s.points.iter()).unwrap_or_default();
                    let scale = sparkline_scale(*metric, group);
                    let style = if reading.stale { theme.stale } else { theme.sparkline };
                    spans.push(Span::raw(" "));
                    spans.push(Span::styled(sparkline(points, usize::from(plan.sparkline), scale), style));
                }
            }
        }
    }
    Line::from(spans).render(area, buf);
    if selected {
        highlight(buf, area, theme.selected);
    }
}

/// How a metric's sparklines (the table's and the detail pane's history) map values to
/// heights.
pub fn sparkline_scale(metric: Metric, group: &GroupSnapshot) -> Scale {
    match metric {
        Metric::GpuUtil | Metric::Memory => Scale::Fraction,
        // Latency against the SLO when there is one: a full bar means "at or past the
        // objective". Queue against a handful of requests.
        Metric::LatencyP95 => {
            Scale::ZeroToMax { floor: group.spec.slo_p95.map_or(0.0, |slo| slo.as_secs_f64()) }
        }
        Metric::Queue => Scale::ZeroToMax { floor: QUEUE_SPARKLINE_FLOOR },
    }
}

/// Stale dims; over its limit warns, far over or firing is louder still; the marks are
/// also in the text.
pub fn reading_style(reading: &Reading<'_>, theme: &Theme) -> Style {
    let level = match reading.severity {
        Severity::Ok => None,
        Severity::Over => Some(theme.warn),
        Severity::FarOver => Some(theme.severe),
        Severity::Firing => Some(theme.firing),
    };
    match (reading.stale, level) {
        (true, Some(level)) => theme.stale.patch(level),
        (true, None) => theme.stale,
        (false, Some(level)) => level,
        (false, None) => theme.base,
    }
}

/// Display width in cells.
fn width_of(text: &str) -> usize {
    Span::raw(text).width()
}

/// A line cut to `width` columns, the cut span ending in an ellipsis (see [`truncate`]).
pub(crate) fn fit(line: Line<'_>, width: u16) -> Line<'static> {
    let spans = line.spans.into_iter().scan(0u16, |used, span| {
        let room = width.saturating_sub(*used);
        let text = truncate(&span.content, room);
        *used = used.saturating_add(Span::raw(text.as_str()).width() as u16);
        Some(Span::styled(text, span.style))
    });
    Line::from(spans.collect::<Vec<_>>())
}

pub(crate) fn truncate(text: &str, width: u16) -> String {
    let width = usize::from(width);
    if width_of(text) <= width {
        return text.to_string();
    }
    // Keep room for the ellipsis so a cut name never reads as another group's name.
    let mut out = String::new();
    for c in text.chars() {
        if width_of(&out) + 2 > width {
            break;
        }
        out.push(c);
    }
    if width > 0 {
        out.push('…');
    }
    out
}

fn pad_left(text: &str, width: u16) -> String {
    let pad = usize::from(width).saturating_sub(width_of(text));
    format!("{}{text}", " ".repeat(pad))
}

fn pad_right(text: &str, width: u16) -> String {
    let pad = usize::from(width).saturating_sub(width_of(text));
    format!("{text}{}", " ".repeat(pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_visible_keeps_the_selection_on_screen() {
        let heights = [1, 2, 1, 1, 1];
        assert_eq!(first_visible(&heights, 0, 3), 0);
        assert_eq!(first_visible(&heights, 2, 3), 1);
        assert_eq!(first_visible(&heights, 4, 3), 2);
        assert_eq!(first_visible(&heights, 4, 100), 0);
        assert_eq!(first_visible(&heights, 1, 1), 1, "a row taller than the body still starts at itself");
        assert_eq!(first_visible(&[], 0, 3), 0);
    }

    #[test]
    fn the_most_constraining_state_is_the_mark() {
        use crate::protocol::{ControlView, LeaseView};
        let mut group = crate::ui::fixtures::fleet().groups[0].clone();
        let control = |kind| ControlView { kind, text: String::new(), clears_itself: false };
        group.controls = vec![control(ControlKind::Shadow)];
        group.lease = None;
        assert_eq!(AutomationState::of(&group), [AutomationState::Shadow]);
        group.lease = Some(LeaseView {
            holder: "engine-b".into(),
            host: "ops-2".into(),
            expires_at: crate::ui::fixtures::TAKEN_AT,
            ours: false,
        });
        assert_eq!(AutomationState::of(&group)[0], AutomationState::Observing);
        group.controls.push(control(ControlKind::Hold));
        assert_eq!(AutomationState::of(&group)[0], AutomationState::Held);
        group.controls.push(control(ControlKind::Pause));
        assert_eq!(AutomationState::of(&group)[0], AutomationState::Paused);
        group.controls.push(control(ControlKind::Breaker));
        group.controls.push(control(ControlKind::Breaker));
        group.controls.push(control(ControlKind::Silence));
        assert_eq!(
            AutomationState::of(&group),
            AutomationState::ALL,
            "every state once, most constraining first"
        );
    }

    #[test]
    fn state_marks_are_distinct_from_each_other_and_the_health_marks() {
        let marks: Vec<&str> = state_marks().iter().map(|(m, _)| *m).collect();
        let mut unique = marks.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), marks.len(), "{marks:?}");
        for taken in [">", "x", metrics::STALE_MARK, metrics::OVER_MARK, metrics::SEVERE_MARK, " "] {
            assert!(!marks.contains(&taken), "{taken} already means something else");
        }
    }

    #[test]
    fn engine_text_with_newlines_stays_on_one_line() {
        let mut group = crate::ui::fixtures::fleet().groups[2].clone();
        group.controls[0].text = "paused\nby ana\t: INC-1".into();
        assert_eq!(constraint_lines(&group)[0], "paused by ana : INC-1");
    }

    #[test]
    fn truncated_names_end_with_an_ellipsis() {
        assert_eq!(truncate("embeddings", 6), "embed…");
        assert_eq!(truncate("vision", 6), "vision");
        assert_eq!(truncate("vision", 0), "");
    }
}
