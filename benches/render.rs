//! Render cost of the console's fleet screen: 100 groups, 600 points and a day of
//! 1-minute aggregates per series, into a 200×60 `TestBackend` (the detail pane, open at
//! start, draws the selected group's minute history). Target: under 2 ms a frame, so a
//! snapshot a second and a held key never make the console the busy part of an SSH
//! session.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use fleetdeck::protocol::Operator;
use fleetdeck::ui::{App, fixtures, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(c: &mut Criterion) {
    let snapshot = Arc::new(fixtures::large_fleet(100, 600));
    let operator = Operator { name: "bench".into(), email: None, auth: None };
    let mut app = App::new(snapshot, operator, false);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test terminal");

    c.bench_function("fleet screen, 100 groups x 600 points, 200x60", |b| {
        b.iter(|| terminal.draw(|frame| view(black_box(&app), frame)).map(|_| ()).expect("draw"))
    });

    app.detail_open = true;
    app.selected = 42;
    c.bench_function("fleet screen + detail charts, 100 groups x 600 points, 200x60", |b| {
        b.iter(|| terminal.draw(|frame| view(black_box(&app), frame)).map(|_| ()).expect("draw"))
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
