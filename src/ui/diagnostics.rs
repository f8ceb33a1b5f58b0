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

/// The `tracing` layer that feeds the view, and the buffer behind it (started once per
/// process; later calls only return another layer).
pub fn layer() -> tui_logger::TuiTracingSubscriberLayer {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        // Every level is kept; what is recorded at all is the subscriber's filter.
        let _ = tui_logger::init_logger(tui_logger::LevelFilter::Trace);
        tui_logger::set_default_level(tui_logger::LevelFilter::Trace);
    });
    tui_logger::TuiTracingSubscriberLayer
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
