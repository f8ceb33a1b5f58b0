//! The terminal console: a ratatui front end that speaks only the protocol. It reads
//! [`Snapshot`](crate::protocol::Snapshot)s and [`Event`](crate::protocol::Event)s from a
//! [`Connection`] and sends [`Command`](crate::protocol::Command)s; it never sees the
//! engine, sources, actuators, simulator or config internals, so the same console can
//! later attach to a daemon.
//!
//! # Layout
//!
//! - [`app`]: the state and `update(state, msg) -> effects` (pure).
//! - [`keymap`]: the [`Action`](keymap::Action) list and key bindings (`keymaps/*.toml`).
//! - [`command`]: the `:` command line's language and tab completion.
//! - [`dialog`]: the confirmation dialogs of the changes a key asks for.
//! - [`view`]: `view(&state, frame)`: layout and degradation by size; draws through
//!   [`header`], [`now`] (what is badly wrong, in one line), [`fleet`] (table), [`detail`] (charts), [`status`] (bottom line) and
//!   [`help`] (overlay).
//! - [`order`]: which groups the table lists, in what order (the `/` filter, the sort).
//! - [`metrics`], [`format`], [`sparkline`]: what is read out of a snapshot and how numbers
//!   are written.
//! - [`diagnostics`]: fleetdeck's own log (tui-logger, fed by `tracing`).
//! - [`alarms`]: the alarms view (every alarm of the groups listed, firing first).
//! - [`theme`]: every style by role (`themes/*.toml`).
//! - [`user_file`]: reading the user's theme and keymap files, mistakes placed.
//! - [`event_loop`]: waits on channels and input, applies `update`, redraws per burst.
//! - [`terminal`]: takes the terminal over and restores it on every exit path.
//! - [`fixtures`]: deterministic snapshots for tests and benchmarks.

pub mod alarms;
pub mod app;
pub mod chart;
pub mod command;
pub mod decisions;
pub mod detail;
pub mod diagnostics;
pub mod dialog;
pub mod event_loop;
#[doc(hidden)]
pub mod fixtures;
pub mod fleet;
pub mod format;
pub mod header;
pub mod help;
pub mod keymap;
pub mod metrics;
pub mod now;
pub mod order;
pub mod sparkline;
pub mod status;
pub mod terminal;
pub mod theme;
pub mod user_file;
pub mod view;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod update_tests;

use crate::protocol::{Connection, Operator};

pub use app::{App, Effect, Msg, update};
pub use view::view;

/// How the console is started.
#[derive(Clone, Debug)]
pub struct UiOptions {
    pub operator: Operator,
    /// Only shown: the engine enforces read-only itself.
    pub readonly: bool,
    /// The theme, already brought to the terminal's colours ([`theme::choose`]).
    pub theme: theme::Theme,
    /// The keymap, with the user's overrides laid on ([`keymap::choose`]).
    pub keymap: keymap::Keymap,
    /// The war-room screen: read-only, high-contrast, cycling through firing alarms.
    pub war_room: bool,
    /// Capture the mouse: the wheel moves the selection, a click selects a row.
    pub mouse: bool,
    /// Shown on the status line at start (why the asked-for theme or keymap is not in use).
    pub notice: Option<String>,
}

/// Runs the console until the user quits (`q`, `:q`, ctrl-c) or the process gets SIGTERM
/// or SIGHUP. Restores the terminal on every exit path, including panics. Fails, leaving
/// the terminal as it was, when stdout is not a terminal; returns an error if the
/// terminal itself fails mid-run. A stopped engine is shown, not returned as an error.
pub async fn run(conn: Connection, options: UiOptions) -> anyhow::Result<()> {
    let mut guard = terminal::TerminalGuard::enter(options.mouse)?;
    let mut app = App::new(conn.snapshots.borrow().clone(), options.operator, options.readonly);
    app.theme = options.theme;
    app.keymap = options.keymap;
    if options.war_room {
        app.start_war_room();
    }
    if let Some(notice) = options.notice {
        app.notice(notice);
    }
    let input = crossterm::event::EventStream::new();
    let result = event_loop::run_loop(guard.terminal(), input, conn, app).await;
    // Restore before the caller prints anything (an error, a goodbye).
    drop(guard);
    result
}
