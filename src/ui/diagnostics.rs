//! The diagnostics view: fleetdeck's own log — what the engine, backends and store
//! report through `tracing` — kept in memory by tui-logger while the console runs, newest
//! at the bottom. The same lines go to the log file (see the README); the level comes
//! from `$FLEETDECK_LOG`. This module only draws the buffer; the process wires the
//! `tracing` layer that fills it ([`layer`]).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Widget};
use tui_logger::{TuiLoggerLevelOutput, TuiLoggerWidget};

use super::app::App;

/// Lines the layer may take in between two [`collect`]s before the oldest are lost.
const HOT_LINES: usize = 10_000;

/// The `tracing` layer that feeds the view (its buffer is set up once per process).
///
/// tui-logger's own `init_logger` starts a thread that wakes every 10 ms to move lines
/// into the view's buffer; on an idle console that alone took idle CPU from 0.13 % to
/// 0.73 % of a core. Instead the event loop [`collect`]s on each wake-up (every snapshot
/// at least), with room for [`HOT_LINES`] in between.
pub fn layer() -> tui_logger::TuiTracingSubscriberLayer {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        // Every level is kept; what is recorded at all is the subscriber's filter.
        tui_logger::set_default_level(tui_logger::LevelFilter::Trace);
        tui_logger::set_hot_buffer_depth(HOT_LINES);
        tui_logger::move_events(); // applies the depth
    });
    tui_logger::TuiTracingSubscriberLayer
}

/// Moves the lines logged since the last call into the view's buffer.
pub fn collect() {
    tui_logger::move_events();
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border)
        .title(Span::styled(" fleetdeck's own log (level: $FLEETDECK_LOG) ", theme.title));
    TuiLoggerWidget::default()
        .block(block)
        .style(theme.base)
        .style_error(theme.error)
        .style_warn(theme.warn)
        .style_info(theme.base)
        .style_debug(theme.muted)
        .style_trace(theme.muted)
        .output_separator(' ')
        .output_timestamp(Some("%H:%M:%S".to_string()))
        .output_level(Some(TuiLoggerLevelOutput::Abbreviated))
        .output_target(true)
        .output_file(false)
        .output_line(false)
        .render(area, buf);
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::ui::tests::{fixture_app, screen_text};

    #[test]
    fn what_fleetdeck_logs_shows_in_the_diagnostics_view() {
        let subscriber = tracing_subscriber::registry().with(layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(group = "vision", "actuator call failed: rate exceeded (diagnostics test)");
        });
        tui_logger::move_events();
        let mut app = fixture_app();
        app.view = crate::ui::app::View::Diagnostics;
        let screen = screen_text(&app, 160, 40);
        assert!(screen.contains("fleetdeck's own log"), "{screen}");
        assert!(screen.contains("actuator call failed: rate exceeded (diagnostics test)"), "{screen}");
        assert!(screen.contains("1 fleet"), "the footer has the way back: {screen}");
    }
}
