//! Key to frame: from a key press to the end of the frame that shows it, through the
//! console's real event loop (input wake-up, `update`, `view`, the backend's flush), on a
//! 100-group fleet at 200×60 with no engine message in between. Target: under 50 ms
//! whatever the poll interval (issue 15); a loop that drew only on the engine's next
//! snapshot would take a whole poll here, since no snapshot ever comes.

use std::sync::Arc;
use std::sync::mpsc;

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::KeyCode;
use fleetdeck::protocol::{CommandSender, Connection, Operator};
use fleetdeck::ui::event_loop::run_loop;
use fleetdeck::ui::{App, fixtures};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{broadcast, watch};

fn key_to_frame(c: &mut Criterion) {
    let snapshot = Arc::new(fixtures::large_fleet(100, 600));
    let operator = Operator { name: "bench".into(), email: None, auth: None };
    let app = App::new(snapshot.clone(), operator, false);
    let (_snapshots, snapshot_rx) = watch::channel(snapshot);
    let (_events, event_rx) = broadcast::channel(16);
    let (commands, _command_rx) = CommandSender::channel(16);
    let conn = Connection { snapshots: snapshot_rx, events: event_rx, commands, link: None };
    let keys = fixtures::TerminalKeys::default();
    let (flushed, frames) = mpsc::channel();
    let input = keys.clone();
    let console = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let mut terminal =
            Terminal::new(fixtures::Frames { inner: TestBackend::new(200, 60), flushed }).expect("terminal");
        runtime.block_on(run_loop(&mut terminal, input, conn, app)).expect("the console loop");
    });
    frames.recv().expect("the first frame");

    // Alternate between the fleet and the alarms view, so every key changes the screen.
    let mut views = [KeyCode::Char('2'), KeyCode::Char('1')].into_iter().cycle();
    c.bench_function("key to frame, 100 groups, 200x60", |b| {
        b.iter(|| {
            keys.press(views.next().expect("cycles"));
            frames.recv().expect("a frame for the key");
        })
    });
    keys.press(KeyCode::Char('q'));
    console.join().expect("the console thread");
}

criterion_group!(benches, key_to_frame);
criterion_main!(benches);
