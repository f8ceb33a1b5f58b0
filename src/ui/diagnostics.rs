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
pub fn layer() -> LogLayer {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        // Every level is kept; what is recorded at all is the subscriber's filter.
        tui_logger::set_default_level(tui_logger::LevelFilter::Trace);
        tui_logger::set_hot_buffer_depth(HOT_LINES);
        tui_logger::move_events(); // applies the depth
    });
    LogLayer(tui_logger::TuiTracingSubscriberLayer)
}

/// tui-logger's layer, each line read message first, then its fields in the order the
/// code names them. tui-logger sorts the fields by name, the message among them, so a
/// line read "alarm: gpu-util-high from: OK group: llm-chat alarm to: FIRING".
pub struct LogLayer(tui_logger::TuiTracingSubscriberLayer);

impl<S> tracing_subscriber::Layer<S> for LogLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_new_span(attrs, id, ctx);
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let metadata = event.metadata();
        let Some(message) = metadata.fields().field("message") else {
            return self.0.on_event(event, ctx);
        };
        let mut line = LineText::default();
        event.record(&mut line);
        let text = line.text();
        let values = [(&message, Some(&text.as_str() as &dyn tracing::Value))];
        let values = metadata.fields().value_set(&values);
        let one_field = match event.parent() {
            Some(parent) => tracing::Event::new_child_of(parent.clone(), metadata, &values),
            None => tracing::Event::new(metadata, &values),
        };
        self.0.on_event(&one_field, ctx);
    }
}

/// An event's message and its other fields as `name: value`, in the order recorded.
#[derive(Default)]
struct LineText {
    message: String,
    fields: Vec<String>,
}

impl LineText {
    fn text(&self) -> String {
        std::iter::once(self.message.as_str())
            .chain(self.fields.iter().map(String::as_str))
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("  ")
    }
}

impl tracing::field::Visit for LineText {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields.push(format!("{}: {value}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.push(format!("{}: {value:?}", field.name()));
        }
    }
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

    #[test]
    fn a_line_reads_message_first_then_its_fields_in_the_order_written() {
        // Issue 15, point 13: fields sorted by name put the message among them.
        let subscriber = tracing_subscriber::registry().with(layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(group = "vision", from = "OK", to = "FIRING", n = 3, "alarm zz-order-test");
        });
        tui_logger::move_events();
        let mut app = fixture_app();
        app.view = crate::ui::app::View::Diagnostics;
        let screen = screen_text(&app, 160, 40);
        let line = screen.lines().find(|l| l.contains("zz-order-test")).unwrap_or_else(|| panic!("{screen}"));
        assert!(line.contains("alarm zz-order-test  group: vision  from: OK  to: FIRING  n: 3"), "{line}");
    }
}
