//! The console's state and its one way to change: [`update`]`(app, msg) -> effects`.
//!
//! `update` is pure: no terminal, no channels, no clock. Keys arrive already as key
//! events and become [`Action`]s through the [`Keymap`]; what must reach the outside world
//! (a command for the engine, quitting) comes back as [`Effect`]s for the event loop to
//! carry out. Everything the view draws is in [`App`] or in the snapshot it holds.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::model::{AlarmState, Timestamp};
use crate::protocol::{Command, CommandRequest, ControlKind, Event, LinkState, Operator, Reply, Snapshot};

use super::command::{self, Parsed};
use super::decisions::{self, DecisionLog};
use super::dialog::{Dialog, DialogKind, Outcome};
use super::keymap::{Action, Context, Keymap};
use super::metrics::Thresholds;
use super::order::{self, Filter, Sort, SortKey};
use super::theme::Theme;

/// Something that happened, for [`update`].
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal changed size; the next draw picks the new size up.
    Resize,
    Snapshot(Arc<Snapshot>),
    Engine(Event),
    /// The console fell behind the engine's event stream and missed this many.
    EventsMissed(u64),
    /// The engine answered a command this console sent.
    Reply {
        command: String,
        reply: Reply,
    },
    /// The engine's snapshot channel closed.
    EngineStopped,
    /// An attached console's link to its daemon changed.
    Link(LinkState),
    /// A mouse event (with `--mouse`), on a screen of this size.
    Mouse {
        event: MouseEvent,
        screen: ratatui::layout::Rect,
    },
    /// Passing news has held the bottom line for [`STATUS_FADE`].
    StatusFaded,
    /// The console's own clock: this long has passed since the snapshot shown arrived.
    /// Sent about once a second, so ages count up between slow polls.
    Clock(Duration),
}

/// What [`update`] asks the event loop to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Send(CommandRequest),
    Quit,
}

/// What the keyboard is driving.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    /// Typing a command; the text after `:`.
    CommandLine(String),
    /// Typing the table's filter; the text after `/` (applied as it is typed).
    Filter(String),
    /// A change waits for confirmation.
    Dialog(Dialog),
}

/// What the body of the screen shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// The fleet table, and the selected group's detail.
    #[default]
    Fleet,
    /// Every alarm of the groups listed, most urgent first.
    Alarms,
    /// fleetdeck's own log.
    Diagnostics,
    /// The autoscaler's decision log.
    Decisions,
}

/// How long the war-room screen shows one group before the next.
pub const WAR_ROOM_DWELL: Duration = Duration::from_secs(10);

/// The war-room screen's cycle: when (engine clock) it moves to the next group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WarRoom {
    pub next_at: Option<crate::model::Timestamp>,
}

/// How a status line message should look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Ok,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub kind: StatusKind,
    pub text: String,
}

/// How long passing news (an engine event, a notice about the view) holds the bottom line
/// before the key hints come back. A command's reply and every error stay until `esc` or
/// the next command: those are the operator's to read.
pub const STATUS_FADE: Duration = Duration::from_secs(8);

impl Status {
    /// Whether it gives the line back after [`STATUS_FADE`].
    pub fn fades(&self) -> bool {
        self.kind == StatusKind::Info
    }
}

/// The console's whole state.
#[derive(Clone, Debug)]
pub struct App {
    pub snapshot: Arc<Snapshot>,
    /// Index into `snapshot.groups`; always in range when there are groups.
    pub selected: usize,
    pub detail_open: bool,
    pub mode: Mode,
    pub status: Option<Status>,
    pub engine_stopped: bool,
    pub readonly: bool,
    pub operator: Operator,
    pub keymap: Keymap,
    pub theme: Theme,
    /// The fleet table's filter (`/`), kept after enter.
    pub filter: String,
    /// Lines scrolled off the top of the help overlay (clamped when drawn).
    pub help_scroll: u16,
    /// War-room screen: read-only, every key but quit ignored, the selection cycling
    /// through the groups with alarms firing; `Some(next)` once cycling started.
    pub war_room: Option<WarRoom>,
    pub view: View,
    pub sort: Sort,
    pub thresholds: Thresholds,
    /// The decision log's entries as they came, and how the view browses them.
    pub decisions: DecisionLog,
    /// Attached to a daemon: the link's state (None in-process).
    pub link: Option<LinkState>,
    /// How long ago, by the console's own clock, the snapshot shown arrived.
    pub since_snapshot: Duration,
    /// Why every figure on screen is old, if it is: the daemon is gone, the engine
    /// stopped, or snapshots stopped coming. The snapshot's series are then all marked
    /// stale ([`mark_old`]).
    pub old: Option<String>,
}

impl App {
    pub fn new(snapshot: Arc<Snapshot>, operator: Operator, readonly: bool) -> App {
        App {
            snapshot,
            selected: 0,
            // Open from the start: a newcomer sees the selected group's charts at once;
            // enter hides them to give the table the whole screen.
            detail_open: true,
            mode: Mode::Normal,
            status: None,
            engine_stopped: false,
            readonly,
            operator,
            keymap: Keymap::builtin(),
            filter: String::new(),
            help_scroll: 0,
            war_room: None,
            view: View::Fleet,
            sort: Sort::default(),
            theme: Theme::dark(),
            thresholds: Thresholds::default(),
            decisions: DecisionLog::default(),
            link: None,
            since_snapshot: Duration::ZERO,
            old: None,
        }
    }

    /// Now, on the engine's clock as the console counts it: the snapshot's time plus how
    /// long ago it arrived. Ages on screen count from here, so they keep growing when
    /// snapshots stop.
    pub fn now(&self) -> Timestamp {
        self.snapshot.taken_at.plus(self.since_snapshot)
    }

    /// The selected group, unless the filter hides it.
    pub fn selected_group(&self) -> Option<&crate::protocol::GroupSnapshot> {
        self.snapshot.groups.get(self.selected).filter(|g| Filter::new(self.active_filter()).matches(g))
    }

    /// The filter in force: the one being typed, else the one kept.
    pub fn active_filter(&self) -> &str {
        match &self.mode {
            Mode::Filter(text) => text,
            _ => &self.filter,
        }
    }

    /// The table's rows: indexes into the snapshot's groups, filtered and sorted.
    pub fn rows(&self) -> Vec<usize> {
        order::visible(&self.snapshot, self.active_filter(), self.sort)
    }

    /// Moves the selection `by` rows in the table's order (clamped at its ends), or in
    /// the decision log while it is shown.
    fn move_selection(&mut self, by: isize) {
        if self.view == View::Decisions {
            let cursor = self.decisions.cursor_after(&decisions::rows(self), by);
            self.decisions.cursor = cursor;
            return;
        }
        let rows = self.rows();
        let Some(last) = rows.len().checked_sub(1) else { return };
        let at = rows.iter().position(|&i| i == self.selected);
        let to = match at {
            Some(at) => at.saturating_add_signed(by).min(last),
            None => 0,
        };
        self.selected = rows[to];
    }

    /// Keeps the selection on a row the table shows (the first, if the filter or a new
    /// snapshot hid it).
    fn keep_selection_visible(&mut self) {
        let rows = self.rows();
        if !rows.contains(&self.selected)
            && let Some(&first) = rows.first()
        {
            self.selected = first;
        }
    }

    /// Turns this console into a war-room screen: read-only, worst groups first, the
    /// detail pane open on the group being shown.
    pub fn start_war_room(&mut self) {
        self.war_room = Some(WarRoom::default());
        self.readonly = true;
        self.detail_open = true;
        self.sort = Sort { key: SortKey::AlarmsFiring, reversed: false };
        war_room_tick(self);
    }

    /// A problem found before the console started (a theme that could not be used).
    pub fn notice(&mut self, text: impl Into<String>) {
        self.set_status(StatusKind::Error, text);
    }

    fn set_status(&mut self, kind: StatusKind, text: impl Into<String>) {
        self.status = Some(Status { kind, text: text.into() });
    }

    /// An engine event on the bottom line, with the time it happened; it fades.
    fn set_event(&mut self, at: Timestamp, text: String) {
        self.set_status(StatusKind::Info, format!("{} {text}", crate::model::words::clock(at)));
    }

    fn select(&mut self, index: usize) {
        self.selected = index.min(self.snapshot.groups.len().saturating_sub(1));
    }
}

/// Applies one message to the state; returns what the outside world must do.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Resize => Vec::new(),
        Msg::Snapshot(snapshot) => {
            // Keep the same group selected if the engine reorders or adds groups.
            let selected_name = app.selected_group().map(|g| g.spec.name.clone());
            app.snapshot = snapshot;
            // A snapshot is fresh whatever the link's last word: an attached console's
            // come only through a live link, and the link's state and a snapshot sent
            // just after it may reach the loop in either order.
            app.since_snapshot = Duration::ZERO;
            app.old = None;
            if let Mode::Dialog(dialog) = &mut app.mode {
                dialog.refresh(&app.snapshot);
            }
            let index = selected_name.and_then(|n| app.snapshot.groups.iter().position(|g| g.spec.name == n));
            app.select(index.unwrap_or(app.selected));
            app.keep_selection_visible();
            if app.war_room.is_some() {
                war_room_tick(app);
            }
            Vec::new()
        }
        Msg::Engine(event) => {
            on_engine_event(app, event);
            Vec::new()
        }
        Msg::EventsMissed(n) => {
            app.set_status(StatusKind::Error, format!("console fell behind: missed {n} engine events"));
            Vec::new()
        }
        Msg::Reply { command, reply } => {
            match reply {
                Reply::Ok { message } => app.set_status(StatusKind::Ok, format!("ok: {command}: {message}")),
                Reply::Refused { reason } => {
                    app.set_status(StatusKind::Error, format!("refused: {command}: {reason}"))
                }
                Reply::Failed { error } => {
                    app.set_status(StatusKind::Error, format!("failed: {command}: {error}"))
                }
            }
            Vec::new()
        }
        Msg::Mouse { event, screen } => {
            on_mouse(app, event, screen);
            Vec::new()
        }
        Msg::Link(state) => {
            match (&app.link, &state) {
                (_, LinkState::Disconnected { error, .. }) => {
                    app.set_status(StatusKind::Error, format!("disconnected from the daemon: {error}"))
                }
                (
                    Some(LinkState::Disconnected { .. } | LinkState::Connecting),
                    LinkState::Connected { engine },
                ) => app.set_status(StatusKind::Ok, format!("attached to {engine}")),
                _ => {}
            }
            let gone = matches!(state, LinkState::Disconnected { .. } | LinkState::Connecting);
            app.link = Some(state);
            if gone {
                mark_old(app, "disconnected from the daemon");
            }
            Vec::new()
        }
        Msg::Clock(since) => {
            app.since_snapshot = since;
            if app.old.is_none() && since > overdue_after(&app.snapshot) {
                let text = format!("no snapshot from the engine for {}", super::format::age(since));
                mark_old(app, &text);
            }
            let now = app.now();
            if let Mode::Dialog(dialog) = &mut app.mode {
                dialog.set_now(now);
            }
            if app.war_room.is_some() {
                war_room_tick(app);
            }
            Vec::new()
        }
        Msg::StatusFaded => {
            if app.status.as_ref().is_some_and(Status::fades) {
                app.status = None;
            }
            Vec::new()
        }
        Msg::EngineStopped => {
            app.engine_stopped = true;
            mark_old(app, "the engine stopped");
            app.set_status(StatusKind::Error, "engine stopped: showing its last data; q quits");
            Vec::new()
        }
    }
}

fn on_engine_event(app: &mut App, event: Event) {
    let event = match event {
        Event::Decided(entry) => {
            app.decisions.push(*entry);
            return;
        }
        event => event,
    };
    // A reply or an error stays until the user dismisses it (esc) or sends another
    // command: a background event must not wipe what the operator has not read yet.
    if app.status.as_ref().is_some_and(|s| s.kind != StatusKind::Info) {
        return;
    }
    match event {
        Event::Sim { at, description } => app.set_event(at, format!("sim: {description}")),
        // Another console's command; our own arrive as replies.
        Event::CommandHandled { at, operator, command, reply, .. } if operator != app.operator.name => {
            let outcome = match reply {
                Reply::Ok { .. } => "ok",
                Reply::Refused { .. } => "refused",
                Reply::Failed { .. } => "failed",
            };
            app.set_event(at, format!("{operator}: {command}: {outcome}"));
        }
        Event::Alarm { at, group, alarm, to: AlarmState::Firing, .. } => {
            app.set_event(at, format!("{group}: alarm {alarm} FIRING"))
        }
        Event::Scaled { at, group, reason, shadow, .. } => {
            let would = if shadow { "would " } else { "" };
            app.set_event(at, format!("{group}: {would}{reason}"))
        }
        Event::Breaker { at, group, message, .. } => app.set_event(at, format!("{group}: {message}")),
        // Backend health is on the group's row from the snapshot; no second copy here.
        Event::Alarm { .. }
        | Event::Started { .. }
        | Event::BackendFailed { .. }
        | Event::BackendRecovered { .. }
        | Event::CommandHandled { .. }
        | Event::Decided(_) => {}
    }
}

/// Indexes of the groups with an alarm firing, in the table's order.
pub fn firing_rows(app: &App) -> Vec<usize> {
    app.rows().into_iter().filter(|&i| app.snapshot.groups[i].firing().next().is_some()).collect()
}

/// On each snapshot of the war-room screen: once the dwell has passed (engine clock),
/// select the next group with an alarm firing — or, with none firing, stay on the first
/// row of the table (sorted worst first).
fn war_room_tick(app: &mut App) {
    // The console's clock: between slow polls the screen still moves on.
    let now = app.now();
    let Some(war_room) = &mut app.war_room else { return };
    if war_room.next_at.is_some_and(|at| now < at) {
        return;
    }
    war_room.next_at = Some(now.plus(WAR_ROOM_DWELL));
    let firing = firing_rows(app);
    let next = match firing.iter().position(|&i| i == app.selected) {
        Some(at) => firing[(at + 1) % firing.len()],
        None => firing.first().copied().or_else(|| app.rows().first().copied()).unwrap_or(0),
    };
    app.selected = next;
}

/// The wheel moves the selection and a left click selects the row under it, or sorts by
/// the column heading under it (again: reversed), while browsing; elsewhere (dialogs, help, typing, the war room) the mouse does nothing.
fn on_mouse(app: &mut App, event: MouseEvent, screen: ratatui::layout::Rect) {
    if app.mode != Mode::Normal || app.war_room.is_some() {
        return;
    }
    match event.kind {
        MouseEventKind::ScrollDown => app.move_selection(1),
        MouseEventKind::ScrollUp => app.move_selection(-1),
        // A click picks a row of the fleet table; the other views have no table rows.
        MouseEventKind::Down(MouseButton::Left) if app.view == View::Fleet => {
            let table = super::view::layout(app, screen).table;
            if let Some(key) = super::fleet::sort_key_at(app, table, event.column, event.row) {
                // A heading sorts by its column; the sorted column's heading reverses it.
                let reversed = app.sort.key == key && !app.sort.reversed;
                set_sort(app, Sort { key, reversed });
            } else if let Some(group) = super::fleet::row_at(app, table, event.row) {
                app.selected = group;
            }
        }
        _ => {}
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if let Some((escape, key)) = split_escape(app, key) {
        let mut effects = on_key(app, escape);
        effects.extend(on_key(app, key));
        return effects;
    }
    if app.war_room.is_some() {
        // No input is needed on a war-room screen; only quitting is heard.
        let quit = app.keymap.action(Context::Normal, &key) == Some(Action::Quit);
        return if quit { vec![Effect::Quit] } else { Vec::new() };
    }
    match &app.mode {
        Mode::CommandLine(_) => on_command_line_key(app, key),
        Mode::Filter(_) => on_filter_key(app, key),
        Mode::Dialog(_) => on_dialog_key(app, key),
        Mode::Help => {
            // The selection keys scroll; any other key closes help; quitting still quits.
            match app.keymap.action(Context::Normal, &key) {
                Some(Action::Up) => app.help_scroll = app.help_scroll.saturating_sub(1),
                Some(Action::Down) => app.help_scroll = app.help_scroll.saturating_add(1),
                Some(Action::First) => app.help_scroll = 0,
                Some(Action::Last) => app.help_scroll = u16::MAX,
                Some(Action::Quit) => return vec![Effect::Quit],
                _ => app.mode = Mode::Normal,
            }
            Vec::new()
        }
        Mode::Normal => match app.keymap.action(Context::Normal, &key) {
            Some(action) => on_action(app, action),
            None => Vec::new(),
        },
    }
}

/// `esc` and the next key, pressed within a few milliseconds, arrive as one alt-key: a
/// terminal sends alt as an ESC prefix, and crossterm reads the two bytes together. Unless
/// the keymap binds that alt-key where it was pressed, it is taken as the two keys the
/// user pressed (so `esc` `2` closes what was open and shows the alarms). A deliberate
/// alt-key that nothing binds reads the same way.
fn split_escape(app: &App, key: KeyEvent) -> Option<(KeyEvent, KeyEvent)> {
    if !key.modifiers.contains(KeyModifiers::ALT) || key.modifiers.contains(KeyModifiers::CONTROL) {
        return None;
    }
    let context = match app.mode {
        Mode::CommandLine(_) | Mode::Filter(_) => Context::CommandLine,
        Mode::Dialog(_) => Context::Dialog,
        Mode::Normal | Mode::Help => Context::Normal,
    };
    if app.keymap.action(context, &key).is_some() {
        return None;
    }
    let escape = KeyEvent { code: KeyCode::Esc, modifiers: KeyModifiers::NONE, ..key };
    Some((escape, KeyEvent { modifiers: key.modifiers - KeyModifiers::ALT, ..key }))
}

fn on_action(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::Up => app.move_selection(-1),
        Action::Down => app.move_selection(1),
        Action::First => app.move_selection(isize::MIN),
        Action::Last => app.move_selection(isize::MAX),
        Action::Filter => app.mode = Mode::Filter(app.filter.clone()),
        Action::ViewFleet => app.view = View::Fleet,
        Action::ViewAlarms => app.view = View::Alarms,
        Action::ViewDiagnostics => app.view = View::Diagnostics,
        Action::ViewDecisions => app.view = View::Decisions,
        Action::ActionsOnly => {
            let log = &mut app.decisions;
            log.actions_only = !log.actions_only;
            let shown = if log.actions_only { "only changes of desired" } else { "every entry" };
            app.set_status(StatusKind::Info, format!("decision log: {shown}"));
        }
        Action::Sort => set_sort(app, Sort { key: app.sort.key.next(), reversed: false }),
        Action::ReverseSort => set_sort(app, Sort { reversed: !app.sort.reversed, ..app.sort }),
        Action::ToggleDetail if app.view == View::Decisions => {
            app.decisions.expanded = !app.decisions.expanded
        }
        Action::ToggleDetail => app.detail_open = !app.detail_open,
        Action::Help => {
            app.mode = Mode::Help;
            app.help_scroll = 0;
        }
        Action::CommandLine => app.mode = Mode::CommandLine(String::new()),
        Action::Cancel => {
            if app.view == View::Decisions && app.decisions.expanded {
                app.decisions.expanded = false;
            } else if app.detail_open && app.view == View::Fleet {
                app.detail_open = false;
            } else if !app.filter.is_empty() {
                app.filter.clear();
            } else if app.view != View::Fleet {
                // Back to the fleet from views 2–4, as k9s's esc goes back.
                app.view = View::Fleet;
            } else {
                app.status = None;
            }
        }
        Action::Quit => {
            let stops = autoscaled_here(app);
            if stops.is_empty() {
                return vec![Effect::Quit];
            }
            app.mode = Mode::Dialog(Dialog::quit(stops, &app.snapshot));
        }
        Action::Pause => {
            open_dialog(app, action, |g, s| Dialog::open(DialogKind::Pause { scale_in_only: false }, g, s))
        }
        Action::Resume => open_dialog(app, action, |g, s| Dialog::open(DialogKind::Resume, g, s)),
        Action::Scale => open_dialog(app, action, Dialog::scale),
        Action::ResetBreaker => {
            if app.snapshot.groups.iter().all(|g| !g.controls.iter().any(|c| c.kind == ControlKind::Breaker))
            {
                app.set_status(StatusKind::Info, "nothing to reset: no circuit-breaker trip is open");
            } else {
                open_dialog(app, action, Dialog::reset_breaker);
            }
        }
        Action::Silence => open_dialog(app, action, |g, s| Dialog::open(DialogKind::Silence, g, s)),
        Action::Shadow => open_dialog(app, action, Dialog::shadow),
        // Command-line and dialog actions mean nothing while browsing.
        Action::Submit
        | Action::Complete
        | Action::Confirm
        | Action::ToggleAll
        | Action::NextDuration
        | Action::ToggleScaleInOnly
        | Action::More
        | Action::Less => {}
    }
    Vec::new()
}

fn on_command_line_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Mode::CommandLine(line) = &mut app.mode else { return Vec::new() };
    match app.keymap.action(Context::CommandLine, &key) {
        Some(Action::Submit) => {
            let line = std::mem::take(line);
            app.mode = Mode::Normal;
            submit(app, &line)
        }
        Some(Action::Cancel) => {
            app.mode = Mode::Normal;
            Vec::new()
        }
        Some(Action::Complete) => {
            let groups: Vec<&str> = app.snapshot.groups.iter().map(|g| g.spec.name.as_str()).collect();
            if let Some(completed) = command::complete(line, &groups) {
                *line = completed;
            }
            Vec::new()
        }
        _ => {
            if !edit(line, &key) {
                app.mode = Mode::Normal;
            }
            Vec::new()
        }
    }
}

/// Opens the dialog of a change on the selected group, unless this console is read-only
/// (then it says so at once: the engine would refuse it anyway).
fn open_dialog(
    app: &mut App,
    action: Action,
    build: impl FnOnce(&crate::protocol::GroupSnapshot, &Snapshot) -> Dialog,
) {
    if app.readonly || app.snapshot.readonly {
        let what = action.name().replace('_', " ");
        app.set_status(StatusKind::Error, format!("refused: {what}: this console is read-only"));
        return;
    }
    let Some(group) = app.selected_group() else {
        app.set_status(StatusKind::Error, "no group selected");
        return;
    };
    let dialog = build(group, &app.snapshot);
    app.mode = Mode::Dialog(dialog);
}

/// The groups this console's own engine autoscales: it holds their leases, and it acts
/// (not read-only, not in shadow mode). Quitting stops it, so quitting asks first. An
/// attached console's engine is the daemon's, and goes on without it.
fn autoscaled_here(app: &App) -> Vec<String> {
    if app.link.is_some() || app.readonly || app.snapshot.readonly || app.engine_stopped {
        return Vec::new();
    }
    app.snapshot
        .groups
        .iter()
        .filter(|g| g.lease.as_ref().is_some_and(|l| l.ours))
        .filter(|g| !g.controls.iter().any(|c| c.kind == ControlKind::Shadow))
        .map(|g| g.spec.name.clone())
        .collect()
}

/// A key in a dialog: its actions, or digits and backspace for a scale's count.
fn on_dialog_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Mode::Dialog(dialog) = &mut app.mode else { return Vec::new() };
    // `q` `q` quits as it always did; the dialog only says what the first `q` stops.
    if matches!(dialog.kind, DialogKind::Quit { .. })
        && app.keymap.action(Context::Normal, &key) == Some(Action::Quit)
    {
        return vec![Effect::Quit];
    }
    let outcome = match app.keymap.action(Context::Dialog, &key) {
        Some(action) => dialog.act(action),
        None => {
            match key.code {
                KeyCode::Char(c) if c.is_ascii_digit() => dialog.digit(c.to_digit(10).unwrap_or(0)),
                KeyCode::Backspace => dialog.erase(),
                _ => {}
            }
            Outcome::Stay
        }
    };
    match outcome {
        Outcome::Stay => Vec::new(),
        Outcome::Cancel => {
            app.mode = Mode::Normal;
            app.set_status(StatusKind::Info, "cancelled: nothing was sent");
            Vec::new()
        }
        Outcome::Send(command) => {
            app.mode = Mode::Normal;
            app.set_status(StatusKind::Info, format!("sent: {command}"));
            vec![Effect::Send(CommandRequest { operator: app.operator.clone(), reason: None, command })]
        }
        Outcome::Quit => vec![Effect::Quit],
    }
}

/// Typed text: a character is added, backspace takes the last one back. False when
/// backspace finds the line already empty (which leaves the line).
fn edit(line: &mut String, key: &KeyEvent) -> bool {
    match key.code {
        KeyCode::Backspace if line.is_empty() => return false,
        KeyCode::Backspace => {
            line.pop();
        }
        KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
            line.push(c)
        }
        _ => {}
    }
    true
}

/// The `/` prompt: the table follows the text as it is typed; enter keeps it, esc (or
/// backspace on an empty line) drops it.
fn on_filter_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Mode::Filter(line) = &mut app.mode else { return Vec::new() };
    match app.keymap.action(Context::CommandLine, &key) {
        Some(Action::Submit) => {
            app.filter = std::mem::take(line).trim().to_string();
            app.mode = Mode::Normal;
        }
        Some(Action::Cancel) => {
            app.filter.clear();
            app.mode = Mode::Normal;
        }
        Some(_) => {}
        None => {
            if !edit(line, &key) {
                app.filter.clear();
                app.mode = Mode::Normal;
            }
        }
    }
    app.keep_selection_visible();
    Vec::new()
}

fn set_sort(app: &mut App, sort: Sort) {
    app.sort = sort;
    app.set_status(StatusKind::Info, format!("sorted by {}", sort.label()));
}

fn submit(app: &mut App, line: &str) -> Vec<Effect> {
    match command::parse(line) {
        Ok(Parsed::Empty) => Vec::new(),
        Ok(Parsed::Quit) => vec![Effect::Quit],
        Ok(Parsed::Sim(action)) => {
            let command = Command::Sim { action };
            app.set_status(StatusKind::Info, format!("sent: {command}"));
            vec![Effect::Send(CommandRequest { operator: app.operator.clone(), reason: None, command })]
        }
        Ok(Parsed::Operator { command, reason }) => {
            app.set_status(StatusKind::Info, format!("sent: {command}"));
            vec![Effect::Send(CommandRequest { operator: app.operator.clone(), reason, command })]
        }
        Ok(Parsed::Sort(sort)) => {
            set_sort(app, sort);
            Vec::new()
        }
        Ok(Parsed::Panic) => panic!("`:panic` typed in the console (debug builds only)"),
        Err(error) => {
            app.set_status(StatusKind::Error, format!("error: {error}"));
            Vec::new()
        }
    }
}

/// How long ago the fleet's data was taken, as the header shows it: from the oldest of
/// the groups' newest samples to now as the console counts it ([`App::now`]: the
/// snapshot's time plus how long ago it arrived, so a virtual clock reads the same and a
/// remote engine's clock skew does not matter). `None` before any sample.
pub fn data_age(app: &App) -> Option<Duration> {
    app.snapshot.data_as_of().map(|at| app.now().since(at))
}

/// Snapshots come once an engine tick; one this much later than that is overdue, and what
/// is on screen is old.
fn overdue_after(snapshot: &Snapshot) -> Duration {
    snapshot.poll_interval.saturating_mul(2) + Duration::from_secs(5)
}

/// Marks every figure on screen old: each series stale, capacity unknown. The next
/// snapshot replaces them with fresh ones.
fn mark_old(app: &mut App, why: &str) {
    app.old = Some(why.to_string());
    let snapshot = Arc::make_mut(&mut app.snapshot);
    for group in &mut snapshot.groups {
        group.capacity_stale = true;
        for series in &mut group.series {
            series.stale = true;
        }
    }
}
