//! The `?` overlay, generated from the [`Action`] list and the keymap (so rebinding a key
//! rebinds its help), plus the command grammar and what the screen's marks mean.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use super::app::App;
use super::command::PANIC_COMMAND_ENABLED;
use super::keymap::{Action, Context};
use super::metrics::{OVER_MARK, SEVERE_MARK, STALE_MARK};

/// Room for the scrolling title (" help · lines 1–20 of 64 · j/k scroll · … ").
const TITLE_ROOM: usize = 72;

/// The overlay's lines; public for tests that check every action is listed.
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let heading = |text: &'static str| Line::styled(text, theme.title);
    let entry = |key: String, what: String| {
        Line::from(vec![
            Span::styled(format!("  {key:<14} "), theme.help_key),
            Span::styled(what, theme.base),
        ])
    };
    let mut out = Vec::new();
    for (context, title) in [
        (Context::Normal, "Keys"),
        (Context::CommandLine, "On the command line"),
        (Context::Dialog, "In a dialog (digits type the count of a scale)"),
    ] {
        out.push(heading(title));
        for action in Action::ALL {
            let keys = app.keymap.keys_for(context, action);
            if keys.is_empty() {
                continue;
            }
            let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
            out.push(entry(keys.join(", "), action.description().to_string()));
        }
        out.push(Line::default());
    }
    out.push(heading("Commands (type : first; end with -- REASON to say why)"));
    for (cmd, what) in [
        ("sim spike|fail|gap|stockout GROUP …", "a simulated incident"),
        ("pause GROUP|all [DURATION] [--scale-in-only]", "stop automated changes"),
        ("resume GROUP|all", "lift a pause"),
        ("scale GROUP N [--hold 20m] [--beyond-max]", "set desired now, hold it"),
        ("shadow GROUP|all on|off", "decide only / act again"),
        ("reset GROUP|all", "close circuit-breaker trips"),
        ("silence GROUP|all DURATION", "mute pages (alarms still shown)"),
        ("unsilence GROUP|all", "page again"),
    ] {
        out.push(Line::from(vec![Span::styled(format!("  :{cmd:<44} "), theme.help_key), Span::raw(what)]));
    }
    if PANIC_COMMAND_ENABLED {
        out.push(Line::from(vec![
            Span::styled(format!("  :{:<44} ", "panic"), theme.help_key),
            Span::raw("crash on purpose (debug)"),
        ]));
    }
    out.push(Line::default());
    out.push(heading("Marks"));
    for (mark, what) in [
        (">", "the selected group"),
        ("x", "a backend of the group is failing; its error is spelled out"),
        (STALE_MARK, "stale: no fresh sample within the engine's stale_after"),
        (OVER_MARK, "past its threshold or the group's p95 SLO"),
        (SEVERE_MARK, "far past it (2× the limit; half the headroom for %), or its alarm fires"),
        ("$/h", "(ready + warming) × the instance's hourly cost"),
        ("mem/kv", "GPU memory; KV-cache (kv) for vLLM groups"),
    ] {
        out.push(entry(mark.to_string(), what.to_string()));
    }
    for (mark, what) in super::fleet::state_marks() {
        out.push(entry(mark.to_string(), what.to_string()));
    }
    out
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let lines = lines(app);
    // As wide as its widest line (and its title), so nothing is cut where the terminal
    // has the room; on a narrower one a long description wraps under itself.
    let widest = lines.iter().map(Line::width).max().unwrap_or(0).max(TITLE_ROOM);
    let width = u16::try_from(widest).unwrap_or(u16::MAX).saturating_add(2).min(area.width);
    let inner = usize::from(width.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().flat_map(|line| wrap(line, inner)).collect();
    let total = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let height = total.saturating_add(2).min(area.height);
    let popup =
        Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    Clear.render(popup, buf);
    // What does not fit scrolls with the selection keys; the title says how far.
    let shown = height.saturating_sub(2);
    let scroll = app.help_scroll.min(total.saturating_sub(shown));
    let title = if shown < total {
        let (up, down) = keys(app, Action::Up, Action::Down);
        let last = (scroll + shown).min(total);
        format!(" help · lines {}–{last} of {total} · {up}/{down} scroll · any other key closes ", scroll + 1)
    } else {
        " help · any key closes ".to_string()
    };
    let block = Block::bordered().border_style(app.theme.border).title(Span::styled(title, app.theme.title));
    Paragraph::new(lines).block(block).style(app.theme.base).scroll((scroll, 0)).render(popup, buf);
}

/// The narrowest description column worth wrapping into; narrower, a line is cut.
const MIN_WRAP_WIDTH: usize = 16;

/// `line` as lines of at most `width` columns: its first span (the key, or the command)
/// stays on the first, and the rest wraps at spaces in the column after it. A line with
/// no room for that is left whole, for the border to cut.
fn wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let indent = line.spans.first().map_or(0, Span::width);
    if line.width() <= width || line.spans.len() < 2 || width < indent + MIN_WRAP_WIDTH {
        return vec![line];
    }
    let style = line.spans[1].style;
    let text: String = line.spans[1..].iter().map(|s| s.content.as_ref()).collect();
    let room = width - indent;
    let mut rows: Vec<String> = vec![String::new()];
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let row = rows.last_mut().expect("one row at least");
        let used = Span::raw(row.as_str()).width();
        if used > 0 && used + 1 + Span::raw(word).width() > room {
            rows.push(word.to_string());
        } else {
            if used > 0 {
                row.push(' ');
            }
            row.push_str(word);
        }
    }
    let mut first = Some(line.spans[0].clone());
    rows.into_iter()
        .map(|row| {
            let lead = first.take().unwrap_or_else(|| Span::raw(" ".repeat(indent)));
            Line::from(vec![lead, Span::styled(row, style)])
        })
        .collect()
}

/// The first key of each of two actions, for a hint.
fn keys(app: &App, a: Action, b: Action) -> (String, String) {
    let first = |action| {
        app.keymap
            .keys_for(Context::Normal, action)
            .first()
            .map_or_else(|| action.name().to_string(), |k| k.to_string())
    };
    (first(a), first(b))
}
