//! Peak memory with 100 groups and every history buffer full: builds a 100-group
//! simulated fleet from the demo's groups, runs the engine on a virtual clock until each
//! series holds its 24 h of 1-minute aggregates and its 600 raw points, renders the
//! console once, and prints the process's peak RSS (VmHWM). Run by `scripts/memory.sh`.

use std::sync::Arc;
use std::time::Duration;

use fleetdeck::clock::ManualClock;
use fleetdeck::config;
use fleetdeck::engine::Engine;
use fleetdeck::engine::history::{MINUTE_POINTS, RAW_POINTS};
use fleetdeck::model::Timestamp;

const GROUPS: usize = 100;

fn main() {
    let config = config::demo_scaled(GROUPS);

    let clock = ManualClock::new(Timestamp::from_millis(1_767_225_600_000)); // 2026-01-01
    let mut engine = Engine::simulated(&config, 42, Arc::new(clock.clone()), false, false);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // One sample a minute fills the minute aggregates, then one a second the raw points.
        for _ in 0..=MINUTE_POINTS {
            engine.tick().await;
            clock.advance(Duration::from_secs(60));
        }
        for _ in 0..RAW_POINTS {
            engine.tick().await;
            clock.advance(Duration::from_secs(1));
        }
    });
    let snapshot = engine.snapshot();
    let series: usize = snapshot.groups.iter().map(|g| g.series.len()).sum();
    let full =
        snapshot.groups.iter().flat_map(|g| &g.series).filter(|s| s.points.len() == RAW_POINTS).count();
    let (raw, minutes) = engine.buffered_points();
    println!(
        "buffered: {raw} raw points ({} per series), {minutes} minute points ({} per series)",
        raw / series.max(1),
        minutes / series.max(1)
    );
    let frame = render(snapshot.clone());
    println!("groups: {}, series: {series}, with {RAW_POINTS} raw points: {full}", snapshot.groups.len());
    println!("rendered a {}-cell frame with the detail pane open", frame);
    println!("{}", peak_rss());
}

/// Draws the console once, detail pane open, as the live console would.
fn render(snapshot: Arc<fleetdeck::protocol::Snapshot>) -> usize {
    let operator = fleetdeck::protocol::Operator { name: "memory".into(), email: None, auth: None };
    let mut app = fleetdeck::ui::App::new(snapshot, operator, false);
    app.detail_open = true;
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 60)).unwrap();
    terminal.draw(|frame| fleetdeck::ui::view(&app, frame)).unwrap();
    terminal.backend().buffer().content.len()
}

fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "VmHWM: unavailable (no /proc)".into())
}
