//! `view(&app, frame)`: lays the screen out and draws every part from the state alone.
//!
//! Layout, top to bottom: header bar, the "what is wrong now" line (while something is
//! badly wrong), fleet table, detail pane (when open), bottom line.
//! It degrades with the terminal's size and never panics, down to 0×0:
//! - narrow: the table sheds sparklines, then columns (see [`super::fleet`]);
//! - short: the detail pane goes first (the table keeps priority), then the table's
//!   heading and failing-backend lines, then the bottom line and the header, so the
//!   last lines standing are group names with their health marks (the "now" line goes
//!   below 8 lines of body: the header's badges still say something fires);
//! - the command line, while open, always keeps the bottom line.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::app::View;
use super::app::{App, Mode};
use super::status::Hidden;
use super::{alarms, decisions, diagnostics, dialog};
use super::{detail, fleet, header, help, now, status};

/// Smallest detail pane worth drawing (border + facts + a chart).
pub const DETAIL_MIN_HEIGHT: u16 = 10;
pub const DETAIL_MIN_WIDTH: u16 = 40;
/// The "now" line is drawn only above a body of at least this many lines.
const NOW_MIN_BODY: u16 = 8;
/// Table rows kept above an open detail pane, at least.
const TABLE_MIN_HEIGHT_WITH_DETAIL: u16 = 4;

/// Where each part goes this frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScreenLayout {
    pub header: Option<Rect>,
    /// The "what is wrong now" line and its items, worked out once a frame.
    pub now: Option<(Rect, Vec<String>)>,
    pub table: Rect,
    pub detail: Option<Rect>,
    pub bottom: Option<Rect>,
}

pub fn layout(app: &App, area: Rect) -> ScreenLayout {
    let mut rest = area;
    let typing = matches!(app.mode, Mode::CommandLine(_) | Mode::Filter(_));
    let bottom = (rest.height >= 3 || (typing && rest.height >= 1)).then(|| {
        rest.height -= 1;
        Rect { y: rest.bottom(), height: 1, ..rest }
    });
    let header = (rest.height >= 2).then(|| {
        let line = Rect { height: 1, ..rest };
        rest.y += 1;
        rest.height -= 1;
        line
    });
    let items =
        if rest.height >= NOW_MIN_BODY { now::items(&app.snapshot, &app.thresholds) } else { Vec::new() };
    let now = (!items.is_empty()).then(|| {
        let line = Rect { height: 1, ..rest };
        rest.y += 1;
        rest.height -= 1;
        (line, items)
    });
    let mut detail = None;
    let fleet_view = app.view == View::Fleet;
    if fleet_view && app.detail_open && app.selected_group().is_some() && rest.width >= DETAIL_MIN_WIDTH {
        let wanted = fleet::height_needed(&app.snapshot).max(TABLE_MIN_HEIGHT_WITH_DETAIL);
        // The table keeps what it needs up to 40 % of the body; the pane gets the rest.
        let table_height = wanted.min((rest.height.saturating_mul(2) / 5).max(TABLE_MIN_HEIGHT_WITH_DETAIL));
        let detail_height = rest.height.saturating_sub(table_height);
        if detail_height >= DETAIL_MIN_HEIGHT {
            detail = Some(Rect { y: rest.y + table_height, height: detail_height, ..rest });
            rest.height = table_height;
        }
    }
    ScreenLayout { header, now, table: rest, detail, bottom }
}

/// Draws the whole console into a frame.
pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if let Some(cursor) = render(app, area, frame.buffer_mut()) {
        frame.set_cursor_position(cursor);
    }
}

/// Draws the whole console into `area` of `buf`; returns the cursor position while the
/// command line is open. Safe for any area, including empty ones.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) -> Option<Position> {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return None;
    }
    buf.set_style(area, app.theme.base);
    let parts = layout(app, area);
    if let Some(r) = parts.header {
        header::render(app, r, buf);
    }
    if let Some((r, items)) = &parts.now {
        now::render(app, items, *r, buf);
    }
    match app.view {
        View::Alarms => alarms::render(app, parts.table, buf),
        View::Diagnostics => diagnostics::render(app, parts.table, buf),
        View::Decisions => decisions::render(app, parts.table, buf),
        View::Fleet => {
            fleet::render(app, parts.table, buf);
            if let Some(r) = parts.detail {
                detail::render(app, r, buf);
            }
        }
    }
    let hidden = Hidden {
        health_lines: !fleet::shows_health_lines(&app.snapshot, parts.table),
        detail: app.view == View::Fleet && app.detail_open && parts.detail.is_none(),
    };
    let cursor = parts.bottom.and_then(|r| status::render(app, hidden, r, buf));
    match &app.mode {
        Mode::Help => help::render(app, area, buf),
        Mode::Dialog(dialog) => dialog::render(app, dialog, area, buf),
        _ => {}
    }
    cursor
}
